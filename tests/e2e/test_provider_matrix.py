"""The acceptance matrix: one OpenAI-format file, every installed provider, both modes, the CLI.

For each provider that loads, and each of chat and embeddings it serves, the same 200-request
file runs to completion through `python -m batchery run --emulate` in batch and in realtime
mode, with exactly one `ok` result per custom_id. Providers are found at collection time, so a
new one joins as soon as its module loads; one that fails to load fails the matrix instead of
leaving it. The cases run as subprocesses a few at a time, all started on first use, which
keeps the matrix within a minute on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
from batchery.model import RequestKind
from batchery.plugins import PluginEntry, discover_providers
from batchery.spi import ProviderModule

EXPECTED = frozenset({"openai", "openai-compatible", "anthropic", "gemini", "voyage", "together"})
REQUESTS = 200
PARALLEL = 4
TIMEOUT_S = 90.0
MODES = ("batch", "realtime")

PROVIDER_SETTINGS: dict[str, dict[str, str]] = {
    "openai-compatible": {
        "kinds": "chat,embedding",
        "default_model": "chat=emulated-chat,embedding=emulated-embedding",
    },
}
"""`[providers.NAME]` options a provider needs beyond `--emulate`: a compatible server has no
model of its own to fall back on, and serves only what it is configured to serve."""

ENDPOINTS = {RequestKind.CHAT: "/v1/chat/completions", RequestKind.EMBEDDING: "/v1/embeddings"}

ENTRIES: dict[str, PluginEntry] = {e.name: e for e in discover_providers(environ={})}


class Case(NamedTuple):
    provider: str
    kind: RequestKind
    mode: str

    @property
    def id(self) -> str:
        return f"{self.provider}-{self.kind.value}-{self.mode}"


class Run(NamedTuple):
    case: Case
    returncode: int
    stderr: str
    out: Path
    summary: Path


def _kinds(entry: PluginEntry) -> list[RequestKind]:
    """What the matrix runs on a provider: its configured kinds, else its INFO's."""
    configured = PROVIDER_SETTINGS.get(entry.name, {}).get("kinds")
    module: object = entry.module
    assert isinstance(module, ProviderModule)
    info = module.INFO
    served = {RequestKind(k.strip()) for k in configured.split(",")} if configured else info.kinds
    return [kind for kind in ENDPOINTS if kind in served]


CASES = [
    Case(name, kind, mode)
    for name, entry in ENTRIES.items()
    if entry.module is not None
    for kind in _kinds(entry)
    for mode in MODES
]


def test_every_expected_provider_loads() -> None:
    loaded = {name for name, entry in ENTRIES.items() if entry.module is not None}
    assert loaded >= EXPECTED, f"not loaded: {', '.join(sorted(EXPECTED - loaded))}"


@pytest.mark.parametrize("name", sorted(EXPECTED | set(ENTRIES)))
def test_the_provider_loads_and_joins_the_matrix(name: str) -> None:
    entry = ENTRIES.get(name)
    assert entry is not None, f"no installed distribution registers the {name!r} provider"
    assert entry.module is not None, (
        f"provider {name!r} ({entry.distribution}) fails to load: {entry.error}"
    )
    assert sum(case.provider == name for case in CASES) >= len(MODES), (
        f"provider {name!r} serves neither chat nor embeddings, so the matrix cannot run it"
    )


def _ids(kind: RequestKind) -> list[str]:
    return [f"{kind.value}-{i:03d}" for i in range(REQUESTS)]


def _workload(kind: RequestKind, path: Path) -> None:
    """The OpenAI-format file, without a model so that each provider uses its default."""
    with path.open("w") as handle:
        for i, custom_id in enumerate(_ids(kind)):
            if kind is RequestKind.CHAT:
                body: dict[str, object] = {
                    "messages": [{"role": "user", "content": f"Name a colour for item {i}."}],
                    "max_tokens": 64,
                }
            else:
                body = {"input": f"Document {i} is about colours."}
            line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINTS[kind], "body": body}
            handle.write(json.dumps(line) + "\n")


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    return env | {
        "BATCHERY_POLL_INTERVAL_S": "0.05",
        "BATCHERY_POLL_BACKOFF": "1.0",
        "BATCHERY_POLL_MAX_INTERVAL_S": "0.1",
        "BATCHERY_RECONCILE_GRACE_S": "0.1",
        "BATCHERY_LOG_FORMAT": "json",
        "BATCHERY_LOG_LEVEL": "warning",
    }


def _config(case: Case, directory: Path) -> list[str]:
    options = PROVIDER_SETTINGS.get(case.provider)
    if options is None:
        return []
    path = directory / "batchery.toml"
    lines = [f"[providers.{case.provider}]"] + [
        f"{k} = {json.dumps(v)}" for k, v in options.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return ["--config", str(path)]


def _run(case: Case, directory: Path, workload: Path) -> Run:
    out, summary = directory / "results.jsonl", directory / "summary.json"
    command = [
        sys.executable,
        "-m",
        "batchery",
        "run",
        str(workload),
        "--provider",
        case.provider,
        "--mode",
        case.mode,
        "--emulate",
        "--store",
        str(directory / "jobs.db"),
        "--out",
        str(out),
        "--summary",
        str(summary),
        *_config(case, directory),
    ]
    try:
        done = subprocess.run(
            command,
            cwd=directory,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr if isinstance(exc.stderr, str) else ""
        return Run(case, -1, f"timed out after {TIMEOUT_S:g}s\n{stderr}", out, summary)
    return Run(case, done.returncode, done.stderr, out, summary)


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[Case, Future[Run]]]:
    """Every selected case, started at once on a small pool; each test waits for its own."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and "case" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    root = tmp_path_factory.mktemp("matrix")
    workloads = {kind: root / f"{kind.value}.jsonl" for kind in ENDPOINTS}
    for kind, path in workloads.items():
        _workload(kind, path)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures: dict[Case, Future[Run]] = {}
        for case in selected:
            directory = root / case.id
            directory.mkdir()
            futures[case] = pool.submit(_run, case, directory, workloads[case.kind])
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_file_runs_to_completion(case: Case, runs: dict[Case, Future[Run]]) -> None:
    run = runs[case].result()
    assert run.returncode == 0, f"{case.id} exited {run.returncode}:\n{run.stderr[-4000:]}"
    results = [json.loads(line) for line in run.out.read_text().splitlines()]
    assert Counter(r["custom_id"] for r in results) == Counter(_ids(case.kind))
    failed = [r for r in results if r.get("ok") is not True]
    assert not failed, f"{len(failed)} failed results, the first: {failed[0]}"
    assert {(r["provider"], r["mode"]) for r in results} == {(case.provider, case.mode)}
    answer = "text" if case.kind is RequestKind.CHAT else "vector"
    assert all(r.get(answer) for r in results), f"a result has no {answer}"
    summary = json.loads(run.summary.read_text())
    assert {k: summary[k] for k in ("status", "mode", "provider", "total", "succeeded")} == {
        "status": "completed",
        "mode": case.mode,
        "provider": case.provider,
        "total": REQUESTS,
        "succeeded": REQUESTS,
    }
    assert summary["failed"] == 0
    assert (summary["batches_submitted"] > 0) == (case.mode == "batch")

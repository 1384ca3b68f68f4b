"""Every setting `batchery config` shows is the one in force, from whichever layer it came.

Each setting is set once per layer (TOML file, `BATCHERY_*` variable, command-line option
where there is one) and its effect is observed on a real `batchery run`: the plan a dry run
prints, a refusal, or a call that gives up on a slow emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from batchery.service import ServiceOptions
from batchery.settings import Settings, load_settings

from .processes import EmulatorFactory, batchery, running_emulator

KEYS = {
    "OPENAI_API_KEY": "sk-test-settings",
    "ANTHROPIC_API_KEY": "sk-ant-test-settings",
    "GEMINI_API_KEY": "gemini-test-settings",
    "VOYAGE_API_KEY": "pa-test-settings",
}


def _workload(path: Path, count: int, model: str | None = "gpt-4o-mini") -> Path:
    with path.open("w") as handle:
        for i in range(count):
            line: dict[str, object] = {
                "custom_id": f"r{i}",
                "messages": [{"role": "user", "content": f"Say {i} " + "x" * 200}],
            }
            if model is not None:
                line["model"] = model
            handle.write(json.dumps(line) + "\n")
    return path


def _layer(
    tmp_path: Path, layer: str, key: str, value: str, option: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """The arguments and environment that set `key` to `value` through `layer`."""
    if layer == "toml":
        config = tmp_path / "batchery.toml"
        config.write_text(f"{key} = {value}\n")
        return ["--config", str(config)], {}
    if layer == "env":
        return [], {f"BATCHERY_{key.upper()}": value.strip('"')}
    assert option is not None
    return [option] if value == "true" else [option, value.strip('"')], {}


@pytest.fixture(scope="module")
def openai_url() -> Iterator[str]:
    with running_emulator("openai") as url:
        yield url


def _dry_run(
    base_url: str, source: Path, args: list[str], env: dict[str, str]
) -> dict[str, object]:
    done = batchery(
        "run",
        str(source),
        "--dry-run",
        "--base-url",
        base_url,
        "--store",
        str(source.with_name("jobs.db")),
        *args,
        env=KEYS | env,
    )
    assert done.returncode == 0, done.stderr
    plan: dict[str, object] = json.loads(done.stdout)
    return plan


@pytest.mark.parametrize("layer", ["toml", "env"])
def test_batch_threshold_decides_the_mode(tmp_path: Path, openai_url: str, layer: str) -> None:
    source = _workload(tmp_path / "in.jsonl", 5)
    assert _dry_run(openai_url, source, [], {})["mode"] == "realtime"

    args, env = _layer(tmp_path, layer, "batch_threshold", "3")

    assert _dry_run(openai_url, source, args, env)["mode"] == "batch"


@pytest.mark.parametrize("layer", ["toml", "env"])
@pytest.mark.parametrize(
    ("key", "value"), [("max_requests_per_batch", "2"), ("max_bytes_per_batch", "800")]
)
def test_batch_caps_cut_the_chunks(
    tmp_path: Path, openai_url: str, layer: str, key: str, value: str
) -> None:
    source = _workload(tmp_path / "in.jsonl", 5)
    args, env = _layer(tmp_path, layer, key, value)

    plan = _dry_run(openai_url, source, [*args, "--mode", "batch"], env)

    chunks = plan["chunks"]
    assert isinstance(chunks, list)
    assert len(chunks) == 3


@pytest.mark.parametrize("layer", ["toml", "env", "cli"])
def test_default_model_names_the_model_of_requests_that_name_none(
    tmp_path: Path, openai_url: str, layer: str
) -> None:
    source = _workload(tmp_path / "in.jsonl", 2, model=None)
    args, env = _layer(tmp_path, layer, "default_model", '"gpt-4.1-nano"', option="--model")

    assert _dry_run(openai_url, source, args, env)["model"] == "gpt-4.1-nano"


@pytest.mark.parametrize("layer", ["toml", "env", "cli"])
def test_default_provider_chooses_the_provider(
    tmp_path: Path, emulated: EmulatorFactory, layer: str
) -> None:
    source = _workload(tmp_path / "in.jsonl", 2, model=None)
    args, env = _layer(tmp_path, layer, "default_provider", '"anthropic"', option="--provider")

    with emulated("anthropic") as url:
        plan = _dry_run(url, source, args, env)

    assert (plan["provider"], plan["model"]) == ("anthropic", "claude-haiku-4-5")


@pytest.mark.parametrize("layer", ["toml", "env", "cli"])
def test_strict_turns_a_model_warning_into_a_refusal(
    tmp_path: Path, openai_url: str, layer: str
) -> None:
    source = _workload(tmp_path / "in.jsonl", 1, model="gpt-9-turbo")
    args, env = _layer(tmp_path, layer, "strict", "true", option="--strict")

    done = batchery(
        "run", str(source), "--dry-run", "--base-url", openai_url, *args, env=KEYS | env
    )

    assert done.returncode == 2
    assert "model 'gpt-9-turbo' is not one openai lists" in done.stderr


@pytest.mark.parametrize("layer", ["toml", "env", "cli"])
def test_store_is_where_the_run_is_kept(tmp_path: Path, openai_url: str, layer: str) -> None:
    store = tmp_path / "kept" / "jobs.db"
    store.parent.mkdir()
    source = _workload(tmp_path / "in.jsonl", 1)
    args, env = _layer(tmp_path, layer, "store", f'"{store}"', option="--store")

    done = batchery(
        "run", str(source), "--mode", "realtime", "--base-url", openai_url, *args, env=KEYS | env
    )

    assert done.returncode == 0, done.stderr
    listed = batchery("jobs", "list", "--store", str(store), env=KEYS)
    assert json.loads(done.stdout)["run_id"] in listed.stdout


@pytest.mark.parametrize("layer", ["toml", "env", "cli"])
def test_use_cache_off_asks_the_provider_again(tmp_path: Path, openai_url: str, layer: str) -> None:
    store = tmp_path / "jobs.db"
    first = _workload(tmp_path / "first.jsonl", 3)
    again, third = tmp_path / "again.jsonl", tmp_path / "third.jsonl"
    again.write_text(first.read_text().replace('id": "r', 'id": "again-r'))
    third.write_text(first.read_text().replace('id": "r', 'id": "third-r'))
    run = ["--mode", "realtime", "--base-url", openai_url, "--store", str(store)]
    done = batchery("run", str(first), *run, env=KEYS)
    assert done.returncode == 0, done.stderr
    if layer == "cli":
        args, env = ["--no-cache"], {}
    else:
        args, env = _layer(tmp_path, layer, "use_cache", "false")

    cached = batchery("run", str(again), *run, env=KEYS)
    uncached = batchery("run", str(third), *run, *args, env=KEYS | env)

    assert cached.returncode == 0, cached.stderr
    assert json.loads(cached.stdout)["cached"] == 3
    assert json.loads(uncached.stdout)["cached"] == 0


def test_prices_in_the_toml_file_price_the_plan(tmp_path: Path, openai_url: str) -> None:
    source = _workload(tmp_path / "in.jsonl", 4)
    config = tmp_path / "batchery.toml"
    config.write_text('[prices.openai."gpt-4o-mini"]\ninput = 1000.0\noutput = 1000.0\n')

    plain = _dry_run(openai_url, source, ["--mode", "realtime"], {})
    priced = _dry_run(openai_url, source, ["--mode", "realtime", "--config", str(config)], {})

    def realtime_cost(plan: dict[str, object]) -> float:
        estimates = plan["estimates"]
        assert isinstance(estimates, list)
        return float(next(e["cost_usd"] for e in estimates if e["mode"] == "realtime"))

    assert realtime_cost(priced) > 1000 * realtime_cost(plain) > 0


CHAT = {"messages": [{"role": "user", "content": "Say hi"}]}
EMBED = {"kind": "embedding", "input": "hi"}


@pytest.mark.parametrize("layer", ["toml", "env", "provider-table"])
@pytest.mark.parametrize(
    ("provider", "line"),
    [("openai", CHAT), ("anthropic", CHAT), ("gemini", CHAT), ("voyage", EMBED)],
)
def test_request_timeout_gives_up_on_a_slow_provider(
    tmp_path: Path, emulated: EmulatorFactory, layer: str, provider: str, line: dict[str, object]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"custom_id": "slow", **line}) + "\n")
    if layer == "provider-table":
        config = tmp_path / "batchery.toml"
        config.write_text(f'[providers.{provider}]\nrequest_timeout_s = "0.5"\n')
        args, env = ["--config", str(config)], {}
    else:
        args, env = _layer(tmp_path, layer, "request_timeout_s", "0.5")
    out = tmp_path / "out.jsonl"

    with emulated(provider, "--latency", "2") as url:
        batchery(
            "run",
            str(source),
            "--provider",
            provider,
            "--mode",
            "realtime",
            "--base-url",
            url,
            "--store",
            str(tmp_path / "jobs.db"),
            "--out",
            str(out),
            *args,
            env=KEYS | env | {"BATCHERY_MAX_ATTEMPTS": "1"},
        )

    result = json.loads(out.read_text())
    assert result["ok"] is False
    assert result["error"]["code"] == "timeout"


def test_every_service_knob_is_taken_from_the_settings(tmp_path: Path) -> None:
    """Every `ServiceOptions` field is a setting, and reaches it whatever its value."""
    knobs = {f.name for f in msgspec.structs.fields(ServiceOptions)}
    assert knobs <= {f.name for f in msgspec.structs.fields(Settings)}
    changed = {
        "default_provider": "gemini",
        "default_model": "m",
        "batch_threshold": 7,
        "poll_interval_s": 0.3,
        "poll_backoff": 1.1,
        "poll_max_interval_s": 9.0,
        "max_requests_per_batch": 11,
        "max_bytes_per_batch": 12345,
        "realtime_concurrency": 5,
        "max_attempts": 2,
        "reconcile_grace_s": 0.7,
        "not_found_grace_s": 42.0,
        "fallback": False,
        "strict": True,
        "use_cache": False,
        "lease_s": 12.0,
        "heartbeat_s": 2.0,
    }
    assert knobs == set(changed)
    config = tmp_path / "batchery.toml"
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in changed.items()))

    options = ServiceOptions.from_settings(load_settings(config_file=config, environ={}).settings)

    assert {name: getattr(options, name) for name in changed} == changed

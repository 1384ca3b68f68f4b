"""Structured answers under content faults: how many come back `ok` without usable JSON.

300 chat requests ask for a JSON schema; the emulator (its own process) cuts off, fences or
wraps in prose about a tenth of its answers each (`truncated_json`, `fenced_json`,
`prose_json`). Each mode runs through the real `batchery run`; the figures say how many results
were `ok` with text that `json.loads` cannot read, how many were rescued (repairs named), and
how many ended as the explicit error `invalid_json`.

    uv run python bench/schema_answers.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _harness import KEY, emulator_process

COUNT = 300
FAULTS = "truncated_json=0.1,fenced_json=0.1,prose_json=0.1"
SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["label", "score"],
    "additionalProperties": False,
}


def _workload(path: Path) -> None:
    with path.open("w") as handle:
        for i in range(COUNT):
            body = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"Label item {i}"}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "label", "schema": SCHEMA, "strict": True},
                },
            }
            line = {"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions"}
            handle.write(json.dumps(line | {"body": body}) + "\n")


def _readable(text: str | None) -> bool:
    try:
        json.loads(text or "")
    except ValueError:
        return False
    return True


def _figures(results: list[dict[str, object]]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for result in results:
        error = result.get("error")
        if result["ok"]:
            text = result.get("text")
            seen["ok"] += 1
            seen["ok, unreadable JSON"] += not _readable(text if isinstance(text, str) else None)
            seen["ok, repaired"] += bool(result.get("repairs"))
        elif isinstance(error, dict):
            seen[f"error {error['code']}"] += 1
    return seen


def main() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    env |= {"OPENAI_API_KEY": KEY, "BATCHERY_POLL_INTERVAL_S": "0.2"}
    with (
        tempfile.TemporaryDirectory() as folder,
        emulator_process("--port", "0", "--faults", FAULTS, "--time-scale", "2000") as base_url,
    ):
        source = Path(folder) / "in.jsonl"
        _workload(source)
        for mode in ("realtime", "batch"):
            out = Path(folder) / f"{mode}.jsonl"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "batchery",
                    "run",
                    str(source),
                    "--mode",
                    mode,
                    "--base-url",
                    base_url,
                    "--store",
                    str(Path(folder) / "jobs.db"),
                    "--no-cache",
                    "--out",
                    str(out),
                ],
                env=env,
                check=False,
                capture_output=True,
                timeout=600,
            )
            results = [json.loads(line) for line in out.read_text().splitlines()]
            figures = ", ".join(f"{k}: {v}" for k, v in sorted(_figures(results).items()))
            print(f"{mode:8} {len(results)} results; {figures}")


if __name__ == "__main__":
    main()

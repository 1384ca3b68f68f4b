"""The documentation's runnable examples, run as a reader would run them, against the emulator.

Each example is a file under docs/examples/ that a page includes whole, so what is tested is
what is shown. The examples run in a subprocess with this interpreter (the project
environment), with only the variables a reader would set: a key (the emulator takes any),
the emulator's base URL and a job store.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


class Ran(msgspec.Struct):
    code: int
    stdout: str
    stderr: str


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(EmulatorOptions(time_scale=2000.0, seed=5)) as emulator:
        yield emulator


async def _run(args: list[str], cwd: Path, emulator: OpenAIEmulator, **settings: str) -> Ran:
    """`args` run in `cwd` as a reader's shell would, pointed at the emulator; `settings` are
    `BATCHERY_*` variables (a faster poll, say)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHERY_", "OPENAI_"))}
    env |= {
        "OPENAI_API_KEY": "sk-any-key-works-on-the-emulator",
        "OPENAI_BASE_URL": emulator.base_url,
        "BATCHERY_STORE": str(cwd / "jobs.db"),
    }
    env |= {f"BATCHERY_{name.upper()}": value for name, value in settings.items()}
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=cwd, env=env, stdout=-1, stderr=-1
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def test_the_python_tutorial_runs_every_request_and_prints_each_answer(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    ran = await _run([str(EXAMPLES / "from_python.py")], tmp_path, emulator)

    assert ran.code == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("job ")
    assert lines[0].endswith("completed in realtime mode")
    assert lines[1].startswith("3 succeeded, 0 failed, $")
    assert [line.split()[:2] for line in lines[2:]] == [
        ["q-0", "ok:"],
        ["q-1", "ok:"],
        ["q-2", "ok:"],
    ]
    assert (tmp_path / "jobs.db").is_file()


async def test_the_cli_tutorial_writes_one_result_line_per_request(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    command = ["run", str(EXAMPLES / "requests.jsonl"), "--provider", "openai"]
    command += ["--out", "results.jsonl", "--summary", "summary.json"]
    ran = await _run(["-m", "batchery", *command], tmp_path, emulator)

    assert ran.code == 0, ran.stderr
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    results = [msgspec.json.decode(line) for line in lines]
    assert [r["custom_id"] for r in results] == ["q-1", "q-2", "q-3", "e-1"]
    assert all(r["ok"] and r["provider"] == "openai" for r in results)
    assert all(isinstance(r["text"], str) for r in results[:3])
    assert isinstance(results[3]["vector"], list)
    summary = msgspec.json.decode((tmp_path / "summary.json").read_bytes())
    assert summary["exit_code"] == 0

    again = await _run(["-m", "batchery", *command], tmp_path, emulator)
    assert again.code == 0, again.stderr
    assert (tmp_path / "results.jsonl").read_text().count("\n") == 4


async def test_the_openai_format_how_to_writes_chat_completions_from_anthropic(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    command = ["run", str(EXAMPLES / "chats.jsonl"), "--provider", "anthropic", "--emulate"]
    ran = await _run(
        ["-m", "batchery", *command, "--format", "openai", "--out", "-"], tmp_path, emulator
    )

    assert ran.code == 0, ran.stderr
    lines = [msgspec.json.decode(line) for line in ran.stdout.splitlines()]
    assert [line["custom_id"] for line in lines] == ["c-1", "c-2"]
    assert all(line["response"]["status_code"] == 200 for line in lines)
    bodies = [line["response"]["body"] for line in lines]
    assert all(body["object"] == "chat.completion" for body in bodies)
    assert all(body["choices"][0]["message"]["role"] == "assistant" for body in bodies)


async def test_the_agent_graph_tutorial_runs_both_nodes_and_checkpoints_its_thread(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    fast = {"poll_interval_s": "0.05", "poll_max_interval_s": "0.05"}
    ran = await _run([str(EXAMPLES / "agent_graph.py")], tmp_path, emulator, **fast)

    assert ran.code == 0, ran.stderr
    kept, _, topic = ran.stdout.splitlines()[-1].partition(" atoms kept for ")
    assert topic == "loans"
    assert int(kept) > 0
    assert (tmp_path / "graph.db").is_file()
    assert len(emulator.batches()) == 2


async def test_the_price_override_in_batchery_toml_prices_every_answer(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    (tmp_path / "batchery.toml").write_bytes((EXAMPLES / "batchery.toml").read_bytes())
    command = ["run", str(EXAMPLES / "chats.jsonl"), "--provider", "openai", "--model"]
    command += ["gpt-4o-mini", "--out", "results.jsonl"]
    ran = await _run(["-m", "batchery", *command], tmp_path, emulator)

    assert ran.code == 0, ran.stderr
    for line in (tmp_path / "results.jsonl").read_text().splitlines():
        result = msgspec.json.decode(line)
        usage = result["usage"]
        expected = (usage["input_tokens"] * 1.00 + usage["output_tokens"] * 4.00) / 1e6
        assert result["mode"] == "realtime"
        assert result["cost_usd"] == pytest.approx(expected)

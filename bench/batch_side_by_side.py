"""The batch path end to end: `batchery run --mode batch` against a bare streaming client.

One `batchery emulate openai` process serves both. For N chat requests in one OpenAI batch
input file, each round runs (a) the bare baseline (`bench/_bare_batch.py`: write the upload
JSONL, upload, create, poll, download, parse, write) and (b) the real CLI with a fresh SQLite
store, each as its own process, and measures that process alone (`os.wait4`): wall, user+sys
CPU, peak RSS and voluntary context switches. The median of the rounds is printed with the
ratios CLI / bare. Both run with bytecode cached, as an installed command does: a warm-up
round on 100 requests first writes it (under a scratch `PYTHONPYCACHEPREFIX`, even where
`PYTHONDONTWRITEBYTECODE` is set). Targets at 100,000: wall <= 1.5x bare, CPU/request < 60
us, peak RSS < 120 MB; at 1,000,000 (20 batches of 50,000) peak RSS < 150 MB.

    uv run python bench/batch_side_by_side.py [--requests 100000] [--rounds 3] [--only cli]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
from _harness import KEY, emulator_process

_HERE = Path(__file__).parent
_ENTRY = Path(sys.executable).with_name("batchery")


class Figures(msgspec.Struct, frozen=True):
    wall_s: float
    cpu_s: float
    rss_mb: float
    switches: int


def write_input(path: Path, n: int) -> None:
    """N OpenAI batch lines for chat requests, written in blocks so the file streams out."""
    with path.open("wb") as handle:
        block: list[bytes] = []
        for i in range(n):
            line = {
                "custom_id": f"r-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": f"item {i}: say something short"}],
                },
            }
            block.append(json.dumps(line).encode() + b"\n")
            if len(block) == 10_000:
                handle.writelines(block)
                block.clear()
        handle.writelines(block)


def measured(argv: list[str], env: dict[str, str]) -> Figures:
    """Run `argv` to its end and take its own resource use from the kernel."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[1]} exited {proc.returncode}:\n{err[-2000:]}")
    return Figures(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        rss_mb=usage.ru_maxrss / 1024,
        switches=usage.ru_nvcsw,
    )


def results_in(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def child_env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(scratch / "pycache")}


def bare(url: str, source: Path, scratch: Path, n: int) -> Figures:
    out = scratch / "bare.results.jsonl"
    figures = measured(
        [sys.executable, str(_HERE / "_bare_batch.py"), url, str(source), str(out)],
        child_env(scratch),
    )
    assert results_in(out) == n
    out.unlink()
    return figures


def cli(url: str, source: Path, scratch: Path, n: int, round_: int) -> Figures:
    out = scratch / "cli.results.jsonl"
    store = scratch / f"cli-{round_}.db"
    env = {
        k: v for k, v in child_env(scratch).items() if not k.startswith(("BATCHERY_", "OPENAI_"))
    }
    env |= {
        "OPENAI_API_KEY": KEY,
        "BATCHERY_POLL_INTERVAL_S": "0.2",
        "BATCHERY_POLL_MAX_INTERVAL_S": "0.2",
        "BATCHERY_LOG_LEVEL": "warning",
    }
    argv = [str(_ENTRY), "run", str(source), "--mode", "batch", "--base-url", url]
    figures = measured([*argv, "--store", str(store), "--out", str(out)], env)
    assert results_in(out) == n
    out.unlink()
    for leftover in scratch.glob(f"{store.name}*"):
        leftover.unlink()
    return figures


def median(runs: list[Figures]) -> Figures:
    return Figures(
        wall_s=statistics.median(r.wall_s for r in runs),
        cpu_s=statistics.median(r.cpu_s for r in runs),
        rss_mb=statistics.median(r.rss_mb for r in runs),
        switches=int(statistics.median(r.switches for r in runs)),
    )


def show(name: str, n: int, f: Figures) -> None:
    print(
        f"  {name:14} wall {f.wall_s:6.2f} s  cpu {f.cpu_s:6.2f} s "
        f"({f.cpu_s / n * 1e6:5.1f} us/request)  peak RSS {f.rss_mb:6.1f} MB  "
        f"voluntary switches {f.switches}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="the median counts")
    parser.add_argument("--only", choices=("bare", "cli"), help="run one side only")
    args = parser.parse_args()
    n = args.requests
    with tempfile.TemporaryDirectory() as tmp, emulator_process("--time-scale", "100000") as url:
        scratch = Path(tmp)
        warm_up = scratch / "warm-up.jsonl"
        write_input(warm_up, 100)
        bare(url, warm_up, scratch, 100)
        cli(url, warm_up, scratch, 100, -1)
        source = scratch / "input.jsonl"
        write_input(source, n)
        sides: dict[str, list[Figures]] = {"bare": [], "cli": []}
        for round_ in range(args.rounds):
            if args.only != "cli":
                sides["bare"].append(bare(url, source, scratch, n))
            if args.only != "bare":
                sides["cli"].append(cli(url, source, scratch, n, round_))
        print(f"{n} chat requests, batch mode, median of {args.rounds} rounds")
        figures = {name: median(runs) for name, runs in sides.items() if runs}
        for name, f in figures.items():
            show("bare aiohttp" if name == "bare" else "batchery run", n, f)
        if len(figures) == 2:
            b, c = figures["bare"], figures["cli"]
            print(
                f"  ratios cli/bare: wall {c.wall_s / b.wall_s:.2f}x (target <= 1.5), "
                f"cpu {c.cpu_s / b.cpu_s:.2f}x, peak RSS {c.rss_mb / b.rss_mb:.2f}x"
            )


if __name__ == "__main__":
    main()

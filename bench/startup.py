"""CLI startup: `batchery --help` and `batchery run --help` against `import batchery`.

Each command runs in a fresh process, best of N, once with bytecode cached and once with a cold
cache (an empty `PYTHONPYCACHEPREFIX` per run, so every module is compiled from source, as on the
first start after an install). Target: each ratio to `import batchery` at most 3.

    uv run python bench/startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ENTRY = Path(sys.executable).with_name("batchery")
_CASES = {
    "import batchery": [sys.executable, "-c", "import batchery"],
    "batchery --help": [str(_ENTRY), "--help"],
    "batchery run --help": [str(_ENTRY), "run", "--help"],
}


def _once(argv: list[str], *, cold: bool) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    with tempfile.TemporaryDirectory() as prefix:
        if cold:
            env["PYTHONPYCACHEPREFIX"] = prefix
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - started


def best_of(argv: list[str], rounds: int, *, cold: bool) -> float:
    return min(_once(argv, cold=cold) for _ in range(rounds))


def modules_loaded(name: str) -> int:
    """How many modules the case leaves in `sys.modules`."""
    if name == "import batchery":
        code = "import sys, batchery; print(len(sys.modules), file=sys.stderr)"
    else:
        args = name.split()[1:]
        code = (
            "import sys\nfrom batchery.cli import cli\n"
            f"try:\n    cli({args!r})\nexcept SystemExit:\n    pass\n"
            "print(len(sys.modules), file=sys.stderr)"
        )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stderr.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="runs per case; the best counts")
    args = parser.parse_args()
    for cold in (False, True):
        label = "cold bytecode cache" if cold else "bytecode cached"
        times = {name: best_of(argv, args.rounds, cold=cold) for name, argv in _CASES.items()}
        base = times["import batchery"]
        print(f"{label} (best of {args.rounds})")
        for name, took in times.items():
            ratio = "" if name == "import batchery" else f"  {took / base:4.2f}x  (target <= 3)"
            print(f"  {name:22} {took * 1000:7.1f} ms{ratio}")
    print("modules loaded")
    for name in _CASES:
        print(f"  {name:22} {modules_loaded(name):5d}")


if __name__ == "__main__":
    main()

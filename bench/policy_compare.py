"""Auto against always-batch and always-realtime, over workload sizes and deadlines.

Each scenario runs three times on the OpenAI emulator, with `auto`, with `batch` and with
`realtime`. The emulator runs 50 times faster than real time, so a batch takes seconds and
grows with its size, while a realtime call takes a fixed 50 ms: batch is cheaper, realtime
faster, as with real providers. Warm-up runs give the policy the history it learns from.

"Best" is the better of the two fixed modes by the policy's own objective: below the batch
threshold, the faster (small workloads are for quick answers); otherwise the cheaper of those
that met the deadline, else the faster. Target: auto never worse than the best by more than 5%
on the objective (cost where a deadline was met, finish time otherwise).

    uv run python bench/policy_compare.py
"""

from __future__ import annotations

import time

from _harness import chats, emulator_process, service
from batchery.cli._loop import run_async
from batchery.logging import configure_logging
from batchery.model import Mode
from batchery.service import BatchLlmService

SCENARIOS: list[tuple[int, float | None]] = [
    (10, None),
    (10, 5.0),
    (200, None),
    (200, 1.5),
    (200, 10.0),
    (1000, None),
    (1000, 5.0),
    (1000, 20.0),
]
THRESHOLD = 20
_TOLERANCE = 1.05


async def one(
    svc: BatchLlmService, n: int, deadline: float | None, mode: Mode, tag: str
) -> tuple[float, float, str]:
    started = time.perf_counter()
    outcome = await svc.run(chats(n, tag), mode=mode, deadline_s=deadline, use_cache=False)
    assert outcome.counts.succeeded == n, outcome.counts
    return time.perf_counter() - started, outcome.counts.cost_usd, outcome.job.mode


def better(
    a: tuple[float, float], b: tuple[float, float], deadline: float | None, size: int
) -> tuple[float, float]:
    """The better (seconds, cost) by the policy's objective; see the module docstring."""
    fits = [x for x in (a, b) if deadline is None or x[0] <= deadline]
    if size < THRESHOLD or not fits:
        return min((a, b), key=lambda x: x[0])
    return min(fits, key=lambda x: (x[1], x[0]))


async def compare(url: str) -> bool:
    ok = True
    async with service(
        url, realtime_concurrency=16, poll_interval_s=0.05, poll_max_interval_s=0.2
    ) as svc:
        await one(svc, THRESHOLD, None, Mode.REALTIME, "warm-realtime")
        for size in sorted({n for n, _ in SCENARIOS}):
            await one(svc, size, None, Mode.BATCH, f"warm{size}")
        print(
            f"{'size':>5} {'deadline':>8} | {'auto (mode)':>22} | {'batch':>17} | "
            f"{'realtime':>17} | verdict"
        )
        for index, (n, deadline) in enumerate(SCENARIOS):
            auto_s, auto_c, chosen = await one(svc, n, deadline, Mode.AUTO, f"a{index}")
            batch_s, batch_c, _ = await one(svc, n, deadline, Mode.BATCH, f"b{index}")
            rt_s, rt_c, _ = await one(svc, n, deadline, Mode.REALTIME, f"r{index}")
            best_s, best_c = better((batch_s, batch_c), (rt_s, rt_c), deadline, n)
            best_fits = deadline is None or best_s <= deadline
            if n < THRESHOLD or not best_fits:
                good = auto_s <= best_s * _TOLERANCE + 0.05
            else:
                good = (deadline is None or auto_s <= deadline) and (
                    auto_c <= best_c * _TOLERANCE + 1e-9
                )
            ok &= good
            shown = "none" if deadline is None else f"{deadline:.1f}s"
            print(
                f"{n:>5} {shown:>8} | {auto_s:6.2f}s ${auto_c:.5f} ({chosen:>8}) | "
                f"{batch_s:6.2f}s ${batch_c:.5f} | {rt_s:6.2f}s ${rt_c:.5f} | "
                f"{'ok' if good else 'WORSE'}"
            )
    return ok


def main() -> None:
    configure_logging(level="warning")
    with emulator_process("--time-scale", "50", "--latency", "0.05") as url:
        ok = run_async(compare(url))
    print("auto within 5% of the better fixed mode in every scenario:", ok)


if __name__ == "__main__":
    main()

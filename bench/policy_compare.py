"""Auto against always-batch and always-realtime, over workload sizes and deadlines.

Each scenario runs three times on the OpenAI emulator (batch turnaround grows with size, as
the emulator's steady per-request rate makes it; realtime calls take a fixed latency): with
`auto`, with `batch` and with `realtime`. "Best" is the better of the two fixed modes: the
cheaper of those that met the deadline, else the faster. Target: auto's cost and finish time
never worse than the best's by more than 5% (a missed deadline counts as worse).

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
    (200, 30.0),
    (1000, None),
    (1000, 2.5),
    (1000, 30.0),
]
_TOLERANCE = 1.05


async def one(
    svc: BatchLlmService, n: int, deadline: float | None, mode: Mode, tag: str
) -> tuple[float, float, str]:
    started = time.perf_counter()
    outcome = await svc.run(chats(n, tag), mode=mode, deadline_s=deadline, use_cache=False)
    assert outcome.counts.succeeded == n, outcome.counts
    return time.perf_counter() - started, outcome.counts.cost_usd, outcome.job.mode


def better(
    a: tuple[float, float], b: tuple[float, float], deadline: float | None
) -> tuple[float, float]:
    fits = [x for x in (a, b) if deadline is None or x[0] <= deadline]
    if fits:
        return min(fits, key=lambda x: (x[1], x[0]))
    return min((a, b), key=lambda x: x[0])


async def compare(url: str) -> bool:
    ok = True
    async with service(
        url, realtime_concurrency=16, poll_interval_s=0.05, poll_max_interval_s=0.2
    ) as svc:
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
            best_s, best_c = better((batch_s, batch_c), (rt_s, rt_c), deadline)
            auto_fits = deadline is None or auto_s <= deadline
            best_fits = deadline is None or best_s <= deadline
            good = (
                (auto_fits or not best_fits)
                and auto_c <= best_c * _TOLERANCE + 1e-9
                and (best_fits or auto_s <= best_s * _TOLERANCE)
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
    with emulator_process("--time-scale", "1000", "--latency", "0.05") as url:
        ok = run_async(compare(url))
    print("auto within 5% of the better fixed mode in every scenario:", ok)


if __name__ == "__main__":
    main()

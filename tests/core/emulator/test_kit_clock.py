import math

import pytest
from batchery.emulator import ScaledClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_emulated_time_runs_time_scale_times_faster() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(100, start=1_700_000_000.0, monotonic=real)
    assert clock.now() == 1_700_000_000.0
    real.t += 1.5
    assert clock.now() == pytest.approx(1_700_000_150.0)
    assert clock.time_scale == 100


def test_a_day_passes_in_one_real_second_at_86400() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(86400, start=0.0, monotonic=real)
    real.t += 1.0
    assert clock.now() == pytest.approx(24 * 3600)


def test_advance_jumps_without_waiting_and_conversions_scale() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(10, start=50.0, monotonic=real)
    clock.advance(3600)
    assert clock.now() == 3650.0
    assert clock.real_seconds(30) == 3.0
    assert clock.emulated_seconds(2) == 20.0


def test_starts_at_the_real_wall_clock_by_default() -> None:
    import time

    before = time.time()
    clock = ScaledClock(1000)
    assert clock.now() >= before


@pytest.mark.parametrize("scale", [0, -1, math.inf, math.nan])
def test_rejects_a_scale_that_is_not_positive_and_finite(scale: float) -> None:
    with pytest.raises(ValueError, match="time_scale"):
        ScaledClock(scale)


def test_cannot_go_back_in_time() -> None:
    with pytest.raises(ValueError, match="advance"):
        ScaledClock().advance(-1)


async def test_sleep_waits_scaled_real_time() -> None:
    import time

    clock = ScaledClock(1000)
    start = time.monotonic()
    await clock.sleep(50)  # 50 emulated seconds are 50 ms
    elapsed = time.monotonic() - start
    assert 0.04 <= elapsed < 1.0


async def test_taking_pads_work_to_the_latency_and_never_adds_to_it() -> None:
    import asyncio
    import time

    import pytest
    from batchery.emulator import taking

    started = time.monotonic()
    async with taking(0.1):
        await asyncio.sleep(0.03)
    padded = time.monotonic() - started

    started = time.monotonic()
    with pytest.raises(RuntimeError):
        async with taking(0.05):
            raise RuntimeError("refused")
    refused = time.monotonic() - started

    started = time.monotonic()
    async with taking(0.01):
        await asyncio.sleep(0.05)
    overlong = time.monotonic() - started

    assert 0.1 <= padded < 0.15
    assert 0.05 <= refused < 0.1
    assert 0.05 <= overlong < 0.09

from batchery.emulator import ScaledClock
from batchery_openai.emulator._ratelimit import RateWindow, go_duration


def test_a_full_window_refuses_with_retry_after_until_the_next_minute() -> None:
    clock = ScaledClock(10, start=600.0)
    window = RateWindow(clock, requests_per_min=2, tokens_per_min=1000)
    assert window.take(10)[0]
    allowed, headers = window.take(10)
    assert allowed
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-remaining-tokens"] == "980"
    allowed, headers = window.take(10)
    assert not allowed
    assert 1 <= int(headers["retry-after"]) <= 6  # a 60 s emulated window is 6 s real at 10x
    clock.advance(60)
    assert window.take(10)[0]


def test_tokens_are_limited_too() -> None:
    window = RateWindow(ScaledClock(1, start=0.0), requests_per_min=100, tokens_per_min=50)
    assert window.take(40)[0]
    assert not window.take(20)[0]


def test_go_durations() -> None:
    assert go_duration(0.0125) == "13ms"
    assert go_duration(1.5) == "1.5s"
    assert go_duration(360) == "6m0s"

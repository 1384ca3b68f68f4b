"""The closing report groups failures by reason, whatever line or item each came from."""

from __future__ import annotations

from batchery.cli._exit import ExitCode
from batchery.cli._outcome import Tally, reason_of
from batchery.model import ErrorInfo, LlmResult, Mode


def _failed(custom_id: str, code: str, message: str, status: int | None = None) -> LlmResult:
    error = ErrorInfo(code=code, message=message, status=status)
    return LlmResult.failure(custom_id, error, provider="openai", mode=Mode.BATCH)


def _ok(custom_id: str, *, cached: bool = False) -> LlmResult:
    return LlmResult(
        custom_id=custom_id, ok=True, provider="openai", mode=Mode.BATCH, cached=cached
    )


def test_the_line_and_custom_id_do_not_split_a_reason() -> None:
    assert (
        reason_of("line 21 (custom_id 'bad1'): kind 'sing' is not one of chat", "bad1")
        == "kind 'sing' is not one of chat"
    )
    assert reason_of("request q-7 is too long", "q-7") == "request … is too long"


def test_failures_group_by_reason_largest_first_with_three_examples() -> None:
    tally = Tally()
    for i in range(5):
        tally.add(_failed(f"a{i}", "rate_limited", f"line {i + 1}: slow down", status=429))
    tally.add(_failed("b0", "invalid_request", "bad model", status=400))
    tally.add(_ok("c0"))

    lines = list(tally.lines(batches_submitted=1, mode_reason=None))

    assert lines == [
        "6 failed:",
        "       5x rate_limited: slow down (e.g. a0, a1, a2, …)",
        "       1x invalid_request: bad model (e.g. b0)",
    ]
    assert tally.exit_code("completed", batches_submitted=1) is ExitCode.SOME_FAILED


def test_nothing_sent_because_unreachable_says_so_and_exits_4() -> None:
    tally = Tally()
    for i in range(3):
        tally.add(_failed(f"q{i}", "connection_error", "OpenAI POST /chat/completions"))

    lines = list(tally.lines(batches_submitted=0, mode_reason="realtime mode was requested"))

    assert lines[-1].startswith("nothing was sent: the provider could not be reached")
    assert tally.exit_code("completed", batches_submitted=0) is ExitCode.PROVIDER_UNAVAILABLE


def test_a_refused_key_counts_as_nothing_sent() -> None:
    tally = Tally()
    tally.add(_failed("q0", "auth", "Incorrect API key provided.", status=401))

    assert tally.exit_code("completed", batches_submitted=0) is ExitCode.PROVIDER_UNAVAILABLE


def test_all_from_the_cache_says_why_nothing_was_sent_and_exits_0() -> None:
    tally = Tally()
    tally.add(_ok("q0", cached=True))
    tally.add(_ok("q1", cached=True))

    lines = list(tally.lines(batches_submitted=0, mode_reason="nothing left to send"))

    assert lines == [
        "nothing was sent: all 2 answers came from the result cache "
        "(--no-cache asks the provider again)"
    ]
    assert tally.exit_code("completed", batches_submitted=0) is ExitCode.OK


def test_a_cancelled_run_exits_3_whatever_failed() -> None:
    tally = Tally()
    tally.add(_failed("q0", "cancelled", "the run was cancelled"))

    assert tally.exit_code("cancelled", batches_submitted=1) is ExitCode.CANCELLED

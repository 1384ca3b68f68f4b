import pytest
from batchery.emulator import FAULTS, FaultPlan


def test_parses_rates_durations_and_bare_names() -> None:
    plan = FaultPlan.parse(" http_429=0.1, batch_expire ,malformed=0.02,batch_404=30", seed=3)
    assert plan.values == {
        "http_429": 0.1,
        "batch_expire": 1.0,
        "malformed": 0.02,
        "batch_404": 30.0,
    }
    assert "http_429" in plan
    assert "shuffle" not in plan
    assert plan.value("shuffle") == 0.0
    assert plan.value("retry_after") == FAULTS["retry_after"].default
    assert plan.seed == 3


def test_an_empty_spec_is_an_empty_plan() -> None:
    plan = FaultPlan.parse("")
    assert not plan
    assert not plan.hit("http_500", 1)


def test_a_zero_rate_never_fires() -> None:
    plan = FaultPlan.parse("http_500=0")
    assert "http_500" not in plan
    assert not any(plan.hit("http_500", i) for i in range(1000))


@pytest.mark.parametrize(
    ("spec", "entry", "rule"),
    [
        ("http_429=0.1,bogus=1", "bogus=1", "unknown fault"),
        ("http_429=1.5", "http_429=1.5", "rate between 0 and 1"),
        ("malformed=-0.1", "malformed=-0.1", "rate between 0 and 1"),
        ("shuffle=often", "shuffle=often", "needs a number"),
        ("batch_404=-5", "batch_404=-5", "0 or more seconds"),
        ("batch_404=inf", "batch_404=inf", "0 or more seconds"),
        ("shuffle,shuffle=0.5", "shuffle=0.5", "more than once"),
    ],
)
def test_invalid_entries_name_the_entry_and_the_rule(spec: str, entry: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule) as caught:
        FaultPlan.parse(spec)
    assert repr(entry) in str(caught.value)


def test_allowed_refuses_faults_the_emulator_does_not_support() -> None:
    with pytest.raises(ValueError, match="unknown fault") as caught:
        FaultPlan.parse("http_529", allowed={"http_429", "http_500"})
    assert "http_429, http_500" in str(caught.value)


def test_draws_are_deterministic_from_the_seed_and_key() -> None:
    first = FaultPlan.parse("line_error=0.3", seed=7)
    again = FaultPlan.parse("line_error=0.3", seed=7)
    other = FaultPlan.parse("line_error=0.3", seed=8)
    draws = [first.hit("line_error", "batch_1", i) for i in range(200)]
    assert draws == [again.hit("line_error", "batch_1", i) for i in range(200)]
    assert draws != [other.hit("line_error", "batch_1", i) for i in range(200)]
    assert first.roll("line_error", 1) == again.roll("line_error", 1)
    assert {first.pick("malformed", 4, i) for i in range(200)} == {0, 1, 2, 3}


def test_hit_rate_follows_the_rate() -> None:
    plan = FaultPlan.parse("http_429=0.1", seed=1)
    hits = sum(plan.hit("http_429", i) for i in range(20_000))
    assert 1700 < hits < 2300


def test_http_fault_is_the_first_status_in_order_whose_fault_fires() -> None:
    plan = FaultPlan.parse("http_429=0.5,http_500=0.5,http_529=1", seed=3)
    for call in range(200):
        expected = next((code for code in (429, 500) if plan.hit(f"http_{code}", call)), None)
        assert plan.http_fault(call) == expected
        assert plan.http_fault(call, (429, 500, 503, 529)) == (expected or 529)
    assert FaultPlan.parse("").http_fault(0) is None


def test_catalogue_table_documents_every_fault() -> None:
    from batchery.emulator import _faults

    doc = _faults.__doc__ or ""
    for name in FAULTS:
        assert f"| `{name}` |" in doc

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from batchery.emulator import (
    Batch,
    BatchEngine,
    BatchError,
    FaultPlan,
    FileStore,
    Outcome,
    ResultFiles,
    ScaledClock,
    Timeline,
    Validation,
    draw_failures,
    input_lines,
)


class Record(msgspec.Struct, kw_only=True):
    id: str
    purpose: str
    bytes: int


class Refused(Exception):
    pass


TIMELINE = Timeline(requests_per_s=1.0, window_s=3600.0, cancellable=frozenset({"in_progress"}))


class Engine(BatchEngine[str]):
    """A toy provider: every input line is a request; jobs are just a label."""

    def __init__(self, root: Path, clock: ScaledClock, plan: FaultPlan, timeline: Timeline):
        self.files: FileStore[Record] = FileStore(
            root,
            max_bytes=1 << 20,
            not_found=Refused,
            too_large=lambda limit: Refused(str(limit)),
            bad_upload=Refused,
        )
        super().__init__(root, clock, plan, timeline, self.files.scratch_path)
        self.kept = 0

    def validate(self, batch: Batch[str]) -> Validation:
        total = sum(1 for _ in input_lines(batch.input_path))
        result = Validation(total=total, model="toy")
        if batch.job == "bad":
            result.fail("bad_job", "refused", 1)
        else:
            result.failing = draw_failures(self._plan, batch.id, total)
        return result

    def write_results(
        self, batch: Batch[str], output_path: Path, error_path: Path, at: float
    ) -> ResultFiles:
        def render(index: int, raw: bytes, outcome: Outcome) -> tuple[dict[str, Any], bool]:
            line = {"custom_id": f"r-{index}", "outcome": outcome, "unrun": batch.unrun}
            return line, outcome == "ran"

        return self.write_lines(batch, output_path, error_path, render)

    def keep_result(self, batch: Batch[str], path: Path, kind: str, at: float) -> str:
        self.kept += 1
        file_id = f"{batch.id}-{kind}"
        return self.files.add(path, lambda size: Record(id=file_id, purpose=kind, bytes=size)).id

    def token_limit(self, batch: Batch[str], validation: Validation) -> BatchError:
        return BatchError(code="token_limit_exceeded", message="too many tokens")

    def not_found(self, batch_id: str) -> Exception:
        return Refused(batch_id)

    def cannot_cancel(self, batch: Batch[str]) -> Exception:
        return Refused(batch.status)


Make = Callable[..., Engine]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Make]:
    engines: list[Engine] = []

    def build(faults: str = "", timeline: Timeline = TIMELINE) -> Engine:
        clock = ScaledClock(start=1_000_000.5)
        engine = Engine(tmp_path, clock, FaultPlan.parse(faults), timeline)
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        await engine.wait_idle()


def _source(engine: Engine, tmp_path: Path, count: int) -> Path:
    path = tmp_path / f"source-{count}.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(count)))
    return path


def _advance(engine: Engine, seconds: float) -> None:
    engine._clock.advance(seconds)


async def test_a_batch_walks_the_timeline_to_completed(make: Make, tmp_path: Path) -> None:
    engine = make()
    batch = engine.open("b1", "job", _source(engine, tmp_path, 10))
    assert (await engine.retrieve("b1")).status == "validating"
    _advance(engine, 20 + 4)
    await engine.retrieve("b1")
    assert batch.status == "in_progress"
    assert (batch.counts.total, batch.counts.completed) == (10, 4)
    _advance(engine, 6)
    await engine.retrieve("b1")
    assert batch.status == "finalizing"
    _advance(engine, 20)
    await engine.retrieve("b1")
    assert batch.status == "completed"
    assert batch.model == "toy"
    assert list(batch.times) == ["in_progress", "finalizing", "completed"]
    assert batch.times["completed"] - batch.times["in_progress"] == 30
    assert (batch.output_file_id, batch.error_file_id) == ("b1-output", None)
    assert batch.counts.completed == 10


async def test_a_clock_jump_applies_every_transition_at_its_own_time(
    make: Make, tmp_path: Path
) -> None:
    engine = make(timeline=msgspec.structs.replace(TIMELINE, whole_seconds=True))
    batch = engine.open("b1", "job", _source(engine, tmp_path, 3))
    _advance(engine, 86_400)
    await engine.refresh()
    assert batch.status == "completed"
    assert all(at == int(at) for at in batch.times.values())
    assert batch.times["in_progress"] == int(batch.created + 20)
    assert batch.times["completed"] == batch.times["finalizing"] + 20


@pytest.mark.parametrize(
    ("timeline", "ending"),
    [
        (TIMELINE, "expired"),
        (
            msgspec.structs.replace(
                TIMELINE, expired_status="partially_completed", finalize_expired=True
            ),
            "partially_completed",
        ),
    ],
)
async def test_a_stalled_batch_runs_out_of_its_window_with_partial_results(
    make: Make, tmp_path: Path, timeline: Timeline, ending: str
) -> None:
    engine = make("batch_expire", timeline)
    batch = engine.open("b1", "job", _source(engine, tmp_path, 10))
    _advance(engine, 3600 + 20)
    await engine.refresh()
    assert batch.status == ending
    assert ("finalizing" in batch.times) is timeline.finalize_expired
    assert (batch.counts.completed, batch.counts.failed) == (5, 5)
    stored = engine.files.get("b1-error")
    unrun = [msgspec.json.decode(line) for line in stored.path.read_bytes().splitlines()]
    assert {line["unrun"] for line in unrun} == {"expired"}


async def test_cancel_keeps_what_ran_and_follows_the_timeline_rules(
    make: Make, tmp_path: Path
) -> None:
    engine = make()
    batch = engine.open("b1", "job", _source(engine, tmp_path, 10))
    with pytest.raises(Refused, match="validating"):
        await engine.cancel("b1")
    _advance(engine, 20 + 3)
    await engine.cancel("b1")
    assert (batch.status, batch.processed, batch.unrun) == ("cancelling", 3, "cancelled")
    with pytest.raises(Refused, match="cancelling"):
        await engine.cancel("b1")
    _advance(engine, 30)
    await engine.refresh()
    assert batch.status == "cancelled"
    assert (batch.counts.completed, batch.counts.failed) == (3, 7)

    again = make(
        timeline=msgspec.structs.replace(TIMELINE, recancellable=frozenset({"cancelling"}))
    )
    other = again.open("b2", "job", _source(again, tmp_path, 10))
    _advance(again, 21)
    await again.cancel("b2")
    assert (await again.cancel("b2")).status == other.status == "cancelling"


@pytest.mark.parametrize("count_rejected", [False, True])
async def test_a_rejected_batch_fails_and_reports_its_total_if_told(
    make: Make, tmp_path: Path, count_rejected: bool
) -> None:
    engine = make(timeline=msgspec.structs.replace(TIMELINE, count_rejected=count_rejected))
    batch = engine.open("b1", "bad", _source(engine, tmp_path, 4))
    _advance(engine, 20)
    await engine.refresh()
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data[0].code == "bad_job"
    assert batch.counts.total == (4 if count_rejected else 0)


async def test_batch_faults_token_limit_empty_error_file_and_hiding(
    make: Make, tmp_path: Path
) -> None:
    engine = make("token_limit,batch_404=60")
    batch = engine.open("b1", "job", _source(engine, tmp_path, 2))
    assert engine.hidden("b1")
    _advance(engine, 60)
    assert not engine.hidden("b1")
    await engine.refresh()
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data[0].code == "token_limit_exceeded"

    empty = make("empty_error_file")
    done = empty.open("b2", "job", _source(empty, tmp_path, 2))
    _advance(empty, 3600)
    await empty.refresh()
    assert (done.status, done.error_file_id) == ("completed", "")


async def test_pages_are_newest_first_and_unknown_ids_are_refused(
    make: Make, tmp_path: Path
) -> None:
    engine = make()
    source = _source(engine, tmp_path, 1)
    for name in ("a", "b", "c"):
        engine.open(name, "job", source)
    page, more = await engine.page(after=None, limit=2)
    assert ([b.id for b in page], more) == (["c", "b"], True)
    page, more = await engine.page(after="b", limit=2)
    assert ([b.id for b in page], more) == (["a"], False)
    assert [b.id for b in engine.batches()] == ["a", "b", "c"]
    with pytest.raises(Refused):
        await engine.retrieve("nope")

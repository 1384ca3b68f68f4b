"""A JSONL batch's input checks and result files, with the fault plan's line faults.

These run in worker threads. The provider decodes and answers each line in its own format; this
module keeps the parts every JSONL batch shares: which requests the plan fails, the shuffling
window, broken lines (cut in half, stripped of quotes, turned into a JSON string, or led by
bytes that are not UTF-8), repeated lines, and lines for a `custom_id` nobody sent.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec

from batchery.emulator._faults import FaultPlan
from batchery.emulator._ids import derived_id
from batchery.emulator._wire import BatchError, RequestCounts

__all__ = [
    "MALFORMED_VARIANTS",
    "MAX_REPORTED_ERRORS",
    "SHUFFLE_WINDOW",
    "LineSink",
    "Outcome",
    "Render",
    "ResultFiles",
    "Validation",
    "draw_failures",
    "input_lines",
    "malform",
    "shuffle_order",
    "write_result_files",
]

MAX_REPORTED_ERRORS = 100
"""A failed batch lists at most this many line errors, as a real error list is also bounded."""
SHUFFLE_WINDOW = 4096
"""The `shuffle` fault reorders lines within windows of this size, so memory stays bounded."""
MALFORMED_VARIANTS = 4
"""How many ways `malform` can break a line."""

Outcome = Literal["ran", "failed", "unrun"]
"""What became of one request: it ran, the plan failed it, or the batch ended before it ran."""


class Validation(msgspec.Struct, kw_only=True):
    """What checking a batch's input found: request count, errors, the requests to fail."""

    total: int = 0
    model: str | None = None
    errors: list[BatchError] = msgspec.field(default_factory=list)
    failing: list[int] = msgspec.field(default_factory=list)
    """Indexes of the requests that end with an error line, sorted: the ones the fault plan
    fails and the ones in `refused`. Counting them from here keeps `request_counts` from ever
    going down when the results are written."""
    refused: list[int] = msgspec.field(default_factory=list)
    """Indexes of the requests whose body the provider itself refuses, sorted."""

    def fail(self, code: str, message: str, line: int, param: str | None = None) -> None:
        """Record a line's problem; past `MAX_REPORTED_ERRORS` the batch still fails, unlisted."""
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(BatchError(code=code, message=message, param=param, line=line))

    def failed_before(self, processed: int) -> int:
        """How many of the first `processed` requests the plan fails."""
        return bisect.bisect_left(self.failing, processed)


def draw_failures(
    plan: FaultPlan, batch_id: str, total: int, refused: Sequence[int] = ()
) -> list[int]:
    """The requests that end with an error line, in order: `refused`, and those that
    `all_errors` or `line_error` fail."""
    every = plan.hit("all_errors", batch_id)
    refuse = set(refused)
    return [i for i in range(total) if i in refuse or every or plan.hit("line_error", batch_id, i)]


def input_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Each non-blank line with its 1-based line number in the file."""
    with path.open("rb") as source:
        for number, raw in enumerate(source, start=1):
            if raw.strip():
                yield number, raw


def shuffle_order(plan: FaultPlan, batch_id: str) -> random.Random | None:
    """The generator that shuffles a batch's results, if the plan shuffles it."""
    if not plan.hit("shuffle", batch_id):
        return None
    return random.Random(int(plan.roll("shuffle", batch_id, "order") * 2**32))


class LineSink:
    """One results file, written through a shuffling window when `order` is given."""

    def __init__(self, path: Path, order: random.Random | None) -> None:
        self.path = path
        self.lines = 0
        self._order = order
        self._window: list[bytes] = []
        self._out: BinaryIO = path.open("wb")

    def write(self, line: bytes) -> None:
        self.lines += 1
        if self._order is None:
            self._out.write(line + b"\n")
            return
        self._window.append(line)
        if len(self._window) >= SHUFFLE_WINDOW:
            self._flush()

    def _flush(self) -> None:
        if self._order is not None:
            self._order.shuffle(self._window)
        self._out.writelines(line + b"\n" for line in self._window)
        self._window.clear()

    def close(self) -> None:
        self._flush()
        self._out.close()

    def keep(self) -> Path | None:
        """Close the file; remove it and answer None when nothing was written."""
        self.close()
        if self.lines == 0:
            self.path.unlink()
            return None
        return self.path


def malform(line: bytes, variant: int) -> bytes:
    """`line` broken in one of `MALFORMED_VARIANTS` ways a real results file has shown."""
    if variant == 0:
        return line[: max(1, len(line) // 2)]
    if variant == 1:
        return line.replace(b'"', b"", 4)
    if variant == 2:
        return msgspec.json.encode(line.decode())
    return b"\xff\xfe" + line[:16]


class ResultFiles(msgspec.Struct, kw_only=True):
    """A finished batch's output and error files (None when empty) and its request counts."""

    output: Path | None
    errors: Path | None
    counts: RequestCounts


Render = Callable[[int, bytes, Outcome], tuple[dict[str, Any], bool]]
"""The provider's result line for input line `index` (its raw bytes), and whether it succeeded."""


def write_result_files(
    *,
    input_path: Path,
    output_path: Path,
    error_path: Path,
    batch_id: str,
    validation: Validation,
    processed: int,
    plan: FaultPlan,
    render: Render,
) -> ResultFiles:
    """Write the results of the first `processed` requests; the rest are `unrun`.

    Successful lines go to the output file, where the plan may break, repeat or shadow them
    (with a line for a `custom_id` nobody sent); failed and unrun lines go to the error file.
    """
    order = shuffle_order(plan, batch_id)
    output, errors = LineSink(output_path, order), LineSink(error_path, order)
    failing = set(validation.failing)
    counts = RequestCounts(total=validation.total)
    for index, (_, raw) in enumerate(input_lines(input_path)):
        outcome: Outcome = "unrun" if index >= processed else "ran"
        if outcome == "ran" and index in failing:
            outcome = "failed"
        line, ok = render(index, raw, outcome)
        encoded = msgspec.json.encode(line)
        if not ok:
            errors.write(encoded)
            counts.failed += 1
            continue
        counts.completed += 1
        if plan.hit("malformed", batch_id, index):
            encoded = malform(encoded, plan.pick("malformed", MALFORMED_VARIANTS, batch_id, index))
        output.write(encoded)
        if plan.hit("duplicate", batch_id, index):
            output.write(encoded)
        if plan.hit("unknown_id", batch_id, index):
            line["custom_id"] = derived_id("unknown-", batch_id, index)
            output.write(msgspec.json.encode(line))
    return ResultFiles(output=output.keep(), errors=errors.keep(), counts=counts)

"""A batch input file read line by line, and the checks every dialect makes of it.

The size is checked before anything is read; each line is decoded on its own, and a line that
is not JSON or not a request fails the batch with its number (every such problem is reported,
up to the kit's limit). An empty file fails it too. The dialect checks what a request holds in
between, and a batch with no problem draws the plan's failing lines. Requests a batch never ran
end in the error file with the `UNRUN` errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import msgspec
from batchery.emulator import BatchError, FaultPlan, Validation, draw_failures

__all__ = ["UNRUN", "decoded_lines", "drawn", "too_large"]

_L = TypeVar("_L")

UNRUN = {
    "expired": ("batch_expired", "This request could not be executed before the window expired."),
    "cancelled": ("batch_cancelled", "This request was not executed: the batch was cancelled."),
}
"""The error code and message of a request the batch never ran, by why it did not."""


def too_large(path: Path, limit: int, result: Validation) -> bool:
    """Whether the input is over `limit` bytes, which fails `result` before a line is read."""
    if path.stat().st_size <= limit:
        return False
    message = f"The input file is larger than the {limit} byte limit."
    result.errors.append(BatchError(code="file_too_large", message=message))
    return True


def decoded_lines(
    lines: Iterable[tuple[int, bytes]],
    decoder: msgspec.json.Decoder[_L],
    result: Validation,
    *,
    invalid: str,
    not_json: str,
) -> Iterator[tuple[int, _L]]:
    """Each request with its line number; a line that is not one fails `result` instead.

    `invalid` is the dialect's code for a line that is JSON but not a request, `not_json` its
    message for one that is not JSON.
    """
    for number, raw in lines:
        result.total += 1
        try:
            item = decoder.decode(raw)
        except msgspec.ValidationError as exc:
            result.fail(invalid, f"Invalid request line: {exc}", number)
            continue
        except msgspec.DecodeError:
            result.fail("invalid_json_line", not_json, number)
            continue
        yield number, item


def drawn(result: Validation, plan: FaultPlan, batch_id: str) -> Validation:
    """`result` with an empty file failed, or, when nothing failed it, its failing lines drawn."""
    if result.total == 0:
        result.errors.append(BatchError(code="empty_file", message="The input file is empty."))
    if not result.errors:
        result.failing = draw_failures(plan, batch_id, result.total, result.refused)
    return result

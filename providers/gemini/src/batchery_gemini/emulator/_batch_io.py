"""A batch's input checked line by line, and its results written (run in worker threads).

Inline requests are written to disk in the shape of file lines, so both inputs are read the
same way. File input gets a results file of `{"key", "response"}` or `{"key", "error"}` lines;
inline input gets `{"metadata", "response"}` or `{"metadata", "error"}` entries, where `error`
is a `google.rpc.Status` (the exact key of a failed entry is UNVERIFIED). Results follow the
input order unless the plan shuffles them. Malformed entries, when the plan asks, are broken
bytes in a file (truncated, broken JSON, a JSON string, not UTF-8) and broken structure inline
(a string, no metadata, a response that is not an object), since an inline entry must still sit
inside a valid Operation.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
from batchery.emulator import MALFORMED_VARIANTS, FaultPlan, draw_failures, malform, shuffle_order
from batchery.emulator import derived_id as kit_derived_id

from batchery_gemini.emulator._files import sha256_base64
from batchery_gemini.emulator._http import ApiError
from batchery_gemini.emulator._responses import embed, generate

__all__ = [
    "SHUFFLE_WINDOW",
    "Results",
    "Validation",
    "derived_id",
    "failed_before",
    "validate_input",
    "write_inline_input",
    "write_results",
]

SHUFFLE_WINDOW = 4096
"""The `shuffle` fault reorders results within windows of this size, so memory stays bounded."""

_LINE_ERRORS = (
    (3, "Request contains an invalid argument."),
    (8, "Resource has been exhausted (e.g. check quota)."),
    (13, "An internal error has occurred. Please retry or report it."),
)
_CODEC = msgspec.json.Encoder()


class Validation(msgspec.Struct, kw_only=True):
    total: int = 0
    error: str | None = None
    failing: list[int] = msgspec.field(default_factory=list)
    """Indexes of the requests the fault plan fails, sorted."""


class Results(msgspec.Struct, kw_only=True):
    file: Path | None = None
    sha256: str | None = None
    inline: list[Any] | None = None
    succeeded: int = 0
    failed: int = 0


def derived_id(prefix: str, *parts: object) -> str:
    """An id fixed by its parts, so ids made in worker threads stay reproducible."""
    return kit_derived_id(prefix, *parts, digest_size=12)


def write_inline_input(entries: list[Any], path: Path) -> None:
    with path.open("wb") as out:
        for entry in entries:
            out.write(_CODEC.encode(entry) + b"\n")


def _entries(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        for raw in source:
            if raw.strip():
                yield raw


def validate_input(path: Path, batch_id: str, plan: FaultPlan) -> Validation:
    """Count the requests; the first unreadable line fails the whole batch."""
    result = Validation()
    for number, raw in enumerate(_entries(path), start=1):
        try:
            entry = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            result.error = f"Line {number} of the input is not valid JSON."
            return result
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
            result.error = f"Line {number} of the input has no 'request' object."
            return result
        result.total += 1
    if result.total == 0:
        result.error = "The batch has no requests."
        return result
    result.failing = draw_failures(plan, batch_id, result.total)
    return result


def failed_before(validation: Validation, processed: int) -> int:
    return bisect.bisect_left(validation.failing, processed)


class _Sink:
    """Results in order, or shuffled within windows when the plan says so."""

    def __init__(self, order: random.Random | None, out: BinaryIO | None) -> None:
        self.entries: list[Any] = []
        self._order = order
        self._out = out
        self._window: list[Any] = []

    def add(self, entry: Any) -> None:
        self._window.append(entry)
        if len(self._window) >= SHUFFLE_WINDOW:
            self.flush()

    def flush(self) -> None:
        if self._order is not None:
            self._order.shuffle(self._window)
        if self._out is None:
            self.entries.extend(self._window)
        else:
            self._out.writelines(item + b"\n" for item in self._window)
        self._window.clear()


def _malformed_entry(entry: dict[str, Any], variant: int) -> Any:
    if variant == 0:
        return msgspec.json.encode(entry).decode()[:40]
    if variant == 1:
        return {k: v for k, v in entry.items() if k != "metadata"}
    return {**entry, "response": 7}


def _answer(
    kind: str, model: str, request: Mapping[str, Any], response_id: str
) -> tuple[Any, dict[str, Any] | None]:
    try:
        if kind == "embed":
            return embed(model, request), None
        return generate(model, request, response_id=response_id), None
    except ApiError as exc:
        return None, {"code": 3, "message": exc.message}


def write_results(
    *,
    input_path: Path,
    output_path: Path | None,
    batch_id: str,
    kind: str,
    model: str,
    validation: Validation,
    processed: int,
    plan: FaultPlan,
) -> Results:
    """The results of the first `processed` requests: a file at `output_path`, else inline."""
    order = shuffle_order(plan, batch_id)
    failing = set(validation.failing)
    results = Results()
    out = output_path.open("wb") if output_path is not None else None
    try:
        sink = _Sink(order, out)
        for index, raw in enumerate(_entries(input_path)):
            if index >= processed:
                break
            entry = msgspec.json.decode(raw)
            request = entry["request"]
            named = {name: entry[name] for name in ("key", "metadata") if name in entry}
            error: dict[str, Any] | None
            if index in failing:
                code, message = _LINE_ERRORS[plan.pick("line_error", 3, batch_id, index)]
                answer, error = None, {"code": code, "message": message}
            else:
                model_of = request.get("model") if isinstance(request.get("model"), str) else None
                answer, error = _answer(
                    kind, model_of or model, request, derived_id("", batch_id, index)
                )
            item = {**named, "response": answer} if error is None else {**named, "error": error}
            results.succeeded += error is None
            results.failed += error is not None
            _emit(sink, item, out is not None, plan, batch_id, index)
        sink.flush()
    finally:
        if out is not None:
            out.close()
    if output_path is None:
        results.inline = sink.entries
    elif results.succeeded + results.failed:
        results.file, results.sha256 = output_path, sha256_base64(output_path)
    else:
        output_path.unlink()
    return results


def _emit(
    sink: _Sink, item: dict[str, Any], to_file: bool, plan: FaultPlan, batch_id: str, index: int
) -> None:
    entry: Any = _CODEC.encode(item) if to_file else item
    if plan.hit("malformed", batch_id, index):
        if to_file:
            entry = malform(entry, plan.pick("malformed", MALFORMED_VARIANTS, batch_id, index))
        else:
            entry = _malformed_entry(item, plan.pick("malformed", 3, batch_id, index))
    sink.add(entry)
    if plan.hit("duplicate", batch_id, index):
        sink.add(entry)
    if plan.hit("unknown_id", batch_id, index):
        stranger = derived_id("unknown-", batch_id, index)
        named = {"key": stranger} if "key" in item else {"metadata": {"key": stranger}}
        extra = {**named, "response": item.get("response"), "error": item.get("error")}
        extra = {k: v for k, v in extra.items() if v is not None}
        sink.add(_CODEC.encode(extra) if to_file else extra)

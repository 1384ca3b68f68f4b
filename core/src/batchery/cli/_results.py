"""Where results go: a file replaced atomically, or stdout, in either result format."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterable
from pathlib import Path
from typing import BinaryIO

import msgspec

from batchery.cli._errors import CliError
from batchery.cli._exit import ExitCode
from batchery.cli._outcome import Tally
from batchery.formats import openai_line
from batchery.model import Job, LlmResult

__all__ = ["STDOUT", "check_out", "write_results"]


STDOUT = Path("-")
"""`--out -`: results go to stdout, and nothing else does."""


async def _write_lines(
    results: AsyncIterable[LlmResult], job: Job, handle: BinaryIO, fmt: str, tally: Tally
) -> int:
    encoder = msgspec.json.Encoder()
    created = int(job.created_at)
    count = 0
    async for result in results:
        tally.add(result)
        line = (
            openai_line(result, run_id=job.id, created=created, model=job.model)
            if fmt == "openai"
            else result
        )
        handle.write(encoder.encode(line) + b"\n")
        count += 1
    return count


async def write_results(
    results: AsyncIterable[LlmResult],
    job: Job,
    out: Path,
    *,
    fmt: str = "batchery",
    tally: Tally | None = None,
) -> int:
    """Write every stored result as one JSON line, in input order; a file is replaced
    atomically, so a reader never sees half of it (a process following the run may be writing
    the same file: each writes its own partial copy)."""
    tally = tally if tally is not None else Tally()
    if out == STDOUT:
        count = await _write_lines(results, job, sys.stdout.buffer, fmt, tally)
        sys.stdout.buffer.flush()
        return count
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as handle:
            count = await _write_lines(results, job, handle, fmt, tally)
        partial.replace(out)
    except OSError as exc:
        raise CliError(
            f"cannot write results to {out}: {exc.strerror}; they are kept in the job store: "
            f"batchery jobs results {job.id} --out PATH",
            ExitCode.ENVIRONMENT,
        ) from None
    return count


def check_out(out: Path, what: str = "results") -> None:
    """Refuse an output path that cannot be written before anything is sent."""
    if out == STDOUT:
        return
    parent = out.parent if str(out.parent) else Path(".")
    problem = None
    if out.is_dir():
        problem = "it is a directory"
    elif not parent.is_dir():
        problem = f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        problem = f"{parent} is not writable"
    elif out.exists() and not os.access(out, os.W_OK):
        problem = "it is not writable"
    if problem is not None:
        raise CliError(
            f"cannot write {what} to {out}: {problem}; choose a path in a writable directory",
            ExitCode.ENVIRONMENT,
        )

"""The Files API on the kit's on-disk store, with Voyage's purposes, limits and RFC 3339 times.

Uploads take `purpose=batch`; result files are registered with Voyage's `batch-output` purpose
(hyphenated, unlike OpenAI's) and expire 30 days after they are made, as Voyage's examples show.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from batchery import emulator as kit
from batchery.emulator import ScaledClock

from batchery_voyage.emulator._http import ApiError, Ids, rfc3339
from batchery_voyage.emulator._wire import FileObject

__all__ = ["FILE_TTL_S", "MAX_FILE_BYTES", "OUTPUT_PURPOSE", "FileStore"]

MAX_FILE_BYTES = 1024 * 1024 * 1024
"""1 GB, the limit third parties report for Voyage (provider-wire-formats.md §4.2)."""
FILE_TTL_S = 30 * 24 * 3600.0
OUTPUT_PURPOSE = "batch-output"


def _not_found(file_id: str) -> ApiError:
    return ApiError(404, f"File {file_id} not found.")


def _too_large(limit: int) -> ApiError:
    return ApiError(400, f"The file is larger than the {limit} byte limit.")


def _bad_upload(problem: str) -> ApiError:
    return ApiError(
        400, f"The body must be multipart/form-data with 'file' and 'purpose': {problem}."
    )


class FileStore(kit.FileStore[FileObject]):
    def __init__(self, root: Path, ids: Ids, clock: ScaledClock) -> None:
        super().__init__(
            root,
            max_bytes=MAX_FILE_BYTES,
            not_found=_not_found,
            too_large=_too_large,
            bad_upload=_bad_upload,
        )
        self._ids = ids
        self._clock = clock

    def register(
        self, path: Path, *, filename: str, purpose: str, created: float | None = None
    ) -> FileObject:
        """Keep the file written at `path` (it is moved into the store), made at `created`."""

        def describe(size: int) -> FileObject:
            now = self._clock.now() if created is None else created
            return FileObject(
                id=self._ids.file(),
                bytes=size,
                created_at=rfc3339(now),
                expires_at=rfc3339(now + FILE_TTL_S),
                filename=filename,
                purpose=purpose,
            )

        return self.add(path, describe)

    async def upload(self, request: web.Request) -> FileObject:
        """A multipart upload (`file` and `purpose`), its file part streamed to disk."""
        async with self.receive(request) as upload:
            purpose = upload.fields.get("purpose")
            if purpose != "batch":
                raise ApiError(400, f"purpose must be 'batch', not {purpose!r}.")
            if upload.path is None:
                raise ApiError(400, "The 'file' part is required.")
            return self.register(
                upload.path, filename=upload.filename or "upload.jsonl", purpose=purpose
            )

"""The Files API on the kit's on-disk store, with OpenAI's purposes, limits and expiry."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from batchery import emulator as kit
from batchery.emulator import ScaledClock, Upload

from batchery_openai.emulator._http import ApiError, Ids
from batchery_openai.emulator._wire import FileObject

__all__ = ["MAX_FILE_BYTES", "FileStore"]

MAX_FILE_BYTES = 512 * 1024 * 1024
"""OpenAI's limit for one file."""

BATCH_FILE_TTL_S = 30 * 24 * 3600
"""Files with `purpose=batch` expire after 30 days unless `expires_after` says otherwise."""

_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})


def _not_found(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="id")


def _too_large() -> ApiError:
    return ApiError(400, f"File is too large: the limit is {MAX_FILE_BYTES} bytes.", param="file")


class FileStore(kit.FileStore[FileObject]):
    def __init__(self, root: Path, ids: Ids, clock: ScaledClock) -> None:
        super().__init__(root, max_bytes=MAX_FILE_BYTES, not_found=_not_found, too_large=_too_large)
        self._ids = ids
        self._clock = clock

    def register(self, path: Path, *, filename: str, purpose: str) -> FileObject:
        """Keep the file written at `path` (it is moved into the store)."""

        def describe(size: int) -> FileObject:
            created = int(self._clock.now())
            return FileObject(
                id=self._ids.file(),
                bytes=size,
                created_at=created,
                filename=filename,
                purpose=purpose,
            )

        return self.add(path, describe)

    async def upload(self, request: web.Request) -> FileObject:
        """A multipart upload (`file` and `purpose`), its file part streamed to disk."""
        async with self.receive(request) as upload:
            purpose = _purpose(upload)
            if upload.path is None:
                raise _missing("file")
            wire = self.register(upload.path, filename=upload.filename or "upload", purpose=purpose)
        wire.expires_at = _expiry(wire, upload.fields)
        return wire


def _purpose(upload: Upload) -> str:
    purpose = upload.fields.get("purpose")
    if purpose is None:
        raise _missing("purpose")
    if purpose not in _PURPOSES:
        raise ApiError(
            400, f"'{purpose}' is not one of {sorted(_PURPOSES)} - 'purpose'", param="purpose"
        )
    return purpose


def _expiry(wire: FileObject, fields: dict[str, str]) -> int | None:
    seconds = fields.get("expires_after[seconds]")
    if seconds is not None:
        if not seconds.isdigit() or not 3600 <= int(seconds) <= 2_592_000:
            raise ApiError(
                400,
                "Invalid 'expires_after.seconds': 3600 to 2592000 expected.",
                param="expires_after.seconds",
            )
        return wire.created_at + int(seconds)
    return wire.created_at + BATCH_FILE_TTL_S if wire.purpose == "batch" else None


def _missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )

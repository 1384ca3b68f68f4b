"""The Files API on the kit's on-disk store, with OpenAI's purposes, limits and expiry.

Refused up front, as the real API refuses them: a body that is not multipart, a `batch` file
that is not `.jsonl` or is over 200 MB (the batch input limit; other purposes may reach 512 MB),
and an `expires_after` whose `anchor` is not `created_at` or whose `seconds` are outside 3600 to
2592000 (`FileExpirationAfter` in the spec). `expires_after` is honoured on every purpose;
without it only `batch` files expire, after 30 days.

The purposes are the spec's `FilePurpose` enum plus `evals`, which the real API accepts and
reports although the spec's enum leaves it out (provider-wire-formats.md §1.2 misses that too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from batchery import emulator as kit
from batchery.emulator import ScaledClock, Upload

from batchery_openai.emulator._http import ApiError, Ids
from batchery_openai.emulator._wire import FileObject

__all__ = ["MAX_BATCH_FILE_BYTES", "MAX_FILE_BYTES", "FileStore"]

MAX_FILE_BYTES = 512 * 1024 * 1024
"""OpenAI's limit for one file."""
MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024
"""OpenAI's limit for a batch input file, enforced at upload as at batch create."""

BATCH_FILE_TTL_S = 30 * 24 * 3600
"""Files with `purpose=batch` expire after 30 days unless `expires_after` says otherwise."""

_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
_EXPIRY = ("anchor", "seconds")
_FIELDS = frozenset({"purpose", "expires_after", *(f"expires_after[{key}]" for key in _EXPIRY)})
"""The text fields of an upload; `file` is the file part."""


def _not_found(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="id")


def too_large(limit: int) -> ApiError:
    return ApiError(400, f"File is too large: the limit is {limit} bytes.", param="file")


def _bad_upload(problem: str) -> ApiError:
    message = f"The body must be multipart/form-data with 'file' and 'purpose': {problem}."
    return ApiError(400, message)


class FileStore(kit.FileStore[FileObject]):
    """OpenAI's files; `batch_purpose` names batch inputs and `fields` adds form fields an upload
    may carry, for servers with OpenAI's Files API in their own words (Together's `batch-api`
    purpose and `file_name` field)."""

    def __init__(
        self,
        root: Path,
        ids: Ids,
        clock: ScaledClock,
        *,
        batch_purpose: str = "batch",
        fields: frozenset[str] = frozenset(),
    ) -> None:
        def limit(fields: Mapping[str, str]) -> int:
            return (
                MAX_BATCH_FILE_BYTES if fields.get("purpose") == batch_purpose else MAX_FILE_BYTES
            )

        super().__init__(
            root,
            max_bytes=MAX_FILE_BYTES,
            not_found=_not_found,
            too_large=too_large,
            bad_upload=_bad_upload,
            limit=limit,
        )
        self._ids = ids
        self._clock = clock
        self._batch_purpose = batch_purpose
        self._fields = _FIELDS | fields

    def register(
        self, path: Path, *, filename: str, purpose: str, created: float | None = None
    ) -> FileObject:
        """Keep the file written at `path` (it is moved into the store), made at `created`."""

        def describe(size: int) -> FileObject:
            made = int(self._clock.now() if created is None else created)
            return FileObject(
                id=self._ids.file(),
                bytes=size,
                created_at=made,
                filename=filename,
                purpose=purpose,
            )

        return self.add(path, describe)

    async def upload(self, request: web.Request) -> FileObject:
        """A multipart upload (`file` and `purpose`), its file part streamed to disk."""
        async with self.receive(request) as upload:
            purpose = _purpose(upload, _PURPOSES | {self._batch_purpose})
            if upload.path is None:
                raise _missing("file")
            filename = upload.filename or "upload"
            batch = purpose == self._batch_purpose
            if batch and not filename.endswith(".jsonl"):
                raise ApiError(
                    400, "Invalid file format for Batch API. Must be .jsonl", param="file"
                )
            limit = self.limit_for(upload.fields)
            if upload.path.stat().st_size > limit:
                raise too_large(limit)
            ttl = _ttl(batch, upload.fields, self._fields)
            wire = self.register(upload.path, filename=filename, purpose=purpose)
        wire.expires_at = None if ttl is None else wire.created_at + ttl
        return wire


def _purpose(upload: Upload, purposes: frozenset[str]) -> str:
    purpose = upload.fields.get("purpose")
    if purpose is None:
        raise _missing("purpose")
    if purpose not in purposes:
        raise ApiError(
            400, f"'{purpose}' is not one of {sorted(purposes)} - 'purpose'", param="purpose"
        )
    return purpose


def _ttl(batch: bool, fields: Mapping[str, str], known: frozenset[str]) -> int | None:
    """Seconds from upload to expiry, checked before the file is kept; None never expires."""
    expiry = _expires_after(fields, known)
    if expiry is None:
        return BATCH_FILE_TTL_S if batch else None
    anchor, seconds = expiry.get("anchor"), expiry.get("seconds")
    if anchor is None:
        raise _missing("expires_after.anchor")
    if anchor != "created_at":
        message = f"Invalid value: '{anchor}'. Supported values are: 'created_at'."
        raise ApiError(400, message, param="expires_after.anchor", code="invalid_value")
    if seconds is None:
        raise _missing("expires_after.seconds")
    if not str(seconds).isdigit() or not 3600 <= int(seconds) <= 2_592_000:
        raise ApiError(
            400,
            "Invalid 'expires_after.seconds': 3600 to 2592000 expected.",
            param="expires_after.seconds",
        )
    return int(seconds)


def _expires_after(fields: Mapping[str, str], known: frozenset[str]) -> dict[str, Any] | None:
    """`expires_after` as the SDK sends it (`expires_after[anchor]` and `[seconds]` fields) or
    as one JSON-valued field. An unknown field is refused, as `CreateFileRequest` says with
    `additionalProperties: false`; `FileExpirationAfter` does not, so extra keys in it pass."""
    for name in fields:
        if name not in known:
            raise ApiError(400, f"Unrecognized request argument supplied: {name}", param=name)
    if "expires_after" in fields:
        try:
            expiry = json.loads(fields["expires_after"])
        except ValueError:
            expiry = None
        if not isinstance(expiry, dict):
            message = "Invalid 'expires_after': an object with 'anchor' and 'seconds' expected."
            raise ApiError(400, message, param="expires_after")
        return expiry
    bracketed = {
        key: fields[f"expires_after[{key}]"] for key in _EXPIRY if f"expires_after[{key}]" in fields
    }
    return bracketed or None


def _missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )

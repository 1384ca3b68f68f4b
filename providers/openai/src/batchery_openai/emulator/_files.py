"""The Files API's storage: every file lives on disk in the emulator's own directory.

Uploads are written to disk chunk by chunk and downloads are served from disk, so a
100,000-request input (about 100 MB) never sits in memory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

import msgspec
from aiohttp import BodyPartReader, web
from batchery.emulator import ScaledClock

from batchery_openai.emulator._http import ApiError, Ids
from batchery_openai.emulator._wire import DeletedFile, FileObject, ListPage

__all__ = ["MAX_FILE_BYTES", "FileStore", "StoredFile", "link_copy"]

MAX_FILE_BYTES = 512 * 1024 * 1024
"""OpenAI's limit for one file."""

BATCH_FILE_TTL_S = 30 * 24 * 3600
"""Files with `purpose=batch` expire after 30 days unless `expires_after` says otherwise."""

_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
_CHUNK = 256 * 1024


class StoredFile:
    """A file's metadata as the API reports it, and where its bytes are."""

    def __init__(self, wire: FileObject, path: Path) -> None:
        self.wire = wire
        self.path = path


def _open_new(path: Path) -> BinaryIO:
    return path.open("xb")


class FileStore:
    def __init__(self, root: Path, ids: Ids, clock: ScaledClock) -> None:
        self._root = root
        self._ids = ids
        self._clock = clock
        self._files: dict[str, StoredFile] = {}
        self._scratch = 0

    def scratch_path(self) -> Path:
        """A fresh path in the store's directory, for a file that `add` registers later."""
        self._scratch += 1
        return self._root / f"scratch-{self._scratch}"

    def add(self, path: Path, *, filename: str, purpose: str) -> FileObject:
        """Register a file already written at `path` (it is moved into the store)."""
        file_id = self._ids.file()
        final = self._root / file_id
        path.replace(final)
        wire = FileObject(
            id=file_id,
            bytes=final.stat().st_size,
            created_at=int(self._clock.now()),
            filename=filename,
            purpose=purpose,
        )
        self._files[file_id] = StoredFile(wire, final)
        return wire

    async def upload(self, request: web.Request) -> FileObject:
        """Read a multipart upload (`file` and `purpose`), streaming the file part to disk."""
        fields: dict[str, str] = {}
        filename = "upload"
        scratch: Path | None = None
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "file" and scratch is None:
                    filename = part.filename or filename
                    scratch = self.scratch_path()
                    await _save(part, scratch)
                elif part.name:
                    fields[part.name] = (await part.read(decode=True)).decode("utf-8", "replace")
            purpose = fields.get("purpose")
            if purpose is None:
                raise _missing("purpose")
            if purpose not in _PURPOSES:
                raise ApiError(
                    400,
                    f"'{purpose}' is not one of {sorted(_PURPOSES)} - 'purpose'",
                    param="purpose",
                )
            if scratch is None:
                raise _missing("file")
            wire = self.add(scratch, filename=filename, purpose=purpose)
        except BaseException:
            if scratch is not None:
                scratch.unlink(missing_ok=True)
            raise
        wire.expires_at = self._expiry(wire, fields)
        return wire

    def _expiry(self, wire: FileObject, fields: dict[str, str]) -> int | None:
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

    def get(self, file_id: str) -> StoredFile:
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return stored

    def list_page(
        self, *, purpose: str | None, limit: int, order: str, after: str | None
    ) -> ListPage:
        files = [f.wire for f in self._files.values() if purpose in (None, f.wire.purpose)]
        if order == "desc":
            files.reverse()
        if after is not None:
            ids = [f.id for f in files]
            files = files[ids.index(after) + 1 :] if after in ids else []
        page = files[:limit]
        return ListPage(
            data=list(page),
            has_more=len(files) > limit,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
        )

    def delete(self, file_id: str) -> DeletedFile:
        stored = self.get(file_id)
        del self._files[file_id]
        stored.path.unlink(missing_ok=True)
        return DeletedFile(id=file_id)

    def snapshot(self) -> list[FileObject]:
        return [msgspec.structs.replace(f.wire) for f in self._files.values()]


async def _save(part: BodyPartReader, path: Path) -> None:
    size = 0
    with _open_new(path) as out:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise ApiError(
                    400, f"File is too large: the limit is {MAX_FILE_BYTES} bytes.", param="file"
                )
            out.write(chunk)


def _missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def link_copy(source: Path, target: Path) -> None:
    """Give `target` the bytes of `source` without copying them when the filesystem allows."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)

"""The Files API's storage: every file lives on disk in the emulator's own directory.

Uploads are written to disk chunk by chunk and downloads are served from disk, so a large
input never sits in memory. Uploads take `purpose=batch`; result files are registered with
Voyage's `batch-output` purpose (hyphenated, unlike OpenAI's) and expire 30 days after they
are made, as Voyage's examples show.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

import msgspec
from aiohttp import BodyPartReader, web
from batchery.emulator import ScaledClock

from batchery_voyage.emulator._http import ApiError, Ids, rfc3339
from batchery_voyage.emulator._wire import DeletedFile, FileObject, ListPage

__all__ = ["FILE_TTL_S", "MAX_FILE_BYTES", "OUTPUT_PURPOSE", "FileStore", "StoredFile", "link_copy"]

MAX_FILE_BYTES = 1024 * 1024 * 1024
"""1 GB, the limit third parties report for Voyage (provider-wire-formats.md §4.2)."""
FILE_TTL_S = 30 * 24 * 3600.0
OUTPUT_PURPOSE = "batch-output"

_CHUNK = 256 * 1024


class StoredFile:
    """A file's metadata as the API reports it, and where its bytes are."""

    def __init__(self, wire: FileObject, path: Path) -> None:
        self.wire = wire
        self.path = path


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
        now = self._clock.now()
        wire = FileObject(
            id=file_id,
            bytes=final.stat().st_size,
            created_at=rfc3339(now),
            expires_at=rfc3339(now + FILE_TTL_S),
            filename=filename,
            purpose=purpose,
        )
        self._files[file_id] = StoredFile(wire, final)
        return wire

    async def upload(self, request: web.Request) -> FileObject:
        """Read a multipart upload (`file` and `purpose`), streaming the file part to disk."""
        purpose: str | None = None
        filename = "upload.jsonl"
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
                elif part.name == "purpose":
                    purpose = (await part.read(decode=True)).decode("utf-8", "replace")
            if purpose != "batch":
                raise ApiError(400, f"purpose must be 'batch', not {purpose!r}.")
            if scratch is None:
                raise ApiError(400, "The 'file' part is required.")
            return self.add(scratch, filename=filename, purpose=purpose)
        except BaseException:
            if scratch is not None:
                scratch.unlink(missing_ok=True)
            raise

    def get(self, file_id: str) -> StoredFile:
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(404, f"File {file_id} not found.")
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


def _open_new(path: Path) -> BinaryIO:
    return path.open("xb")


async def _save(part: BodyPartReader, path: Path) -> None:
    size = 0
    with _open_new(path) as out:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise ApiError(400, f"The file is larger than the {MAX_FILE_BYTES} byte limit.")
            out.write(chunk)


def link_copy(source: Path, target: Path) -> None:
    """Give `target` the bytes of `source` without copying them when the filesystem allows."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)

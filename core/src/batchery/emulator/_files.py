"""An on-disk store for a Files API: uploads stream to disk and downloads are served from it.

A 100,000-request input (about 100 MB) must never sit in memory, so the multipart `file` part
is written chunk by chunk and every file stays in the store's directory under its id. The
provider keeps its own spellings: it builds each file's wire object (id, timestamps, purpose)
and supplies the errors, so one store serves every dialect. A body that is not multipart, or
whose multipart cannot be read, is the provider's 400, never a server error.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from batchery.emulator._wire import ListPage, paginate

__all__ = ["FileRecord", "FileStore", "StoredFile", "Upload", "link_copy"]

_CHUNK = 256 * 1024


class FileRecord(Protocol):
    """What the store reads from a provider's file object."""

    @property
    def id(self) -> str: ...

    @property
    def purpose(self) -> str: ...


W = TypeVar("W", bound=FileRecord)


class StoredFile(Generic[W]):
    """A file's metadata as the API reports it, and where its bytes are."""

    def __init__(self, wire: W, path: Path) -> None:
        self.wire = wire
        self.path = path


class Upload:
    """A multipart upload as received: its text fields and the `file` part saved to `path`."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.path: Path | None = None


class FileStore(Generic[W]):
    """Files by id in `root`; the provider phrases the errors.

    `not_found(id)`, `too_large(limit)` and `bad_upload(problem)` make the errors. `limit`
    gives the largest file the text fields received so far allow (a purpose may have a lower
    limit than `max_bytes`); the provider checks it again once every field is in.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        not_found: Callable[[str], Exception],
        too_large: Callable[[int], Exception],
        bad_upload: Callable[[str], Exception],
        limit: Callable[[Mapping[str, str]], int] | None = None,
    ) -> None:
        self._root = root
        self._max_bytes = max_bytes
        self._not_found = not_found
        self._too_large = too_large
        self._bad_upload = bad_upload
        self._limit = limit
        self._files: dict[str, StoredFile[W]] = {}
        self._scratch = 0

    def scratch_path(self) -> Path:
        """A fresh path in the store's directory, for a file that `add` registers later."""
        self._scratch += 1
        return self._root / f"scratch-{self._scratch}"

    def add(self, path: Path, describe: Callable[[int], W]) -> W:
        """Move the file at `path` into the store; `describe(size)` gives its wire object."""
        wire = describe(path.stat().st_size)
        final = self._root / wire.id
        path.replace(final)
        self._files[wire.id] = StoredFile(wire, final)
        return wire

    @asynccontextmanager
    async def receive(self, request: web.Request) -> AsyncIterator[Upload]:
        """Read a multipart upload, streaming its first `file` part to a scratch path.

        The scratch file is removed if the upload, or the caller's checks inside the block,
        fail; `add` it inside the block to keep it.
        """
        if request.content_type != "multipart/form-data":
            raise self._bad_upload(f"expected multipart/form-data, not {request.content_type!r}")
        upload = Upload()
        try:
            try:
                await self._read(request, upload)
            except (ValueError, HttpProcessingError) as exc:
                raise self._bad_upload(f"unreadable multipart body ({exc})") from None
            yield upload
        except BaseException:
            if upload.path is not None:
                upload.path.unlink(missing_ok=True)
            raise

    async def _read(self, request: web.Request, upload: Upload) -> None:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file" and upload.path is None:
                upload.filename = part.filename
                upload.path = self.scratch_path()
                await self._save(part, upload.path, self.limit_for(upload.fields))
            elif part.name:
                text = (await part.read(decode=True)).decode("utf-8", "replace")
                upload.fields[part.name] = text

    def limit_for(self, fields: Mapping[str, str]) -> int:
        """The largest file allowed with these text fields."""
        return self._max_bytes if self._limit is None else self._limit(fields)

    async def _save(self, part: BodyPartReader, path: Path, limit: int) -> None:
        size = 0
        with path.open("xb") as out:
            while chunk := await part.read_chunk(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise self._too_large(limit)
                out.write(chunk)

    def get(self, file_id: str) -> StoredFile[W]:
        stored = self._files.get(file_id)
        if stored is None:
            raise self._not_found(file_id)
        return stored

    def delete(self, file_id: str) -> None:
        stored = self.get(file_id)
        del self._files[file_id]
        stored.path.unlink(missing_ok=True)

    def list_page(
        self, *, purpose: str | None, limit: int, newest_first: bool, after: str | None
    ) -> ListPage:
        """Files of `purpose` (any when None), paged after the file with id `after`."""
        files = [f.wire for f in self._files.values() if purpose in (None, f.wire.purpose)]
        if newest_first:
            files.reverse()
        page, more = paginate(files, after=after, limit=limit, id_of=lambda f: f.id)
        return ListPage.of(page, has_more=more)

    def snapshot(self) -> list[W]:
        """Copies of every file's wire object, oldest first."""
        return [copy.copy(f.wire) for f in self._files.values()]


def link_copy(source: Path, target: Path) -> None:
    """Give `target` the bytes of `source` without copying them when the filesystem allows."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)

"""The Files and Batches calls, through one provider's HTTP client.

Upload a spooled input under a name its tag decides, find an earlier upload of it, create a
batch once, read, list and cancel batches, and stream both result files. Paths follow OpenAI
(`/files`, `/batches`); a dialect that moves one (Together uploads to `/files/upload`) says so
in `BatchPaths`. The POSTs are sent once (see `batchery.http`): a doubt is the caller's to
reconcile with `find_file` and the batch list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable
from typing import IO, Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
import structlog
from batchery.http import ProviderHttp
from batchery.jsonl import MAX_LINE_BYTES, RawLine, split_lines
from batchery.spi import BatchNotFoundError, ProviderError

from batchery_openai_batch._wire import BatchList, BatchView, FileList, FileView

__all__ = ["BatchApi", "BatchPaths", "upload_name"]

_log = structlog.get_logger()
_S = TypeVar("_S")
_Page = TypeVar("_Page", FileList, BatchList)
_PLAIN_TAG = re.compile(r"[A-Za-z0-9._:-]{1,160}")


def upload_name(tag: str) -> str:
    """The upload's name: the tag itself when it is plain, else a digest that cannot collide."""
    if _PLAIN_TAG.fullmatch(tag):
        return f"batchery-{tag}.jsonl"
    return f"batchery-{hashlib.sha256(tag.encode()).hexdigest()[:40]}.jsonl"


class BatchPaths(msgspec.Struct, frozen=True, kw_only=True):
    """Where a dialect keeps its endpoints and what it calls a batch input file."""

    upload: str = "/files"
    purpose: str = "batch"
    name_field: str | None = None
    """A form field that repeats the file's name, for servers that ask for one."""
    max_pages: int | None = None
    """How many list pages a search reads at most; None reads until the list ends."""


class BatchApi:
    """The Files and Batches endpoints of one account, spoken through its `ProviderHttp`.

    `title` names the server in messages ("Voyage does not know batch ..."); the HTTP client
    keeps its own title for transport errors.
    """

    __slots__ = ("_http", "_paths", "_title", "_upload_timeout_s")

    def __init__(
        self,
        http: ProviderHttp[Any],
        *,
        title: str,
        upload_timeout_s: float,
        paths: BatchPaths | None = None,
    ) -> None:
        self._http = http
        self._title = title
        self._upload_timeout_s = upload_timeout_s
        self._paths = paths or BatchPaths()

    @property
    def http(self) -> ProviderHttp[Any]:
        return self._http

    async def upload(self, file: IO[bytes], filename: str) -> str:
        """The id of `file`, uploaded as a multipart form under `filename`."""
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("purpose", self._paths.purpose)
        if self._paths.name_field is not None:
            form.add_field(self._paths.name_field, filename)
        form.add_field("file", file, filename=filename, content_type="application/jsonl")
        body = await self._http.post(
            self._paths.upload, data=form, timeout_s=self._upload_timeout_s
        )
        return self._http.decode(body, FileView, "file").id

    async def upload_input(self, file: IO[bytes], tag: str, size: int, *, resume: bool) -> str:
        """The id of the batch input in `file` (`size` bytes), uploaded under the name `tag`
        decides; on `resume`, an earlier upload of the same name and size is used instead."""
        filename = upload_name(tag)
        file_id = await self.find_file(filename, size) if resume else None
        if file_id is not None:
            _log.info(f"{self._http.title.lower()}.file.reused", file_id=file_id, tag=tag)
            return file_id
        return await self.upload(file, filename)

    async def find_file(self, filename: str, size: int | None = None) -> str | None:
        """An earlier upload of exactly this input, found by its name (and size, if known)."""
        params = {"purpose": self._paths.purpose, "limit": "100"}
        async for page in self._pages("/files", FileList, "file list", params):
            for file in page.data:
                if (
                    file.filename == filename
                    and file.purpose in (None, self._paths.purpose)
                    and file.status != "error"
                    and (size is None or file.bytes in (None, size))
                ):
                    return file.id
        return None

    async def create(self, body: bytes) -> bytes:
        """The raw answer to a batch create, which dialects wrap differently."""
        return await self._http.post("/batches", json=body)

    def batch_pages(self) -> AsyncIterator[BatchList]:
        """The batch list page by page, as the server orders it (newest first at OpenAI)."""
        return self._pages("/batches", BatchList, "batch list", {"limit": "100"})

    async def _pages(
        self, path: str, kind: type[_Page], what: str, params: dict[str, str]
    ) -> AsyncIterator[_Page]:
        after: str | None = None
        pages = 0
        while self._paths.max_pages is None or pages < self._paths.max_pages:
            pages += 1
            query = params if after is None else {**params, "after": after}
            page = self._http.decode(await self._http.get(path, query), kind, what)
            yield page
            cursor = page.last_id or (page.data[-1].id if page.data else None)
            if not page.has_more or cursor is None or cursor == after:
                return
            after = cursor

    def not_found(self, batch_id: str) -> BatchNotFoundError:
        return BatchNotFoundError(
            f"{self._title} does not know batch {batch_id!r}", code="not_found", status=404
        )

    async def read(self, batch_id: str) -> BatchView:
        """The batch as the server has it now; a 404 is `BatchNotFoundError`."""
        try:
            body = await self._http.get(_batch_path(batch_id))
        except ProviderError as exc:
            if exc.status == 404:
                raise self.not_found(batch_id) from exc
            raise
        return self._http.decode(body, BatchView, "batch")

    async def cancel(self, batch_id: str, *, settled: Callable[[BatchView], bool]) -> BatchView:
        """Cancel; a refusal (400 or 409) for a batch `settled` accepts returns it as it is."""
        try:
            body = await self._http.post(_batch_path(batch_id, "/cancel"))
        except ProviderError as exc:
            if exc.status == 404:
                raise self.not_found(batch_id) from exc
            if exc.status not in (400, 409):
                raise
            view = await self.read(batch_id)
            if settled(view):
                return view
            raise
        return self._http.decode(body, BatchView, "batch")

    async def result_lines(
        self, view: BatchView, *, max_line_bytes: int = MAX_LINE_BYTES
    ) -> AsyncIterator[tuple[str, RawLine]]:
        """Every line of the output file, then of the error file, each optional (`""` too)."""
        for source, file_id in (("output", view.output_file_id), ("error", view.error_file_id)):
            if not file_id:
                continue
            path = f"/files/{quote(file_id, safe='')}/content"
            async with self._http.download(path) as chunks:
                async for raw in split_lines(chunks, max_line_bytes=max_line_bytes):
                    yield source, raw


def _batch_path(batch_id: str, suffix: str = "") -> str:
    return f"/batches/{quote(batch_id, safe='')}{suffix}"

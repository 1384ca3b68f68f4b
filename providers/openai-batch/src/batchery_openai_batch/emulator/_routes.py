"""The Files and Batches endpoints of an emulator, routed once for every dialect that has them.

OpenAI's, Voyage's and Together's emulators answer the same nine routes from the kit's file
store and batch engine (`batchery.emulator`). What differs is spelled by the dialect: the words
of its refusals and, through its stores, the objects it answers with. Injected create faults
(`create_dropped`, `create_lost`) act here, after the batch exists, as a lost answer does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware
from batchery.emulator import (
    DeletedFile,
    EmulatorError,
    FaultPlan,
    ListPage,
    drop_connection,
    int_query,
    json_response,
)

__all__ = ["BatchRoutes", "BatchStorage", "Dialect", "FileStorage"]

_MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest realtime or batch-create JSON body accepted."""

_MAX_FILES_LISTED = 10_000
"""A file list's default and largest page."""

_Body = TypeVar("_Body")
_Body_contra = TypeVar("_Body_contra", contravariant=True)


class Dialect(Protocol):
    """A server's own words for the refusals the shared routes make."""

    def bad_order(self) -> EmulatorError:
        """A file list's `order` is neither `asc` nor `desc`."""

    def bad_int(self, name: str, low: int, high: int) -> EmulatorError:
        """A query number is not a whole number from `low` to `high`."""

    def batch_not_found(self, batch_id: str) -> EmulatorError:
        """No batch `batch_id` (or the `batch_404` fault hides it for now)."""

    def lost_create(self) -> EmulatorError:
        """The answer a `create_lost` fault gives after the batch was made."""


class FileStorage(Protocol):
    """The file store an emulator's Files routes read and write."""

    async def upload(self, request: web.Request) -> Any: ...

    def list_page(
        self, *, purpose: str | None, limit: int, newest_first: bool, after: str | None
    ) -> ListPage: ...

    def get(self, file_id: str) -> Any: ...

    def delete(self, file_id: str) -> None: ...


class BatchStorage(Protocol[_Body_contra]):
    """The batch engine an emulator's Batches routes drive, answering in its dialect's objects."""

    async def create(self, body: _Body_contra) -> Any: ...

    def hidden(self, batch_id: str) -> bool: ...

    async def retrieve_wire(self, batch_id: str) -> Any: ...

    async def list_page(self, *, after: str | None, limit: int) -> Any: ...

    async def cancel_wire(self, batch_id: str) -> Any: ...


class BatchRoutes(Generic[_Body]):
    """The handlers of `/files` and `/batches`, and `add_to` to route them under a prefix.

    `read_create` decodes a create body (and may refuse it before the batch exists, as Voyage's
    in-flight limit does); `answer_create` shapes the created batch's answer (Together wraps it
    in `{"job": ...}`).
    """

    def __init__(
        self,
        *,
        files: FileStorage,
        batches: BatchStorage[_Body],
        plan: FaultPlan,
        dialect: Dialect,
        read_create: Callable[[web.Request], Awaitable[_Body]],
        answer_create: Callable[[Any], Any] = lambda batch: batch,
    ) -> None:
        self._files = files
        self._batches = batches
        self._plan = plan
        self._dialect = dialect
        self._read_create = read_create
        self._answer_create = answer_create

    def application(
        self, middleware: Middleware, *, upload: str = "/files", max_body: int = _MAX_BODY_BYTES
    ) -> web.Application:
        """An application behind `middleware` (auth, errors) with these routes under `/v1`.

        `max_body` bounds JSON bodies; uploads stream to disk and are not bounded by it.
        """
        app = web.Application(middlewares=[middleware], client_max_size=max_body)
        self.add_to(app, upload=upload)
        return app

    def add_to(self, app: web.Application, prefix: str = "/v1", *, upload: str = "/files") -> None:
        router = app.router
        router.add_post(prefix + upload, self.upload_file)
        router.add_get(f"{prefix}/files", self.list_files)
        router.add_get(prefix + "/files/{file_id}", self.get_file)
        router.add_get(prefix + "/files/{file_id}/content", self.file_content)
        router.add_delete(prefix + "/files/{file_id}", self.delete_file)
        router.add_post(f"{prefix}/batches", self.create_batch)
        router.add_get(f"{prefix}/batches", self.list_batches)
        router.add_get(prefix + "/batches/{batch_id}", self.get_batch)
        router.add_post(prefix + "/batches/{batch_id}/cancel", self.cancel_batch)

    def _int(self, request: web.Request, name: str, default: int, high: int) -> int:
        return int_query(
            request, name, default=default, low=1, high=high, invalid=self._dialect.bad_int
        )

    async def upload_file(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self._files.upload(request))

    async def list_files(self, request: web.Request) -> web.StreamResponse:
        order = request.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise self._dialect.bad_order()
        page = self._files.list_page(
            purpose=request.query.get("purpose"),
            limit=self._int(request, "limit", _MAX_FILES_LISTED, _MAX_FILES_LISTED),
            newest_first=order == "desc",
            after=request.query.get("after"),
        )
        return json_response(page)

    async def get_file(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._files.get(request.match_info["file_id"]).wire)

    async def file_content(self, request: web.Request) -> web.StreamResponse:
        stored = self._files.get(request.match_info["file_id"])
        return web.FileResponse(stored.path, headers={"Content-Type": "application/octet-stream"})

    async def delete_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        self._files.delete(file_id)
        return json_response(DeletedFile(id=file_id))

    async def create_batch(self, request: web.Request) -> web.StreamResponse:
        batch = await self._batches.create(await self._read_create(request))
        if self._plan.hit("create_dropped", batch.id):
            drop_connection(request)
        if self._plan.hit("create_lost", batch.id):
            raise self._dialect.lost_create()
        return json_response(self._answer_create(batch))

    async def get_batch(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        if self._batches.hidden(batch_id):
            raise self._dialect.batch_not_found(batch_id)
        return json_response(await self._batches.retrieve_wire(batch_id))

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        limit = self._int(request, "limit", 20, 100)
        page = await self._batches.list_page(after=request.query.get("after"), limit=limit)
        return json_response(page)

    async def cancel_batch(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self._batches.cancel_wire(request.match_info["batch_id"]))

from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import msgspec
import pytest
from aiohttp import web
from batchery.emulator import (
    EmulatorError,
    FileStore,
    ListPage,
    RandomIds,
    StorageEmulator,
    api_middleware,
    bearer_token,
    decode_json,
    derived_id,
    drop_connection,
    int_query,
    json_response,
    key_matches,
    link_copy,
    rfc3339,
)
from batchery.spi import EmulatorOptions

KEY = "sk-kit-test"


class Problem(EmulatorError):
    def body(self) -> Any:
        return {"problem": str(self)}


class Record(msgspec.Struct, kw_only=True):
    id: str
    purpose: str
    bytes: int
    filename: str


class Body(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class KitEmulator(StorageEmulator):
    """Files over the kit's store and middleware, plus a JSON route and a dropped reply."""

    supported_faults: ClassVar[frozenset[str]] = frozenset({"shuffle"})
    storage_prefix = "batchery-kit-test-"

    def build_app(self) -> web.Application:
        self.store: FileStore[Record] = FileStore(
            self.new_storage(),
            max_bytes=1000,
            not_found=lambda file_id: Problem(404, f"no file {file_id}"),
            too_large=lambda limit: Problem(400, f"over {limit} bytes"),
            bad_upload=lambda problem: Problem(400, f"bad upload: {problem}"),
            limit=lambda fields: 100 if fields.get("purpose") == "small" else 1000,
        )
        ids = RandomIds()

        def authorize(request: web.Request) -> None:
            if not key_matches(bearer_token(request), self._api_key) or not bearer_token(request):
                raise Problem(401, "who are you")

        def unknown(request: web.Request, status: int) -> Problem:
            return Problem(status, f"no route {request.path}")

        middleware = api_middleware(
            authorize=authorize, unknown_route=unknown, request_id=lambda: ids.hex(8)
        )
        app = web.Application(middlewares=[middleware])
        app.router.add_post("/files", self.upload)
        app.router.add_get("/files", self.listing)
        app.router.add_get("/files/{id}", self.content)
        app.router.add_delete("/files/{id}", self.delete)
        app.router.add_post("/echo", self.echo)
        app.router.add_post("/drop", self.drop)
        return app

    async def upload(self, request: web.Request) -> web.StreamResponse:
        async with self.store.receive(request) as upload:
            purpose = upload.fields.get("purpose", "")
            if upload.path is None or purpose == "refused":
                raise Problem(400, "refused")
            filename = upload.filename or "?"
            wire = self.store.add(
                upload.path,
                lambda size: Record(
                    id=derived_id("f-", filename), purpose=purpose, bytes=size, filename=filename
                ),
            )
        return json_response(wire)

    async def listing(self, request: web.Request) -> web.StreamResponse:
        def invalid(name: str, low: int, high: int) -> Problem:
            return Problem(400, f"{name} from {low} to {high}")

        limit = int_query(request, "limit", default=10, low=1, high=10, invalid=invalid)
        page: ListPage = self.store.list_page(
            purpose=request.query.get("purpose"),
            limit=limit,
            newest_first=request.query.get("order") != "asc",
            after=request.query.get("after"),
        )
        return json_response(page)

    async def content(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.store.get(request.match_info["id"]).path)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        self.store.delete(request.match_info["id"])
        return json_response({})

    async def echo(self, request: web.Request) -> web.StreamResponse:
        def bad(problem: str | None) -> Problem:
            return Problem(400, problem or "not JSON")

        return json_response(await decode_json(request, Body, bad))

    async def drop(self, request: web.Request) -> web.StreamResponse:
        drop_connection(request)


async def _upload(
    http: aiohttp.ClientSession, url: str, name: str, data: bytes, purpose: str
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("purpose", purpose)
    form.add_field("file", data, filename=name)
    async with http.post(url + "/files", data=form) as response:
        return response.status, await response.json()


async def test_files_are_streamed_to_disk_listed_read_and_deleted() -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    async with KitEmulator(api_key=KEY) as emu, aiohttp.ClientSession(headers=auth) as http:
        url = emu.base_url
        status, first = await _upload(http, url, "a.jsonl", b"x" * 10, "batch")
        assert (status, first["bytes"], first["filename"]) == (200, 10, "a.jsonl")
        _, second = await _upload(http, url, "b.jsonl", b"yy", "other")
        assert emu.storage_dir is not None
        assert (emu.storage_dir / first["id"]).read_bytes() == b"x" * 10
        async with http.get(url + "/files") as response:
            page = await response.json()
        assert [f["id"] for f in page["data"]] == [second["id"], first["id"]]
        assert (page["first_id"], page["has_more"], page["object"]) == (second["id"], False, "list")
        async with http.get(url + "/files", params={"order": "asc", "limit": "1"}) as response:
            page = await response.json()
        assert ([f["id"] for f in page["data"]], page["has_more"]) == ([first["id"]], True)
        async with http.get(url + "/files", params={"after": first["id"], "order": "asc"}) as r:
            assert [f["id"] for f in (await r.json())["data"]] == [second["id"]]
        async with http.get(url + "/files", params={"purpose": "other"}) as response:
            assert [f["id"] for f in (await response.json())["data"]] == [second["id"]]
        async with http.get(url + "/files", params={"limit": "11"}) as response:
            assert (response.status, await response.json()) == (
                400,
                {"problem": "limit from 1 to 10"},
            )
        async with http.get(url + f"/files/{first['id']}") as response:
            assert await response.read() == b"x" * 10
        async with http.delete(url + f"/files/{first['id']}") as response:
            assert response.status == 200
        async with http.get(url + f"/files/{first['id']}") as response:
            assert response.status == 404
        assert [f.id for f in emu.store.snapshot()] == [second["id"]]


async def test_a_refused_or_oversized_upload_leaves_no_file_behind() -> None:
    async with (
        KitEmulator() as emu,
        aiohttp.ClientSession(headers={"Authorization": "Bearer k"}) as http,
    ):
        status, body = await _upload(http, emu.base_url, "big", b"z" * 1001, "batch")
        assert (status, body) == (400, {"problem": "over 1000 bytes"})
        status, body = await _upload(http, emu.base_url, "mid", b"z" * 101, "small")
        assert (status, body) == (400, {"problem": "over 100 bytes"})
        status, _ = await _upload(http, emu.base_url, "small", b"z", "refused")
        assert status == 400
        assert emu.storage_dir is not None
        assert list(emu.storage_dir.iterdir()) == []


async def test_a_body_that_is_not_multipart_is_the_providers_400_not_a_server_error() -> None:
    async with (
        KitEmulator() as emu,
        aiohttp.ClientSession(headers={"Authorization": "Bearer k"}) as http,
    ):
        for body in ({"data": b""}, {"json": {"purpose": "batch"}}):
            async with http.post(emu.base_url + "/files", **body) as response:
                assert response.status == 400
                assert response.content_type == "application/json"
                assert (await response.json())["problem"].startswith("bad upload: expected multi")
        cut = b"--b\r\nContent-Disposition: form-data; name=purpose\r\n\r\nbatch"
        headers = {"Content-Type": "multipart/form-data"}
        async with http.post(emu.base_url + "/files", data=cut, headers=headers) as response:
            assert response.status == 400
            assert (await response.json())["problem"].startswith("bad upload: unreadable")


async def test_middleware_authorizes_phrases_errors_and_tags_every_reply() -> None:
    async with KitEmulator(api_key=KEY) as emu, aiohttp.ClientSession() as http:
        async with http.post(emu.base_url + "/echo", json={"name": "n"}) as response:
            assert (response.status, await response.json()) == (401, {"problem": "who are you"})
            assert len(response.headers["x-request-id"]) == 8
        auth = {"Authorization": f"Bearer {KEY}"}
        async with http.post(emu.base_url + "/echo", json={"name": "n"}, headers=auth) as r:
            assert (r.status, await r.json()) == (200, {"name": "n"})
        async with http.post(emu.base_url + "/echo", data=b"{", headers=auth) as response:
            assert (response.status, await response.json()) == (400, {"problem": "not JSON"})
        async with http.post(emu.base_url + "/echo", json={"x": 1}, headers=auth) as response:
            assert "unknown field" in (await response.json())["problem"]
        async with http.get(emu.base_url + "/nowhere", headers=auth) as response:
            assert (response.status, await response.json()) == (
                404,
                {"problem": "no route /nowhere"},
            )
        async with http.get(emu.base_url + "/echo", headers=auth) as response:
            assert response.status == 405
        with pytest.raises(aiohttp.ClientError):
            async with http.post(emu.base_url + "/drop", headers=auth) as response:
                await response.read()


async def test_storage_emulator_parses_faults_describes_itself_and_cleans_up() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        KitEmulator(EmulatorOptions(faults="http_500"))
    emu = KitEmulator(EmulatorOptions(time_scale=10, faults="shuffle"), api_key=KEY)
    assert repr(emu).startswith("KitEmulator(not started, time_scale=10")
    async with emu:
        directory = emu.storage_dir
        assert directory is not None
        assert directory.name.startswith("batchery-kit-test-")
        assert KEY not in repr(emu)
    assert emu.storage_dir is None
    assert not directory.exists()


def test_ids_and_stamps(tmp_path: Path) -> None:
    ids = RandomIds()
    assert len(ids.hex(32)) == 32
    assert int(ids.hex(32), 16) >= 0
    assert ids.alnum(12).isalnum()
    assert ids.alnum(12) != ids.alnum(12)
    assert derived_id("x-", 1, "a") == derived_id("x-", 1, "a") != derived_id("x-", 2, "a")
    assert len(derived_id("", "a", digest_size=12)) == 24
    assert rfc3339(0) == "1970-01-01T00:00:00.000000+00:00"
    assert rfc3339(1.5, zulu=True) == "1970-01-01T00:00:01.500000Z"
    source = tmp_path / "a"
    source.write_bytes(b"abc")
    link_copy(source, tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"abc"


def test_key_matching() -> None:
    assert key_matches("anything", None)
    assert key_matches(KEY, KEY)
    assert not key_matches("sk-other", KEY)

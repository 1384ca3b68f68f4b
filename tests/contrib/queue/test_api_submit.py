"""`POST /api/runs`: a real server on loopback over a PostgreSQL store queues a JSONL body as a
tenant's run, which a real `batchery worker` process drives against the emulator.

The body is refused line by line exactly as `batchery submit` refuses the same file; an
`Idempotency-Key` names one run per tenant; another tenant never sees the run.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
from batchery.app import build_application
from batchery.server.app import create_app
from batchery.server.config import ServerConfig, hash_token
from batchery.server.serving import serve_in_background
from batchery.settings import Settings

from .conftest import KEY, Queue

TOKENS = {"acme": "tok-acme-0123456789abcdef", "globex": "tok-globex-0123456789abcdef"}


def bearer(tenant: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[tenant]}", **headers}


@asynccontextmanager
async def serving(store: str, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A server over `store`, loading the OpenAI provider at the emulator, and a client."""
    settings = Settings(store=store, max_requests_per_batch=50)
    app = await build_application(
        settings, only=["openai"], provider_options={"openai": {"base_url": base_url}}
    )
    config = ServerConfig(
        tokens={hash_token(token): tenant for tenant, token in TOKENS.items()},
        store_url=store,
    )
    try:
        async with (
            serve_in_background(create_app(config, app)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            yield client
    finally:
        await app.close()


@pytest.fixture
async def api(queue: Queue, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with serving(queue.store, queue.base_url) as client:
        yield client


async def post(
    api: httpx.AsyncClient, body: bytes, tenant: str = "acme", key: str | None = None, **params: str
) -> httpx.Response:
    headers = bearer(tenant, **({"Idempotency-Key": key} if key else {}))
    headers["Content-Type"] = "application/x-ndjson"
    return await api.post("/api/runs", content=body, params=params, headers=headers)


def bad_workload(queue: Queue) -> Path:
    """A wrong field type on line 2, no JSON on line 3, an unknown model's warning nowhere."""
    lines = queue.small.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["body"]["messages"] = "not a list"
    bad = queue.root / "bad.jsonl"
    bad.write_text("\n".join([lines[0], json.dumps(broken), "{not json", *lines[2:]]) + "\n")
    return bad


async def test_a_posted_workload_is_queued_and_a_worker_drives_it(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    answer = await post(api, queue.small.read_bytes(), mode="batch")

    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    assert answer.headers["location"] == f"/api/runs/{run_id}"
    assert answer.json() == {
        "run_id": run_id,
        "url": f"{str(api.base_url).rstrip('/')}/api/runs/{run_id}",
        "warnings": [],
    }
    assert queue.queued() == [(run_id, "queued")]
    snapshot = await api.get(answer.headers["location"], headers=bearer("acme"))
    assert snapshot.status_code == 200
    assert snapshot.json()["status"] == "pending"

    queue.start_worker("a", "--store", queue.store)

    assert queue.wait_for(lambda: queue.status(run_id) == "completed", within_s=30)
    results = await api.get(f"/api/runs/{run_id}/results", headers=bearer("acme"))
    assert sorted(r["custom_id"] for r in results.json()["results"]) == sorted(
        f"item-{i}" for i in range(10)
    )


async def test_another_tenant_cannot_see_the_run_nor_reach_it_by_its_key(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    body = queue.small.read_bytes()
    mine = (await post(api, body, key="nightly")).json()["run_id"]

    theirs = await post(api, body, tenant="globex", key="nightly")

    assert theirs.status_code == 202
    assert theirs.json()["run_id"] != mine
    assert (await api.get(f"/api/runs/{mine}", headers=bearer("globex"))).status_code == 404
    listed = (await api.get("/api/runs", headers=bearer("globex"))).json()["runs"]
    assert [run["run_id"] for run in listed] == [theirs.json()["run_id"]]


async def test_the_same_key_and_workload_answer_the_same_run_and_queue_it_once(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    body = queue.small.read_bytes()
    first = await post(api, body, key="2026-12-03")

    again = await post(api, body, key="2026-12-03", priority="9")

    assert again.status_code == first.status_code == 202
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert queue.rows("SELECT count(*) FROM jobs") == [(1,)]
    assert queue.queued() == [(first.json()["run_id"], "queued")]


async def test_the_same_key_with_another_workload_is_refused(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    first = await post(api, queue.small.read_bytes(), key="weekly")
    other = queue.write_workload("other.jsonl", 11).read_bytes()

    refused = await post(api, other, key="weekly")

    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        f"the idempotency key 'weekly' already names run {first.json()['run_id']},"
        " made from a different workload"
    )
    assert queue.rows("SELECT count(*) FROM jobs") == [(1,)]


async def test_a_bad_body_is_refused_line_by_line_as_submit_refuses_the_file(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    bad = bad_workload(queue)
    by_submit = queue.submit(workload=bad).stderr.splitlines()

    refused = await post(api, bad.read_bytes())

    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "the workload has lines that cannot run; nothing was stored or queued"
    )
    problems = refused.json()["extra"]["problems"]
    assert [problem.split(":")[0] for problem in problems] == [
        "line 2 (custom_id 'item-1')",
        "line 3",
    ]
    assert [f"{bad}: {problem}" for problem in problems] == by_submit
    assert ("jobs",) not in queue.rows(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    ) or queue.rows("SELECT count(*) FROM jobs") == [(0,)]


async def test_a_request_the_provider_refuses_is_named_by_its_line(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    lines = queue.small.read_text().splitlines()
    wrong = json.loads(lines[4])
    wrong["body"]["temperature"] = 7
    body = "\n".join([*lines[:4], json.dumps(wrong), *lines[5:]]) + "\n"
    path = queue.root / "hot.jsonl"
    path.write_text(body)
    by_submit = queue.submit(workload=path).stderr.splitlines()

    refused = await post(api, body.encode())

    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        "the workload breaks the provider's rules; nothing was stored or queued"
    )
    problems = refused.json()["extra"]["problems"]
    assert problems[0].startswith("line 5 (custom_id 'item-4')")
    assert [f"{path}: {problem}" for problem in problems] == by_submit


async def test_a_window_the_deadline_cannot_wait_for_starts_now_and_says_so(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    opens = datetime.now(UTC) + timedelta(hours=3)
    window = f"{opens:%H}:00-{opens + timedelta(hours=1):%H}:00"

    held = await post(api, queue.small.read_bytes(), window=window)
    now = await post(
        api, queue.write_workload("b.jsonl", 3).read_bytes(), window=window, deadline="2h"
    )

    assert held.headers["batchery-note"].startswith(f"held for the window {window} UTC")
    assert now.headers["batchery-note"].startswith(f"starting now, outside the window {window}")
    waits = dict(
        queue.rows(
            "SELECT dedupe_key, extract(epoch FROM execute_after - now()) > 3600 FROM pgqueuer"
        )
    )
    assert waits == {held.json()["run_id"]: True, now.json()["run_id"]: False}


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"priority": "11"}, "priority"),
        ({"window": "1am-5am"}, "window: '1am-5am' is not a window like 01:00-05:00 (UTC)"),
        ({"deadline": "soon"}, "deadline: 'soon' is not a duration like 90s, 30m, 6h or 1d"),
        ({"mode": "fast"}, "mode"),
    ],
)
async def test_a_bad_option_is_a_400_naming_it(
    api: httpx.AsyncClient, queue: Queue, params: dict[str, str], says: str
) -> None:
    refused = await post(api, queue.small.read_bytes(), **params)

    assert refused.status_code == 400
    assert says in refused.text
    assert queue.rows("SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'") == [(0,)] or (
        queue.rows("SELECT count(*) FROM jobs") == [(0,)]
    )


async def test_a_provider_the_server_does_not_load_is_a_422(
    api: httpx.AsyncClient, queue: Queue
) -> None:
    refused = await post(api, queue.small.read_bytes(), provider="anthropic")

    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "no provider named 'anthropic' is installed (installed: openai)"
    )


async def test_no_token_is_a_401_whatever_the_body(api: httpx.AsyncClient) -> None:
    refused = await api.post("/api/runs", content=b"{not json")

    assert refused.status_code == 401
    assert refused.json() == {"status_code": 401, "detail": "unauthorized"}


async def test_a_sqlite_store_answers_501_saying_what_is_needed(
    tmp_path: Path, emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with serving(str(tmp_path / "jobs.db"), emulator_url) as api:
        refused = await post(api, b"{}\n")

    assert refused.status_code == 501
    assert msgspec.json.decode(refused.content) == {
        "status_code": 501,
        "detail": "this server cannot queue runs: the work queue needs a PostgreSQL store:"
        " pass --store postgresql://…",
    }

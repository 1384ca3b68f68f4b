"""`POST /api/runs`: queue a JSONL workload as one run of the caller's tenant, for a
`batchery worker` to drive; what `batchery submit` does, over HTTP.

The body is the workload file itself, one request per line, exactly as `batchery run` and
`batchery submit` read it; the options are query parameters named like the command's options.
The `Idempotency-Key` header names one run per tenant: the same key and workload answer the
same run again, the key with another workload is refused (422). Submitting needs the work
queue, so a PostgreSQL job store with `batchery-queue` installed; without it the route answers
501 and says why.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException
from litestar.params import FromQuery, HeaderParameter, QueryParameter
from litestar.status_codes import (
    HTTP_202_ACCEPTED,
    HTTP_400_BAD_REQUEST,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_501_NOT_IMPLEMENTED,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from batchery.durations import delay_s, duration_s
from batchery.inputs import InputFile, parse_input
from batchery.model import Mode
from batchery.server.auth import Caller
from batchery.server.owners import RunOwners, acting_for
from batchery.service import BatchLlmService, InvalidInputError, UnknownProviderError
from batchery.service.validation import Finding
from batchery.store import StoreUnavailableError
from batchery.submission import IdempotencyConflictError, OpenQueue, Submission, submit
from batchery.windows import Window
from batchery.work_queue import WorkQueueUnavailableError, work_queue_factory

__all__ = ["RunAccepted", "RunSubmissions", "submit_run"]

MAX_WORKLOAD_BYTES: Final = 200 * 1024 * 1024
"""The largest workload body accepted, the size of the largest OpenAI batch input file."""

_PROBLEMS_SHOWN: Final = 100


class RunAccepted(msgspec.Struct, frozen=True):
    """A queued run: its id and where to read it (`GET`), the same for every retry."""

    run_id: str
    url: str
    warnings: list[str] = msgspec.field(default_factory=list)
    """What only looks wrong in the workload (a model the provider does not list, say)."""


class RunSubmissions:
    """The work queue `POST /api/runs` puts runs into, or why this server has none."""

    def __init__(self, store_url: str | None) -> None:
        self._store_url = store_url
        self.unavailable: str | None = None
        try:
            if store_url is None:
                raise WorkQueueUnavailableError("this server was started without a job store URL")
            self._factory = work_queue_factory(store_url)
        except WorkQueueUnavailableError as exc:
            self.unavailable = f"this server cannot queue runs: {exc}"

    def opener(self) -> OpenQueue:
        """Opens the queue; 501 with the reason when this server has none."""
        if self.unavailable is not None or self._store_url is None:
            raise HTTPException(self.unavailable, status_code=HTTP_501_NOT_IMPLEMENTED)
        url, factory = self._store_url, self._factory
        return lambda: factory(url)


def _refused(detail: str, problems: list[str]) -> ClientException:
    """422 naming each problem, as `batchery run` would on the console (the first hundred)."""
    shown = problems[:_PROBLEMS_SHOWN]
    return ClientException(
        detail,
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        extra={"problems": shown, "more": len(problems) - len(shown)},
    )


def _by_line(parsed: InputFile, findings: list[Finding]) -> list[str]:
    """Each finding named by the body's line numbers, as `batchery run` names a file's."""

    def where(position: int) -> str:
        return f"line {parsed.line_of(position)}"

    return [finding.describe(where) for finding in findings]


def _option(name: str, parse: Any, text: str | None) -> Any:
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ClientException(f"{name}: {exc}", status_code=HTTP_400_BAD_REQUEST) from None


@post(
    "/runs",
    status_code=HTTP_202_ACCEPTED,
    summary="Queue a JSONL workload as one run",
    request_max_body_size=MAX_WORKLOAD_BYTES,
)
async def submit_run(
    self: Controller,
    request: Request[Any, Any, Any],
    caller: NamedDependency[Caller],
    service: NamedDependency[BatchLlmService],
    owners: NamedDependency[RunOwners],
    submissions: NamedDependency[RunSubmissions],
    provider: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    mode: FromQuery[Mode] = Mode.AUTO,
    priority: Annotated[int, QueryParameter(ge=1, le=10)] = 5,
    not_before: Annotated[
        str | None, QueryParameter(description="ISO 8601 time (UTC unless zoned) or duration")
    ] = None,
    window: Annotated[
        str | None, QueryParameter(description="Daily off-peak window in UTC, e.g. 01:00-05:00")
    ] = None,
    deadline: Annotated[str | None, QueryParameter(description="e.g. 6h or 1d, from now")] = None,
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", max_length=255)
    ] = None,
) -> Response[RunAccepted]:
    open_queue = submissions.opener()
    try:
        name = service.provider(provider).info.name
    except UnknownProviderError as exc:
        raise ClientException(str(exc), status_code=HTTP_422_UNPROCESSABLE_ENTITY) from None
    submission = Submission(
        provider=name,
        model=model,
        mode=mode,
        priority=priority,
        not_before_s=_option("not_before", delay_s, not_before),
        window=_option("window", Window.parse, window),
        deadline_s=_option("deadline", duration_s, deadline),
        idempotency_key=idempotency_key,
        tenant=caller.tenant,
        input_name="POST /api/runs",
    )
    body = await request.body()
    parsed = parse_input(body.splitlines(keepends=True), "the request body")
    if parsed.problems:
        raise _refused(
            "the workload has lines that cannot run; nothing was stored or queued",
            [str(p) for p in parsed.problems],
        )
    try:
        with acting_for(caller.tenant):
            done = await submit(service, open_queue, parsed.items, submission)
    except InvalidInputError as exc:
        raise _refused(
            "the workload breaks the provider's rules; nothing was stored or queued",
            _by_line(parsed, exc.findings),
        ) from None
    except IdempotencyConflictError as exc:
        raise ClientException(str(exc), status_code=HTTP_422_UNPROCESSABLE_ENTITY) from None
    except StoreUnavailableError as exc:
        raise HTTPException(str(exc), status_code=HTTP_503_SERVICE_UNAVAILABLE) from None
    await owners.record(done.run_id, caller.tenant)
    location = f"/api/runs/{done.run_id}"
    headers = {"Location": location}
    if not done.created:
        headers["Idempotent-Replayed"] = "true"
    elif done.hold.note is not None:
        headers["Batchery-Note"] = done.hold.note
    url = str(request.base_url).rstrip("/") + location
    warnings = _by_line(parsed, done.warnings)
    return Response(RunAccepted(run_id=done.run_id, url=url, warnings=warnings), headers=headers)

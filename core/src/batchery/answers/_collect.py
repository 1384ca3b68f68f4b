"""Ask many prompts for JSON answers through `BatchLlmService`; ask again only for unusable ones.

The first round may be answered from the result cache. Every later round holds only the asks
whose answers could not be parsed, bypasses the cache (it would hand back the same unusable
answer) and adds a note saying why the last answer failed: a model given the same prompt tends
to repeat its mistake, and a changed prompt is also what makes a deterministic emulator answer
afresh. Every ask ends as a value or as a failure with its reason; none is dropped.

Each round's job is fingerprinted by its id and its requests, so calling again with the same
run id and the same asks (a graph task retried after a crash) resumes or returns the jobs the
first call made instead of sending anything twice.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import msgspec

from batchery.answers._parse import AnswerError, parse_answer
from batchery.answers._prompts import PromptTemplate
from batchery.answers._schema import check_schema
from batchery.events import FallbackStarted, JobMode, decode_event
from batchery.model import Job, LlmRequest, LlmResult, Message, Mode
from batchery.service import BatchLlmService
from batchery.service.answer_check import INVALID_JSON
from batchery.service.validation import check_custom_id
from batchery.store import JobHeldError

__all__ = [
    "DEFAULT_RETRY_PROMPT",
    "RETRY_FIELDS",
    "AnswerFailure",
    "Ask",
    "AskOptions",
    "Collected",
    "collect_answers",
    "job_id_for",
]

T = TypeVar("T")

DEFAULT_RETRY_PROMPT = (
    "This is attempt $attempt. Your previous answer could not be used: $reason. "
    "Reply with only the JSON value the schema describes: no code fence, no other text."
)
RETRY_FIELDS = ("attempt", "reason")
"""The fields a retry note can use; `reason` is required, so the model is told what was wrong."""


class Ask(msgspec.Struct, frozen=True, kw_only=True):
    """One prompt. Its `id` keys the answer and is the request's custom_id, so events name it."""

    id: str
    prompt: str
    system: str | None = None


class AskOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How the asks run: where, in which mode, by when, and how often an answer is re-asked."""

    provider: str | None = None
    model: str | None = None
    mode: Mode = Mode.AUTO
    deadline_s: float | None = None
    max_parse_retries: int = 2
    max_tokens: int | None = None
    temperature: float | None = None
    use_cache: bool = True


class AnswerFailure(msgspec.Struct, frozen=True, kw_only=True):
    """An ask that ended without a usable answer, after `attempts` tries."""

    id: str
    reason: str
    attempts: int


class Collected(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """Every ask's outcome, with what the rounds cost.

    `values` and `failures` follow the order of the asks. `repaired` names the repairs each
    recovered answer needed. `retried` counts the requests sent again; `jobs` are the job ids
    of the rounds, in order, and `modes` the mode each ran in and why. Costs are summed over
    those jobs.
    """

    values: dict[str, T]
    failures: list[AnswerFailure]
    repaired: dict[str, tuple[str, ...]]
    retried: int
    jobs: list[str]
    modes: list[JobMode]
    cost_usd: float
    realtime_cost_usd: float

    @property
    def savings_usd(self) -> float:
        return round(self.realtime_cost_usd - self.cost_usd, 8)


Accept = Callable[[str, Any], T]
"""Turns an ask's schema-valid value into the caller's type; raises `AnswerError` to re-ask."""
OnRetry = Callable[[str, int, str], Awaitable[object]]
"""Told `(ask id, attempt about to be made, reason)` before an ask is sent again."""


def job_id_for(run_id: str, attempt: int) -> str:
    """The job of round `attempt`: `{run_id}-1`, then `{run_id}-retry1`, `{run_id}-retry2`..."""
    return f"{run_id}-1" if attempt == 1 else f"{run_id}-retry{attempt - 1}"


class _Answer(msgspec.Struct, frozen=True):
    value: Any
    repairs: tuple[str, ...]


class _Problem(msgspec.Struct, frozen=True):
    reason: str
    ask_again: bool


async def collect_answers(
    service: BatchLlmService,
    asks: Sequence[Ask],
    *,
    schema: Mapping[str, Any],
    accept: Accept[T],
    run_id: str,
    options: AskOptions | None = None,
    retry_prompt: PromptTemplate | None = None,
    on_retry: OnRetry | None = None,
) -> Collected[T]:
    """Run `asks` as jobs named after `run_id` and read every answer against `schema`.

    An answer that cannot be parsed (or that `accept` refuses) is asked again, up to
    `options.max_parse_retries` more times; one the provider failed is not (the service has
    already retried what a retry could fix). A job of `run_id` that already exists is resumed
    when it was made from the same requests, and a finished one is read as it ended (its
    unusable answers were asked again in the next round's job, so nothing is sent twice); one
    another live process drives is followed. Raises ValueError for duplicate or unusable ids,
    and when `run_id` already names jobs made from other requests.
    """
    check_schema(schema)
    settings = options or AskOptions()
    retry = retry_prompt or PromptTemplate(
        "retry", DEFAULT_RETRY_PROMPT, fields=RETRY_FIELDS, required=("reason",)
    )
    _check_ids(asks)
    started = time.monotonic()
    values: dict[str, Any] = {}
    failures: dict[str, AnswerFailure] = {}
    repaired: dict[str, tuple[str, ...]] = {}
    reasons: dict[str, str] = {}
    jobs: list[str] = []
    modes: list[JobMode] = []
    cost = realtime_cost = 0.0
    retried = 0
    pending, attempt = list(asks), 1
    while pending:
        job_id = job_id_for(run_id, attempt)
        requests = [
            _request(
                ask,
                schema,
                settings,
                None if attempt == 1 else retry.render(attempt=attempt, reason=reasons[ask.id]),
            )
            for ask in pending
        ]
        fingerprint = _fingerprint(job_id, requests, settings)
        existing = await service.store.get_job(job_id)
        if existing is not None and existing.fingerprint != fingerprint:
            raise ValueError(
                f"job {job_id!r} already exists and was made from other requests: "
                "a run id names one piece of work, so give this one a new run id"
            )
        try:
            if existing is None:
                outcome = await service.run(
                    requests,
                    provider=settings.provider,
                    model=settings.model,
                    mode=settings.mode,
                    deadline_s=_remaining(settings.deadline_s, started),
                    use_cache=settings.use_cache and attempt == 1,
                    run_id=job_id,
                    fingerprint=fingerprint,
                    reask_invalid_json=False,
                )
            else:
                outcome = await service.resume(job_id)
        except JobHeldError:
            outcome = await service.attach(job_id)
        jobs.append(job_id)
        cost += outcome.counts.cost_usd
        realtime_cost += outcome.counts.realtime_cost_usd
        results = {r.custom_id: r async for r in service.get_batch_results(job_id)}
        modes.append(await _mode_of(service, outcome.job, results.values()))
        again: list[Ask] = []
        for ask in pending:
            read = _read(results.get(ask.id), schema, accept, ask.id)
            if isinstance(read, _Answer):
                values[ask.id] = read.value
                if read.repairs:
                    repaired[ask.id] = read.repairs
            elif read.ask_again and attempt <= settings.max_parse_retries:
                reasons[ask.id] = read.reason
                again.append(ask)
            else:
                failures[ask.id] = AnswerFailure(id=ask.id, reason=read.reason, attempts=attempt)
        attempt += 1
        for ask in again:
            if on_retry is not None:
                await on_retry(ask.id, attempt, reasons[ask.id])
        retried += len(again)
        pending = again
    return Collected(
        values={a.id: values[a.id] for a in asks if a.id in values},
        failures=[failures[a.id] for a in asks if a.id in failures],
        repaired={a.id: repaired[a.id] for a in asks if a.id in repaired},
        retried=retried,
        jobs=jobs,
        modes=modes,
        cost_usd=round(cost, 8),
        realtime_cost_usd=round(realtime_cost, 8),
    )


async def _mode_of(service: BatchLlmService, job: Job, results: Iterable[LlmResult]) -> JobMode:
    """The job's mode and reason, its answers counted by mode, and why it fell back, if it did."""
    fallback = None
    for _, body in await service.store.events(job.id):
        event = decode_event(body)
        if isinstance(event, FallbackStarted):
            fallback = event.reason
    return JobMode(
        job_id=job.id,
        mode=str(job.mode),
        reason=job.reason or "",
        results=dict(Counter(str(r.mode) for r in results)),
        fallback=fallback,
    )


def _check_ids(asks: Sequence[Ask]) -> None:
    seen: set[str] = set()
    for ask in asks:
        problem = check_custom_id(ask.id)
        if problem is not None:
            raise ValueError(f"ask id {ask.id!r}: {problem}")
        if ask.id in seen:
            raise ValueError(f"ask id {ask.id!r} is given more than once")
        seen.add(ask.id)


def _request(
    ask: Ask, schema: Mapping[str, Any], options: AskOptions, note: str | None
) -> LlmRequest:
    prompt = ask.prompt if note is None else f"{ask.prompt}\n\n{note}"
    system = () if ask.system is None else (Message("system", ask.system),)
    return LlmRequest(
        custom_id=ask.id,
        messages=(*system, Message("user", prompt)),
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        response_schema=dict(schema),
    )


def _read(
    result: LlmResult | None, schema: Mapping[str, Any], accept: Accept[Any], key: str
) -> _Answer | _Problem:
    if result is None:
        return _Problem("no result came back for this request", ask_again=False)
    if not result.ok:
        error = result.error
        if error is not None and error.code == INVALID_JSON:
            return _Problem(error.message, ask_again=True)
        said = f"{error.code}: {error.message}" if error is not None else "no error given"
        return _Problem(f"the provider gave no answer ({said})", ask_again=False)
    try:
        parsed = parse_answer(result.text, schema)
        return _Answer(accept(key, parsed.value), result.repairs or parsed.repairs)
    except AnswerError as exc:
        return _Problem(str(exc), ask_again=True)


def _fingerprint(job_id: str, requests: Sequence[LlmRequest], options: AskOptions) -> str:
    where = (options.provider, options.model, options.mode)
    material = msgspec.json.encode([job_id, where, requests], order="sorted")
    return f"{job_id}:{hashlib.sha256(material).hexdigest()[:32]}"


def _remaining(deadline_s: float | None, started: float) -> float | None:
    if deadline_s is None:
        return None
    return max(0.0, deadline_s - (time.monotonic() - started))

"""Everything decided before a call is made: validation, cache hits, the mode, the chunks.

A plan is pure: it stores nothing and calls no provider, so `batchery run --dry-run` shows
exactly what a real run would do, with each mode's estimated cost and finish time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from batchery.model import ErrorInfo, LlmRequest, LlmResult, Mode, RejectedRequest, RequestKind
from batchery.pricing import CostBook
from batchery.service.answer_check import checked_answer
from batchery.service.chunking import ChunkPlan, ChunkPlanner
from batchery.service.options import ServiceOptions
from batchery.service.policy import (
    PRIOR_LATENCY_S,
    ModeDecision,
    Workload,
    batch_turnaround,
    decide,
    hybrid_slice,
)
from batchery.service.validation import (
    Finding,
    InvalidInputError,
    check_custom_id,
    check_item,
    check_request,
    context_problem,
    model_warnings,
)
from batchery.spi import Provider

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "InvalidInputError",
    "ModeUnavailableError",
    "RunPlan",
    "Sizing",
    "Validated",
    "cache_key",
    "estimate_tokens",
    "plan_run",
    "validate_items",
    "with_model",
]

DEFAULT_OUTPUT_TOKENS = 256
"""Output tokens assumed for a chat request that sets no `max_tokens`, for estimates only."""


class ModeUnavailableError(ValueError):
    """The requested mode needs an API this provider does not have."""


class Sizing(msgspec.Struct, frozen=True, kw_only=True):
    """What the planner may assume about capacity, and the batch turnarounds seen so far."""

    turnarounds: list[tuple[int, float]] = msgspec.field(default_factory=list)
    latency_s: float | None = None
    requests_per_s: float | None = None


class Validated(msgspec.Struct, frozen=True):
    """A submission that passed: each request as it will run, the rule each `RejectedRequest`
    broke (None for the rest), and the warnings that did not stop it."""

    requests: list[LlmRequest]
    rules: list[str | None]
    warnings: list[Finding]

    def runnable(self) -> list[LlmRequest]:
        return [r for r, rule in zip(self.requests, self.rules, strict=True) if rule is None]


class RunPlan(msgspec.Struct, kw_only=True):
    """The requests in input order, each with its chunk (batch), None (realtime) or a result."""

    provider: str
    model: str | None
    decision: ModeDecision
    requests: list[LlmRequest]
    chunk_of: list[int | None]
    ready: dict[str, LlmResult]
    cache_keys: list[str | None]
    chunks: list[ChunkPlan]
    warnings: list[Finding] = msgspec.field(default_factory=list)

    @property
    def mode(self) -> Mode:
        return self.decision.mode

    @property
    def cached(self) -> int:
        return sum(1 for r in self.ready.values() if r.cached)

    @property
    def rejected(self) -> int:
        return sum(1 for r in self.ready.values() if not r.cached)


def estimate_tokens(request: LlmRequest) -> tuple[int, int]:
    """(input, output) tokens, roughly four characters a token; for estimates only."""
    text = sum(len(m.content) for m in request.messages) + len(request.input or "")
    text += sum(len(c) for c in request.chunks or ()) + len(request.query or "")
    text += sum(len(d) for d in request.documents or ())
    output = 0
    if request.kind is RequestKind.CHAT:
        output = request.max_tokens or DEFAULT_OUTPUT_TOKENS
    return max(1, text // 4), output


def cache_key(provider: str, request: LlmRequest) -> str:
    """Same provider, model and request body (whatever its id or metadata): same key."""
    body = msgspec.structs.replace(request, custom_id="", metadata={})
    canonical = msgspec.json.encode([provider, body], order="sorted")
    return hashlib.sha256(canonical).hexdigest()


def plan_run(
    checked: Validated,
    *,
    provider: Provider,
    model: str | None,
    mode: Mode,
    options: ServiceOptions,
    book: CostBook,
    sizing: Sizing,
    cached: Mapping[str, LlmResult] | None = None,
    cache_keys: Sequence[str | None] | None = None,
    deadline_s: float | None = None,
) -> RunPlan:
    """Serve cache hits, choose the mode and lay out the batch chunks of a checked submission.

    `cached` maps custom_ids to earlier answers to the same request; pass None to bypass the
    cache. `cache_keys` are the requests' keys in the cache, kept with the plan.
    """
    info = provider.info
    if mode in (Mode.BATCH, Mode.HYBRID) and not info.batch:
        raise ModeUnavailableError(f"{info.name} has no batch API; use mode realtime or auto")
    if mode in (Mode.REALTIME, Mode.HYBRID) and not info.realtime:
        raise ModeUnavailableError(f"{info.name} has no realtime API; use mode batch or auto")
    requests, rules = checked.requests, checked.rules
    keys: list[str | None] = list(cache_keys or [None] * len(requests))
    ready: dict[str, LlmResult] = {}
    for request, rule in zip(requests, rules, strict=True):
        if rule is not None:
            ready[request.custom_id] = LlmResult.failure(
                request.custom_id,
                ErrorInfo(code="invalid_request", message=rule),
                provider=info.name,
                mode=mode if mode is not Mode.AUTO else Mode.REALTIME,
            )
        elif cached is not None and request.custom_id in cached:
            hit = checked_answer(request, cached[request.custom_id])
            if hit.ok:
                ready[request.custom_id] = msgspec.structs.replace(
                    hit, custom_id=request.custom_id, cached=True, cost_usd=0.0
                )
    todo = [r for r in requests if r.custom_id not in ready]
    decision = decide(
        _workload(todo, provider, options, book, sizing, deadline_s),
        mode,
        threshold=options.batch_threshold,
        batch=info.batch,
        realtime=info.realtime,
    )
    chunk_of, chunks = _layout(requests, ready, decision.mode, provider, options)
    return RunPlan(
        provider=info.name,
        model=model or _single_model(todo or requests),
        decision=decision,
        requests=requests,
        chunk_of=chunk_of,
        ready=ready,
        cache_keys=keys,
        chunks=chunks,
        warnings=checked.warnings,
    )


def with_model(
    request: LlmRequest, provider: Provider, model: str | None, options: ServiceOptions
) -> LlmRequest:
    """The request with the model it will run on: its own, the run's, or the defaults."""
    chosen = (
        request.model
        or model
        or options.default_model
        or provider.info.default_models.get(request.kind)
    )
    if chosen == request.model:
        return request
    return msgspec.structs.replace(request, model=chosen)


def validate_items(
    items: Iterable[LlmRequest | RejectedRequest],
    provider: Provider,
    model: str | None,
    options: ServiceOptions,
    book: CostBook,
) -> Validated:
    """The submission as it will run, once every item has passed every rule.

    Raises `InvalidInputError` naming every item that breaks a rule (and every warning, when
    `options.strict`), so nothing of a bad submission is stored or sent.
    """
    given: object = model
    if given is not None and (not isinstance(given, str) or not given):
        raise InvalidInputError([Finding(f"the run's model must be a non-empty string: {given!r}")])
    requests: list[LlmRequest] = []
    rules: list[str | None] = []
    running: list[tuple[int, LlmRequest]] = []
    refusals: list[Finding] = []
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        checked = check_item(item)
        if isinstance(checked, str):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            custom_id = getattr(item, "custom_id", custom_id)
            named = custom_id if isinstance(custom_id, str) else None
            refusals.append(Finding(checked, ((position, named),)))
            continue
        rule = check_custom_id(checked.custom_id)
        if rule is None and checked.custom_id in seen:
            rule = "custom_id must be unique within a job; it is a duplicate"
        if rule is None and isinstance(checked, LlmRequest):
            checked = with_model(checked, provider, model, options)
            rule = check_request(checked, provider) or context_problem(
                checked,
                book.price(checked.model),
                estimate_tokens(checked)[0],
            )
        if rule is not None:
            refusals.append(Finding(rule, ((position, checked.custom_id),)))
            continue
        seen.add(checked.custom_id)
        if isinstance(checked, RejectedRequest):
            requests.append(LlmRequest(custom_id=checked.custom_id))
            rules.append(checked.reason)
            continue
        requests.append(checked)
        rules.append(None)
        running.append((position, checked))
    warnings = model_warnings(running, provider, book.price, model)
    if options.strict:
        refusals += warnings
    if refusals:
        raise InvalidInputError(refusals)
    return Validated(requests, rules, warnings)


def _workload(
    todo: list[LlmRequest],
    provider: Provider,
    options: ServiceOptions,
    book: CostBook,
    sizing: Sizing,
    deadline_s: float | None,
) -> Workload:
    """What the mode decision weighs; prices are linear in tokens, so each model is priced
    once for all its requests' tokens."""
    kind = todo[0].kind if todo else RequestKind.CHAT
    per_model: dict[str | None, tuple[int, int]] = {}
    for request in todo:
        tin, tout = estimate_tokens(request)
        was_in, was_out = per_model.get(request.model, (0, 0))
        per_model[request.model] = (was_in + tin, was_out + tout)
    realtime_cost: float | None = 0.0
    batch_cost: float | None = 0.0
    for model, (tin, tout) in per_model.items():
        rt = book.estimate(model, tin, tout, Mode.REALTIME)
        bt = book.estimate(model, tin, tout, Mode.BATCH)
        realtime_cost = None if rt is None or realtime_cost is None else realtime_cost + rt
        batch_cost = None if bt is None or batch_cost is None else batch_cost + bt
    tokens_in = sum(tin for tin, _ in per_model.values())
    tokens_out = sum(tout for _, tout in per_model.values())
    return Workload(
        count=len(todo),
        kind=kind,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        realtime_cost_usd=None if realtime_cost is None else round(realtime_cost, 6),
        batch_cost_usd=None if batch_cost is None else round(batch_cost, 6),
        batch_turnaround_s=batch_turnaround(
            sizing.turnarounds,
            min(
                len(todo),
                provider.info.limits.max_requests_per_batch,
                options.max_requests_per_batch or len(todo),
            ),
        ),
        latency_s=sizing.latency_s or PRIOR_LATENCY_S[kind],
        concurrency=options.realtime_concurrency,
        requests_per_s=sizing.requests_per_s,
        deadline_s=deadline_s,
    )


def _layout(
    requests: list[LlmRequest],
    ready: dict[str, LlmResult],
    mode: Mode,
    provider: Provider,
    options: ServiceOptions,
) -> tuple[list[int | None], list[ChunkPlan]]:
    """Assign batch requests to chunks; a request too big for any batch joins `ready` as an
    explicit error."""
    info = provider.info
    limits = info.limits
    planner = ChunkPlanner(
        max_requests=min(
            limits.max_requests_per_batch,
            options.max_requests_per_batch or limits.max_requests_per_batch,
        ),
        max_bytes=min(
            limits.max_bytes_per_batch, options.max_bytes_per_batch or limits.max_bytes_per_batch
        ),
    )
    realtime_left = 0
    if mode is Mode.HYBRID:
        todo = sum(1 for r in requests if r.custom_id not in ready)
        realtime_left = hybrid_slice(todo, options.batch_threshold)
    chunk_of: list[int | None] = []
    for request in requests:
        chunk = None
        if request.custom_id not in ready and mode in (Mode.BATCH, Mode.HYBRID):
            if realtime_left > 0:
                realtime_left -= 1
            else:
                size = provider.batch_size_of(request)
                if size > planner.max_bytes:
                    rule = (
                        f"the request takes {size} bytes; a {info.name} batch holds at most "
                        f"{planner.max_bytes}"
                    )
                    ready[request.custom_id] = LlmResult.failure(
                        request.custom_id,
                        ErrorInfo(code="invalid_request", message=rule),
                        provider=info.name,
                        mode=mode,
                    )
                else:
                    chunk = planner.assign(request, size)
        chunk_of.append(chunk)
    return chunk_of, planner.plans()


def _single_model(requests: list[LlmRequest]) -> str | None:
    models = {request.model for request in requests}
    return models.pop() if len(models) == 1 else None

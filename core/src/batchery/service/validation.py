"""Rules every request must meet before anything is sent, each failure said for a person.

A submission is checked whole before a job exists: what Python hands `run()` is first proven
to be a request at all (the right class, every field of its declared type, text that can be
stored as UTF-8, a schema of bounded depth), then checked against the chosen provider. What
breaks a rule is refused with a `Finding` naming the item and the rule; what only looks wrong
(a model the provider's catalog does not list, a run model that a line overrides) is a warning,
refused too when the caller asks to be strict.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import msgspec

from batchery.model import LlmRequest, RejectedRequest, RequestKind
from batchery.spi import ModelPrice, Provider

__all__ = [
    "MAX_CUSTOM_ID_LENGTH",
    "MAX_NESTING",
    "Finding",
    "InvalidInputError",
    "check_custom_id",
    "check_item",
    "check_request",
    "context_problem",
    "id_problem",
    "model_warnings",
    "nesting_problem",
]

MAX_CUSTOM_ID_LENGTH = 512
MAX_NESTING = 64
"""How deep a line's JSON (a request's schema) may nest; real schemas stay far below it."""

_SHOWN_ITEMS = 3
_ENCODER = msgspec.json.Encoder()
_ROUND_TRIP: dict[type, msgspec.json.Decoder[LlmRequest | RejectedRequest]] = {
    LlmRequest: msgspec.json.Decoder(LlmRequest),
    RejectedRequest: msgspec.json.Decoder(RejectedRequest),
}

Where = Callable[[int], str]
"""How a finding names the item at a 1-based position: `request 3` in code, `line 7` in a file."""


def _request_at(position: int) -> str:
    return f"request {position}"


class Finding(msgspec.Struct, frozen=True):
    """One rule and the items that break it, each as (1-based position, custom_id)."""

    rule: str
    items: tuple[tuple[int, str | None], ...] = ()

    def describe(self, where: Where = _request_at) -> str:
        named = [
            where(position) + ("" if cid is None else f" (custom_id {cid!r})")
            for position, cid in self.items[:_SHOWN_ITEMS]
        ]
        if len(self.items) > _SHOWN_ITEMS:
            named.append(f"and {len(self.items) - _SHOWN_ITEMS} more")
        return f"{', '.join(named)}: {self.rule}" if named else self.rule

    def __str__(self) -> str:
        return self.describe()


class InvalidInputError(ValueError):
    """The submission as a whole cannot be accepted; nothing of it was stored or sent."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        shown = "\n".join(f"  - {f}" for f in self.findings[:20])
        more = f"\n  ... and {len(self.findings) - 20} more" if len(self.findings) > 20 else ""
        super().__init__(f"{len(self.findings)} problem(s) in the requests:\n{shown}{more}")

    @property
    def problems(self) -> list[str]:
        return [str(f) for f in self.findings]


def id_problem(value: str, *, max_length: int) -> str | None:
    """Why `value` cannot serve as an id ("must not be empty", ...), or None.

    Ids are echoed in results, events, file names and logs, so they stay printable and trimmed.
    """
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if value != value.strip():
        return "must not start or end with white space"
    plain = value.isascii() and value.isprintable()
    if not plain and any(unicodedata.category(ch).startswith("C") for ch in value):
        return "must not contain control characters"
    return None


def check_custom_id(custom_id: object) -> str | None:
    """Why `custom_id` cannot key a request, or None."""
    if not isinstance(custom_id, str):
        return "custom_id must be a string"
    problem = id_problem(custom_id, max_length=MAX_CUSTOM_ID_LENGTH)
    return None if problem is None else f"custom_id {problem}"


def nesting_problem(value: object, limit: int = MAX_NESTING) -> str | None:
    """Why `value` nests too deeply to be handled safely, or None; never recurses."""
    level: list[tuple[object, int]] = [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            if depth > limit:
                return f"is nested more than {limit} levels deep"
            level.extend((child, depth + 1) for child in item)
    return None


def check_item(item: object) -> LlmRequest | RejectedRequest | str:
    """The item as it will be stored, or why it cannot be a request at all.

    The store keeps requests as JSON, so an item is proven by the same round trip: a field of
    the wrong type, a lone surrogate or an unencodable value is refused here, not found later.
    An item the round trip leaves as it was is returned itself, so a workload is not copied.
    """
    if not isinstance(item, LlmRequest | RejectedRequest):
        return f"is a {type(item).__name__}, not an LlmRequest"
    try:
        encoded = _ENCODER.encode(item)
    except UnicodeEncodeError:
        return "holds text that is not valid Unicode (a lone surrogate)"
    except RecursionError:
        return f"is nested more than {MAX_NESTING} levels deep"
    except (TypeError, ValueError, OverflowError) as exc:
        return f"holds a value that cannot be stored ({exc})"
    try:
        decoder = _ROUND_TRIP.get(type(item))
        stored = (
            decoder.decode(encoded)
            if decoder is not None
            else msgspec.json.decode(encoded, type=type(item))
        )
    except msgspec.ValidationError as exc:
        return str(exc)
    except RecursionError:
        return f"is nested more than {MAX_NESTING} levels deep"
    if isinstance(item, LlmRequest) and isinstance(stored, LlmRequest):
        if item.temperature != stored.temperature:
            return "temperature must be a finite number"
        nested = nesting_problem(stored.response_schema)
        if nested is not None:
            return f"response_schema {nested}"
    return item if stored == item else stored


def check_request(request: LlmRequest, provider: Provider) -> str | None:
    """The first rule `request` breaks for `provider`, or None when it may be sent."""
    info = provider.info
    if request.kind not in info.kinds:
        kinds = ", ".join(sorted(info.kinds))
        return f"kind {request.kind.value!r} is not supported by {info.name} (it supports {kinds})"
    if request.kind is RequestKind.CHAT and not request.messages:
        return "a chat request needs at least one message"
    if request.kind is RequestKind.EMBEDDING and not request.input:
        return "an embedding request needs a non-empty input"
    if request.kind is RequestKind.CONTEXTUAL_EMBEDDING and not request.chunks:
        return "a contextual embedding request needs at least one chunk"
    if request.kind is RequestKind.RERANK and (not request.query or not request.documents):
        return "a rerank request needs a query and at least one document"
    if request.max_tokens is not None and request.max_tokens < 1:
        return "max_tokens must be at least 1"
    if request.temperature is not None and not 0 <= request.temperature <= 2:
        return "temperature must be between 0 and 2"
    return provider.check(request)


def context_problem(request: LlmRequest, price: ModelPrice | None, input_tokens: int) -> str | None:
    """Why `request` cannot fit its model's context window, when the window is known.

    `input_tokens` is an estimate that leans low (four characters a token), so a request is
    refused only when even that estimate, with the output it reserves, does not fit.
    """
    window = price.context_tokens if price is not None else None
    if window is None or request.kind not in (RequestKind.CHAT, RequestKind.EMBEDDING):
        return None
    needed = input_tokens + (request.max_tokens or 0)
    if needed <= window:
        return None
    reserved = f" and max_tokens {request.max_tokens:,}" if request.max_tokens else ""
    return (
        f"the request needs about {needed:,} tokens ({input_tokens:,} of input{reserved}),"
        f" more than the {window:,}-token context window of {request.model}"
    )


def model_warnings(
    requests: Sequence[tuple[int, LlmRequest]],
    provider: Provider,
    price: Callable[[str], ModelPrice | None],
    run_model: str | None,
) -> list[Finding]:
    """What looks wrong about the models: unknown to the provider's catalog, or overriding
    the run's model. `requests` are (position, request as it will run) pairs.

    A provider's catalog is its default models and its price table, where a chat model is
    the one priced for output; a provider without a price table has no catalog to check.
    """
    info = provider.info
    unknown: dict[tuple[str, RequestKind], list[tuple[int, str | None]]] = {}
    overriding: dict[str, list[tuple[int, str | None]]] = {}
    for position, request in requests:
        model = request.model
        if model is None:
            continue
        if run_model is not None and model != run_model:
            overriding.setdefault(model, []).append((position, request.custom_id))
        if info.prices and not _known(model, request.kind, info.default_models, price):
            unknown.setdefault((model, request.kind), []).append((position, request.custom_id))
    findings = [
        Finding(
            f"model {model!r} is not one {info.name} lists for {kind.value} requests"
            " (check the name; a model newer than Batchery's price table runs unpriced)",
            tuple(items),
        )
        for (model, kind), items in unknown.items()
    ]
    findings += [
        Finding(
            f"names model {model!r}, which wins over the run's model {run_model!r}"
            " (that applies only to requests that name none)",
            tuple(items),
        )
        for model, items in overriding.items()
    ]
    return findings


def _known(
    model: str,
    kind: RequestKind,
    defaults: dict[RequestKind, str],
    price: Callable[[str], ModelPrice | None],
) -> bool:
    if defaults.get(kind) == model:
        return True
    listed = price(model)
    return listed is not None and (listed.output > 0) == (kind is RequestKind.CHAT)

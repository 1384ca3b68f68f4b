"""Fault plans: which failures an emulator injects, parsed from a compact spec string.

A spec is a comma-separated list of entries, each `name` or `name=value`, for example
`"http_429=0.1,retry_after=7,batch_expire,malformed=0.02"`. A *rate* is a probability in
[0, 1] (a bare name means 1); *seconds* is a non-negative duration (a bare name takes the
default below). Every draw is a pure function of the plan's seed, the fault's name and a key the
emulator passes (a call counter, a batch id, a line number), so a run is reproducible from its
seed whatever order concurrent requests arrive in.

| fault | value | default | what the emulator does |
| --- | --- | --- | --- |
| `http_429` | rate | 1 | a realtime call answers 429 `rate_limit_exceeded` with `retry-after` |
| `retry_after` | seconds | 1 | the `retry-after` a 429 carries, in real seconds (clients wait it) |
| `http_500` | rate | 1 | a realtime call answers 500 `server_error` |
| `http_503` | rate | 1 | a realtime call answers 503 (the engine is overloaded) |
| `http_529` | rate | 1 | a realtime call answers 529 `overloaded_error` (Anthropic only) |
| `create_lost` | rate | 1 | a batch create succeeds but its response is replaced by a 500 |
| `create_dropped` | rate | 1 | a batch create succeeds but the connection drops before any reply |
| `batch_404` | seconds | 60 | GET of a batch answers 404 for this many emulated s after create |
| `token_limit` | rate | 1 | a batch fails validation with `token_limit_exceeded` |
| `batch_expire` | rate | 1 | a batch stalls halfway and expires at `expires_at`: partial output |
| `line_error` | rate | 1 | a request ends with a non-200 line (400, 429 or 500) in the error file |
| `malformed` | rate | 1 | an output line becomes invalid JSON, a non-object or a truncated line |
| `shuffle` | rate | 1 | a batch's output lines come back in shuffled order |
| `duplicate` | rate | 1 | an output line is written twice |
| `unknown_id` | rate | 1 | an extra output line follows, carrying a custom_id nobody sent |
| `empty_error_file` | rate | 1 | a batch with no errors says `error_file_id: ""` instead of null |
| `all_errors` | rate | 1 | every request of a batch fails: `completed` with no output file |
| `fenced_json` | rate | 1 | a JSON (schema) answer comes wrapped in a Markdown code fence |
| `prose_json` | rate | 1 | a JSON answer comes with a sentence before and after it |
| `truncated_json` | rate | 1 | a JSON answer is cut off part way, as at a token limit |

The content faults (`*_json`) are drawn per answer content rather than per call: a request is
damaged the same way every time it is sent, in batch and in realtime alike, the way a model
repeats its mistake on the same prompt; only a changed request draws afresh.

Each emulator states which of these it supports; parsing with `allowed=` refuses the rest.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

__all__ = ["FAULTS", "FaultKind", "FaultPlan"]

Unit = Literal["rate", "seconds"]


class FaultKind(msgspec.Struct, frozen=True):
    """One injectable fault: how its value is read and what a bare name means."""

    name: str
    unit: Unit
    default: float


def _kinds(*kinds: FaultKind) -> dict[str, FaultKind]:
    return {kind.name: kind for kind in kinds}


FAULTS: Mapping[str, FaultKind] = _kinds(
    FaultKind("http_429", "rate", 1.0),
    FaultKind("retry_after", "seconds", 1.0),
    FaultKind("http_500", "rate", 1.0),
    FaultKind("http_503", "rate", 1.0),
    FaultKind("http_529", "rate", 1.0),
    FaultKind("create_lost", "rate", 1.0),
    FaultKind("create_dropped", "rate", 1.0),
    FaultKind("batch_404", "seconds", 60.0),
    FaultKind("token_limit", "rate", 1.0),
    FaultKind("batch_expire", "rate", 1.0),
    FaultKind("line_error", "rate", 1.0),
    FaultKind("malformed", "rate", 1.0),
    FaultKind("shuffle", "rate", 1.0),
    FaultKind("duplicate", "rate", 1.0),
    FaultKind("unknown_id", "rate", 1.0),
    FaultKind("empty_error_file", "rate", 1.0),
    FaultKind("all_errors", "rate", 1.0),
    FaultKind("fenced_json", "rate", 1.0),
    FaultKind("prose_json", "rate", 1.0),
    FaultKind("truncated_json", "rate", 1.0),
)
"""Every fault any emulator knows, by name; the module docstring's table says what each does."""


class FaultPlan:
    """The faults one emulator injects, with their values, and deterministic draws against them."""

    def __init__(self, values: Mapping[str, float] | None = None, *, seed: int = 0) -> None:
        self._values = dict(values or {})
        self._seed = seed

    @classmethod
    def parse(cls, spec: str, *, seed: int = 0, allowed: Iterable[str] | None = None) -> FaultPlan:
        """Read a spec string; an invalid entry raises `ValueError` naming it and the rule."""
        known = FAULTS if allowed is None else {n: FAULTS[n] for n in allowed if n in FAULTS}
        values: dict[str, float] = {}
        for raw in spec.split(","):
            entry = raw.strip()
            if not entry:
                continue
            name, sep, text = (part.strip() for part in entry.partition("="))
            kind = known.get(name)
            if kind is None:
                names = ", ".join(sorted(known))
                raise ValueError(f"fault entry {entry!r}: unknown fault; known faults: {names}")
            if name in values:
                raise ValueError(f"fault entry {entry!r}: {name} is given more than once")
            values[name] = _read_value(entry, kind, text if sep else None)
        return cls(values, seed=seed)

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def values(self) -> Mapping[str, float]:
        return dict(self._values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._values.get(name, 0.0) > 0.0

    def __bool__(self) -> bool:
        return any(value > 0.0 for value in self._values.values())

    def __repr__(self) -> str:
        spec = ",".join(f"{name}={value:g}" for name, value in self._values.items())
        return f"FaultPlan({spec!r}, seed={self._seed})"

    def value(self, name: str) -> float:
        """The fault's value if the plan has it; otherwise a duration's default, or 0 for a rate."""
        if name in self._values:
            return self._values[name]
        kind = FAULTS.get(name)
        return kind.default if kind is not None and kind.unit == "seconds" else 0.0

    def roll(self, name: str, *key: object) -> float:
        """A uniform draw in [0, 1) fixed by the seed, the fault name and `key`."""
        material = "\x1f".join([str(self._seed), name, *map(str, key)]).encode()
        digest = hashlib.blake2b(material, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2.0**64

    def hit(self, name: str, *key: object) -> bool:
        """Whether the rate fault `name` fires for `key`; never when the plan lacks it."""
        rate = self._values.get(name, 0.0)
        return rate > 0.0 and self.roll(name, *key) < rate

    def http_fault(self, call: object, statuses: tuple[int, ...] = (429, 500, 503)) -> int | None:
        """The status of the first `http_<status>` fault, in `statuses` order, that fires for
        realtime call `call`; None when none does. The dialect answers it in its own words."""
        return next((status for status in statuses if self.hit(f"http_{status}", call)), None)

    def pick(self, name: str, choices: int, *key: object) -> int:
        """A deterministic index below `choices`, for choosing how a fault shows itself."""
        return min(choices - 1, int(self.roll(name + "#pick", *key) * choices))


def _read_value(entry: str, kind: FaultKind, text: str | None) -> float:
    if text is None:
        return kind.default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"fault entry {entry!r}: {kind.name} needs a number") from None
    if kind.unit == "rate" and not 0.0 <= value <= 1.0:
        raise ValueError(f"fault entry {entry!r}: {kind.name} is a rate between 0 and 1")
    if kind.unit == "seconds" and not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"fault entry {entry!r}: {kind.name} is a duration of 0 or more seconds")
    return value

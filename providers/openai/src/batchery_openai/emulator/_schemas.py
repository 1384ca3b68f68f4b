"""Request bodies checked against the request schemas of OpenAI's official OpenAPI spec.

The schemas under `schemas/` are extracted from the spec by `scripts/extract_schemas.py`,
never typed by hand. A body the spec refuses gets the 400 the real API answers, phrased the
way OpenAI phrases it: `Unrecognized request argument supplied: …` for an unknown top-level
key (the real API refuses them even where the spec's `allOf` cannot say so), `Missing required
parameter: '…'`, `Invalid value: '…'. Supported values are: …`, or `Invalid '…': …`, with the
offending parameter's path in `param` (`messages.[0].role`, as OpenAI spells it).

jsonschema-rs validates: it is maintained, has no Python dependencies, speaks draft 2020-12
(the dialect of OpenAPI 3.1) and is fast enough to check all 50,000 lines of a batch.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

import jsonschema_rs

from batchery_openai.emulator._http import ApiError

__all__ = ["SCHEMA_FILES", "check_body"]

SCHEMA_FILES = {"/v1/chat/completions": "chat_completions", "/v1/embeddings": "embeddings"}
"""Which extracted schema checks the body sent to each endpoint."""

_MISMATCH = frozenset({"type", "enum", "const"})


class _Schema:
    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.properties = frozenset(bundle["properties"])
        self.validator = jsonschema_rs.validator_for(bundle["schema"])


@functools.cache
def _schema(url: str) -> _Schema:
    name = SCHEMA_FILES[url]
    text = resources.files(__package__).joinpath("schemas", f"{name}.json").read_text("utf-8")
    return _Schema(json.loads(text))


def check_body(url: str, body: Mapping[str, Any]) -> None:
    """Raise the real API's 400 when the spec refuses `body` for `url` (`/v1/...`)."""
    schema = _schema(url)
    for key in body:
        if key not in schema.properties:
            raise ApiError(400, f"Unrecognized request argument supplied: {key}", param=key)
    error = next(schema.validator.iter_errors(dict(body)), None)
    if error is not None:
        raise _refusal(_explain(error))


class _Problem:
    """One reason the body is refused: what kind, where, and the keyword's details."""

    def __init__(self, error: jsonschema_rs.ValidationError, **details: Any) -> None:
        self.kind = error.kind.name
        self.path = list(error.instance_path)
        self.instance = error.instance
        self.message = error.message
        self.details = details or error.kind.as_dict()


def _refusal(problem: _Problem) -> ApiError:
    path, details = problem.path, problem.details
    if problem.kind == "required":
        param = _param([*path, details["property"]])
        message = f"Missing required parameter: '{param}'."
        return ApiError(400, message, param=param, code="missing_required_parameter")
    if problem.kind == "additionalProperties":
        param = _param([*path, details["unexpected"][0]])
        return ApiError(400, f"Unrecognized request argument supplied: {param}", param=param)
    param = _param(path)
    if problem.kind in ("enum", "const"):
        message = f"Invalid value: {_shown(problem.instance)}. Supported values are: "
        message += ", ".join(_shown(option) for option in _options(details)) + "."
        return ApiError(400, message, param=param, code="invalid_value")
    code = "invalid_type" if problem.kind == "type" else None
    return ApiError(400, f"Invalid '{param}': {problem.message}.", param=param, code=code)


def _explain(error: jsonschema_rs.ValidationError) -> _Problem:
    """The problem that says why, looking into `anyOf`/`oneOf` for the alternative meant.

    The alternative meant is the first whose errors are no type, enum or const mismatch (the
    number that is only too large), else the first with no enum or const mismatch (the message
    whose `role` matched); when every alternative fails on one value's enum, the enum of all of
    them together is answered.
    """
    branches: Sequence[Sequence[jsonschema_rs.ValidationError]] = (
        getattr(error.kind, "context", None) or ()
    )
    if not any(branches):
        return _Problem(error)
    for mismatch in (_MISMATCH, _MISMATCH - {"type"}):
        for branch in branches:
            if branch and not any(e.kind.name in mismatch for e in _flat(branch)):
                return _explain(branch[0])
    enums = [e for branch in branches for e in branch if e.kind.name in ("enum", "const")]
    if len(enums) == len(branches) and len({tuple(e.instance_path) for e in enums}) == 1:
        options: list[Any] = []
        for option in (o for e in enums for o in _options(e.kind.as_dict())):
            if option not in options:
                options.append(option)
        return _Problem(enums[0], options=options)
    deepest = max((e for branch in branches for e in branch), key=lambda e: len(e.instance_path))
    return _explain(deepest)


def _options(details: Mapping[str, Any]) -> list[Any]:
    return list(details["options"]) if "options" in details else [details.get("expected_value")]


def _flat(
    errors: Sequence[jsonschema_rs.ValidationError],
) -> Iterator[jsonschema_rs.ValidationError]:
    for error in errors:
        yield error
        for branch in getattr(error.kind, "context", None) or ():
            yield from _flat(branch)


def _param(path: Sequence[str | int]) -> str:
    return ".".join(f"[{part}]" if isinstance(part, int) else part for part in path)


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)

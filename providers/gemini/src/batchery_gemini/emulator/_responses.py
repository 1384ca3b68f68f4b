"""generateContent and embedding answers for a request body, identical in batch and realtime.

Answers are seeded by what shapes an answer (the model, the turns with a missing role read as
`user`, the system instruction's text, the response MIME type and schema; the model, task, title
and text for an embedding), read in either spelling proto JSON allows (`generationConfig` or
`generation_config`), so the same request gets the same answer on either path and from any
client. Token counts are the kit's
estimate, about four characters a token.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from batchery.emulator import (
    embedding_vector,
    estimate_tokens,
    request_seed,
    schema_answer,
    text_answer,
)

from batchery_gemini.emulator._http import ApiError

__all__ = [
    "CACHE_MIN_TOKENS",
    "MAX_EMBED_REQUESTS",
    "batch_embed",
    "embed",
    "field",
    "generate",
    "model_id",
]

CACHE_MIN_TOKENS = 1024
"""Prompts at least this long report their system instruction as cached, in 128-token steps."""
MAX_EMBED_REQUESTS = 100
"""Requests one synchronous `batchEmbedContents` call takes in the emulator."""

_DIMENSIONS = {"gemini-embedding-001": 3072, "text-embedding-004": 768, "embedding-001": 768}
_DEFAULT_DIMENSIONS = 3072
_TASK_TYPES = frozenset(
    {
        "TASK_TYPE_UNSPECIFIED",
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    }
)
_ROLES = frozenset({"user", "model", "function"})
_UPPER = re.compile(r"([A-Z])")


def field(body: Mapping[str, Any], camel: str) -> Any:
    """A field by its camelCase name or its snake_case one: proto JSON accepts both."""
    if camel in body:
        return body[camel]
    return body.get(_UPPER.sub(lambda m: "_" + m.group(1).lower(), camel))


def model_id(model: str) -> str:
    return model.removeprefix("models/")


def _texts(content: Any, where: str) -> list[str]:
    if not isinstance(content, Mapping):
        raise ApiError(400, f"* {where}: a Content object is required")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise ApiError(400, f"* {where}.parts: contents.parts must not be empty.")
    if not all(isinstance(part, Mapping) for part in parts):
        raise ApiError(400, f"* {where}.parts: each part must be an object.")
    return [part["text"] for part in parts if isinstance(part.get("text"), str)]


def _integer(config: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = field(config, name)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ApiError(400, f"Invalid value at 'generation_config.{name}': {low} to {high}.")
    return value


def _openapi(schema: Any) -> Any:
    """An OpenAPI-subset `responseSchema` (types in capitals, `nullable`) as JSON Schema."""
    if isinstance(schema, list):
        return [_openapi(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {key: _openapi(value) for key, value in schema.items() if key != "nullable"}
    kind = schema.get("type")
    if isinstance(kind, str):
        out["type"] = [kind.lower(), "null"] if schema.get("nullable") else kind.lower()
    if isinstance(schema.get("properties"), Mapping):
        out["properties"] = {k: _openapi(v) for k, v in schema["properties"].items()}
    return out


def _schema(config: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None]:
    mime = field(config, "responseMimeType")
    json_schema = field(config, "responseJsonSchema")
    openapi = field(config, "responseSchema")
    if json_schema is not None and openapi is not None:
        raise ApiError(400, "responseSchema and responseJsonSchema cannot both be set.")
    schema = json_schema if json_schema is not None else _openapi(openapi)
    if schema is not None and mime not in ("application/json", "text/x.enum"):
        raise ApiError(
            400, "response_mime_type must be application/json when a response schema is set."
        )
    if schema is not None and not isinstance(schema, Mapping):
        raise ApiError(400, "Invalid value at 'generation_config.response_schema'.")
    if mime == "application/json" and schema is None:
        schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    return mime, schema


def _answer(prompt: str, mime: str | None, schema: Any, seed: int) -> str:
    if mime == "text/x.enum" and schema is not None:
        return str(random.Random(seed).choice(list(schema.get("enum") or ["none"])))
    if schema is not None:
        return msgspec.json.encode(schema_answer(schema, seed)).decode()
    return text_answer(prompt, seed)


def generate(model: str, body: Mapping[str, Any], *, response_id: str) -> dict[str, Any]:
    """A `GenerateContentResponse`: JSON valid for the response schema when one is set.

    `maxOutputTokens` truncates text answers (`finishReason: MAX_TOKENS`); JSON answers are
    never truncated, so they always parse.
    """
    contents = field(body, "contents")
    if not isinstance(contents, list) or not contents:
        raise ApiError(400, "* GenerateContentRequest.contents: contents is not specified")
    texts: list[str] = []
    turns: list[tuple[str, list[Any]]] = []
    prompt = ""
    for index, content in enumerate(contents):
        found = _texts(content, f"GenerateContentRequest.contents[{index}]")
        role = content.get("role") or "user"
        if role not in _ROLES:
            raise ApiError(400, "Please use a valid role: user, model.")
        texts.extend(found)
        turns.append((role, content["parts"]))
        if role == "user" and found:
            prompt = " ".join(found)
    system_instruction = field(body, "systemInstruction")
    system: list[str] = []
    if system_instruction is not None:
        system = _texts(system_instruction, "GenerateContentRequest.system_instruction")
    config = field(body, "generationConfig") or {}
    if not isinstance(config, Mapping):
        raise ApiError(400, "Invalid value at 'generation_config': an object is required.")
    limit = _integer(config, "maxOutputTokens", 1, 1_000_000)
    count = _integer(config, "candidateCount", 1, 8) or 1
    temperature = field(config, "temperature")
    if temperature is not None and not (
        isinstance(temperature, int | float) and 0 <= temperature <= 2
    ):
        raise ApiError(400, "Invalid value at 'generation_config.temperature': 0 to 2.")
    mime, schema = _schema(config)
    seed = request_seed("generate", model_id(model), turns, system, mime, schema)
    candidates: list[dict[str, Any]] = []
    output_tokens = 0
    for index in range(count):
        finish = "STOP"
        text = _answer(prompt, mime, schema, seed + index)
        if schema is None and limit is not None and estimate_tokens(text) > limit:
            text, finish = text[: limit * 4], "MAX_TOKENS"
        output_tokens += estimate_tokens(text)
        candidates.append(
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": finish,
                "index": index,
            }
        )
    system_tokens = sum(estimate_tokens(t) for t in system)
    prompt_tokens = system_tokens + sum(estimate_tokens(t) for t in texts)
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    cached = (system_tokens // 128) * 128 if prompt_tokens >= CACHE_MIN_TOKENS else 0
    if cached:
        usage["cachedContentTokenCount"] = cached
    return {
        "candidates": candidates,
        "usageMetadata": usage,
        "modelVersion": model_id(model),
        "responseId": response_id,
    }


def embed(model: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """An `EmbedContentResponse`: one unit vector, seeded by model, task, title and text."""
    text = " ".join(_texts(field(body, "content"), "EmbedContentRequest.content"))
    if not text.strip():
        raise ApiError(400, "* EmbedContentRequest.content: contents is not specified")
    task = field(body, "taskType")
    if task is not None and task not in _TASK_TYPES:
        raise ApiError(400, f"Invalid value at 'task_type' ({task!r}).")
    title = field(body, "title")
    dimensions = _integer(body, "outputDimensionality", 1, _DEFAULT_DIMENSIONS)
    if dimensions is None:
        dimensions = _DIMENSIONS.get(model_id(model), _DEFAULT_DIMENSIONS)
    key = "\x1f".join([model_id(model), str(task or ""), str(title or ""), text])
    tokens = estimate_tokens(text)
    return {
        "embedding": {"values": embedding_vector(key, dimensions)},
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
    }


def batch_embed(model: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A `batchEmbedContents` answer: one embedding per request, in request order."""
    requests = field(body, "requests")
    if not isinstance(requests, list) or not requests:
        raise ApiError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    if len(requests) > MAX_EMBED_REQUESTS:
        raise ApiError(400, f"At most {MAX_EMBED_REQUESTS} requests can be in one batch.")
    embeddings: list[Any] = []
    tokens = 0
    for index, item in enumerate(requests):
        if not isinstance(item, Mapping):
            raise ApiError(400, f"* BatchEmbedContentsRequest.requests[{index}]: an object.")
        named = item.get("model")
        if named is not None and model_id(str(named)) != model_id(model):
            raise ApiError(
                400,
                f"* BatchEmbedContentsRequest.requests[{index}].model: the model must be "
                f"{model}, the model in the URL.",
            )
        answer = embed(model, item)
        embeddings.append(answer["embedding"])
        tokens += answer["usageMetadata"]["promptTokenCount"]
    return {
        "embeddings": embeddings,
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
    }

"""structlog, set up once per process, with every secret redacted before anything is written.

Keys leak through logs in three ways: under a telling field name (`api_key=`), inside text (a
URL with `?key=`, an exception message, a `Bearer` header) and through tracebacks that show
each frame's locals. So redaction works on field names, on known key shapes, and on the exact
value of every registered secret (any provider's format), both on the event dict and on the
rendered text; tracebacks are rendered without locals. Standard-library records (aiohttp,
asyncio) go through the same processors.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, TextIO
from urllib.parse import quote

import structlog
from structlog.typing import EventDict, Processor, ProcessorReturnValue, WrappedLogger

from batchery.secrets import MASK, Secret

__all__ = [
    "NOISY_LOGGERS",
    "configure_logging",
    "redact_event",
    "redact_text",
    "redact_value",
    "register_secret",
]

_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

NOISY_LOGGERS: Final = (
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.server",
    "httpx",
    "httpcore",
    "urllib3",
    "openai",
    "anthropic",
)
"""HTTP loggers held at WARNING: at INFO and DEBUG they log request URLs and retries."""

_SECRET_FIELDS: Final = frozenset(
    {
        "api_key",
        "apikey",
        "authorization",
        "proxy_authorization",
        "x_api_key",
        "x_goog_api_key",
        "token",
        "secret",
        "password",
        "cookie",
        "set_cookie",
    }
)
_SECRET_FIELD_SUFFIXES: Final = ("_api_key", "_token", "_secret", "_password")

_TEXT_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|x-api-key|x-goog-api-key|api[_-]?key)"
            r"""(["']?\s*[:=]\s*["']?)(?:(?:basic|bearer|token)\s+)?[^\s"',;&}\]]+"""
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), f"Bearer {MASK}"),
    (
        re.compile(
            r"(?i)([?&;](?:key|api_key|apikey|token|access_token|secret|password)=)"
            r"""[^&#\s"'<>]+"""
        ),
        rf"\1{MASK}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@"), rf"\1{MASK}@"),
    (re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_-]{12,}"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), MASK),
    (re.compile(r"\bpa-[A-Za-z0-9_-]{16,}"), MASK),
)


class _Registry:
    """Exact secret values, with their URL- and JSON-escaped forms, as one alternation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            ordered = sorted(self._values, key=len, reverse=True)
            self.pattern = re.compile("|".join(map(re.escape, ordered)))


_registry = _Registry()


def register_secret(value: str | Secret) -> None:
    """Redact this exact value wherever it appears from now on; registrations are permanent."""
    raw = value.reveal() if isinstance(value, Secret) else value
    if raw:
        _registry.add(raw)


def redact_text(text: str) -> str:
    """`text` with registered secrets and known key shapes replaced by the mask."""
    pattern = _registry.pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for rule, replacement in _TEXT_RULES:
        text = rule.sub(replacement, text)
    return text


def _is_secret_field(name: str) -> bool:
    normal = name.lower().replace("-", "_")
    return normal in _SECRET_FIELDS or normal.endswith(_SECRET_FIELD_SUFFIXES)


def redact_value(value: object) -> object:
    """A copy of `value` with secrets masked, through nested mappings, lists and tuples."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Secret):
        register_secret(value)
        return MASK
    if isinstance(value, Mapping):
        return {
            key: MASK
            if isinstance(key, str) and _is_secret_field(key) and item is not None
            else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item) for item in value)
    return value


def redact_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: masks secrets in every field; `exc_info` is left for the renderer."""
    for key, value in event_dict.items():
        if key == "exc_info":
            continue
        if _is_secret_field(key) and value is not None:
            event_dict[key] = MASK
        else:
            event_dict[key] = redact_value(value)
    return event_dict


class _Redacted:
    """Runs the renderer, then redacts the line it produced, traceback text included.

    This catches what the event dict cannot show: reprs of arbitrary objects and exceptions.
    """

    def __init__(self, inner: Processor) -> None:
        self._inner = inner

    def __call__(
        self, logger: WrappedLogger, method_name: str, event_dict: EventDict
    ) -> ProcessorReturnValue:
        produced = self._inner(logger, method_name, event_dict)
        return redact_text(produced) if isinstance(produced, str) else produced


class _State:
    handlers: tuple[logging.Handler, ...] = ()


class _CurrentStderr:
    """Whatever `sys.stderr` is at the moment of writing.

    A live progress display swaps `sys.stderr` for a proxy that prints above its bars; writing
    through this keeps log lines from tearing the display apart.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return _is_terminal(sys.stderr)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _renderer(fmt: str, stream: object) -> tuple[Processor, Processor]:
    """The exception step and the renderer for `fmt`; neither ever shows a frame's locals."""
    console = fmt == "console" or (fmt == "auto" and _is_terminal(stream))
    if console:
        return (
            structlog.processors.ExceptionRenderer(),
            structlog.dev.ConsoleRenderer(
                colors=_is_terminal(stream),
                exception_formatter=structlog.dev.plain_traceback,
            ),
        )
    return (
        structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        ),
        structlog.processors.JSONRenderer(),
    )


_PRE_CHAIN: Final[tuple[Processor, ...]] = (
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
)


def _handler(handler: logging.Handler, levelno: int, fmt: str, stream: object) -> logging.Handler:
    """`handler` rendering structlog and standard-library records alike, redacted."""
    exceptions, renderer = _renderer(fmt, stream)
    handler.setLevel(levelno)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_PRE_CHAIN[:2], structlog.stdlib.add_logger_name, _PRE_CHAIN[2]],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact_event,
                exceptions,
                _Redacted(renderer),
            ],
        )
    )
    return handler


def _level(level: str) -> int:
    if level not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(_LEVELS)}")
    return _LEVELS[level]


def configure_logging(
    *,
    level: str = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    secrets: Iterable[str | Secret] = (),
    log_file: Path | None = None,
    file_level: str = "info",
) -> None:
    """Send structlog and standard-library logging to `stream` (stderr), redacted.

    `fmt` is `auto` (console on a terminal, JSON otherwise), `console` or `json`. With
    `log_file`, every record at `file_level` or above also goes there as JSON, whatever the
    stream shows. Calling it again replaces the previous configuration instead of adding to it.
    """
    levelno = _level(level)
    file_levelno = _level(file_level)
    if fmt not in ("auto", "console", "json"):
        raise ValueError(f"unknown log format {fmt!r}; expected auto, console or json")
    for secret in secrets:
        register_secret(secret)
    out: TextIO | _CurrentStderr = stream if stream is not None else _CurrentStderr()
    handlers: list[logging.Handler] = [_handler(logging.StreamHandler(out), levelno, fmt, out)]
    if log_file is not None:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        handlers.append(_handler(file_handler, file_levelno, "json", None))
    lowest = min(handler.level for handler in handlers)

    structlog.configure(
        processors=[*_PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(lowest),
        logger_factory=structlog.stdlib.LoggerFactory(),
        context_class=dict,
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for old in _State.handlers:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(lowest)
    _State.handlers = tuple(handlers)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(lowest, logging.WARNING))

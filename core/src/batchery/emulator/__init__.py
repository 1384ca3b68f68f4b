"""The emulator kit: the provider-neutral parts every provider emulator is built from.

A scaled clock makes provider time pass faster, a fault plan says which failures to inject,
deterministic answers follow the request (and its JSON schema), a rate window counts requests
and tokens per emulated minute, and a server base runs the provider's aiohttp application on
loopback. For APIs in the Files-and-Batches style there is an on-disk file store, a batch
engine that walks the status timeline over the scaled clock, the JSONL result writer with the
plan's line faults, and the wire shapes such APIs spell alike.
"""

from batchery.emulator._answers import (
    content_text,
    embedding_vector,
    request_seed,
    schema_answer,
    text_answer,
)
from batchery.emulator._batch_io import (
    MALFORMED_VARIANTS,
    MAX_REPORTED_ERRORS,
    SHUFFLE_WINDOW,
    LineSink,
    Outcome,
    Render,
    ResultFiles,
    Validation,
    draw_failures,
    input_lines,
    malform,
    shuffle_order,
    write_result_files,
)
from batchery.emulator._batches import Batch, BatchEngine, Timeline
from batchery.emulator._clock import ScaledClock, taking
from batchery.emulator._emulator import StorageEmulator
from batchery.emulator._faults import FAULTS, FaultKind, FaultPlan
from batchery.emulator._files import FileRecord, FileStore, StoredFile, Upload, link_copy
from batchery.emulator._http import (
    EmulatorError,
    api_middleware,
    bearer_token,
    decode_json,
    drop_connection,
    int_query,
    json_response,
    key_matches,
)
from batchery.emulator._ids import RandomIds, derived_id, rfc3339
from batchery.emulator._ratelimit import RateDecision, RateWindow
from batchery.emulator._server import EmulatorServer
from batchery.emulator._tokens import estimate_tokens
from batchery.emulator._wire import (
    BatchError,
    BatchErrors,
    DeletedFile,
    ListPage,
    RequestCounts,
    paginate,
)

__all__ = [
    "FAULTS",
    "MALFORMED_VARIANTS",
    "MAX_REPORTED_ERRORS",
    "SHUFFLE_WINDOW",
    "Batch",
    "BatchEngine",
    "BatchError",
    "BatchErrors",
    "DeletedFile",
    "EmulatorError",
    "EmulatorServer",
    "FaultKind",
    "FaultPlan",
    "FileRecord",
    "FileStore",
    "LineSink",
    "ListPage",
    "Outcome",
    "RandomIds",
    "RateDecision",
    "RateWindow",
    "Render",
    "RequestCounts",
    "ResultFiles",
    "ScaledClock",
    "StorageEmulator",
    "StoredFile",
    "Timeline",
    "Upload",
    "Validation",
    "api_middleware",
    "bearer_token",
    "content_text",
    "decode_json",
    "derived_id",
    "draw_failures",
    "drop_connection",
    "embedding_vector",
    "estimate_tokens",
    "input_lines",
    "int_query",
    "json_response",
    "key_matches",
    "link_copy",
    "malform",
    "paginate",
    "request_seed",
    "rfc3339",
    "schema_answer",
    "shuffle_order",
    "taking",
    "text_answer",
    "write_result_files",
]

"""OpenAI's Files and Batches protocol, once, for every provider that speaks it.

`BatchApi` makes the calls (upload, find an upload, create, read, list, cancel, result files),
`read_line` and `collect_lines` turn result lines into results through a dialect's
`ResultReader`, and `batch_state` reads a batch object through a dialect's status table. The
wire views are the fields the dialects share; each provider keeps its request bodies, answers
and errors. `batchery_openai_batch.emulator` is the same protocol served by an emulator.
"""

from batchery_openai_batch._api import BatchApi, BatchPaths, upload_name
from batchery_openai_batch._lines import ResultReader, collect_lines, distinct, read_line
from batchery_openai_batch._state import (
    OPENAI_STATUSES,
    TAG_KEY,
    batch_state,
    parse_time,
    read_status,
)
from batchery_openai_batch._wire import (
    BatchErrors,
    BatchErrorView,
    BatchList,
    BatchView,
    FileList,
    FileView,
    LineError,
    OutputLine,
    RequestCounts,
    ResponseView,
    Stamp,
)

__all__ = [
    "OPENAI_STATUSES",
    "TAG_KEY",
    "BatchApi",
    "BatchErrorView",
    "BatchErrors",
    "BatchList",
    "BatchPaths",
    "BatchView",
    "FileList",
    "FileView",
    "LineError",
    "OutputLine",
    "RequestCounts",
    "ResponseView",
    "ResultReader",
    "Stamp",
    "batch_state",
    "collect_lines",
    "distinct",
    "parse_time",
    "read_line",
    "read_status",
    "upload_name",
]

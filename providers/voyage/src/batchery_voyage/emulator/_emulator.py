"""`VoyageEmulator`: Voyage's Files, Batches and realtime APIs on loopback HTTP."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from batchery.emulator import FAULTS
from batchery_openai_batch.emulator import BatchEmulator

from batchery_voyage.emulator._app import build_app
from batchery_voyage.emulator._batches import BatchStore
from batchery_voyage.emulator._files import FileStore
from batchery_voyage.emulator._http import Ids
from batchery_voyage.emulator._wire import BatchObject, FileObject

__all__ = ["SUPPORTED_FAULTS", "VoyageEmulator"]

SUPPORTED_FAULTS = frozenset(FAULTS) - {"http_529", "fenced_json", "prose_json", "truncated_json"}
"""Every fault of the kit's catalogue except Anthropic's `http_529` and the JSON-answer faults of
chat, which Voyage does not serve. `token_limit` fails a batch in validation over Voyage's
1B-token in-flight limit; Voyage documents only that work over a limit is refused, so where it
refuses it is the emulator's guess."""


class VoyageEmulator(BatchEmulator[FileObject, BatchObject]):
    """Voyage's API under `base_url` (`http://127.0.0.1:PORT/v1`), for tests and demos.

    Any bearer key is accepted unless `api_key` is given, in which case it must match. Files
    live in a temporary directory the emulator owns and removes on `close`. `options.faults`
    is parsed at once, so a bad spec raises `ValueError` here rather than at the first request;
    the emulated clock starts now, and `clock.advance` can jump it forward.
    """

    base_path = "/v1"
    supported_faults = SUPPORTED_FAULTS
    storage_prefix = "batchery-voyage-emulator-"

    def open(self, directory: Path) -> tuple[FileStore, BatchStore, web.Application]:
        ids = Ids()
        files = FileStore(directory, ids, self.clock)
        batches = BatchStore(directory, files, ids, self.clock, self.plan)
        return files, batches, build_app(self, files=files, batches=batches, ids=ids)

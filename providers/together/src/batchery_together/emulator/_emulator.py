"""`TogetherEmulator`: Together's Files, Batches and chat APIs on loopback HTTP.

Built on OpenAI's emulator, whose chat answers, batch engine and result lines Together shares;
uploads land at `/v1/files/upload` with purpose `batch-api`, and batches answer in Together's
objects (`TogetherBatches`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from batchery_openai.emulator import (
    SUPPORTED_FAULTS,
    BatchStore,
    FileObject,
    FileStore,
    Ids,
    build_app,
)
from batchery_openai_batch.emulator import BatchEmulator

from batchery_together.emulator._wire import TogetherBatch, TogetherBatches

__all__ = ["TogetherEmulator"]

_PURPOSE = "batch-api"


def _job(batch: Any) -> dict[str, Any]:
    """A create's answer: the batch under `job`, as Together wraps it."""
    return {"job": batch, "warning": None}


class TogetherEmulator(BatchEmulator[FileObject, TogetherBatch]):
    """Together's API under `base_url` (`http://127.0.0.1:PORT/v1`), for tests and demos.

    Any bearer key is accepted unless `api_key` is given, in which case it must match; the
    faults are the OpenAI emulator's.
    """

    base_path = "/v1"
    supported_faults = SUPPORTED_FAULTS
    storage_prefix = "batchery-together-emulator-"

    def open(self, directory: Path) -> tuple[FileStore, TogetherBatches, web.Application]:
        ids = Ids()
        files = FileStore(
            directory, ids, self.clock, batch_purpose=_PURPOSE, fields=frozenset({"file_name"})
        )
        engine = BatchStore(directory, files, ids, self.clock, self.plan, input_purpose=_PURPOSE)
        batches = TogetherBatches(engine)
        app = build_app(
            self, files=files, batches=batches, ids=ids, upload="/files/upload", answer_create=_job
        )
        return files, batches, app

"""`GeminiEmulator`: the Gemini API's batches, File API, generation and embeddings on loopback."""

from __future__ import annotations

from aiohttp import web
from batchery.emulator import FAULTS, StorageEmulator
from batchery.spi import EmulatorOptions

from batchery_gemini.emulator._app import build_app
from batchery_gemini.emulator._batches import BatchStore
from batchery_gemini.emulator._files import FileStore
from batchery_gemini.emulator._http import RecordedRequest, RequestLog
from batchery_gemini.emulator._wire import FileResource, Operation

__all__ = ["SUPPORTED_FAULTS", "GeminiEmulator"]

SUPPORTED_FAULTS = frozenset(FAULTS) - {
    "http_529",
    "token_limit",
    "empty_error_file",
    "fenced_json",
    "prose_json",
    "truncated_json",
}
"""The kit's faults that apply to Gemini: not Anthropic's `http_529`, nor OpenAI's
`token_limit` and `empty_error_file`, which have no Gemini counterpart."""


class GeminiEmulator(StorageEmulator):
    """The Gemini API under `base_url` (`http://127.0.0.1:PORT`, the API version in each path).

    Any key is accepted unless `api_key` is given, in which case it must match. Batch states are
    spelled `BATCH_STATE_*`, as the API reference has them, or `JOB_STATE_*` with
    `job_states=True`. Files live in a temporary directory the emulator owns and removes on
    `close`. `options.faults` is parsed at once, so a bad spec raises `ValueError` here; the
    emulated clock starts now, and `clock.advance` can jump it forward.
    """

    supported_faults = SUPPORTED_FAULTS
    storage_prefix = "batchery-gemini-emulator-"

    def __init__(
        self,
        options: EmulatorOptions | None = None,
        *,
        api_key: str | None = None,
        job_states: bool = False,
    ) -> None:
        super().__init__(options, api_key=api_key)
        self._state_prefix = "JOB_STATE_" if job_states else "BATCH_STATE_"
        self._log = RequestLog()
        self._files: FileStore | None = None
        self._batches: BatchStore | None = None

    def build_app(self) -> web.Application:
        directory = self.new_storage()
        self._files = FileStore(directory, self.clock)
        self._batches = BatchStore(
            directory, self._files, self.clock, self.plan, self._state_prefix
        )
        return build_app(
            files=self._files,
            batches=self._batches,
            clock=self.clock,
            plan=self.plan,
            latency_s=self.options.latency_s,
            api_key=self._api_key,
            log=self._log,
            requests_per_min=self.options.requests_per_min,
            tokens_per_min=self.options.tokens_per_min,
        )

    async def drain(self) -> None:
        if self._batches is not None:
            await self._batches.wait_idle()
        if self._files is not None:
            self._files.discard_sessions()

    def batches(self) -> list[Operation]:
        """Every batch as last advanced, oldest first; `await refresh()` brings them to now."""
        return self._batches.snapshot() if self._batches is not None else []

    def files(self) -> list[FileResource]:
        """Every stored file, uploaded and generated, oldest first."""
        return self._files.snapshot() if self._files is not None else []

    def requests(self) -> list[RecordedRequest]:
        """The requests received so far (method and path with query), oldest first."""
        return self._log.entries()

    async def refresh(self) -> None:
        """Advance every batch to the current emulated time, as a read through the API would."""
        if self._batches is not None:
            await self._batches.refresh()

"""How the public API reads to a type checker: every value a caller gets back has a type.

Checked by mypy (strict) from `test_public_api_types.py`; never run.
"""

from __future__ import annotations

from typing import assert_type

from batchery import JobStatus, LlmRequest, LlmResult, Message, Mode
from batchery.app import build_application
from batchery.events import RunEvent, RunFinished, decode_event
from batchery.model import ErrorInfo, Usage
from batchery.modules import Application
from batchery.service import BatchLlmService, JobReport, RunOutcome, RunPlan
from batchery.settings import LoadedSettings, Settings, load_settings
from batchery.store import JobCounts


async def a_run_from_python() -> None:
    loaded = load_settings(environ={})
    assert_type(loaded, LoadedSettings)
    assert_type(loaded.settings, Settings)

    app = await build_application(loaded.settings, only=["openai"])
    assert_type(app, Application)
    service = await app.get("batchery.service", BatchLlmService)
    assert_type(service, BatchLlmService)

    requests = [LlmRequest(custom_id="a", messages=(Message("user", "hi"),))]
    plan = await service.plan(requests, mode=Mode.BATCH)
    assert_type(plan, RunPlan)
    outcome = await service.run(requests, mode=Mode.AUTO, deadline_s=3600.0)
    assert_type(outcome, RunOutcome)
    assert_type(outcome.counts, JobCounts)
    assert_type(outcome.job.status, JobStatus)
    assert_type(outcome.counts.succeeded, int)

    report = await service.get_batch_status(outcome.job.id, refresh=False)
    assert_type(report, JobReport)
    async for result in service.get_batch_results(outcome.job.id):
        assert_type(result, LlmResult)
        assert_type(result.ok, bool)
        assert_type(result.text, str | None)
        assert_type(result.error, ErrorInfo | None)
        assert_type(result.usage, Usage)

    for _, body in await service.store.events(outcome.job.id, after_seq=0):
        event = decode_event(body)
        assert_type(event, RunEvent)
        if isinstance(event, RunFinished):
            assert_type(event.savings_usd, float)
    await app.close()

"""Running workloads: `BatchLlmService` and the batch and realtime paths behind it."""

from batchery.service.batch_llm_service import BatchLlmService
from batchery.service.options import ServiceOptions
from batchery.service.planning import InvalidInputError, ModeUnavailableError, RunPlan
from batchery.service.reports import (
    EndpointMismatchError,
    JobReport,
    RunOutcome,
    UnknownProviderError,
)
from batchery.service.validation import Finding

__all__ = [
    "BatchLlmService",
    "EndpointMismatchError",
    "Finding",
    "InvalidInputError",
    "JobReport",
    "ModeUnavailableError",
    "RunOutcome",
    "RunPlan",
    "ServiceOptions",
    "UnknownProviderError",
]

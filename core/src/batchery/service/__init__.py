"""Running workloads: `BatchLlmService` and the batch and realtime paths behind it."""

from batchery.service.batch_llm_service import (
    BatchLlmService,
    InvalidInputError,
    JobReport,
    RunOutcome,
    UnknownProviderError,
)
from batchery.service.options import ServiceOptions

__all__ = [
    "BatchLlmService",
    "InvalidInputError",
    "JobReport",
    "RunOutcome",
    "ServiceOptions",
    "UnknownProviderError",
]

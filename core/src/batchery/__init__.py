"""Batchery: run large LLM workloads at the lowest cost that still meets the deadline."""

from batchery.model import (
    BatchState,
    BatchStatus,
    ErrorInfo,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Message,
    Mode,
    RequestKind,
    Usage,
)

__all__ = [
    "BatchState",
    "BatchStatus",
    "ErrorInfo",
    "Job",
    "JobStatus",
    "LlmRequest",
    "LlmResult",
    "Message",
    "Mode",
    "RequestKind",
    "Usage",
]

"""The run id a LangGraph task gives its Batchery node: one per task, the same on every attempt."""

from __future__ import annotations

import hashlib

from langgraph.runtime import ExecutionInfo

__all__ = ["run_key"]


def run_key(info: ExecutionInfo | None, base: str | None = None) -> str | None:
    """A run id derived from LangGraph's execution info (under `base` if given), or None.

    LangGraph derives a task's id from its checkpoint, so the id is new for every step of every
    run and unchanged when a `RetryPolicy` retries the task or a checkpointed thread re-runs a
    task that failed. The attempt number is deliberately left out: a retry must find the jobs
    the failed attempt started and resume them, not submit the work again.
    """
    if info is None:
        return base
    parts = (info.thread_id or "", info.checkpoint_ns, info.task_id)
    key = "lg-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
    return key if base is None else f"{base}-{key}"

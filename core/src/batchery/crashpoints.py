"""Named places where a test may kill the process, to prove that a restart loses nothing.

Set `BATCHERY_CRASHPOINT=<name>` and the process exits at once (status 137, as after SIGKILL)
when it reaches that point: no cleanup, no flush, exactly like a crash.
"""

from __future__ import annotations

import os

__all__ = ["CRASHPOINTS", "crashpoint"]

CRASHPOINTS = frozenset(
    {
        "after_intent",
        "after_create_before_link",
        "after_link",
        "before_collect",
        "mid_collect",
        "after_collect_before_mark",
    }
)


def crashpoint(name: str) -> None:
    if name not in CRASHPOINTS:
        raise ValueError(f"unknown crashpoint {name!r}")
    if os.environ.get("BATCHERY_CRASHPOINT") == name:
        os._exit(137)

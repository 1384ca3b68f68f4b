"""What the `batchery` group hands its commands through click's context.

Its own module, so the group can set it without importing what the commands need.
"""

from __future__ import annotations

__all__ = ["LOGGING_META"]

LOGGING_META = "batchery.logging"
"""`ctx.meta` key of `(verbosity, log file or None)` from `-v` and `--log-file`."""

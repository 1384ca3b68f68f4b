"""The knobs `BatchLlmService` runs with, taken from the effective settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

__all__ = ["ServiceOptions"]

if TYPE_CHECKING:
    from batchery.settings import Settings


class ServiceOptions(msgspec.Struct, frozen=True, kw_only=True):
    default_provider: str = "openai"
    default_model: str | None = None
    batch_threshold: int = 20
    poll_interval_s: float = 2.0
    poll_backoff: float = 1.5
    poll_max_interval_s: float = 60.0
    max_requests_per_batch: int | None = None
    max_bytes_per_batch: int | None = None
    realtime_concurrency: int = 16
    max_attempts: int = 3
    reconcile_grace_s: float = 5.0
    not_found_grace_s: float = 600.0
    """How long after our own create a 404 still counts as the provider catching up."""
    lease_s: float = 30.0
    """How long a job's lease lasts unless renewed; another process may take over after it."""
    heartbeat_s: float = 5.0
    """How often the driver renews its lease and looks for a cancel request in the store."""
    fallback: bool = True
    """Finish what a batch left undone (failed, expired, late, retryable errors) in realtime."""
    use_cache: bool = True
    """Serve repeated requests from the result cache; False asks the provider every time."""
    strict: bool = False
    """Refuse, rather than warn about, a model the provider does not list or a line's model
    that overrides the run's."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceOptions:
        """Every option from the setting of its name, so none can be left behind."""
        return msgspec.convert(settings, cls, from_attributes=True)

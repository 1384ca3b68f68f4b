"""The knobs `BatchLlmService` runs with, taken from the effective settings."""

from __future__ import annotations

from typing import Protocol

import msgspec

__all__ = ["ServiceOptions"]


class _SettingsLike(Protocol):
    @property
    def default_provider(self) -> str: ...
    @property
    def default_model(self) -> str | None: ...
    @property
    def batch_threshold(self) -> int: ...
    @property
    def poll_interval_s(self) -> float: ...
    @property
    def poll_backoff(self) -> float: ...
    @property
    def poll_max_interval_s(self) -> float: ...
    @property
    def max_requests_per_batch(self) -> int | None: ...
    @property
    def max_bytes_per_batch(self) -> int | None: ...
    @property
    def realtime_concurrency(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def reconcile_grace_s(self) -> float: ...
    @property
    def lease_s(self) -> float: ...
    @property
    def heartbeat_s(self) -> float: ...
    @property
    def fallback(self) -> bool: ...
    @property
    def use_cache(self) -> bool: ...
    @property
    def strict(self) -> bool: ...


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
    def from_settings(cls, settings: _SettingsLike) -> ServiceOptions:
        return cls(
            default_provider=settings.default_provider,
            default_model=settings.default_model,
            batch_threshold=settings.batch_threshold,
            poll_interval_s=settings.poll_interval_s,
            poll_backoff=settings.poll_backoff,
            poll_max_interval_s=settings.poll_max_interval_s,
            max_requests_per_batch=settings.max_requests_per_batch,
            max_bytes_per_batch=settings.max_bytes_per_batch,
            realtime_concurrency=settings.realtime_concurrency,
            max_attempts=settings.max_attempts,
            reconcile_grace_s=settings.reconcile_grace_s,
            lease_s=settings.lease_s,
            heartbeat_s=settings.heartbeat_s,
            fallback=settings.fallback,
            use_cache=settings.use_cache,
            strict=settings.strict,
        )

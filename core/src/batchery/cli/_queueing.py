"""What `batchery submit` and `batchery worker` share: the store URL and the work queue in it.

Core ships no queue: `batchery.work_queue` finds the installed one (`batchery-queue` for
PostgreSQL stores), and a missing one is a usage error naming the package to install.
"""

from __future__ import annotations

from batchery.cli._common import settings_from
from batchery.cli._errors import CliError
from batchery.cli._exit import ExitCode
from batchery.settings import LoadedSettings
from batchery.work_queue import WorkQueueFactory, WorkQueueUnavailableError, work_queue_factory

__all__ = ["queue_settings"]


def queue_settings(
    command: str, config_file: str | None, store: str | None
) -> tuple[LoadedSettings, str, WorkQueueFactory]:
    """The command's settings, its store URL and the work queue kept in that store."""
    loaded = settings_from(config_file, {"store": store})
    store_url = loaded.settings.store_url()
    try:
        factory = work_queue_factory(store_url)
    except WorkQueueUnavailableError as exc:
        raise CliError(f"batchery {command}: {exc}", ExitCode.USAGE) from None
    return loaded, store_url, factory

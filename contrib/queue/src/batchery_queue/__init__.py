"""A Batchery work queue on PostgreSQL, built on pgqueuer.

Installed next to `batchery-postgres`, it is the queue `batchery submit` and
`batchery worker` find for `postgresql://` stores (the `batchery.work_queues` entry points):
submit stores a checked run and queues it; workers take queued runs, highest priority first
and none before its time, and drive each one.
"""

from batchery_queue._queue import PgWorkQueue, entrypoint, open_pg_work_queue

__all__ = ["PgWorkQueue", "entrypoint", "open_pg_work_queue"]

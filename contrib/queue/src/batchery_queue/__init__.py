"""A Batchery work queue on PostgreSQL, built on pgqueuer.

`batchery submit` stores a checked run in the PostgreSQL job store and queues it;
`batchery worker` takes queued runs, highest priority first and none before its time, and
drives each one. Installed next to `batchery-postgres`, it adds those two commands.
"""

"""The progress server: REST snapshots, the authorised WebSocket feed, the live page, metrics.

Build it with `batchery.server.app.create_app`; the wire types in `batchery.server.wire` are
importable without Litestar, which is how `batchery.client` uses them. The package itself
exports nothing, so importing it never loads Litestar.
"""

__all__: list[str] = []

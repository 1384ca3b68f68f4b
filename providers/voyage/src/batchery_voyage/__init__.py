"""Voyage AI for Batchery: batch and realtime embeddings, contextual embeddings and rerank.

Voyage's Files and Batches API (12 h window, 33% discount) and its realtime endpoints, through
aiohttp, with an emulator in `batchery_voyage.emulator`.
"""

from batchery_voyage._module import VoyageModule
from batchery_voyage._options import VoyageOptions, create_session, options_from
from batchery_voyage._provider import VoyageProvider

__all__ = [
    "VoyageModule",
    "VoyageOptions",
    "VoyageProvider",
    "create_session",
    "options_from",
]

"""Together AI for Batchery: the Batch API and realtime chat, on OpenAI's wire, and an emulator.

A small package on purpose: the request bodies and answers are `batchery_openai`'s, the Files
and Batches protocol is `batchery_openai_batch`'s; only Together's twists live here.
"""

from batchery_together._module import TogetherModule
from batchery_together._options import DEFAULT_BASE_URL, from_env, options_from
from batchery_together._provider import TogetherProvider

__all__ = ["DEFAULT_BASE_URL", "TogetherModule", "TogetherProvider", "from_env", "options_from"]

"""The emulator kit: the provider-neutral parts every provider emulator is built from.

A scaled clock makes provider time pass faster, a fault plan says which failures to inject,
deterministic answers follow the request (and its JSON schema), a rate window counts requests
and tokens per emulated minute, and a server base runs the provider's aiohttp application on
loopback.
"""

from batchery.emulator._answers import embedding_vector, request_seed, schema_answer, text_answer
from batchery.emulator._clock import ScaledClock
from batchery.emulator._faults import FAULTS, FaultKind, FaultPlan
from batchery.emulator._ratelimit import RateDecision, RateWindow
from batchery.emulator._server import EmulatorServer
from batchery.emulator._tokens import estimate_tokens

__all__ = [
    "FAULTS",
    "EmulatorServer",
    "FaultKind",
    "FaultPlan",
    "RateDecision",
    "RateWindow",
    "ScaledClock",
    "embedding_vector",
    "estimate_tokens",
    "request_seed",
    "schema_answer",
    "text_answer",
]

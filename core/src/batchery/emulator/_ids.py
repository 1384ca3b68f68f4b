"""Ids and timestamps in the shapes provider APIs use, for any emulator.

Random ids come from a generator seeded from the operating system's entropy, once per
emulator: answers repeat with the seed, ids must not, or a job store that outlived one emulator
would take a restarted emulator's new batch for its own old one. Ids made in worker threads
(result lines, completions) are derived from their parts instead, so a batch's results are
reproducible.
"""

from __future__ import annotations

import hashlib
import os
import random
import string
from datetime import UTC, datetime

__all__ = ["RandomIds", "derived_id", "rfc3339"]

_ALNUM = string.ascii_letters + string.digits


class RandomIds:
    """Random id tails; each provider adds its own prefixes and lengths."""

    def __init__(self) -> None:
        self._rng = random.Random(os.urandom(32))

    def hex(self, n: int) -> str:
        """`n` lowercase hex digits."""
        return f"{self._rng.getrandbits(n * 4):0{n}x}"

    def alnum(self, n: int) -> str:
        """`n` ASCII letters and digits."""
        return "".join(self._rng.choices(_ALNUM, k=n))


def derived_id(prefix: str, *parts: object, digest_size: int = 16) -> str:
    """`prefix` and a hex digest fixed by the prefix and `parts`."""
    material = "\x1f".join([prefix, *map(str, parts)]).encode()
    return prefix + hashlib.blake2b(material, digest_size=digest_size).hexdigest()


def rfc3339(seconds: float, *, zulu: bool = False) -> str:
    """Unix seconds as UTC with microseconds: `…T19:52:02.536100+00:00`, or `…Z` with `zulu`."""
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z") if zulu else stamp

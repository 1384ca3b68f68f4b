"""Batchery custom_ids to Anthropic's `^[a-zA-Z0-9_-]{1,64}$` and back, without any memory.

After a crash the provider holds no table of what it sent, so the mapping is a pure function
of the id itself and its inverse is recomputed from the wire id alone:

- an id that already fits the pattern and does not start with `ENCODED_PREFIX` goes unchanged;
- any other id is sent as `ENCODED_PREFIX` + unpadded base64url of its UTF-8 bytes, which fits
  in 64 characters when the id has at most `MAX_ENCODED_BYTES` UTF-8 bytes;
- a longer one is refused by `id_problem` before anything is sent.

Plain ids never start with the prefix and encoded ones always do, and base64 is one-to-one, so
no two ids share a wire id. `from_wire` accepts only the canonical encoding of an id (the one
`to_wire` would produce), so no two wire ids decode to the same id either.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["ENCODED_PREFIX", "MAX_ENCODED_BYTES", "from_wire", "id_problem", "to_wire"]

ENCODED_PREFIX = "_b64_"
MAX_WIRE_LENGTH = 64
MAX_ENCODED_BYTES = (MAX_WIRE_LENGTH - len(ENCODED_PREFIX)) * 3 // 4
"""44: the most UTF-8 bytes whose unpadded base64 fits after the prefix."""

_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _is_plain(custom_id: str) -> bool:
    return _PLAIN.fullmatch(custom_id) is not None and not custom_id.startswith(ENCODED_PREFIX)


def id_problem(custom_id: str) -> str | None:
    """Why `custom_id` cannot be sent to Anthropic, said for a person; None when it can."""
    if not custom_id:
        return "custom_id must not be empty"
    if _is_plain(custom_id):
        return None
    try:
        size = len(custom_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "custom_id is not valid Unicode text"
    if size > MAX_ENCODED_BYTES:
        return (
            "custom_id is too long for Anthropic: ids of 1 to 64 letters, digits, '_' or '-' "
            f"(not starting with {ENCODED_PREFIX!r}) are sent as they are; any other id is "
            f"encoded and may have at most {MAX_ENCODED_BYTES} UTF-8 bytes (this one has {size})"
        )
    return None


def to_wire(custom_id: str) -> str:
    """The id Anthropic sees; raises ValueError for an id `id_problem` refuses."""
    problem = id_problem(custom_id)
    if problem is not None:
        raise ValueError(problem)
    if _is_plain(custom_id):
        return custom_id
    encoded = base64.urlsafe_b64encode(custom_id.encode("utf-8")).rstrip(b"=").decode("ascii")
    return ENCODED_PREFIX + encoded


def from_wire(wire_id: str) -> str | None:
    """The Batchery id behind a wire id; None when no id `to_wire` accepts maps onto it."""
    if not wire_id.startswith(ENCODED_PREFIX):
        return wire_id if _PLAIN.fullmatch(wire_id) else None
    payload = wire_id[len(ENCODED_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        custom_id = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if id_problem(custom_id) is not None or to_wire(custom_id) != wire_id:
        return None
    return custom_id

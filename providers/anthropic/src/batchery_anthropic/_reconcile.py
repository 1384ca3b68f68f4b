"""Finding the batch an interrupted create made, when Anthropic batches carry no tag.

A Message Batch has no metadata: all a list shows is its id, creation time and request counts.
So `find_batch` takes as candidates the batches created no earlier than `created_after` whose
request counts add up to the chunk's size, and applies the rule of failure-modes §2.4:

- a candidate this process already tied to the same tag (it created or adopted it) wins;
- candidates this process tied to another tag are never taken, so an equal-sized sibling chunk
  submitted moments earlier is not mistaken for this one;
- of the rest, exactly one is adopted as is, and of several the newest is adopted, since the
  chunks of a job are submitted in order and the lost create is the latest.

§2.4 also says to cancel the other candidates. This provider does not: after a restart its
memory of ties is empty, and equal-sized chunks are the rule rather than the exception (every
chunk but a job's last is full), so "the others" are most often a sibling chunk's live batch,
which cancelling would ruin. Ambiguous matches are logged instead, with every candidate's id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import msgspec

from ._wire import BatchView

__all__ = ["Claims", "Pick", "pick"]


class Claims:
    """Batch ids tied to tags in this process, the most recent `limit` of them."""

    __slots__ = ("_limit", "_tags")

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._tags: OrderedDict[str, str] = OrderedDict()

    def claim(self, batch_id: str, tag: str) -> None:
        self._tags[batch_id] = tag
        self._tags.move_to_end(batch_id)
        while len(self._tags) > self._limit:
            self._tags.popitem(last=False)

    def tag_of(self, batch_id: str) -> str | None:
        return self._tags.get(batch_id)


class Pick(msgspec.Struct, frozen=True):
    """The adopted batch, if any, and the other candidates that were passed over."""

    chosen: BatchView | None
    passed_over: tuple[BatchView, ...] = ()


def pick(candidates: Sequence[BatchView], *, tag: str, claims: Claims) -> Pick:
    """Apply the rule above to candidates given newest first, all of the right size and age."""
    for view in candidates:
        if claims.tag_of(view.id) == tag:
            return Pick(view, tuple(c for c in candidates if c.id != view.id))
    free = [view for view in candidates if claims.tag_of(view.id) is None]
    if not free:
        return Pick(None, tuple(candidates))
    return Pick(free[0], tuple(c for c in candidates if c.id != free[0].id))

"""Wire shapes that Files-and-Batches APIs in the same style spell alike.

Several providers copied one API's list pages, deletion receipts, batch error lists and request
counts field for field; they live here once. Fields sent as `null` are `None` defaults, never
omitted, because clients read them by key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import msgspec

__all__ = [
    "BatchError",
    "BatchErrors",
    "DeletedFile",
    "HasId",
    "ListPage",
    "RequestCounts",
    "paginate",
]

T = TypeVar("T")


class HasId(Protocol):
    @property
    def id(self) -> str: ...


class ListPage(msgspec.Struct, kw_only=True):
    data: list[Any]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None
    object: Literal["list"] = "list"

    @classmethod
    def of(cls, data: Sequence[HasId], *, has_more: bool) -> ListPage:
        """A page of `data`, its first and last ids taken from the items."""
        return cls(
            data=list(data),
            has_more=has_more,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )


class DeletedFile(msgspec.Struct, kw_only=True):
    id: str
    deleted: bool = True
    object: Literal["file"] = "file"


class BatchError(msgspec.Struct, kw_only=True):
    code: str
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(msgspec.Struct, kw_only=True):
    data: list[BatchError]
    object: Literal["list"] = "list"


class RequestCounts(msgspec.Struct, kw_only=True):
    total: int = 0
    completed: int = 0
    failed: int = 0


def paginate(
    items: list[T], *, after: str | None, limit: int, id_of: Callable[[T], str]
) -> tuple[list[T], bool]:
    """The `limit` items after the one with id `after` (none if unknown), and if more follow."""
    if after is not None:
        ids = [id_of(item) for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items[:limit], len(items) > limit

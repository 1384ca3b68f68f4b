"""What a finished run tells the console: failures grouped by reason, why nothing went out,
and the exit code a script can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec

from batchery.cli._exit import ExitCode
from batchery.cli._explain import UNREACHABLE_CODES
from batchery.model import LlmResult

__all__ = ["FailureGroup", "Tally", "reason_of"]

_EXAMPLES = 3
_GROUPS_SHOWN = 10


_LINE = re.compile(r"\bline \d+")
_WHERE = re.compile(r"^line …( \(custom_id '…'\))?: ")


def reason_of(message: str, custom_id: str) -> str:
    """`message` without what names one item (its line, its custom_id), so that the same
    reason groups together."""
    text = _LINE.sub("line …", message.replace(custom_id, "…"))
    return _WHERE.sub("", text)


class FailureGroup(msgspec.Struct, kw_only=True):
    code: str
    message: str
    count: int = 0
    examples: list[str] = msgspec.field(default_factory=list)


class Tally:
    """Counts results as they are written, so the report costs no second pass over the store."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], FailureGroup] = {}
        self.failed = 0
        self.answered = 0
        self.cached = 0
        self.reached = False

    def add(self, result: LlmResult) -> None:
        if result.ok:
            if result.cached:
                self.cached += 1
            else:
                self.answered += 1
                self.reached = True
            return
        self.failed += 1
        code = result.error.code if result.error else "unknown_error"
        message = (
            reason_of(result.error.message, result.custom_id)
            if result.error
            else "no answer was recorded"
        )
        if result.error is not None and result.error.status is not None:
            self.reached = self.reached or result.error.status not in (401, 403)
        group = self.groups.setdefault((code, message), FailureGroup(code=code, message=message))
        group.count += 1
        if len(group.examples) < _EXAMPLES:
            group.examples.append(result.custom_id)

    def ordered(self) -> list[FailureGroup]:
        """The failure groups, largest first."""
        return sorted(self.groups.values(), key=lambda g: (-g.count, g.code, g.message))

    @property
    def unreachable(self) -> int:
        return sum(g.count for g in self.groups.values() if g.code in UNREACHABLE_CODES)

    def nothing_sent(self, batches_submitted: int) -> bool:
        return batches_submitted == 0 and not self.reached

    def exit_code(self, status: str, batches_submitted: int) -> ExitCode:
        if status == "cancelled":
            return ExitCode.CANCELLED
        if self.nothing_sent(batches_submitted) and self.unreachable:
            return ExitCode.PROVIDER_UNAVAILABLE
        if self.failed:
            return ExitCode.SOME_FAILED
        return ExitCode.OK

    def lines(self, *, batches_submitted: int, mode_reason: str | None) -> Iterator[str]:
        """The end-of-run report, largest failure group first."""
        ordered = self.ordered()
        if ordered:
            yield f"{self.failed} failed:"
        for group in ordered[:_GROUPS_SHOWN]:
            more = ", …" if group.count > len(group.examples) else ""
            yield (
                f"  {group.count:>6}x {group.code}: {group.message} "
                f"(e.g. {', '.join(group.examples)}{more})"
            )
        if len(ordered) > _GROUPS_SHOWN:
            rest = sum(g.count for g in ordered[_GROUPS_SHOWN:])
            yield f"  … and {rest} more in {len(ordered) - _GROUPS_SHOWN} other groups"
        if not self.nothing_sent(batches_submitted):
            return
        if self.unreachable:
            yield (
                "nothing was sent: the provider could not be reached or refused the key "
                f"({self.unreachable} requests); check --base-url, the network and the key, "
                "then run the same command again"
            )
        elif self.cached and not self.failed:
            yield (
                f"nothing was sent: all {self.cached} answers came from the result cache "
                "(--no-cache asks the provider again)"
            )
        else:
            yield f"nothing was sent: {mode_reason or 'no request needed the provider'}"

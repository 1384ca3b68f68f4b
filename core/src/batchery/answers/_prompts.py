"""Prompt templates with named `$fields`, checked when they are made, not when they are used.

`string.Template` syntax (`$text`, `${text}`, `$$` for a dollar sign) leaves the braces of JSON
examples alone, which is what prompts that ask for JSON are full of. A template that uses a
field nobody fills, or leaves out one it must use, fails at configuration time with the
template's name, so a user's override cannot quietly drop the item it was meant to show.
"""

from __future__ import annotations

import string
from collections.abc import Collection

__all__ = ["PromptError", "PromptTemplate"]


class PromptError(ValueError):
    """A prompt template is malformed, uses an unknown field or misses a required one."""


class PromptTemplate:
    """A named template over a fixed set of fields, some of which it must use."""

    def __init__(
        self,
        name: str,
        text: str,
        *,
        fields: Collection[str],
        required: Collection[str] = (),
    ) -> None:
        if not isinstance(text, str):
            raise PromptError(f"prompt {name!r} must be a string, not {type(text).__name__}")
        template = string.Template(text)
        for match in template.pattern.finditer(text):
            if match.group("invalid") is not None:
                at = text[match.start() : match.start() + 12]
                raise PromptError(
                    f"prompt {name!r} has a '$' that starts no field name (at {at!r}); "
                    "write $$ for a dollar sign"
                )
        used = set(template.get_identifiers())
        known = ", ".join(f"${f}" for f in sorted(fields)) or "none"
        unknown = sorted(used - set(fields))
        if unknown:
            raise PromptError(
                f"prompt {name!r} uses ${unknown[0]}, which is not one of its fields ({known})"
            )
        missing = sorted(set(required) - used)
        if missing:
            needed = ", ".join(f"${f}" for f in missing)
            raise PromptError(f"prompt {name!r} must use {needed} (its fields: {known})")
        self.name = name
        self.text = text
        self.fields = frozenset(fields)
        self._template = template

    def __repr__(self) -> str:
        return f"PromptTemplate({self.name!r}, fields={sorted(self.fields)})"

    def render(self, **values: object) -> str:
        """The prompt with every field filled; a field left without a value is a `KeyError`."""
        return self._template.substitute({name: str(value) for name, value in values.items()})

"""The settings every answer-collecting graph node shares, as one base to extend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal, Self

import msgspec

from batchery.answers._collect import AskOptions
from batchery.model import Mode

__all__ = ["NodeSettings"]


class NodeSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and how a node asks: `for_root(**settings)` of a node module takes these names.

    `provider` and `model` default to the service's; `mode` "auto" lets the service's policy
    choose. `use_cache` False asks the provider even for answers the cache holds. Prompts left
    None use the node's defaults. Subclasses add their own fields and set `node`.
    """

    node: ClassVar[str] = "node"

    provider: str | None = None
    model: str | None = None
    mode: Literal["auto", "batch", "realtime"] = "auto"
    deadline_s: Annotated[float, msgspec.Meta(gt=0)] | None = None
    max_parse_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    use_cache: bool = True
    system_prompt: str | None = None
    prompt: str | None = None
    retry_prompt: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> Self:
        """Settings from `for_root` options; a bad one raises ValueError naming it and the rule."""
        try:
            return msgspec.convert(dict(options), cls)
        except msgspec.ValidationError as exc:
            raise ValueError(f"{cls.node} settings: {exc}") from None

    def ask_options(self) -> AskOptions:
        return AskOptions(
            provider=self.provider,
            model=self.model,
            mode=Mode(self.mode),
            deadline_s=self.deadline_s,
            max_parse_retries=self.max_parse_retries,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            use_cache=self.use_cache,
        )

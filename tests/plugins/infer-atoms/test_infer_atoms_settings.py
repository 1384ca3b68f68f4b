"""infer-atoms settings and prompt overrides: what reaches the model, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from batchery.answers import PromptError
from batchery.modules import ModuleInitError
from batchery_infer_atoms import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    InferAtomsNode,
    InferAtomsReport,
    InferAtomsSettings,
)

from ..conftest import Nodes, NodesFactory, sample_items


async def node_with(n: Nodes, **settings: Any) -> InferAtomsNode:
    return InferAtomsNode(n.service, n.bus, InferAtomsSettings(**settings))


async def test_default_prompts_show_the_item_and_the_categories(nodes: NodesFactory) -> None:
    items = [{"id": "T-1", "kind": "test case", "text": "Refunds are paid in 3 days."}]
    async with nodes() as n:
        report = (await n.run("infer-atoms", {"items": items}))["infer_atoms_report"]
        [request] = await n.requests(report["jobs"][0])

    system, user = request.messages
    assert system.role == "system"
    assert "functional, validation, error_handling" in system.content
    assert "at most 8 atoms" in system.content
    assert "$" not in system.content
    assert user.content == "Find the atoms in this test case:\n\nRefunds are paid in 3 days."
    assert request.response_schema is not None
    assert request.response_schema["properties"]["atoms"]["maxItems"] == 8


async def test_prompt_overrides_replace_the_defaults(nodes: NodesFactory) -> None:
    items = [{"id": "T-1", "text": "Refunds are paid in 3 days."}]
    async with nodes() as n:
        node = await node_with(
            n,
            system_prompt="Use only: $categories. Costs are in $$.",
            prompt="[$id/$kind] $text",
            categories=("money", "time"),
            max_atoms_per_item=1,
        )
        update = await node({"items": items})
        [request] = await n.requests(update["infer_atoms_report"]["jobs"][0])

    assert [m.content for m in request.messages] == [
        "Use only: money, time. Costs are in $.",
        "[T-1/item] Refunds are paid in 3 days.",
    ]
    [atom] = update["atoms"]
    assert atom["category"] in ("money", "time")


async def test_a_retry_prompt_override_is_what_damaged_items_are_sent_again_with(
    nodes: NodesFactory,
) -> None:
    async with nodes(faults="truncated_json=1") as n:
        node = await node_with(
            n, retry_prompt="Again (#$attempt), because: $reason", mode="realtime"
        )
        report: InferAtomsReport = (await node({"items": sample_items(6)}))["infer_atoms_report"]
        asked_again = await n.requests(report["jobs"][1])

    assert asked_again
    for request in asked_again:
        note = request.messages[-1].content.split("\n\n")[-1]
        assert note.startswith("Again (#2), because: the answer ")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"prompt": "Extract the atoms."}, r"prompt 'prompt' must use \$text"),
        ({"prompt": "$text for $item"}, r"prompt 'prompt' uses \$item, which is not one of"),
        ({"system_prompt": "Cost: $5 $categories"}, "prompt 'system_prompt' has a '\\$'"),
        ({"retry_prompt": "Try again."}, r"prompt 'retry_prompt' must use \$reason"),
        (
            {"retry_prompt": "$reason $text"},
            r"uses \$text, which is not one of .*\$attempt, \$reason",
        ),
    ],
)
async def test_a_bad_prompt_override_is_refused_when_the_node_is_built(
    nodes: NodesFactory, settings: dict[str, str], problem: str
) -> None:
    async with nodes(names=["infer-atoms"]) as n:
        with pytest.raises(PromptError, match=problem):
            await node_with(n, **settings)
    with pytest.raises(ModuleInitError, match="infer-atoms") as caught:
        async with nodes(
            names=["infer-atoms"],
            overrides={"infer-atoms.settings": InferAtomsSettings(**settings)},
        ):
            pass
    assert isinstance(caught.value.__cause__, PromptError)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"mode": "hybrid"}, r"Invalid enum value 'hybrid' - at `\$\.mode`"),
        ({"max_atoms_per_item": 0}, r">= 1 - at `\$\.max_atoms_per_item`"),
        ({"max_parse_retries": -1}, r">= 0 - at `\$\.max_parse_retries`"),
        ({"deadline_s": 0}, r"> 0.0 - at `\$\.deadline_s`"),
        ({"categories": []}, r"length >= 1 - at `\$\.categories`"),
        ({"categories": ["a", "a"]}, "categories must not repeat"),
        ({"categories": [" padded"]}, r"at `\$\.categories\[0\]`"),
        ({"temperature": 3}, r"<= 2.0 - at `\$\.temperature`"),
        ({"colour": "red"}, "unknown field `colour`"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=f"infer-atoms settings: .*{problem}"):
        InferAtomsSettings.from_options(options)


def test_settings_from_options_keep_what_was_given() -> None:
    settings = InferAtomsSettings.from_options(
        {"provider": "openai", "mode": "batch", "deadline_s": 90, "categories": ["a", "b"]}
    )
    assert settings.mode == "batch"
    assert settings.deadline_s == 90.0
    assert settings.categories == ("a", "b")
    assert settings.system_prompt is None
    assert InferAtomsSettings().max_parse_retries == 2
    assert "$text" in DEFAULT_PROMPT
    assert "$categories" in DEFAULT_SYSTEM_PROMPT


async def test_an_unknown_provider_fails_before_the_node_starts(nodes: NodesFactory) -> None:
    async with nodes(names=["infer-atoms"]) as n:
        node = await node_with(n, provider="nowhere")
        async with n.bus.subscribe() as events:
            with pytest.raises(LookupError, match="no provider named 'nowhere'"):
                await node({"items": sample_items(1)})
            assert events.empty()

"""verify settings and prompt overrides: what reaches the model, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from batchery.answers import PromptError
from batchery.modules import ModuleInitError
from batchery_verify import VerifyNode, VerifySettings

from ..conftest import NodesFactory

ATOM = {"id": "X-1#1", "item_id": "X-1", "statement": "Receipts are e-mailed.", "category": "data"}


async def test_prompt_overrides_replace_the_defaults(nodes: NodesFactory) -> None:
    settings = VerifySettings(
        system_prompt="Rate atoms; judge against $item_id.",
        prompt="[$category] $statement <- $source",
    )
    state = {"atoms": [ATOM], "items": [{"id": "X-1", "text": "Receipts go by e-mail."}]}
    async with nodes(names=["verify"]) as n:
        node = VerifyNode(n.service, n.bus, settings)
        report = (await node(state))["verify_report"]
        [request] = await n.requests(report["jobs"][0])

    assert [m.content for m in request.messages] == [
        "Rate atoms; judge against X-1.",
        "[data] Receipts are e-mailed. <- Receipts go by e-mail.",
    ]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"prompt": "Score: $source"}, r"prompt 'prompt' must use \$statement"),
        ({"prompt": "$statement ($confidence)"}, r"uses \$confidence, which is not one of"),
        ({"system_prompt": "Pay $5"}, "prompt 'system_prompt' has a '\\$'"),
        ({"retry_prompt": "Again, attempt $attempt."}, r"prompt 'retry_prompt' must use \$reason"),
    ],
)
async def test_a_bad_prompt_override_is_refused_when_the_node_is_built(
    nodes: NodesFactory, settings: dict[str, str], problem: str
) -> None:
    async with nodes(names=["verify"]) as n:
        with pytest.raises(PromptError, match=problem):
            VerifyNode(n.service, n.bus, VerifySettings(**settings))
    with pytest.raises(ModuleInitError, match="verify") as caught:
        async with nodes(
            names=["verify"], overrides={"verify.settings": VerifySettings(**settings)}
        ):
            pass
    assert isinstance(caught.value.__cause__, PromptError)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"pass_mark": 101}, r"<= 100 - at `\$\.pass_mark`"),
        ({"pass_mark": -1}, r">= 0 - at `\$\.pass_mark`"),
        ({"score_only": "yes"}, r"Expected `bool`, got `str` - at `\$\.score_only`"),
        ({"mode": "hybrid"}, r"Invalid enum value 'hybrid' - at `\$\.mode`"),
        ({"max_parse_retries": 11}, r"<= 10 - at `\$\.max_parse_retries`"),
        ({"passmark": 50}, "unknown field `passmark`"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=f"verify settings: .*{problem}"):
        VerifySettings.from_options(options)


def test_the_defaults() -> None:
    settings = VerifySettings.from_options({})
    assert (settings.pass_mark, settings.score_only, settings.mode) == (70, False, "auto")
    assert settings.max_parse_retries == 2

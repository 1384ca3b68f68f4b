from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from batchery.cli.config import config_command, make_config_command
from batchery.secrets import MASK
from click.testing import CliRunner


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets may count: no BATCHERY_* or key variables, no ./batchery.toml."""
    for name in list(os.environ):
        if name.startswith("BATCHERY_") or name.endswith("_API_KEY"):
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def _line(output: str, key: str) -> list[str]:
    """The columns of the row for `key`."""
    for line in output.splitlines():
        columns = line.split()
        if columns and columns[0] == key:
            return columns
    raise AssertionError(f"no row for {key!r} in:\n{output}")


def test_shows_every_setting_with_value_and_source(tmp_path: Path) -> None:
    config = tmp_path / "batchery.toml"
    config.write_text('batch_threshold = 40\n[providers.openai]\nbase_url = "http://x.invalid"\n')
    result = CliRunner().invoke(
        config_command,
        ["--config", str(config)],
        env={"BATCHERY_POLL_INTERVAL_S": "0.5", "BATCHERY_LOG_FORMAT": "json"},
    )

    assert result.exit_code == 0, result.output
    out = result.output
    assert f"config file: {config}" in out
    assert _line(out, "batch_threshold") == ["batch_threshold", "40", f"file:{config}"]
    assert _line(out, "poll_interval_s") == [
        "poll_interval_s",
        "0.5",
        "env:BATCHERY_POLL_INTERVAL_S",
    ]
    assert _line(out, "log_format") == ["log_format", "json", "env:BATCHERY_LOG_FORMAT"]
    assert _line(out, "max_attempts") == ["max_attempts", "3", "default"]
    assert _line(out, "default_model") == ["default_model", "-", "default"]
    assert _line(out, "providers.openai.base_url") == [
        "providers.openai.base_url",
        "http://x.invalid",
        f"file:{config}",
    ]
    store = _line(out, "store")
    assert store[1].startswith("sqlite:///")
    assert store[2] == "default"


def test_a_set_key_is_masked_and_an_unset_key_says_so() -> None:
    key = "sk-test-" + secrets.token_hex(16)
    command = make_config_command(lambda: ["OPENAI_API_KEY", None, "VOYAGE_API_KEY"])
    result = CliRunner().invoke(command, [], env={"OPENAI_API_KEY": key})

    assert result.exit_code == 0, result.output
    assert _line(result.output, "OPENAI_API_KEY") == ["OPENAI_API_KEY", MASK, "set"]
    assert _line(result.output, "VOYAGE_API_KEY") == ["VOYAGE_API_KEY", "-", "unset"]
    assert key not in result.output
    assert key[:16] not in result.output


def test_json_output_for_machines(tmp_path: Path) -> None:
    key = "opaque" + secrets.token_hex(16)
    config = tmp_path / "settings.toml"
    config.write_text("max_attempts = 5\n")
    result = CliRunner().invoke(
        make_config_command(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]),
        ["--json"],
        env={"BATCHERY_CONFIG": str(config), "OPENAI_API_KEY": key, "BATCHERY_STORE": "/j.db"},
    )

    assert result.exit_code == 0, result.output
    assert key not in result.output
    report = json.loads(result.output)
    assert report["config_file"] == str(config)
    assert report["settings"]["max_attempts"] == {"value": 5, "source": f"file:{config}"}
    assert report["settings"]["store"] == {"value": "/j.db", "source": "env:BATCHERY_STORE"}
    assert report["settings"]["providers"] == {"value": {}, "source": "default"}
    assert report["settings"]["poll_backoff"] == {"value": 1.5, "source": "default"}
    assert report["keys"] == {"OPENAI_API_KEY": MASK, "ANTHROPIC_API_KEY": None}


def test_displayed_values_are_redacted() -> None:
    key = "AIza" + secrets.token_hex(18)
    result = CliRunner().invoke(
        config_command,
        ["--json"],
        env={"BATCHERY_PROVIDERS__GEMINI__BASE_URL": f"https://g.invalid/v1?key={key}"},
    )

    assert result.exit_code == 0, result.output
    assert key not in result.output
    value = json.loads(result.output)["settings"]["providers.gemini.base_url"]["value"]
    assert value == f"https://g.invalid/v1?key={MASK}"


def test_bad_settings_fail_with_the_key_source_and_rule() -> None:
    result = CliRunner().invoke(config_command, [], env={"BATCHERY_MAX_ATTEMPTS": "0"})

    assert result.exit_code == 1
    assert "max_attempts from env:BATCHERY_MAX_ATTEMPTS: must be an integer >= 1" in result.output

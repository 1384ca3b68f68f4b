"""`batchery --help` lists the commands from a static table without importing them; the table
must say what each command says of itself."""

from __future__ import annotations

import click
import pytest
from batchery.cli import COMMANDS, cli
from click.testing import CliRunner


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_line_is_the_command_s_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert command.name == name
    assert COMMANDS[name].help == command.get_short_help_str(limit=1000)


def test_help_lists_every_command_and_unknown_ones_are_refused() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["--help"])
    assert listed.exit_code == 0
    section = listed.output.partition("Commands:")[2].strip().partition("\n\n")[0]
    rows = section.splitlines()
    assert [row.split()[0] for row in rows] == list(COMMANDS)

    unknown = runner.invoke(cli, ["telepathy"])
    assert unknown.exit_code == 2
    assert "No such command 'telepathy'" in unknown.output

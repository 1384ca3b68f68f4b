"""The exit codes reference, from `batchery.cli._exit` (the table `batchery --help` prints)."""

from __future__ import annotations

from batchery.cli import _exit


def render() -> str:
    """The page's Markdown."""
    rows = ["| code | name | meaning |", "| --- | --- | --- |"]
    rows += [
        f"| {code.value} | `{code.name}` | {_exit._MEANINGS[code]} |" for code in _exit.ExitCode
    ]
    return "\n".join(
        [
            "# Exit codes",
            "",
            "Generated from `batchery.cli._exit.ExitCode` when the site is built. Every",
            "`batchery` command keeps these, so a script can tell outcomes apart; `batchery",
            "--help` lists them too, and the run summary carries the same `exit_code`.",
            "",
            *rows,
            "",
            "A user's mistake or a broken environment (2, 4, 5, 6) is one line on stderr that",
            "names the path or item and what to do, never a traceback.",
        ]
    )

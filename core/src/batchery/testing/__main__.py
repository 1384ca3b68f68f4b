"""`python -m batchery.testing NAME`: run the kit on an installed provider plugin and report.

The plugin is found through the `batchery.providers` entry point, as core finds it, so this
also proves the plugin is discoverable. Exits 0 when every required check passed, 1 when one
did not, 2 when the plugin cannot be found or loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from batchery.logging import configure_logging
from batchery.plugins import discover_providers
from batchery.testing.report import CheckResult, validate

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batchery.testing",
        description="Run Batchery's provider conformance kit against a plugin's own emulator.",
    )
    parser.add_argument("provider", help="the plugin's entry-point name, e.g. openai")
    parser.add_argument("--only", action="append", help="run only this check (repeatable)")
    args = parser.parse_args(argv)
    configure_logging(level="warning", stream=sys.stderr)
    entries = {entry.name: entry for entry in discover_providers()}
    entry = entries.get(args.provider)
    if entry is None:
        known = ", ".join(sorted(entries)) or "none"
        print(f"no provider plugin named {args.provider!r}; installed: {known}", file=sys.stderr)
        return 2
    if entry.module is None:
        print(f"{entry.name} ({entry.distribution}) failed to load: {entry.error}", file=sys.stderr)
        return 2

    def progress(result: CheckResult) -> None:
        print(f"  {result.outcome:<8} {result.name}", file=sys.stderr, flush=True)

    report = asyncio.run(validate(entry.module, only=args.only, on_result=progress))
    print(report.render())
    return 0 if report.passed_required else 1


if __name__ == "__main__":
    sys.exit(main())

"""The example provider plugin installs, is discovered and passes the kit with one command.

This runs the command docs/write-a-provider.md gives, from the repository root, in a
subprocess: `uv run` layers the example on the project environment for that run only. `--frozen`
is added so a test can never rewrite uv.lock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [
    "uv",
    "run",
    "--frozen",
    "--with-editable",
    "./examples/provider-plugin",
    "pytest",
    "examples/provider-plugin/tests",
    "-p",
    "no:cacheprovider",
]


@pytest.mark.skipif(shutil.which("uv") is None, reason="the example's command runs through uv")
def test_the_example_plugin_passes_the_kit_with_one_command() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        COMMAND, cwd=ROOT, env=env, capture_output=True, text=True, timeout=110, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "batchery conformance: TestEchoConformance (echo)" in output
    assert re.search(r"\b(\d+) of \1 required passed", output), output[-6000:]

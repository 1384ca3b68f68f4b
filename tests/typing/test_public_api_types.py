"""The typing examples in `public_api.py` pass mypy strict: no public return reads as `Any`."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]


def test_the_public_api_reveals_its_types_to_mypy() -> None:
    examples = Path(__file__).with_name("public_api.py")

    out, err, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--disallow-any-expr",
            str(examples),
        ]
    )

    assert status == 0, out + err

"""The request schemas the OpenAI emulator validates with are the spec's own, extracted by a
script kept in the repo; this test re-extracts them and fails when the files drift.

Without `shared/specs/openapi.yaml` beside the workspace the test is skipped, except under CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "providers" / "openai" / "scripts" / "extract_schemas.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extract_schemas", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_packaged_schemas_are_what_the_script_extracts_from_the_spec() -> None:
    script = _script()
    try:
        spec_path: Path = script.find_spec()
    except SystemExit:
        if os.environ.get("CI"):
            pytest.fail("shared/specs/openapi.yaml is missing beside the workspace")
        pytest.skip("shared/specs/openapi.yaml is not beside the workspace")
    raw = spec_path.read_bytes()
    spec = yaml.load(raw, Loader=yaml.CSafeLoader)
    for stem, name in script.REQUESTS.items():
        packaged = json.loads((script.TARGET / f"{stem}.json").read_text("utf-8"))
        extracted = script.bundle(spec, name, packaged["source"])
        assert packaged == json.loads(json.dumps(extracted)), f"re-run {SCRIPT.name} for {stem}"
        assert packaged["source"].endswith(script.hashlib.sha256(raw).hexdigest())

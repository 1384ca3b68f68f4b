from pathlib import Path
from typing import Any

import msgspec
from batchery.emulator import (
    MAX_REPORTED_ERRORS,
    FaultPlan,
    Outcome,
    ResultFiles,
    Validation,
    draw_failures,
    input_lines,
    malform,
    write_result_files,
)


def _input(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "input.jsonl"
    lines = [msgspec.json.encode({"custom_id": f"r-{i}"}) for i in range(count)]
    path.write_bytes(b"\n".join(lines[:2]) + b"\n\n" + b"\n".join(lines[2:]) + b"\n")
    return path


def _render(index: int, raw: bytes, outcome: Outcome) -> tuple[dict[str, Any], bool]:
    item = msgspec.json.decode(raw)
    return {"custom_id": item["custom_id"], "outcome": outcome}, outcome == "ran"


def _write(
    tmp_path: Path, plan: FaultPlan, *, total: int, processed: int, failing: list[int]
) -> ResultFiles:
    validation = Validation(total=total, failing=failing)
    return write_result_files(
        input_path=_input(tmp_path, total),
        output_path=tmp_path / "out",
        error_path=tmp_path / "err",
        batch_id="b1",
        validation=validation,
        processed=processed,
        plan=plan,
        render=_render,
    )


def _read(path: Path | None) -> list[dict[str, Any]]:
    assert path is not None
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


def test_input_lines_skip_blank_lines_but_keep_file_line_numbers(tmp_path: Path) -> None:
    numbers = [number for number, _ in input_lines(_input(tmp_path, 4))]
    assert numbers == [1, 2, 4, 5]


def test_results_go_to_output_or_error_file_by_outcome(tmp_path: Path) -> None:
    results = _write(tmp_path, FaultPlan(), total=5, processed=3, failing=[1])
    assert (results.counts.total, results.counts.completed, results.counts.failed) == (5, 2, 3)
    assert [line["custom_id"] for line in _read(results.output)] == ["r-0", "r-2"]
    errors = _read(results.errors)
    assert [(line["custom_id"], line["outcome"]) for line in errors] == [
        ("r-1", "failed"),
        ("r-3", "unrun"),
        ("r-4", "unrun"),
    ]


def test_an_empty_result_file_is_removed(tmp_path: Path) -> None:
    results = _write(tmp_path, FaultPlan(), total=3, processed=3, failing=[])
    assert results.errors is None
    assert not (tmp_path / "err").exists()
    assert results.output is not None


def test_line_faults_repeat_shadow_and_break_output_lines(tmp_path: Path) -> None:
    plan = FaultPlan({"duplicate": 1.0, "unknown_id": 1.0})
    lines = _read(_write(tmp_path, plan, total=2, processed=2, failing=[]).output)
    ids = [line["custom_id"] for line in lines]
    assert ids[:2] == ["r-0", "r-0"]
    assert ids[2].startswith("unknown-")
    assert len(ids) == 6
    broken = _write(tmp_path, FaultPlan({"malformed": 1.0}), total=2, processed=2, failing=[])
    assert broken.output is not None
    for raw in broken.output.read_bytes().splitlines():
        try:
            decoded = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            continue
        assert not isinstance(decoded, dict)


def test_shuffle_keeps_every_line(tmp_path: Path) -> None:
    plan = FaultPlan({"shuffle": 1.0})
    lines = _read(_write(tmp_path, plan, total=40, processed=40, failing=[]).output)
    ids = [line["custom_id"] for line in lines]
    assert sorted(ids) == sorted(f"r-{i}" for i in range(40))
    assert ids != [f"r-{i}" for i in range(40)]


def test_malform_has_four_distinct_shapes() -> None:
    line = b'{"custom_id":"a","x":1}'
    shapes = {malform(line, variant) for variant in range(4)}
    assert len(shapes) == 4
    assert line not in shapes


def test_validation_bounds_its_error_list_and_counts_failures() -> None:
    validation = Validation(failing=[1, 4, 9])
    for number in range(MAX_REPORTED_ERRORS + 5):
        validation.fail("bad", "bad line", number)
    assert len(validation.errors) == MAX_REPORTED_ERRORS
    assert [validation.failed_before(n) for n in (0, 2, 5, 10)] == [0, 1, 2, 3]


def test_all_errors_fails_every_request() -> None:
    assert draw_failures(FaultPlan({"all_errors": 1.0}), "b", 4) == [0, 1, 2, 3]
    assert draw_failures(FaultPlan(), "b", 4) == []

"""The columnar reader accepts exactly what pydantic accepts, and reports pydantic's file:line error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coderig_analyze import fastread
from coderig_analyze.fastread import read_columns
from coderig_schemas import InvalidInputError, Sample, ScoreResult
from coderig_schemas.io import iter_jsonl
from tests.factories import make_problem, make_result, make_sample

COLUMNS = ["sample_id", "problem_id", "seed", "verdict", "passed", "tests_total", "difficulty", "exception_type"]


def result_dict(i: int = 0, verdict: str = "passed") -> dict[str, Any]:
    problem = make_problem(f"p{i}")
    sample = make_sample(problem, 0, seed=None if i % 2 else 3)
    tests = [{"test_id": "t0", "visibility": "visible", "status": "passed", "duration_s": 0.001},
             {"test_id": "t1", "visibility": "hidden", "status": "failed", "duration_s": 0.002, "exception_type": "AssertionError"}]
    return json.loads(make_result(sample, verdict, "easy" if i % 3 else None, tests=tests).model_dump_json())


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def no_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the reader falls back to pydantic line by line."""
    def refuse(*args: object) -> None:
        raise AssertionError("fell back to the slow path")
    monkeypatch.setattr(fastread, "_read_with_pydantic", refuse)


def test_valid_file_is_read_on_the_fast_path_with_the_same_values_as_pydantic(tmp_path: Path, no_slow_path: None) -> None:
    path = write(tmp_path / "r.jsonl", [result_dict(i, "passed" if i % 2 else "wrong_answer") for i in range(30)])
    table = read_columns(path, ScoreResult, COLUMNS, chunk_bytes=4096)  # several chunks
    expected = [{c: getattr(r, c) for c in COLUMNS} for r in iter_jsonl(path, ScoreResult)]
    got = table.to_pylist()
    assert len(got) == 30
    for g, e in zip(got, expected, strict=True):
        assert g == {k: (v.value if hasattr(v, "value") else v) for k, v in e.items()}


def test_nested_columns_of_samples(tmp_path: Path, no_slow_path: None) -> None:
    problem = make_problem("p1")
    samples = [json.loads(make_sample(problem, i, seed=1).model_dump_json()) for i in range(3)]
    table = read_columns(write(tmp_path / "s.jsonl", samples), Sample, ["sample_id", "sampling.temperature", "sampling.max_tokens"])
    assert table.column("sampling.max_tokens").to_pylist() == [256, 256, 256]
    assert table.column("sample_id").to_pylist() == ["p1#s1#0", "p1#s1#1", "p1#s1#2"]


def _mutations() -> list[tuple[str, Any]]:
    def set_(key: str, value: Any) -> Any:
        return lambda r: r.__setitem__(key, value)

    def drop(key: str) -> Any:
        return lambda r: r.pop(key)

    def nested(key: str, value: Any) -> Any:
        return lambda r: r["tests"][1].__setitem__(key, value)

    return [
        ("string for int", set_("tests_total", "2")),
        ("float for int", set_("sample_index", 1.5)),
        ("int for bool", set_("passed", 1)),
        ("int for string", set_("problem_id", 7)),
        ("unknown field", set_("surprise", True)),
        ("missing required", drop("problem_id")),
        ("missing required nullable", drop("seed")),
        ("null in required", set_("verdict", None)),
        ("bad enum", set_("verdict", "exploded")),
        ("negative count", set_("tests_passed", -1)),
        ("attempts below 1", set_("attempts", 0)),
        ("explicit null for a defaulted field", set_("stdout", None)),
        ("wrong schema version", set_("schema_version", 3)),
        ("answer on a code result", set_("answer", {"extracted": "1", "method": "boxed", "gold": "1"})),
        ("loose fields on a code result", set_("loose_passed", True)),
        ("loose fields on a math result", lambda r: r.update(task_type="math", loose_tests_passed=1)),
        ("bad task type", set_("task_type", "poetry")),
        ("bad answer method", lambda r: r.update(task_type="math", answer={"extracted": "1", "method": "guess", "gold": "1"})),
        ("bad nested enum", nested("status", "weird")),
        ("unknown nested field", nested("extra", 1)),
        ("missing nested required", lambda r: r["tests"][0].pop("test_id")),
        ("null list item", set_("tests", [None])),
    ]


@pytest.mark.parametrize(("label", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
def test_every_invalid_record_is_rejected_with_pydantics_message(tmp_path: Path, label: str, mutate: Any) -> None:
    records = [result_dict(i) for i in range(5)]
    mutate(records[3])
    path = write(tmp_path / "r.jsonl", records)
    with pytest.raises(InvalidInputError) as fast:
        read_columns(path, ScoreResult, COLUMNS)
    with pytest.raises(InvalidInputError) as slow:
        list(iter_jsonl(path, ScoreResult))
    assert fast.value.message == slow.value.message
    assert f"{path}:4:" in fast.value.message


def test_what_pydantic_accepts_is_never_rejected(tmp_path: Path) -> None:
    # Keys with defaults may be omitted (the slow path then confirms), and nullable keys may be null.
    records = [result_dict(i) for i in range(4)]
    for key in ("stdout", "stderr", "attempts", "tests", "exception_type", "difficulty", "schema_version"):
        records[1].pop(key, None)
    records[2]["failing_test_id"] = None
    path = write(tmp_path / "r.jsonl", records)
    table = read_columns(path, ScoreResult, ["sample_id", "difficulty"])
    assert table.column("sample_id").to_pylist() == [r["sample_id"] for r in records]


def test_non_code_results_are_read_on_the_fast_path(tmp_path: Path, no_slow_path: None) -> None:
    # math (answer), instruction following (loose fields) and code results in one file
    math, ifeval = result_dict(1), result_dict(2)
    math.update(task_type="math", answer={"extracted": "0.5", "method": "boxed", "gold": "\\frac12"})
    ifeval.update(task_type="instruction_following", loose_passed=True, loose_tests_passed=2)
    ifeval["tests"][1]["loose_status"] = "passed"
    path = write(tmp_path / "r.jsonl", [result_dict(0), math, ifeval])
    table = read_columns(path, ScoreResult, ["sample_id", "task_type", "answer.extracted", "loose_passed"])
    assert table.column("task_type").to_pylist() == ["code", "math", "instruction_following"]
    assert table.column("answer.extracted").to_pylist() == [None, "0.5", None]
    assert table.column("loose_passed").to_pylist() == [None, None, True]


def test_version_1_results_are_read_as_code(tmp_path: Path) -> None:
    # published before task types: no task_type, schema_version 1 (the slow path reads them, as pydantic does)
    records = [result_dict(i) for i in range(3)]
    for r in records:
        for key in ("task_type", "answer", "loose_passed", "loose_tests_passed"):
            r.pop(key)
        for t in r["tests"]:
            t.pop("loose_status")
        r["schema_version"] = 1
    table = read_columns(write(tmp_path / "v1.jsonl", records), ScoreResult, ["sample_id", "task_type", "verdict"])
    assert table.column("task_type").to_pylist() == ["code"] * 3
    assert table.column("sample_id").to_pylist() == [r["sample_id"] for r in records]


def test_empty_file_gives_empty_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("")
    assert read_columns(path, ScoreResult, COLUMNS).num_rows == 0


def test_required_nullable_key_also_used_in_a_nested_object(tmp_path: Path, no_slow_path: None) -> None:
    # Sample.seed is required (may be null) and sampling.seed exists too: a null top-level seed is
    # accepted on the fast path; a missing one is rejected, even though '"seed":' is in the line.
    problem = make_problem("p1")
    samples = [json.loads(make_sample(problem, i, seed=None).model_dump_json()) for i in range(3)]
    for s in samples:
        s["sampling"]["seed"] = 5
    path = write(tmp_path / "ok.jsonl", samples)
    assert read_columns(path, Sample, ["sample_id"]).num_rows == 3


def test_missing_required_nullable_key_beside_a_nested_namesake_is_rejected(tmp_path: Path) -> None:
    problem = make_problem("p1")
    samples = [json.loads(make_sample(problem, i, seed=None).model_dump_json()) for i in range(3)]
    for s in samples:
        s["sampling"]["seed"] = 5
    del samples[2]["seed"]
    path = write(tmp_path / "bad.jsonl", samples)
    with pytest.raises(InvalidInputError, match=r"bad\.jsonl:3: seed: Field required"):
        read_columns(path, Sample, ["sample_id"])

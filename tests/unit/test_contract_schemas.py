"""Every contract model round-trips through JSON, and its JSON Schema agrees with pydantic."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from coderig_schemas import (
    AnalysisSummary,
    ChatExample,
    Environment,
    FineTuneExample,
    Manifest,
    ReferenceTiming,
)
from coderig_schemas.jsonschema_gen import DRAFT, build_schema, check
from coderig_schemas.registry import SCHEMAS, schema_filename
from coderig_schemas.tasks import PRIMARY_METRIC, TaskType
from tests.factories import (
    example_analysis,
    example_comparison_matrix,
    example_dataset_summary_row,
    example_paired_comparison,
    make_bfcl_problem,
    make_ifeval_problem,
    make_math_problem,
    make_problem,
    make_result,
    make_sample,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas" / "json"


def _examples() -> dict[str, BaseModel]:
    problem = make_problem(
        "HumanEval/0", difficulty="easy", difficulty_source="derived", difficulty_rule="ast-terciles",
        tags=["math"], date="2021-07-07", source={"task_id": "HumanEval/0", "n": 3, "ok": True, "none": None},
    )
    sample = make_sample(problem, 1, 7, prompt_messages=[{"role": "user", "content": "hi"}])
    result = make_result(sample, "wrong_answer", "easy", tests=[
        {"test_id": "t0", "visibility": "visible", "status": "failed", "duration_s": 0.01,
         "exception_type": "AssertionError", "expected": "1", "actual": "2"},
    ])
    env = Environment(python="3.11", platform="linux", hostname="h", cpu="x", accelerator="cpu", packages={"a": "1"})
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    manifest = Manifest(
        stage="score", name="m__d__s0", key="0123456789abcdef", tool="coderig-score", tool_version="0.1.0",
        created_at=now, started_at=now, config={"a": [1, 2]}, config_hash="a" * 64,
        inputs=[{"ref": "generate/m__d__s0/0123456789abcdef", "manifest_sha256": "b" * 64,
                 "files": [{"path": "samples.jsonl", "sha256": "c" * 64, "size": 10, "records": 1}]}],
        outputs=[{"path": "results.jsonl", "sha256": "d" * 64, "size": 5, "records": 1, "schema_name": "score_result"}],
        environment=env, timings={"score": 1.5}, stats={"passed": 1},
    )
    bucket = {"total": 2, "passed": 1, "pass_rate": 0.5}
    summary = AnalysisSummary(
        run_ref="score/m__d__s0/0123456789abcdef", model_name="m", dataset="d", seed=0, total_problems=2,
        passed_problems=1, pass_rate=0.5, pass_at_k={"1": 0.5},
        pass_rate_ci={"estimate": 0.5, "low": 0.1, "high": 0.9, "method": "wilson"},
        difficulty_breakdown={"easy": bucket, "medium": bucket, "hard": {"total": 0, "passed": 0, "pass_rate": 0.0}},
        verdict_counts={"passed": 1}, total_samples=2,
    )
    ft = FineTuneExample(instruction="do", output="code", difficulty="hard", id="x", run_id="score/a/0123456789abcdef")
    chat = ChatExample(messages=[{"role": "user", "content": "do"}, {"role": "assistant", "content": "code"}],
                       difficulty=None, id="x", run_id="r")
    timing = ReferenceTiming(problem_id="p", dataset="d", verdict="passed", test_durations_s={"t0": 0.1}, machine="cpu x2")
    found = {"problem": problem, "sample": sample, "score_result": result, "reference_timing": timing,
             "analysis_summary": summary, "finetune_example": ft, "chat_example": chat, "manifest": manifest}
    return found


def _full_examples() -> dict[str, BaseModel]:
    """One valid example per registered schema (the documents' examples live in tests/factories.py)."""
    return {**_examples(), "analysis": example_analysis(), "comparison_matrix": example_comparison_matrix(),
            "paired_comparison": example_paired_comparison(), "dataset_summary_row": example_dataset_summary_row()}


def _mutations(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[str, Any]]:
    """Documents derived from doc by one change each: a field dropped, an extra field, a wrong type."""
    out: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            dropped = {k: v for k, v in doc.items() if k != key}
            out.append((f"{path}: drop {key}", ("replace", path, dropped)))
            for label, bad in _wrong_types(value):
                out.append((f"{path}.{key}: {label}", ("replace", (*path, key), bad)))
            out.extend(_mutations(value, (*path, key)))
        out.append((f"{path}: extra field", ("replace", path, {**doc, "zz_unknown": 1})))
    elif isinstance(doc, list) and doc:
        out.extend(_mutations(doc[0], (*path, 0)))
    return out


def _wrong_types(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, bool):
        return [("bool->str", "yes"), ("bool->int", 1)]
    if isinstance(value, int):
        return [("int->str", "1"), ("int->bool", True), ("int->list", [1])]
    if isinstance(value, float):
        return [("float->str", "0.5"), ("float->bool", False)]
    if isinstance(value, str):
        return [("str->int", 5), ("str->list", ["x"]), ("str->enum-ish", "zz_not_a_value")]
    if isinstance(value, list):
        return [("list->dict", {}), ("list->str", "x")]
    if isinstance(value, dict):
        return [("dict->list", []), ("dict->str", "x")]
    return [("null->str", "x"), ("null->int", 3)]


def _apply(doc: Any, op: tuple[str, tuple[Any, ...], Any]) -> Any:
    _, path, new = op
    if not path:
        return copy.deepcopy(new)
    doc = copy.deepcopy(doc)
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = copy.deepcopy(new)
    return doc


def test_every_registered_schema_has_an_example() -> None:
    assert set(_full_examples()) == set(SCHEMAS), "give each new contract model an example here (tests/factories.py)"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_roundtrip_through_json(name: str) -> None:
    example = _full_examples()[name]
    model = type(example)
    again = model.model_validate_json(example.model_dump_json())
    assert again == example
    assert json.loads(again.model_dump_json()) == json.loads(example.model_dump_json())


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_file_is_valid_draft_2020_12(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / schema_filename(name)).read_text())
    assert schema["$schema"] == DRAFT
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == build_schema(name)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_jsonschema_and_pydantic_agree(name: str) -> None:
    example = _full_examples()[name]
    model = type(example)
    schema = json.loads((SCHEMA_DIR / schema_filename(name)).read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    good = json.loads(example.model_dump_json())
    assert validator.is_valid(good)
    model.model_validate_json(json.dumps(good))
    disagreements = []
    mutations = _mutations(good)
    assert len(mutations) > 10
    for label, op in mutations:
        doc = _apply(good, op)
        by_schema = validator.is_valid(doc)
        try:
            model.model_validate_json(json.dumps(doc))
            by_model = True
        except ValidationError:
            by_model = False
        if by_schema != by_model:
            disagreements.append(f"{label}: jsonschema={by_schema} pydantic={by_model}")
    assert not disagreements, "\n".join(disagreements[:20])


def _task_type_examples() -> dict[str, tuple[str, BaseModel]]:
    """Records of the non-code task types: label -> (schema name, record)."""
    math = make_math_problem("math/1", "\\frac{1}{2}", source={"subject": "Algebra", "level": 2})
    ifeval = make_ifeval_problem("ifeval/1000")
    bfcl = make_bfcl_problem("parallel_0")
    math_sample = make_sample(math, 0, 0, raw_response="<think>hm</think> $\\boxed{0.5}$", extracted_code="",
                              extraction_method="not_applicable")
    counts = {"tests_total": 1, "visible_passed": 0, "visible_total": 0, "hidden_total": 1}
    math_result = make_result(math_sample, "wrong_answer", task_type="math", tests_passed=0, hidden_passed=0,
                              answer={"extracted": "0.4", "method": "boxed", "gold": "\\frac{1}{2}"},
                              tests=[{"test_id": "answer", "visibility": "hidden", "status": "failed", "duration_s": 0.002,
                                      "expected": "\\frac{1}{2}", "actual": "0.4"}], **counts)
    if_result = make_result(make_sample(ifeval, 0, 0, extracted_code="", extraction_method="not_applicable"), "wrong_answer",
                            task_type="instruction_following", tests_passed=1, tests_total=2, visible_passed=0,
                            visible_total=0, hidden_passed=1, hidden_total=2, loose_passed=True, loose_tests_passed=2,
                            tests=[{"test_id": "i0", "visibility": "hidden", "status": "passed", "duration_s": 0.0,
                                    "loose_status": "passed"},
                                   {"test_id": "i1", "visibility": "hidden", "status": "failed", "duration_s": 0.0,
                                    "loose_status": "passed"}])
    fc_result = make_result(make_sample(bfcl, 0, 0, extracted_code="", extraction_method="not_applicable"), "no_answer",
                            task_type="function_calling", tests_passed=0, tests_total=2, visible_passed=0,
                            visible_total=0, hidden_passed=0, hidden_total=2,
                            answer={"extracted": None, "method": "none", "gold": "[]"})
    return {"math problem": ("problem", math), "ifeval problem": ("problem", ifeval), "bfcl problem": ("problem", bfcl),
            "math sample": ("sample", math_sample), "math result": ("score_result", math_result),
            "ifeval result": ("score_result", if_result), "bfcl result": ("score_result", fc_result)}


@pytest.mark.parametrize("label", sorted(_task_type_examples()))
def test_task_type_records_roundtrip_and_agree_with_their_schema(label: str) -> None:
    name, example = _task_type_examples()[label]
    model = type(example)
    assert model.model_validate_json(example.model_dump_json()) == example
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMA_DIR / schema_filename(name)).read_text()))
    good = json.loads(example.model_dump_json())
    assert validator.is_valid(good)
    disagreements = []
    for mutation, op in _mutations(good):
        doc = _apply(good, op)
        try:
            model.model_validate_json(json.dumps(doc))
            by_model = True
        except ValidationError:
            by_model = False
        if validator.is_valid(doc) != by_model:
            disagreements.append(f"{mutation}: jsonschema={validator.is_valid(doc)} pydantic={by_model}")
    assert not disagreements, "\n".join(disagreements[:20])


@pytest.mark.parametrize(("label", "change", "message"), [
    ("math problem", {"task_type": "code"}, "grading is for non-code problems"),
    ("math problem", {"task_type": "instruction_following"}, "does not match task_type"),
    ("ifeval problem", {"grading": None}, "needs grading"),
    ("math problem", {"tests": [{"test_id": "answer", "code": "", "visibility": "hidden"},
                                {"test_id": "x", "code": "", "visibility": "hidden"}]}, "want 1 tests, got 2"),
    ("ifeval problem", {"tests": [{"test_id": "i0", "code": "", "visibility": "hidden"}]}, "want 2 tests, got 1"),
    ("bfcl problem", {"tests": [{"test_id": "c0", "code": "", "visibility": "hidden"}]}, "want 2 tests, got 1"),
    ("math result", {"task_type": "code"}, "answer is for non-code task types"),
    ("math result", {"loose_passed": True}, "loose_passed and loose_tests_passed are for instruction_following"),
    ("ifeval result", {"loose_tests_passed": 3}, "exceeds tests_total"),
])
def test_task_type_rules_are_enforced(label: str, change: dict[str, Any], message: str) -> None:
    name, example = _task_type_examples()[label]
    doc = {**json.loads(example.model_dump_json()), **change}
    with pytest.raises(ValidationError, match=message):
        type(example).model_validate(doc)
    # The schema file rejects it too, except the check counts, which JSON Schema cannot compare with a list's length.
    schema = json.loads((SCHEMA_DIR / schema_filename(name)).read_text())
    if ("tests" not in change or label == "math problem") and "loose_tests_passed" not in change:
        assert not jsonschema.Draft202012Validator(schema).is_valid(doc)


def test_grading_data_is_checked() -> None:
    with pytest.raises(ValidationError, match="kwargs has 1 entries, instruction_id_list 2"):
        make_ifeval_problem("x", grading={"kind": "instruction_following", "instruction_id_list": ["a:b", "c:d"],
                                          "kwargs": [{}]})
    with pytest.raises(ValidationError, match="at most 1 item"):
        make_bfcl_problem("x", tests=[{"test_id": "c0", "code": "", "visibility": "hidden"}], grading={
            "kind": "function_calling", "functions": [{"name": "f"}], "category": "simple",
            "possible_answers": [{"f": {"a": [1]}, "g": {}}]})
    with pytest.raises(ValidationError, match="answer"):
        make_math_problem("x", grading={"answer": ""})


def test_every_task_type_has_a_primary_metric() -> None:
    assert set(PRIMARY_METRIC) == set(TaskType)
    assert PRIMARY_METRIC[TaskType.CODE] == "pass@1"


# Fields each current model added after version 1: a version 1 record is the current one without them.
_ADDED_SINCE_V1 = {"problem": ("task_type", "grading"), "sample": (),
                   "score_result": ("task_type", "answer", "loose_passed", "loose_tests_passed"),
                   "reference_timing": ("clock", "case_durations_s")}


def _as_v1(doc: dict[str, Any], name: str) -> dict[str, Any]:
    v1 = {k: v for k, v in doc.items() if k not in _ADDED_SINCE_V1[name]}
    if name == "score_result":
        v1["tests"] = [{k: v for k, v in t.items() if k != "loose_status"} for t in v1["tests"]]
    return {**v1, "schema_version": 1}


@pytest.mark.parametrize("name", sorted(_ADDED_SINCE_V1))
def test_version_1_records_stay_readable(name: str) -> None:
    current = _full_examples()[name]
    v1 = _as_v1(json.loads(current.model_dump_json()), name)
    published = json.loads((SCHEMA_DIR / f"{name}.v1.schema.json").read_text())
    assert jsonschema.Draft202012Validator(published).is_valid(v1), "the example must be a valid version 1 record"
    read = type(current).model_validate_json(json.dumps(v1))
    assert read == current
    assert read.schema_version == 2
    if "task_type" in type(current).model_fields:
        assert read.model_dump()["task_type"] == TaskType.CODE


@pytest.mark.parametrize("name", ["problem", "score_result"])
def test_version_1_record_with_a_version_2_field_is_refused(name: str) -> None:
    current = _full_examples()[name]
    v1 = {**_as_v1(json.loads(current.model_dump_json()), name), "task_type": "code"}
    with pytest.raises(ValidationError, match="not a field of a version 1"):
        type(current).model_validate_json(json.dumps(v1))


def test_version_1_files_stay_published() -> None:
    lock = json.loads((SCHEMA_DIR / "published.lock.json").read_text())
    for name in _ADDED_SINCE_V1:
        assert f"{name}.v1.schema.json" in lock
        assert (SCHEMA_DIR / f"{name}.v1.schema.json").is_file()


def test_schema_files_have_no_drift() -> None:
    assert check(SCHEMA_DIR) == []


def test_drift_is_detected(tmp_path: Path) -> None:
    for f in SCHEMA_DIR.glob("*.json"):
        (tmp_path / f.name).write_text(f.read_text())
    victim = tmp_path / schema_filename("problem")
    victim.write_text(victim.read_text().replace('"dataset"', '"dataset_renamed"', 1))
    problems = check(tmp_path)
    assert problems and all(schema_filename("problem") in p for p in problems)
    assert any("differs from the model Problem" in p for p in problems)


def test_published_schema_cannot_be_edited(tmp_path: Path) -> None:
    from coderig_schemas.jsonschema_gen import LOCK, generate

    generate(tmp_path)
    name = schema_filename("sample")
    (tmp_path / LOCK).write_text(json.dumps({name: "0" * 64}))
    assert any("published schema was edited" in p for p in check(tmp_path))
    with pytest.raises(Exception, match="bump"):
        generate(tmp_path)


def test_legacy_record_is_derivable() -> None:
    problem = make_problem("mbpp/11", dataset="mbpp", source={"task_id": 11})
    sample = make_sample(problem, 0, 0, raw_response="resp")
    legacy = sample.to_legacy_record(problem.source["task_id"])
    assert legacy == {"mbpp_id": 11, "prompt": problem.prompt, "response": "resp", "model_name": "toy-model",
                      "temperature": 0.0, "max_tokens": 256, "split": "test"}

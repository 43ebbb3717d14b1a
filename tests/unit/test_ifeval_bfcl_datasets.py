"""IFEval and BFCL: the generate loaders' Problems, graded by the scorer's result builders (reference replay
of BFCL passes 100%; IFEval rows grade with one check per instruction)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coderig_generate.datasets import load_problems
from coderig_generate.datasets.bfcl import reference_calls, render_calls
from coderig_schemas import InvalidInputError, Problem, TaskType, TestStatus, Verdict
from coderig_score import bfcl
from coderig_score.bfcl.result import score_sample as score_bfcl
from coderig_score.ifeval.result import score_sample as score_ifeval
from tests.factories import make_bfcl_problem, make_ifeval_problem, make_sample


def env(shared_data: Path) -> dict[str, str]:
    return {"CODERIG_DATA_DIR": str(shared_data)}


@pytest.mark.parametrize(("name", "count", "category"), [
    ("bfcl_simple", 400, "simple"), ("bfcl_multiple", 200, "multiple"), ("bfcl_parallel", 200, "parallel")])
def test_bfcl_reference_replay_passes_every_question(shared_data: Path, name: str, count: int, category: str) -> None:
    problems = load_problems(name, env=env(shared_data))
    assert len(problems) == count
    for p in problems:
        assert p.task_type == TaskType.FUNCTION_CALLING and p.split == "test" and p.dataset == name
        assert p.grading is not None and p.grading.kind == "function_calling" and p.grading.category.value == category
        result = score_bfcl(p, make_sample(p, raw_response=p.reference_solution or "", extracted_code="",
                                           extraction_method="not_applicable"))
        assert result.verdict == Verdict.PASSED, (p.problem_id, p.reference_solution, result.error_message)
        assert result.tests_total == len(p.grading.possible_answers) == result.tests_passed
        assert result.answer is not None and result.answer.method.value == "python_call"


def test_bfcl_parallel_problem_has_one_check_per_expected_call(shared_data: Path) -> None:
    [p] = [p for p in load_problems("bfcl_parallel", env=env(shared_data)) if p.problem_id == "parallel_0"]
    assert [t.test_id for t in p.tests] == ["c0", "c1"]
    assert p.reference_solution == "[spotify.play(artist='Taylor Swift', duration=20), spotify.play(artist='Maroon 5', duration=15)]"
    assert p.prompt.startswith("Play songs from the artists Taylor Swift and Maroon 5")


def test_bfcl_reference_takes_a_required_parameter_even_when_empty_comes_first() -> None:
    functions = [{"name": "f", "parameters": {"type": "dict", "properties": {"a": {"type": "float"}, "b": {"type": "integer"}},
                                              "required": ["a"]}}]
    calls = reference_calls([{"f": {"a": ["", 25.0], "b": ["", 3]}}], functions)
    assert calls == [("f", {"a": 25.0})]
    assert render_calls(calls) == "f(a=25.0)"
    assert bfcl.parse_calls(render_calls(calls)) == [bfcl.Call("f", {"a": 25.0})]


def test_bfcl_missing_possible_answer_is_invalid_input(tmp_path: Path, shared_data: Path) -> None:
    q = tmp_path / "BFCL_v4_simple_python.json"
    q.write_text((shared_data / "bfcl" / "BFCL_v4_simple_python.json").read_text().split("\n")[0] + "\n")
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "possible_answer" / q.name).write_text('{"id": "other", "ground_truth": []}\n')
    with pytest.raises(InvalidInputError, match="no possible answer for 'simple_python_0'"):
        load_problems("bfcl_simple", source=q, env={})


def test_bfcl_answers_graded_with_verdicts() -> None:
    p = make_bfcl_problem("par0")
    def score(text: str, **over: object) -> object:
        return score_bfcl(p, make_sample(p, raw_response=text, extracted_code="", extraction_method="not_applicable", **over))
    ok = score("<tool_call>{\"name\": \"spotify.play\", \"arguments\": {\"artist\": \"maroon 5\", \"duration\": 15}}</tool_call>\n"
               "<tool_call>{\"name\": \"spotify.play\", \"arguments\": {\"artist\": \"Taylor Swift\", \"duration\": 20}}</tool_call>")
    assert ok.verdict == Verdict.PASSED and ok.answer.method.value == "json"  # type: ignore[attr-defined]
    wrong = score("[spotify.play(artist='Taylor Swift', duration=20), spotify.play(artist='Maroon 5', duration='15')]")
    assert wrong.verdict == Verdict.WRONG_ANSWER and (wrong.tests_passed, wrong.tests_total) == (1, 2)  # type: ignore[attr-defined]
    assert wrong.failing_test_id == "c1" and "type_error" in (wrong.error_message or "")  # type: ignore[attr-defined]
    none = score("I would play some songs for you.")
    assert none.verdict == Verdict.NO_ANSWER and none.answer.method.value == "none"  # type: ignore[attr-defined]
    cut = score("I would play", finish_reason="length")
    assert cut.verdict == Verdict.TRUNCATED_GENERATION  # type: ignore[attr-defined]
    thinking = score("<think>Let me think about the artists")
    assert thinking.verdict == Verdict.TRUNCATED_GENERATION  # type: ignore[attr-defined]


def test_ifeval_loader(shared_data: Path) -> None:
    problems = load_problems("ifeval", env=env(shared_data))
    assert len(problems) == 541
    p = next(p for p in problems if p.problem_id == "ifeval/1000")
    assert p.task_type == TaskType.INSTRUCTION_FOLLOWING and p.reference_solution is None and p.split == "test"
    assert p.grading is not None and p.grading.kind == "instruction_following"
    assert [t.test_id for t in p.tests] == [f"i{i}" for i in range(len(p.grading.instruction_id_list))]
    assert sum(len(p.tests) for p in problems) == 834


def test_ifeval_hub_style_nulls_are_dropped(tmp_path: Path) -> None:
    row = {"key": 7, "prompt": "Answer without commas.", "instruction_id_list": ["punctuation:no_comma"],
           "kwargs": [{"num_words": None, "relation": None}]}
    f = tmp_path / "if.jsonl"
    f.write_text(json.dumps(row) + "\n")
    [p] = load_problems("ifeval", source=f, env={})
    assert p.grading is not None and p.grading.kwargs == [{}]  # type: ignore[union-attr]


def test_ifeval_results_strict_and_loose() -> None:
    p: Problem = make_ifeval_problem("if0")
    def score(text: str) -> object:
        return score_ifeval(p, make_sample(p, raw_response=text, extracted_code="", extraction_method="not_applicable"))
    words = "one two three four five six seven eight nine ten"
    ok = score(words)
    assert ok.verdict == Verdict.PASSED and ok.loose_passed is True and ok.loose_tests_passed == 2  # type: ignore[attr-defined]
    wrong = score("Sure, here:\n" + words)          # the comma is only in the first line: loose passes, strict fails
    assert wrong.verdict == Verdict.WRONG_ANSWER and wrong.loose_passed is True  # type: ignore[attr-defined]
    assert [t.status for t in wrong.tests] == [TestStatus.FAILED, TestStatus.PASSED]  # type: ignore[attr-defined]
    assert [t.loose_status for t in wrong.tests] == [TestStatus.PASSED, TestStatus.PASSED]  # type: ignore[attr-defined]
    assert wrong.failing_test_id == "i0" and wrong.tests_passed == 1  # type: ignore[attr-defined]
    thought = score("<think>I must avoid commas, right?</think>\n" + words)
    assert thought.verdict == Verdict.PASSED  # type: ignore[attr-defined]
    assert score("   ").verdict == Verdict.NO_ANSWER  # type: ignore[attr-defined]
    assert score("<think>so, commas").verdict == Verdict.TRUNCATED_GENERATION  # type: ignore[attr-defined]


def test_ifeval_unknown_instruction_is_invalid_input() -> None:
    p = make_ifeval_problem("if1", grading={"kind": "instruction_following", "instruction_id_list": ["x:y", "punctuation:no_comma"],
                                            "kwargs": [{}, {}]})
    with pytest.raises(InvalidInputError, match="unknown IFEval instruction id 'x:y'"):
        score_ifeval(p, make_sample(p, raw_response="text", extracted_code="", extraction_method="not_applicable"))



@pytest.mark.parametrize(("model_id", "dtype", "gb"), [
    ("Qwen/Qwen3-8B", "bfloat16", 16.0), ("Qwen/Qwen2.5-Coder-14B-Instruct", "auto", 28.0),
    ("Qwen/Qwen2.5-Coder-0.5B-Instruct", "float32", 2.0), ("/cache/models/tiny-random", "float32", None), (None, None, None)])
def test_weights_estimate_from_the_model_name(model_id: str | None, dtype: str | None, gb: float | None) -> None:
    from coderig_generate.plan import weights_gb

    assert weights_gb(model_id, dtype) == gb


def test_plan_summary_counts_tasks_models_datasets() -> None:
    from coderig_generate.plan import plan_summary

    def row(model: str, dataset: str, engine: str = "vllm") -> dict[str, object]:
        return {"model": model, "dataset": dataset, "engine": engine, "seeds": [0, 1], "preset": None,
                "gpu_memory_utilization": None, "gpus": 1, "dtype": "auto", "weights_gb": None,
                "task_types": ["code"], "prompts": 3, "samples_per_seed": 3}
    lines = plan_summary({"runs": [row("a", "x"), row("a", "y"), row("b", "x", "openai"), row("b", "y", "openai")]})
    assert lines[0] == "Would evaluate 4 tasks (2 models x 2 datasets), 2 seed(s) each"
    assert lines[1] == "  model a: preset none; 1 GPU(s); weights size unknown"
    assert lines[2] == "  model b: engine openai (no local GPU)"
    assert lines[3] == "  dataset x: code; 3 prompts, 3 samples per seed per model"


def test_reference_replay_of_ifeval_answers_empty_and_scores_no_answer(shared_data: Path, run_store: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # IFEval has no gold responses: MODEL=reference still runs the chain (a category mixing datasets needs it)
    from click.testing import CliRunner

    from coderig_generate.cli import main as generate_main
    from coderig_schemas import RunStore, Sample
    from coderig_schemas.layout import PROBLEMS, SAMPLES

    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    r = CliRunner().invoke(generate_main, ["run", "--model", "reference", "--dataset", "ifeval", "--limit", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    out = RunStore(run_store).resolve(r.stdout.strip().splitlines()[-1])
    samples = list(out.records(SAMPLES, Sample))
    problems = {p.problem_id: p for p in out.records(PROBLEMS, Problem)}
    assert [s.raw_response for s in samples] == ["", ""]
    assert {score_ifeval(problems[s.problem_id], s).verdict for s in samples} == {Verdict.NO_ANSWER}

"""Build small published generate and score outputs from plain dicts, for tests of downstream stages.

These go through the real RunStore (publish, manifest, hashes), so readers see exactly what the
real stages write. Fields not given get plausible defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coderig_schemas import Problem, PublishedOutput, RunStore, Sample, ScoreResult, Verdict
from coderig_schemas.analysis import (
    Analysis,
    AnalysisSummary,
    BucketStats,
    ComparisonMatrix,
    ConfigEffect,
    DifficultyBreakdown,
    Distribution,
    InputIssue,
    Interval,
    MatrixCell,
    PairedComparison,
    ProblemSummary,
    RunAnalysis,
    RunConfig,
    RunMetrics,
    SeedGroup,
)
from coderig_schemas.finetune import DatasetSummaryRow
from coderig_schemas.layout import PROBLEMS, RESULTS, SAMPLES, default_name
from coderig_schemas.tasks import TaskType


def make_problem(problem_id: str, **over: Any) -> Problem:
    """A Problem with one visible and one hidden test unless given."""
    base: dict[str, Any] = {
        "dataset": "toy", "split": "test", "problem_id": problem_id,
        "prompt": f"Write f for {problem_id}.", "entry_point": "f",
        "reference_solution": "def f(x):\n    return x\n",
        "tests": [
            {"test_id": "t0", "code": "assert f(1) == 1", "visibility": "visible"},
            {"test_id": "t1", "code": "assert f(2) == 2", "visibility": "hidden"},
        ],
    }
    base.update(over)
    return Problem.model_validate(base)


def make_math_problem(problem_id: str, answer: str = "\\frac{1}{2}", **over: Any) -> Problem:
    """A math Problem (one check, 'answer') whose gold answer is answer, with a boxed reference solution."""
    grading = {"kind": "math", "answer": answer, "answer_format": "latex", "extraction": "boxed"}
    grading.update(over.pop("grading", {}))
    base: dict[str, Any] = {
        "dataset": "toymath", "split": "test", "problem_id": problem_id, "task_type": "math",
        "prompt": f"Compute {problem_id}.", "reference_solution": f"So the answer is $\\boxed{{{grading['answer']}}}$.",
        "tests": [{"test_id": "answer", "code": "", "visibility": "hidden", "expected_repr": grading["answer"]}],
        "grading": grading,
    }
    base.update(over)
    return Problem.model_validate(base)


def make_ifeval_problem(problem_id: str, **over: Any) -> Problem:
    """An instruction-following Problem with two instructions (checks 'i0', 'i1')."""
    base: dict[str, Any] = {
        "dataset": "toyif", "split": "train", "problem_id": problem_id, "task_type": "instruction_following",
        "prompt": "Write a poem without commas, at least 10 words.",
        "tests": [{"test_id": "i0", "code": "", "visibility": "hidden", "expected_repr": "punctuation:no_comma"},
                  {"test_id": "i1", "code": "", "visibility": "hidden", "expected_repr": "length_constraints:number_words"}],
        "grading": {"kind": "instruction_following",
                    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
                    "kwargs": [{}, {"relation": "at least", "num_words": 10}]},
    }
    base.update(over)
    return Problem.model_validate(base)


def make_bfcl_problem(problem_id: str, **over: Any) -> Problem:
    """A function-calling Problem (parallel: two expected calls, checks 'c0', 'c1')."""
    fn = {"name": "spotify.play", "description": "Play songs.", "parameters": {
        "type": "dict", "properties": {"artist": {"type": "string"}, "duration": {"type": "integer"}},
        "required": ["artist", "duration"]}}
    base: dict[str, Any] = {
        "dataset": "toyfc", "split": "test", "problem_id": problem_id, "task_type": "function_calling",
        "prompt": "Play Taylor Swift for 20 minutes and Maroon 5 for 15.",
        "tests": [{"test_id": "c0", "code": "", "visibility": "hidden"}, {"test_id": "c1", "code": "", "visibility": "hidden"}],
        "grading": {"kind": "function_calling", "functions": [fn], "category": "parallel", "possible_answers": [
            {"spotify.play": {"artist": ["Taylor Swift"], "duration": [20]}},
            {"spotify.play": {"artist": ["Maroon 5"], "duration": [15, ""]}},
        ]},
    }
    base.update(over)
    return Problem.model_validate(base)


def make_sample(problem: Problem, index: int = 0, seed: int | None = 0, **over: Any) -> Sample:
    """A Sample answering problem with its reference solution unless given."""
    code = over.pop("extracted_code", problem.reference_solution or "")
    base: dict[str, Any] = {
        "sample_id": f"{problem.problem_id}#s{seed}#{index}", "problem_id": problem.problem_id,
        "dataset": problem.dataset, "split": problem.split, "sample_index": index, "seed": seed,
        "model_name": "toy-model", "template_id": "default", "template_sha256": "0" * 64, "prompt_sha256": "1" * 64,
        "prompt_text": problem.prompt, "raw_response": f"```python\n{code}```", "extracted_code": code,
        "extraction_method": "fenced", "finish_reason": "stop", "prompt_tokens": 10, "completion_tokens": 20,
        "latency_s": 0.5, "engine": "replay",
        "sampling": {"temperature": 0.0, "max_tokens": 256, "n": 1, "seed": seed},
    }
    base.update(over)
    return Sample.model_validate(base)


def make_result(sample: Sample, verdict: str = "passed", difficulty: str | None = None, **over: Any) -> ScoreResult:
    """A ScoreResult for sample with the given verdict."""
    passed = verdict == Verdict.PASSED
    base: dict[str, Any] = {
        "sample_id": sample.sample_id, "problem_id": sample.problem_id, "dataset": sample.dataset, "split": sample.split,
        "sample_index": sample.sample_index, "seed": sample.seed, "model_name": sample.model_name,
        "verdict": verdict, "passed": passed, "tests_passed": 2 if passed else 0, "tests_total": 2,
        "visible_passed": 1 if passed else 0, "visible_total": 1, "hidden_passed": 1 if passed else 0, "hidden_total": 1,
        "difficulty": difficulty, "duration_s": 0.01,
        "exception_type": None if passed else "AssertionError", "error_message": None if passed else "assert f(1) == 1",
    }
    base.update(over)
    return ScoreResult.model_validate(base)


def publish_generate(
    store_root: Path, problems: list[Problem], samples: list[Sample], *, model: str = "toy-model",
    dataset: str = "toy", seed: int | None = 0, config: dict[str, Any] | None = None,
) -> PublishedOutput:
    """Publish a generate output holding problems and samples."""
    store = RunStore(store_root)
    cfg = config or {"model": model, "dataset": dataset, "seed": seed, "temperature": 0.0, "max_tokens": 256}
    with store.begin(stage="generate", name=default_name(model, dataset, seed), config=cfg, inputs=[],
                     tool="test-factory", tool_version="0") as b:
        b.write_records(PROBLEMS, problems)
        b.write_records(SAMPLES, samples)
        return b.publish(stats={"samples": len(samples)})


def publish_score(store_root: Path, generate: PublishedOutput, results: list[ScoreResult]) -> PublishedOutput:
    """Publish a score output of results computed from a generate output."""
    store = RunStore(store_root)
    generate.path_of(PROBLEMS)
    generate.path_of(SAMPLES)
    with store.begin(stage="score", name=generate.manifest.name, config={"scorer": "test-factory"}, inputs=[generate],
                     tool="test-factory", tool_version="0") as b:
        b.write_records(RESULTS, results)
        return b.publish(stats={"results": len(results)})


def scored_run(
    store_root: Path, verdicts: dict[str, list[str]], *, difficulties: dict[str, str] | None = None,
    model: str = "toy-model", dataset: str = "toy", seed: int | None = 0, config: dict[str, Any] | None = None,
) -> PublishedOutput:
    """Publish generate + score for {problem_id: [verdict of sample 0, sample 1, ...]}; return the score output."""
    difficulties = difficulties or {}
    problems = [make_problem(pid, dataset=dataset, difficulty=difficulties.get(pid),
                             difficulty_source="dataset" if pid in difficulties else "none") for pid in verdicts]
    samples, results = [], []
    for p in problems:
        for i, v in enumerate(verdicts[p.problem_id]):
            s = make_sample(p, i, seed, model_name=model)
            samples.append(s)
            results.append(make_result(s, v, difficulties.get(p.problem_id)))
    gen = publish_generate(store_root, problems, samples, model=model, dataset=dataset, seed=seed, config=config)
    return publish_score(store_root, gen, results)


def results_without_durations(output_dir: Path) -> list[dict[str, Any]]:
    """A score output's records without wall-clock fields (the only thing that may differ between two runs)."""
    import json

    out = []
    for line in (output_dir / RESULTS).read_text().splitlines():
        rec = json.loads(line)
        rec.pop("duration_s")
        for t in rec["tests"]:
            t.pop("duration_s")
        out.append(rec)
    return out


# ---------------------------------------------------------------- examples of the contract's documents
def example_dataset_summary_row() -> DatasetSummaryRow:
    """A valid datasets_summary.csv row."""
    return DatasetSummaryRow(
        dataset="mbpp", examples=3, easy=1, medium=1, hard=1, unknown_difficulty=0, problems=3, avg_problem_chars=80.5,
        avg_solution_chars=120.0, scored_samples=10, passing_samples=6, success_rate=0.6, success_rate_easy=0.75,
        success_rate_medium=0.5, success_rate_hard=None, contaminated_removed=2, duplicates_removed=1, not_selected=0,
    )


def example_comparison_matrix() -> ComparisonMatrix:
    """A valid comparison matrix of two models on one dataset."""
    cells = [
        MatrixCell(model_name=m, dataset="mbpp", config_id="0a1b2c3d", runs=1, rank=r,
                   pass_rate=Interval(estimate=e, low=e - 0.1, high=e + 0.1, method="wilson"))
        for m, r, e in (("a", 1, 0.7), ("b", 2, 0.3))
    ]
    return ComparisonMatrix(category="demo", presets=["balanced"], task_types={"mbpp": TaskType.CODE}, metrics={"mbpp": "pass@1"},
                            models=["a", "b"], datasets=["mbpp"], cells=cells, mean_rank={"a": 1.0, "b": 2.0},
                            missing=["b on humaneval"])


def example_paired_comparison() -> PairedComparison:
    """A valid paired comparison of two runs."""
    return PairedComparison(
        dataset="mbpp", a_ref="score/a__mbpp__s0/0123456789abcdef", b_ref="score/b__mbpp__s0/0123456789abcdef",
        a_model="a", b_model="b", problems=10, a_rate=0.7, b_rate=0.3,
        difference=Interval(estimate=0.4, low=0.1, high=0.7, method="paired bootstrap"),
        both_passed=2, a_only=5, b_only=1, both_failed=2, mcnemar_p=0.21875,
    )


def example_analysis() -> Analysis:
    """A valid analysis document with one of every part."""
    bucket = BucketStats(total=2, passed=1, pass_rate=0.5)
    ci = Interval(estimate=0.5, low=0.1, high=0.9, method="wilson")
    config = RunConfig(model_name="a", dataset="mbpp", seed=0, temperature=0.2, top_p=0.95, max_tokens=512,
                       template="default", preset=None, config_id="0a1b2c3d")
    summary = AnalysisSummary(
        run_ref="score/a__mbpp__s0/0123456789abcdef", model_name="a", dataset="mbpp", seed=0, total_problems=2,
        passed_problems=1, pass_rate=0.5, pass_rate_ci=ci, pass_at_k={"1": 0.5},
        difficulty_breakdown=DifficultyBreakdown(easy=bucket, medium=bucket, hard=BucketStats(total=0, passed=0, pass_rate=0.0)),
        verdict_counts={"passed": 1, "wrong_answer": 1}, total_samples=2,
    )
    spread = Distribution(count=2, total=3.0, mean=1.5, median=1.5, p95=1.95, max=2.0)
    run = RunAnalysis(
        summary=summary, generate_ref="generate/a__mbpp__s0/0123456789abcdef", config=config, samples_expected=2,
        complete=True, samples_per_problem=1, pass_at_k_ci={"1": ci}, split_breakdown={"test": bucket},
        tag_breakdown={"math": bucket}, verdict_shares={"passed": 0.5, "wrong_answer": 0.5},
        exception_types={"TypeError": 1}, extraction_methods={"fenced": 2}, finish_reasons={"stop": 2},
        prompt_tokens=spread, completion_tokens=spread, latency_s=spread, tokens_per_s=1.0, samples_per_s=0.6,
    )
    return Analysis(
        name="demo", category="demo", level=0.95, bootstrap=1000, seed=0, runs=[run],
        metrics=[RunMetrics(run_ref=summary.run_ref, model_name="a", dataset="mbpp", seed=0, task_type=TaskType.CODE,
                            metric="pass@1", values={"pass@1": ci})],
        seed_analysis=[SeedGroup(config=config.model_copy(update={"seed": None}), seeds=[0, 1], runs=2, mean=0.5,
                                 std=0.1, min=0.4, max=0.6, ci=Interval(estimate=0.5, low=0.0, high=1.0, method="t"))],
        config_analysis=[ConfigEffect(factor="temperature", value="0.2", model_name="a", dataset="mbpp", runs=2,
                                      mean=0.5, std=0.1, min=0.4, max=0.6)],
        matrix=example_comparison_matrix(), paired=[example_paired_comparison()],
        problems=[ProblemSummary(dataset="mbpp", problems=2, models=2, empirical={"easy": 1, "hard": 1},
                                 never_solved=["mbpp/2"], always_solved=[])],
        issues=[InputIssue(kind="unscored", ref="generate/c__mbpp__s0/0123456789abcdef", message="not scored yet")],
    )

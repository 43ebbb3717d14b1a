"""coderig-score on math samples: the grader pool behind the CLI, the run store, shards, merge, no sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from coderig_schemas import PublishedOutput, RunStore, ScoreResult, Verdict
from coderig_schemas.layout import PASS_AT_K, RESULTS
from coderig_score.cli import main
from tests.factories import make_math_problem, make_sample, publish_generate

TEXT = {"extracted_code": "", "extraction_method": "not_applicable"}
RESPONSES = ["The answer is $\\boxed{0.5}$.", "\\boxed{\\frac{1}{3}}", "<think>\\boxed{0.5}</think>no idea", "I give up.",
             "<think>\\boxed{0.5}"]


def publish_math(runs: Path, pathological: bool = False) -> PublishedOutput:
    problems = [make_math_problem(f"p{i}", answer="\\frac{1}{2}") for i in range(3)]
    samples = [make_sample(p, j, raw_response=r, **TEXT) for p in problems for j, r in enumerate(RESPONSES)]
    if pathological:
        samples.append(make_sample(problems[0], len(RESPONSES), raw_response="\\boxed{9^{9^{9^{9}}}}", **TEXT))
    return publish_generate(runs, problems, samples, dataset="toymath")


def invoke(runs: Path, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--runs", str(runs), "--quiet"] + (["--json"] if args[0] == "run" else []))


def records(runs: Path, ref: str) -> list[dict[str, Any]]:
    out = RunStore(runs).resolve(ref)
    recs = []
    for r in out.records(RESULTS, ScoreResult):
        d = r.model_dump(mode="json")
        d.pop("duration_s")
        d["tests"][0].pop("duration_s")
        recs.append(d)
    return recs


def test_math_run_scores_every_sample_without_a_sandbox(run_store: Path) -> None:
    gen = publish_math(run_store)
    r = invoke(run_store, "run", "--generate", gen.ref, "--workers", "2")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert "sandbox" not in summary and summary["verdicts"] == {"no_answer": 6, "passed": 3, "truncated_generation": 3,
                                                                  "wrong_answer": 3}
    assert abs(summary["pass_at_k"]["1"] - 0.2) < 1e-12
    out = RunStore(run_store).resolve(summary["output"])
    assert out.manifest.config["math"]["cpu_s"] == 5.0
    results = list(out.records(RESULTS, ScoreResult))
    assert [r.sample_id for r in results] == [s for s in (json.loads(line)["sample_id"] for line in
                                                         (gen.path / "samples.jsonl").read_text().splitlines())]
    wrong = next(r for r in results if r.verdict == Verdict.WRONG_ANSWER)
    assert wrong.answer is not None and (wrong.answer.extracted, wrong.answer.gold) == ("\\frac{1}{3}", "\\frac{1}{2}")
    assert all(r.task_type == "math" and r.tests_total == 1 and r.hidden_total == 1 for r in results)
    assert json.loads((out.path / PASS_AT_K).read_text())["per_problem"]["p0"]["n"] == 5
    again = invoke(run_store, "run", "--generate", gen.ref, "--workers", "1")
    assert json.loads(again.stdout)["output"] == summary["output"]  # a no-op: the worker count changes nothing


def test_shards_merge_to_the_unsharded_results(run_store: Path) -> None:
    gen = publish_math(run_store)
    whole = json.loads(invoke(run_store, "run", "--generate", gen.ref, "--workers", "1").stdout)["output"]
    shards = [json.loads(invoke(run_store, "run", "--generate", gen.ref, "--workers", "2", "--shard", f"{i}/2").stdout)["output"]
              for i in range(2)]
    merged = invoke(run_store, "merge", *shards, "--json")
    assert merged.exit_code == 0, merged.output
    assert records(run_store, json.loads(merged.stdout)["output"]) == records(run_store, whole)


def test_a_pathological_answer_is_excluded_and_the_run_goes_on(run_store: Path) -> None:
    gen = publish_math(run_store, pathological=True)
    r = invoke(run_store, "run", "--generate", gen.ref, "--workers", "2", "--grader-cpu", "1")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["verdicts"]["sandbox_error"] == 1 and summary["sandbox_errors"] == 1
    assert summary["verdicts"]["passed"] == 3 and abs(summary["pass_rate"] - 3 / 15) < 1e-12  # the excluded sample is not counted
    assert summary["grader_restarts"] == 2
    bad = [r for r in RunStore(run_store).resolve(summary["output"]).records(RESULTS, ScoreResult)
           if r.verdict == Verdict.SANDBOX_ERROR]
    assert len(bad) == 1 and bad[0].exception_type == "GraderTimeout" and bad[0].attempts == 2


def test_an_interrupted_math_run_resumes_from_its_completed_units(run_store: Path, tmp_path: Path, monkeypatch: Any) -> None:
    import coderig_score.math.grading as grading

    gen = publish_math(run_store)
    real = grading.grade_items

    def interrupted(pool: Any, items: Any) -> Any:
        for n, out in enumerate(real(pool, items)):
            if n == 9:
                raise KeyboardInterrupt  # Ctrl-C after 9 of 15 results: some units of 2 samples are complete
            yield out

    monkeypatch.setattr(grading, "grade_items", interrupted)
    first = invoke(run_store, "run", "--generate", gen.ref, "--unit-size", "2", "--workers", "1")
    assert first.exit_code == 130
    units = next((run_store / ".staging" / "score").glob("*/*/units"))
    assert 1 <= len(list(units.glob("u*.jsonl"))) < 8
    monkeypatch.setattr(grading, "grade_items", real)
    resumed = invoke(run_store, "run", "--generate", gen.ref, "--unit-size", "2", "--workers", "1")
    assert resumed.exit_code == 0, resumed.output
    other = tmp_path / "other"
    gen_b = publish_math(other)
    whole = invoke(other, "run", "--generate", gen_b.ref, "--unit-size", "2", "--workers", "2")
    assert records(run_store, json.loads(resumed.stdout)["output"]) == records(other, json.loads(whole.stdout)["output"])

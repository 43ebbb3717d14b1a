"""Analyze and export on runs of every task type (issue 12, point 5), through the real CLIs.

Runs are built with tests/factories.py and graded by the real in-process graders (IFEval, BFCL), so the
results carry what coderig-score writes: IFEval's loose verdicts and check counts, BFCL's decoded calls.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from coderig_analyze.cli import main as analyze_main
from coderig_export.cli import main as export_main
from coderig_schemas import PublishedOutput, ScoreResult
from coderig_schemas.analysis import Analysis, ComparisonMatrix
from coderig_schemas.tasks import PRIMARY_METRIC, TaskType
from coderig_score.bfcl.result import score_sample as grade_bfcl
from coderig_score.ifeval.result import score_sample as grade_ifeval
from tests.factories import (
    example_analysis,
    make_bfcl_problem,
    make_ifeval_problem,
    make_sample,
    publish_generate,
    publish_score,
    scored_run,
)

FAST = ["--bootstrap", "200", "--no-charts", "--quiet"]
POEM = "roses are red and violets are blue and the sky is wide tonight"  # 13 words, no comma
# The instructions of make_ifeval_problem: no comma; at least 10 words.
IFEVAL_RESPONSES = {
    # alpha: both followed; both followed; a comma only in the first line (strict fails no_comma, loose passes
    # without the first line); commas on every line and too short (both fail, strict and loose)
    "alpha": [POEM, POEM + " again", "Sure, here it is:\n" + POEM, "a, b\nc, d\ne, f"],
    "beta": [POEM, "a, b\nc, d\ne, f", "x, y\nz, w\nu, v", "one, two\nthree, four\nfive, six"],
}
BFCL_CALLS = {  # make_bfcl_problem: two parallel calls expected
    "alpha": ['[{"name": "spotify.play", "arguments": {"artist": "Taylor Swift", "duration": 20}}, '
              '{"name": "spotify.play", "arguments": {"artist": "Maroon 5", "duration": 15}}]',
              '[spotify.play(artist="Taylor Swift", duration=20), spotify.play(artist="Maroon 5", duration=15)]'],
    "beta": ['spotify.play(artist="Taylor Swift", duration="20")', "I cannot play music."],
}
CONFIG = {"temperature": 0.0, "max_tokens": 256, "engine": {"preset": "balanced"}}


def _graded_run(store: Path, model: str, problems: list[Any], responses: list[str], grade: Any, dataset: str) -> PublishedOutput:
    samples = [make_sample(p, 0, 0, model_name=model, raw_response=r, extracted_code="", extraction_method="not_applicable")
               for p, r in zip(problems, responses, strict=True)]
    results: list[ScoreResult] = [grade(p, s) for p, s in zip(problems, samples, strict=True)]
    gen = publish_generate(store, problems, samples, model=model, dataset=dataset, seed=0,
                           config={"model": model, "dataset": dataset, "seed": 0, **CONFIG})
    return publish_score(store, gen, results)


@pytest.fixture
def mixed(run_store: Path) -> dict[str, PublishedOutput]:
    """alpha and beta on an IFEval set (4 prompts), a BFCL set (2 questions) and a code set (3 problems)."""
    out = {}
    for model in ("alpha", "beta"):
        ifeval = [make_ifeval_problem(f"if{i}") for i in range(4)]
        out[f"{model}/if"] = _graded_run(run_store, model, ifeval, IFEVAL_RESPONSES[model], grade_ifeval, "toyif")
        bfcl = [make_bfcl_problem(f"fc{i}") for i in range(2)]
        out[f"{model}/fc"] = _graded_run(run_store, model, bfcl, BFCL_CALLS[model], grade_bfcl, "toyfc")
        verdicts = ["passed", "passed", "wrong_answer"] if model == "alpha" else ["passed", "wrong_answer", "wrong_answer"]
        out[f"{model}/code"] = scored_run(run_store, {f"p{i}": [v] for i, v in enumerate(verdicts)}, model=model,
                                          config={"model": model, "dataset": "toy", "seed": 0, **CONFIG})
    return out


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def _analyze(*args: str) -> Path:
    r = CliRunner().invoke(analyze_main, ["run", *args, *FAST])
    assert r.exit_code == 0, r.stderr
    return Path(r.stdout.strip())


def test_graded_responses_are_what_the_test_assumes(mixed: dict[str, PublishedOutput]) -> None:
    """The fixture's premise, checked on the real graders' results (so the numbers below mean what they say)."""
    rows = [json.loads(line) for line in (mixed["alpha/if"].path / "results.jsonl").read_text().splitlines()]
    assert [(r["passed"], r["loose_passed"], r["tests_passed"], r["loose_tests_passed"]) for r in rows] == [
        (True, True, 2, 2), (True, True, 2, 2), (False, True, 1, 2), (False, False, 0, 0)]
    fc = [json.loads(line) for line in (mixed["alpha/fc"].path / "results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in fc] == [True, True]


def test_category_matrix_names_category_preset_and_each_cells_metric(mixed: dict[str, PublishedOutput]) -> None:
    out = _analyze("score/*", "--category-label", "specialists", "--name", "specialists")
    matrix = ComparisonMatrix.model_validate_json((out / "comparison.json").read_text())
    assert matrix.schema_version == 2 and matrix.category == "specialists" and matrix.presets == ["balanced"]
    assert matrix.task_types == {"toy": TaskType.CODE, "toyfc": TaskType.FUNCTION_CALLING, "toyif": TaskType.INSTRUCTION_FOLLOWING}
    assert matrix.metrics == {d: PRIMARY_METRIC[t] for d, t in matrix.task_types.items()}
    cells = {(c.model_name, c.dataset): c.pass_rate.estimate for c in matrix.cells}
    assert cells == {("alpha", "toy"): 2 / 3, ("beta", "toy"): 1 / 3, ("alpha", "toyfc"): 1.0, ("beta", "toyfc"): 0.0,
                     ("alpha", "toyif"): 0.5, ("beta", "toyif"): 0.25}
    analysis = Analysis.model_validate_json((out / "analysis.json").read_text())
    assert analysis.category == "specialists" and analysis.matrix == matrix
    for text in ((out / "comparison.md").read_text(), (out / "report.md").read_text()):
        assert "Category `specialists`; preset `balanced`" in text
        assert "| _task type_ | _code_ | _function_calling_ | _instruction_following_ | |" in text
        # every cell names its metric
        assert "| alpha | pass@1 66.7% [" in text and "| accuracy 100.0% [" in text
        assert "| prompt_level_strict_accuracy 50.0% [" in text


def test_ifeval_four_numbers_with_intervals(mixed: dict[str, PublishedOutput]) -> None:
    out = _analyze("score/alpha__toyif__s0", "score/alpha__toy__s0")
    analysis = Analysis.model_validate_json((out / "analysis.json").read_text())
    by_dataset = {m.dataset: m for m in analysis.metrics}
    ifeval = by_dataset["toyif"]
    assert ifeval.task_type == TaskType.INSTRUCTION_FOLLOWING and ifeval.metric == "prompt_level_strict_accuracy"
    expected = {"prompt_level_strict_accuracy": 2 / 4, "prompt_level_loose_accuracy": 3 / 4,
                "inst_level_strict_accuracy": 5 / 8, "inst_level_loose_accuracy": 6 / 8}
    assert {k: v.estimate for k, v in ifeval.values.items()} == pytest.approx(expected)
    assert list(ifeval.values) == list(expected)  # the order IFEval prints them
    for name, iv in ifeval.values.items():
        assert 0 <= iv.low <= iv.estimate <= iv.high <= 1 and iv.low < iv.high, name
    assert ifeval.values["inst_level_strict_accuracy"].method == "bootstrap over prompts"
    # the primary metric is the run's pass rate, with the same interval
    run = next(r for r in analysis.runs if r.config.dataset == "toyif")
    assert ifeval.values["prompt_level_strict_accuracy"].estimate == run.summary.pass_rate
    assert (ifeval.values["prompt_level_strict_accuracy"].low, ifeval.values["prompt_level_strict_accuracy"].high) == (
        run.summary.pass_rate_ci.low, run.summary.pass_rate_ci.high)  # type: ignore[union-attr]
    code = by_dataset["toy"]
    assert code.metric == "pass@1" and list(code.values) == ["pass@1"]
    rows = _csv(out / "metrics.csv")
    assert {(r["dataset"], r["metric"], r["primary"]) for r in rows} == {
        ("toyif", "prompt_level_strict_accuracy", "True"), ("toyif", "prompt_level_loose_accuracy", "False"),
        ("toyif", "inst_level_strict_accuracy", "False"), ("toyif", "inst_level_loose_accuracy", "False"),
        ("toy", "pass@1", "True")}
    report = (out / "report.md").read_text()
    assert "## Metrics by task type" in report and "inst_level_loose_accuracy" in report and "75.0%" in report


def test_paired_comparisons_on_non_code_datasets(mixed: dict[str, PublishedOutput]) -> None:
    out = _analyze("score/*")
    paired = {p.dataset: p for p in Analysis.model_validate_json((out / "analysis.json").read_text()).paired}
    assert set(paired) == {"toy", "toyfc", "toyif"}
    ifeval = paired["toyif"]
    # alpha passes if0, if1 (strict); beta passes if0 only
    assert (ifeval.problems, ifeval.both_passed, ifeval.a_only, ifeval.b_only, ifeval.both_failed) == (4, 1, 1, 0, 2)
    assert ifeval.difference.estimate == pytest.approx(0.25)
    fc = paired["toyfc"]
    assert (fc.a_only, fc.b_only, fc.difference.estimate) == (2, 0, pytest.approx(1.0))
    r = CliRunner().invoke(analyze_main, ["compare", "score/alpha__toyif__s0", "score/beta__toyif__s0", "--bootstrap", "100",
                                          "--quiet", "--json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["dataset"] == "toyif" and doc["a_only"] == 1 and doc["b_only"] == 0 and doc["problems"] == 4


def test_workbook_rows_of_ifeval_and_bfcl_samples(mixed: dict[str, PublishedOutput]) -> None:
    r = CliRunner().invoke(export_main, ["xlsx", "score/alpha__toyif__s0", "score/alpha__toyfc__s0", "score/alpha__toy__s0",
                                         "--quiet"])
    assert r.exit_code == 0, r.stderr
    ws = load_workbook(Path(r.stdout.strip()) / "results.xlsx", read_only=True)["Results"]
    rows = [list(row) for row in ws.iter_rows(values_only=True)]
    header = rows[0]
    got = {(row[header.index("dataset")], row[header.index("problem_id")]): dict(zip(header, row, strict=True)) for row in rows[1:]}
    loose_only = got[("toyif", "if2")]
    assert loose_only["task_type"] == "instruction_following" and loose_only["verdict"] == "wrong_answer"
    assert (loose_only["passed"], loose_only["loose_passed"], loose_only["tests_passed"], loose_only["loose_tests_passed"],
            loose_only["tests_total"]) == (False, True, 1, 2, 2)
    assert loose_only["error_message"] == "instruction not followed: punctuation:no_comma"
    assert loose_only["gold"] == "punctuation:no_comma, length_constraints:number_words" and loose_only["answer"] is None
    assert loose_only["code"] == IFEVAL_RESPONSES["alpha"][2]  # the response itself, not an (empty) extracted code
    call = got[("toyfc", "fc1")]
    assert call["task_type"] == "function_calling" and call["passed"] is True and call["loose_tests_passed"] is None
    assert json.loads(call["answer"]) and "Maroon 5" in call["answer"] and "Taylor Swift" in call["gold"]
    assert call["code"] == BFCL_CALLS["alpha"][1] and call["loose_passed"] is None
    code = got[("toy", "p0")]
    assert code["task_type"] == "code" and code["answer"] is None and code["gold"] is None and code["loose_passed"] is None


def test_version_1_documents_read_as_version_2() -> None:
    """analysis.v1 / comparison_matrix.v1 files stay readable; a v1 document with a v2-only field is refused."""
    v2 = json.loads(example_analysis().model_dump_json())
    v1 = {**v2, "schema_version": 1, "matrix": {**v2["matrix"], "schema_version": 1}}
    for key in ("presets", "task_types", "metrics"):
        del v1["matrix"][key]
    del v1["metrics"]
    doc = Analysis.model_validate(v1)
    assert doc.schema_version == 2 and doc.metrics == [] and doc.matrix.schema_version == 2
    assert doc.matrix.presets == [] and doc.matrix.metrics == {} and doc.matrix.task_types == {}
    with pytest.raises(ValueError, match="metrics: not a field of a version 1 Analysis"):
        Analysis.model_validate({**v1, "metrics": []})
    with pytest.raises(ValueError, match="presets: not a field of a version 1 ComparisonMatrix"):
        ComparisonMatrix.model_validate({**v1["matrix"], "presets": ["balanced"]})


def test_category_and_another_category_label_is_a_usage_error(mixed: dict[str, PublishedOutput], tmp_path: Path) -> None:
    cats = tmp_path / "categories.yaml"
    cats.write_text("categories: {spec: {models: [alpha], datasets: [toyif]}}\n")
    r = CliRunner().invoke(analyze_main, ["run", "--category", "spec", "--categories-file", str(cats), "--category-label", "other"])
    assert r.exit_code == 2 and "name two categories" in r.stderr
    same = CliRunner().invoke(analyze_main, ["run", "--category", "spec", "--categories-file", str(cats), "--category-label", "spec",
                                             *FAST])
    assert same.exit_code == 0, same.stderr
    assert ComparisonMatrix.model_validate_json((Path(same.stdout.strip()) / "comparison.json").read_text()).category == "spec"

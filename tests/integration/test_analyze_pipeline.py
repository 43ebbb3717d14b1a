"""The whole analysis on the toy store (two models x two seeds), against values computed by hand,
and the golden report files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from coderig_analyze.charts import HEIGHT, WIDTH
from coderig_analyze.pipeline import AnalyzeConfig, Outcome, run_analysis
from coderig_schemas import AnalysisSummary, RunStore
from coderig_schemas.analysis import Analysis
from coderig_schemas.io import read_jsonl
from tests.fixtures.analyze import publish_two_models

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "analyze"
GOLDEN_FILES = ("report.md", "seed_analysis.csv", "config_analysis.csv", "factor_analysis.csv", "comparison.md", "paired.csv",
                "problem_difficulty.csv")


def analyze(root: Path, **over: object) -> Outcome:
    cfg = AnalyzeConfig.model_validate({"refs": ("score/*",), "name": "toy", "bootstrap": 500, **over})
    return run_analysis(RunStore(root), cfg, quiet=True)


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One toy store for the module (analyzing it takes a second or two)."""
    root = tmp_path_factory.mktemp("analyze") / "runs"
    publish_two_models(root)
    return root


@pytest.fixture(scope="module")
def toy_analysis(toy_root: Path) -> tuple[Outcome, Analysis]:
    out = analyze(toy_root, html=True)
    return out, Analysis.model_validate_json((out.output.path / "analysis.json").read_text())


def test_per_run_rates_and_pass_at_k_by_hand(toy_analysis: tuple[Outcome, Analysis]) -> None:
    _, a = toy_analysis
    runs = {(r.config.model_name, r.config.seed): r for r in a.runs}
    # First samples: alpha s0 T T F F, alpha s1 T T T F, beta s0 T F F F, beta s1 F T F F.
    rates = {k: r.summary.pass_rate for k, r in runs.items()}
    assert rates == {("alpha", 0): 0.5, ("alpha", 1): 0.75, ("beta", 0): 0.25, ("beta", 1): 0.25}
    # Passes per problem (n = 2): alpha s0 2 1 1 0, alpha s1 2 2 1 0, beta s0 1 0 0 0, beta s1 1 1 0 0.
    assert runs[("alpha", 0)].summary.pass_at_k == {"1": 0.5, "2": 0.75}
    assert runs[("alpha", 1)].summary.pass_at_k == {"1": 0.625, "2": 0.75}
    assert runs[("beta", 0)].summary.pass_at_k == {"1": 0.125, "2": 0.25}
    assert runs[("beta", 1)].summary.pass_at_k == {"1": 0.25, "2": 0.5}
    r = runs[("alpha", 0)]
    assert r.summary.total_problems == 4 and r.summary.passed_problems == 2 and r.summary.total_samples == 8
    ci = r.summary.pass_rate_ci
    assert ci is not None and ci.method == "wilson"
    assert (ci.low, ci.high) == (pytest.approx(0.150039, abs=1e-6), pytest.approx(0.849961, abs=1e-6))
    for k, iv in r.pass_at_k_ci.items():
        assert iv.low <= r.summary.pass_at_k[k] <= iv.high and iv.method == "bootstrap"
    assert r.samples_per_problem == 2 and r.complete


def test_difficulty_breakdown_and_verdicts_by_hand(toy_analysis: tuple[Outcome, Analysis]) -> None:
    _, a = toy_analysis
    runs = {(r.config.model_name, r.config.seed): r for r in a.runs}
    d = runs[("alpha", 0)].summary.difficulty_breakdown
    assert (d.easy.total, d.easy.passed, d.easy.pass_rate) == (2, 2, 1.0)
    assert (d.medium.total, d.medium.passed, d.hard.total, d.hard.passed) == (1, 0, 1, 0)
    d = runs[("beta", 1)].summary.difficulty_breakdown
    assert (d.easy.passed, d.easy.pass_rate) == (1, 0.5)
    counts = {k: v for k, v in runs[("alpha", 0)].summary.verdict_counts.items() if v}
    assert counts == {"passed": 4, "wrong_answer": 2, "runtime_error": 1, "syntax_error": 1}
    assert runs[("alpha", 0)].verdict_shares["wrong_answer"] == 0.25
    assert runs[("alpha", 0)].exception_types == {"AssertionError": 1}
    assert runs[("alpha", 0)].extraction_methods == {"fenced": 8}
    tokens = runs[("alpha", 0)].completion_tokens
    assert tokens is not None and (tokens.count, tokens.total, tokens.mean) == (8, 160.0, 20.0)
    assert runs[("alpha", 0)].tokens_per_s == 40.0  # 160 tokens / (8 x 0.5 s)


def test_seeds_configs_matrix_paired_and_problems_by_hand(toy_analysis: tuple[Outcome, Analysis]) -> None:
    _, a = toy_analysis
    seeds = {g.config.model_name: g for g in a.seed_analysis}
    # alpha: 0.50 and 0.75 -> mean 0.625, std 0.25 / sqrt(2); beta: 0.25 twice -> std 0.
    assert seeds["alpha"].mean == 0.625 and seeds["alpha"].std == pytest.approx(0.1767767, abs=1e-7)
    assert (seeds["alpha"].min, seeds["alpha"].max, seeds["alpha"].seeds) == (0.5, 0.75, [0, 1])
    assert seeds["beta"].std == 0.0
    ci = seeds["alpha"].ci
    assert ci is not None and (ci.low, ci.high) == (0.0, 1.0)  # t(0.975, 1) = 12.7: clipped to [0, 1]
    temps = {(c.model_name, c.value): c.mean for c in a.config_analysis if c.factor == "temperature"}
    assert temps == {("alpha", "0.2"): 0.625, ("beta", "0.2"): 0.25}
    assert a.matrix.models == ["alpha", "beta"] and a.matrix.mean_rank == {"alpha": 1.0, "beta": 2.0}
    assert [(c.model_name, c.rank, c.pass_rate.estimate) for c in a.matrix.cells] == [("alpha", 1, 0.625), ("beta", 2, 0.25)]
    pairs = sorted((p.a_ref.split("/")[1], p.a_only, p.b_only, p.mcnemar_p) for p in a.paired)
    # seed 0: only alpha passes p2 -> p = 1; seed 1: only alpha passes p1 and p3 -> p = 2 * 1/4 = 0.5.
    assert pairs == [("alpha__toy__s0", 1, 0, 1.0), ("alpha__toy__s1", 2, 0, pytest.approx(0.5))]
    (toy,) = a.problems
    # Pass fractions (mean over runs of c/n): p1 0.75, p2 0.5, p3 0.25, p4 0.
    assert toy.never_solved == ["p4"] and toy.always_solved == []
    assert toy.empirical == {"easy": 1, "medium": 1, "hard": 2} and toy.models == 2


def test_published_files_and_summaries(toy_analysis: tuple[Outcome, Analysis]) -> None:
    out, a = toy_analysis
    files = {e.path for e in out.output.manifest.outputs}
    assert {"analysis.json", "summaries.jsonl", "report.md", "report.html", "seed_analysis.csv", "config_analysis.csv",
            "factor_analysis.csv", "comparison.json", "comparison.md", "runs.csv", "pass_at_k.csv", "breakdowns.csv", "verdicts.csv",
            "problem_difficulty.csv", "paired.csv", "charts/pass_rate_by_model.png"} <= files
    summaries = read_jsonl(out.output.path / "summaries.jsonl", AnalysisSummary)
    assert [s.pass_rate for s in summaries] == [r.summary.pass_rate for r in a.runs]
    # The manifest lists every score and generate output read, with the files read.
    refs = {i.ref.split("/")[0] for i in out.output.manifest.inputs}
    assert refs == {"score", "generate"} and len(out.output.manifest.inputs) == 8
    html = (out.output.path / "report.html").read_text()
    assert "<table>" in html and "data:image/png;base64," in html and "charts/" not in html.split("<body>")[1].split("src=")[0]


def test_charts_are_pngs_of_the_expected_size(toy_analysis: tuple[Outcome, Analysis]) -> None:
    out, _ = toy_analysis
    for name in ("pass_rate_by_model", "difficulty_breakdown", "verdict_distribution", "seed_spread"):
        image = mpimg.imread(out.output.path / "charts" / f"{name}.png")
        assert image.shape[:2] == (HEIGHT, WIDTH), name
        assert image.std() > 0.01, f"{name} is blank"


def test_rerun_with_same_inputs_is_a_noop(toy_analysis: tuple[Outcome, Analysis], toy_root: Path) -> None:
    out, _ = toy_analysis
    again = analyze(toy_root, html=True)
    assert again.reused and again.output.path == out.output.path
    other = analyze(toy_root, html=True, seed=1, charts=False)
    assert not other.reused and other.output.path != out.output.path


def _normalized(text: str) -> str:
    # Output keys hash the input manifests, which hold timestamps: they differ on every run.
    return re.sub(r"/[0-9a-f]{16}(?=[/#)\s,]|$)", "/<key>", text, flags=re.M)


def test_golden_report_files(toy_analysis: tuple[Outcome, Analysis]) -> None:
    out, _ = toy_analysis
    update = os.environ.get("CODERIG_UPDATE_GOLDEN") == "1"
    for name in GOLDEN_FILES:
        got = _normalized((out.output.path / name).read_text())
        golden = GOLDEN / name
        if update:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got)
        assert golden.is_file(), f"{golden} missing; run with CODERIG_UPDATE_GOLDEN=1"
        assert got == golden.read_text(), f"{name} differs from {golden}; if intended, refresh with CODERIG_UPDATE_GOLDEN=1"


def test_analysis_json_is_valid_against_its_json_schema(toy_analysis: tuple[Outcome, Analysis]) -> None:
    import jsonschema

    out, _ = toy_analysis
    from coderig_schemas.registry import schema_filename

    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "json" / schema_filename("analysis")).read_text())
    assert schema_filename("analysis") == "analysis.v2.schema.json"
    jsonschema.validate(json.loads((out.output.path / "analysis.json").read_text()), schema)


def test_sandbox_errors_are_left_out_of_rates_as_score_does(run_store: Path) -> None:
    from tests.factories import scored_run

    # p1: sample 0 hit a harness failure, sample 1 passed; p2: both passed; p3: only harness failures.
    # As in score's pass_at_k.json: n, c = (1, 1), (2, 2); p3 has no judged sample and drops out.
    scored_run(run_store, {"p1": ["sandbox_error", "passed"], "p2": ["passed", "passed"],
                           "p3": ["sandbox_error", "sandbox_error"]}, model="m")
    out = analyze(run_store, charts=False, bootstrap=50)
    (run,) = Analysis.model_validate_json((out.output.path / "analysis.json").read_text()).runs
    s = run.summary
    assert (s.total_problems, s.passed_problems, s.pass_rate) == (2, 2, 1.0)
    assert s.pass_at_k == {"1": 1.0} and run.samples_per_problem == 1
    assert s.verdict_counts["sandbox_error"] == 3 and s.total_samples == 6  # still counted as verdicts
    (issue,) = out.issues
    assert issue.kind == "partial" and "3 of 6 samples ended in sandbox_error" in issue.message


def test_a_run_with_nothing_scored_stays_out_of_seeds_matrix_and_configs(run_store: Path) -> None:
    from tests.factories import make_problem, make_sample, publish_generate, publish_score, scored_run

    def config(seed: int) -> dict[str, object]:
        return {"model": "m", "dataset": "toy", "seed": seed, "temperature": 0.2, "max_tokens": 256}

    scored_run(run_store, {"p1": ["passed"], "p2": ["passed"]}, model="m", seed=0, config=config(0))
    scored_run(run_store, {"p1": ["passed"], "p2": ["wrong_answer"]}, model="m", seed=1, config=config(1))
    problem = make_problem("p1")
    gen = publish_generate(run_store, [problem], [make_sample(problem, 0, 2, model_name="m")], model="m", seed=2, config=config(2))
    publish_score(run_store, gen, [])  # seed 2: not scored yet
    out = analyze(run_store, charts=False, bootstrap=50)
    a = Analysis.model_validate_json((out.output.path / "analysis.json").read_text())
    empty = next(r for r in a.runs if r.summary.total_samples == 0)
    assert empty.config.seed == 2 and empty.summary.seed == 2  # from the generate config, as there is no result
    # Seeds 0 and 1 only: rates 1.0 and 0.5 -> mean 0.75, std (ddof=1) 0.5 / sqrt(2); not a third 0.0.
    (group,) = a.seed_analysis
    assert group.seeds == [0, 1] and group.runs == 2 and group.mean == 0.75
    assert group.std == pytest.approx(0.3535534, abs=1e-7) and group.min == 0.5
    (cell,) = a.matrix.cells
    assert cell.runs == 2 and cell.pass_rate.estimate == 0.75
    assert {(c.factor, c.runs, c.mean) for c in a.config_analysis if c.factor == "temperature"} == {("temperature", 2, 0.75)}


def test_every_bucket_rate_has_its_wilson_interval(toy_analysis: tuple[Outcome, Analysis]) -> None:
    import pandas as pd

    out, _ = toy_analysis
    table = pd.read_csv(out.output.path / "breakdowns.csv")
    alpha0 = table[table["run_ref"].str.startswith("score/alpha__toy__s0/")].set_index(["kind", "bucket"])
    # alpha s0, easy: 2 of 2 first samples passed -> Wilson (1 + z^2/2)^-1 = 0.342380 .. 1; split test: 2 of 4.
    easy = alpha0.loc[("difficulty", "easy")]
    assert (easy["passed"], easy["total"], easy["ci_high"]) == (2, 2, 1.0)
    assert easy["ci_low"] == pytest.approx(0.342380, abs=1e-6)
    test = alpha0.loc[("split", "test")]
    assert (test["ci_low"], test["ci_high"]) == (pytest.approx(0.150039, abs=1e-6), pytest.approx(0.849961, abs=1e-6))
    empty = table[(table["kind"] == "difficulty") & (table["total"] == 0)]
    assert empty.empty or empty[["ci_low", "ci_high"]].isna().all().all()  # no interval without problems


def test_report_labels_follow_the_confidence_level(toy_root: Path) -> None:
    out = analyze(toy_root, level=0.9, charts=False)
    report = (out.output.path / "report.md").read_text()
    assert "90% intervals" in report and "pass rate [90% CI]" in report and "A − B [90% CI]" in report
    assert "90% CI of mean" in report and "95%" not in report


def test_preset_is_read_from_the_generate_engine_config(run_store: Path) -> None:
    import csv
    import io

    from tests.factories import scored_run

    # coderig-generate keeps the preset at config.engine.preset; another generator may put it at the top.
    engine = {"model": "m", "dataset": "toy", "seed": 0, "temperature": 0.2, "max_tokens": 256,
              "engine": {"name": "vllm", "preset": "balanced"}}
    top = {"model": "n", "dataset": "toy", "seed": 0, "temperature": 0.2, "max_tokens": 256, "preset": "performance"}
    scored_run(run_store, {"p1": ["passed"]}, model="m", config=engine)
    scored_run(run_store, {"p1": ["wrong_answer"]}, model="n", config=top)
    out = analyze(run_store, charts=False, bootstrap=50)
    for rel in ("runs.csv", "seed_analysis.csv", "config_analysis.csv"):
        rows = list(csv.DictReader(io.StringIO((out.output.path / rel).read_text())))
        assert {(r["model_name"], r["preset"]) for r in rows} == {("m", "balanced"), ("n", "performance")}, rel
    rows = list(csv.DictReader(io.StringIO((out.output.path / "factor_analysis.csv").read_text())))
    assert {(r["model_name"], r["value"]) for r in rows if r["factor"] == "preset"} == {("m", "balanced"), ("n", "performance")}


def test_a_category_without_its_file_is_a_usage_error() -> None:
    from coderig_analyze.pipeline import resolve_category
    from coderig_schemas import ExitCode, UsageError

    with pytest.raises(UsageError) as e:
        resolve_category(None, "smoke")
    assert e.value.exit_code == ExitCode.USAGE and "--categories-file" in e.value.one_line()

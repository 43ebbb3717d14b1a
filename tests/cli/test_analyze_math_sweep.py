"""A reasoning sweep through the real chain: 2 replayed models x 2 temperatures x 3 seeds on MATH-500,
generated, scored by the math grader and analyzed: seed_analysis.csv (per seed), config_analysis.csv
(per configuration, over seeds) and the breakdowns by MATH level and subject."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coderig_analyze.cli import main as analyze_main
from coderig_generate.cli import main as generate_main
from coderig_generate.datasets import load_problems
from coderig_schemas import MathGrading
from coderig_score.cli import main as score_main

PROBLEMS = 8
MODELS = ("alpha", "beta")
TEMPERATURES = (0.6, 1.0)
SEEDS = (0, 1, 2)


def _right(model: int, t: int, seed: int, i: int) -> bool:
    """Which answers of the sweep are right: alpha gets 6, 7 or 8 of 8 depending on the seed, beta fewer;
    the higher temperature loses one more problem."""
    wrong_below = (0 if model == 0 else 3) + t + (seed % 3)
    return i >= wrong_below


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture
def data_dir(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    return shared_data


def test_two_models_two_temperatures_three_seeds(run_store: Path, data_dir: Path, tmp_path: Path) -> None:
    problems = load_problems("math500")[:PROBLEMS]
    generated: list[str] = []
    for m, model in enumerate(MODELS):
        for t, temperature in enumerate(TEMPERATURES):
            rows: list[dict[str, Any]] = []
            for seed in SEEDS:
                for i, p in enumerate(problems):
                    assert isinstance(p.grading, MathGrading)
                    answer = p.grading.answer if _right(m, t, seed, i) else "\\frac{9}{7}"
                    # a reasoning-style response: a think block, then the boxed answer
                    rows.append({"problem_id": p.problem_id, "seed": seed, "sample_index": 0,
                                 "response": f"<think>working on {p.problem_id}</think>\nSo it is $\\boxed{{{answer}}}$."})
            replay = tmp_path / f"{model}_{t}.jsonl"
            replay.write_text("".join(json.dumps(r) + "\n" for r in rows))
            r = CliRunner().invoke(generate_main, [
                "run", "--quiet", "--model", model, "--engine", "replay", "--replay-file", str(replay), "--dataset", "math500",
                "--limit", str(PROBLEMS), "--seeds", ",".join(map(str, SEEDS)), "--temperature", str(temperature),
                "--top-p", "0.95", "--max-tokens", "4096"], catch_exceptions=False)
            assert r.exit_code == 0, r.stderr
            generated += r.stdout.splitlines()
    assert len(generated) == 12
    scored = []
    for g in generated:
        r = CliRunner().invoke(score_main, ["run", "--generate", g, "--quiet", "--workers", "1"], catch_exceptions=False)
        assert r.exit_code == 0, r.stderr
        scored.append(r.stdout.strip())
    # The two temperatures share output names (<model>__math500__s<seed>), so the sweep names its score
    # outputs; a glob would take only the newest version of each name.
    r = CliRunner().invoke(analyze_main, ["run", *scored, "--name", "sweep", "--quiet", "--no-charts", "--bootstrap", "50"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    out = Path(r.stdout.strip())

    per_seed = _csv(out / "seed_analysis.csv")
    assert len(per_seed) == len(MODELS) * len(TEMPERATURES) * len(SEEDS) == 12
    for row in per_seed:
        m, t, seed = MODELS.index(row["model_name"]), TEMPERATURES.index(float(row["temperature"])), int(row["seed"])
        expected = sum(_right(m, t, seed, i) for i in range(PROBLEMS)) / PROBLEMS
        assert float(row["pass_rate"]) == pytest.approx(expected), row
        assert (row["task_type"], row["metric"], row["problems"], row["top_p"]) == ("math", "accuracy", str(PROBLEMS), "0.95")
        assert float(row["truncated_share"]) == 0.0 and float(row["response_chars_mean"]) > 20

    configs = _csv(out / "config_analysis.csv")
    assert len(configs) == len(MODELS) * len(TEMPERATURES) == 4
    for row in configs:
        m, t = MODELS.index(row["model_name"]), TEMPERATURES.index(float(row["temperature"]))
        rates = [sum(_right(m, t, s, i) for i in range(PROBLEMS)) / PROBLEMS for s in SEEDS]
        assert (row["runs"], row["seeds"], row["max_tokens"]) == ("3", "0 1 2", "4096")
        assert float(row["mean"]) == pytest.approx(sum(rates) / 3)
        assert float(row["std"]) == pytest.approx(0.125)  # rates step by 1/8 across the three seeds
        assert (float(row["min"]), float(row["max"])) == (min(rates), max(rates))
        assert float(row["ci_low"]) < float(row["mean"]) < float(row["ci_high"])

    factors = _csv(out / "factor_analysis.csv")
    assert {(r["model_name"], r["value"], r["runs"]) for r in factors if r["factor"] == "temperature"} == {
        (model, f"{temperature:g}", "3") for model in MODELS for temperature in TEMPERATURES}

    levels = [r for r in _csv(out / "breakdowns.csv") if r["kind"] == "level"]
    assert {r["bucket"] for r in levels} == {str(p.source["level"]) for p in problems}
    assert sum(int(r["total"]) for r in levels) == PROBLEMS * 12
    subjects = {r["bucket"] for r in _csv(out / "breakdowns.csv") if r["kind"] == "tag"}
    assert subjects == {p.tags[0] for p in problems}
    report = (out / "report.md").read_text()
    assert "## Reasoning suites" in report and "## By MATH level and subject" in report
    verdicts = {(r["verdict"]) for r in _csv(out / "verdicts.csv") if int(r["count"])}
    assert verdicts == {"passed", "wrong_answer"}

"""The workbook's summary numbers (coderig_export.workbook_rates): per configuration over its seeds, per
run and per problem, by difficulty; empty buckets never divide by zero."""

from __future__ import annotations

from coderig_export.workbook_rates import RunLabel, WorkbookRates


def _label(ref: str, seed: int, config_id: str = "c1") -> RunLabel:
    return RunLabel(ref=ref, name=ref.split("/")[1], model="m", dataset="d", seed=seed, split="test", config="T=0", config_id=config_id)


def test_rates_per_configuration_run_and_problem() -> None:
    rates = WorkbookRates()
    s0, s1, other = _label("score/s0/k", 0), _label("score/s1/k", 1), _label("score/o/k", 0, config_id="c2")
    rows = [(s0, "p1", "easy", True), (s0, "p2", "hard", False), (s1, "p1", "easy", True), (s1, "p2", "hard", True),
            (other, "p1", None, False)]
    for label, pid, difficulty, ok in rows:
        rates.add(label, "d", pid, difficulty, ok)

    configs = {(c.config_id, c.bucket): c for c in rates.configs()}
    assert [c.bucket for c in rates.configs() if c.config_id == "c1"] == ["all", "easy", "hard"]  # 'all' first, then by difficulty
    both_seeds = configs[("c1", "all")]
    assert (both_seeds.runs, both_seeds.rates.samples, both_seeds.rates.passed, both_seeds.rates.pass_rate) == (2, 4, 3, 0.75)
    assert (both_seeds.rates.problems, both_seeds.rates.solved, both_seeds.rates.solve_rate) == (2, 2, 1.0)
    assert configs[("c2", "unknown")].rates.pass_rate == 0.0
    assert rates.config_count() == 5

    runs = {(r.label.ref, r.bucket): r.rates for r in rates.runs()}
    assert runs[("score/s0/k", "all")].pass_rate == 0.5 and runs[("score/s0/k", "hard")].solve_rate == 0.0
    assert rates.run_count() == 8

    assert [lab.ref for lab in rates.labels()] == ["score/o/k", "score/s0/k", "score/s1/k"]
    problems = {p.problem_id: p for p in rates.problems()}
    assert problems["p1"].rates == (0.0, 1.0, 1.0) and problems["p1"].difficulty == "easy"
    assert problems["p2"].rates == (None, 0.0, 1.0)  # the other configuration never saw p2


def test_empty_workbook_has_no_rows() -> None:
    rates = WorkbookRates()
    assert list(rates.configs()) == list(rates.runs()) == list(rates.problems()) == []

"""Intervals and the paired test against values computed by hand (pass@k: tests/unit/test_contract_passk.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coderig_analyze.intervals import bootstrap_means, clopper_pearson, percentile_interval, t_interval, wilson
from coderig_analyze.paired import compare, mcnemar_exact


def test_wilson_interval_by_hand() -> None:
    # 2 of 4 at 95%: z = 1.959964, centre 0.5, half-width z*sqrt(p(1-p)/n + z^2/4n^2)/(1 + z^2/n) = 0.686051 / 1.960365 = 0.349961.
    low, high = wilson(2, 4)
    assert low == pytest.approx(0.150039, abs=1e-6)
    assert high == pytest.approx(0.849961, abs=1e-6)
    assert wilson(0, 0) == (0.0, 1.0)
    narrow = wilson(2, 4, level=0.9)  # z = 1.644854: a narrower interval around the same centre
    assert 0.150039 < narrow[0] < 0.5 < narrow[1] < 0.849961 and narrow[0] + narrow[1] == pytest.approx(1.0)
    low, high = wilson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.722467, abs=1e-6)  # 1/(1 + z^2/10); the upper bound is p itself


def test_clopper_pearson_by_hand() -> None:
    # 0 of 10: the upper bound solves (1-p)^10 = 0.025, so p = 1 - 0.025^(1/10).
    low, high = clopper_pearson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** 0.1, abs=1e-9)
    low, high = clopper_pearson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.025 ** 0.1, abs=1e-9)


def test_t_interval_across_seeds_by_hand() -> None:
    # Rates 0.50 and 0.75: mean 0.625, s = 0.25 / sqrt(2) = 0.176777, t(0.975, 1) = 12.706205,
    # half-width = 12.706205 * 0.176777 / sqrt(2) = 1.588276.
    low, high = t_interval([0.5, 0.75]) or (math.nan, math.nan)
    assert low == pytest.approx(0.625 - 1.588276, abs=1e-6)
    assert high == pytest.approx(0.625 + 1.588276, abs=1e-6)
    # Three seeds 0.5, 0.6, 0.7: s = 0.1, t(0.975, 2) = 4.302653, half = 0.248414.
    low, high = t_interval([0.5, 0.6, 0.7]) or (math.nan, math.nan)
    assert (low, high) == (pytest.approx(0.6 - 0.248414, abs=1e-6), pytest.approx(0.6 + 0.248414, abs=1e-6))
    assert t_interval([0.4]) is None


def test_bootstrap_over_two_problems_has_the_binomial_distribution() -> None:
    # Resampling 2 problems with outcomes 0 and 1: the mean is 0, 1/2 or 1 with chances 1/4, 1/2, 1/4.
    draws = bootstrap_means(np.array([[0.0], [1.0]]), 20_000, seed=7)[:, 0]
    assert set(np.unique(draws)) == {0.0, 0.5, 1.0}
    assert np.mean(draws == 0.5) == pytest.approx(0.5, abs=0.02)
    low, high = percentile_interval(draws[:, None])
    assert (low[0], high[0]) == (0.0, 1.0)


def test_bootstrap_is_seeded_and_blockwise_independent_of_size() -> None:
    values = np.random.default_rng(1).random((50, 3))
    a = bootstrap_means(values, 500, seed=3)
    b = bootstrap_means(values, 500, seed=3)
    c = bootstrap_means(values, 500, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (500, 3)
    assert a.mean(axis=0) == pytest.approx(values.mean(axis=0), abs=0.02)


def test_mcnemar_exact_worked_examples() -> None:
    # 2 vs 8 discordant pairs: p = 2 * P(X <= 2 | X ~ Bin(10, 1/2)) = 2 * (1 + 10 + 45) / 1024 = 0.109375.
    assert mcnemar_exact(2, 8) == pytest.approx(112 / 1024, abs=1e-12)
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024, abs=1e-12)
    # 1 vs 10: p = 2 * (1 + 11) / 2048 = 0.01171875.
    assert mcnemar_exact(1, 10) == pytest.approx(24 / 2048, abs=1e-12)
    # 0 vs 5: p = 2 / 32.
    assert mcnemar_exact(0, 5) == pytest.approx(0.0625, abs=1e-12)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0


def test_paired_compare_counts_and_keeps_the_pairing() -> None:
    # alpha s1 vs beta s1 first samples: A = T T T F, B = F T F F.
    r = compare([True, True, True, False], [False, True, False, False], replicates=2000, seed=0)
    assert (r.both_passed, r.a_only, r.b_only, r.both_failed) == (1, 2, 0, 1)
    assert r.difference == 0.5 and r.a_rate == 0.75 and r.b_rate == 0.25
    assert r.p_value == pytest.approx(0.5)
    assert 0.0 <= r.low <= 0.5 <= r.high <= 1.0
    # Identical outcomes: every paired resample has difference 0 (an unpaired bootstrap would not).
    same = compare([True, False, True, False], [True, False, True, False], replicates=500, seed=0)
    assert (same.low, same.high, same.p_value) == (0.0, 0.0, 1.0)


def test_closed_forms_agree_with_scipy_stats() -> None:
    from scipy import stats

    for a_only in range(0, 12):
        for b_only in range(0, 12):
            if a_only + b_only:
                expected = stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
                assert mcnemar_exact(a_only, b_only) == pytest.approx(expected, rel=1e-9)
    for passed, total in ((3, 10), (1, 7), (49, 50)):
        low, high = clopper_pearson(passed, total)
        assert low == pytest.approx(stats.beta.ppf(0.025, passed, total - passed + 1), rel=1e-9)
        assert high == pytest.approx(stats.beta.ppf(0.975, passed + 1, total - passed), rel=1e-9)
    low, high = t_interval([0.2, 0.4, 0.9]) or (math.nan, math.nan)
    expected = stats.t.interval(0.95, 2, loc=0.5, scale=stats.sem([0.2, 0.4, 0.9]))
    assert (low, high) == (pytest.approx(expected[0]), pytest.approx(expected[1]))


def test_bootstrap_in_blocks_for_big_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    from coderig_analyze import intervals

    monkeypatch.setattr(intervals, "_CACHE_LIMIT", 0)  # as for a very large number of problems
    draws = bootstrap_means(np.array([[0.0], [1.0]]), 20_000, seed=7)[:, 0]
    assert np.mean(draws == 0.5) == pytest.approx(0.5, abs=0.02)
    assert np.array_equal(draws, bootstrap_means(np.array([[0.0], [1.0]]), 20_000, seed=7)[:, 0])


def test_breakdowns_by_difficulty_split_and_tag() -> None:
    import pandas as pd

    from coderig_analyze.difficulty import breakdowns_by_run, tag_breakdowns

    outcomes = pd.DataFrame({
        "run": [0, 0, 0, 1, 1], "problem_id": ["a", "b", "c", "a", "b"], "first_passed": [True, False, True, False, False],
        "difficulty": ["easy", "easy", None, "easy", "easy"], "split": ["test"] * 5,
    })
    d = breakdowns_by_run(outcomes, "difficulty")
    assert (d[0]["easy"].total, d[0]["easy"].passed, d[0]["easy"].pass_rate) == (2, 1, 0.5)  # c has no label
    assert (d[1]["easy"].total, d[1]["easy"].passed) == (2, 0)
    problems = pd.DataFrame({"problem_id": ["a", "b", "c"], "tags": [["math", "list"], ["math"], []]})
    t = tag_breakdowns(outcomes, [problems, problems])
    assert {k: (v.total, v.passed) for k, v in t[0].items()} == {"math": (2, 1), "list": (1, 1)}
    assert {k: (v.total, v.passed) for k, v in t[1].items()} == {"math": (2, 0), "list": (1, 0)}


def test_pass_at_k_bootstrap_interval_by_exact_enumeration() -> None:
    from coderig_analyze.runs import pass_at_k_intervals

    # alpha s0: n = 2 per problem, c = 2, 1, 1, 0. Per-problem pass@1 = 1, 1/2, 1/2, 0 and pass@2 = 1, 1, 1, 0.
    # Enumerating the 4^4 equally likely resamples: the mean of pass@1 is <= 0 with chance 1/256 and
    # <= 1/8 with 9/256 (so the 2.5% quantile is 1/8), <= 3/4 with 247/256 and <= 7/8 with 255/256
    # (97.5% quantile 7/8). For pass@2 the resampled mean is Bin(4, 3/4) / 4: P(<= 0) = 1/256,
    # P(<= 1/4) = 13/256 -> 1/4; P(<= 3/4) = 175/256 -> 97.5% quantile 1.
    p1, p2 = pass_at_k_intervals(np.array([2, 2, 2, 2]), np.array([2, 1, 1, 0]), replicates=20_000, seed=0, level=0.95)
    assert (p1.estimate, p1.low, p1.high) == (0.5, 0.125, 0.875)
    assert (p2.estimate, p2.low, p2.high) == (0.75, 0.25, 1.0)


def test_across_seeds_by_hand() -> None:
    import pandas as pd

    from coderig_analyze.seeds import across_seeds, best_configs

    base = {"model_name": "m", "dataset": "d", "temperature": 0.2, "top_p": 1.0, "max_tokens": 64, "template": "t", "preset": None}
    runs = pd.DataFrame([
        {**base, "config_id": "c1", "seed": 10, "pass_rate": 0.7},
        {**base, "config_id": "c1", "seed": 2, "pass_rate": 0.6},
        {**base, "config_id": "c1", "seed": 1, "pass_rate": 0.5},
        {**base, "config_id": "c2", "seed": 0, "pass_rate": 0.8, "temperature": 0.8},
    ])
    table = across_seeds(runs).set_index("config_id")
    c1 = table.loc["c1"]
    # mean 0.6, s = 0.1, t(0.975, 2) = 4.302653 -> half-width 0.1 * 4.302653 / sqrt(3) = 0.248414.
    assert (c1["runs"], c1["seeds"], c1["min"], c1["max"]) == (3, "1 2 10", 0.5, 0.7)
    assert c1["mean"] == pytest.approx(0.6) and c1["std"] == pytest.approx(0.1)
    assert (c1["ci_low"], c1["ci_high"]) == (pytest.approx(0.351586, abs=1e-6), pytest.approx(0.848414, abs=1e-6))
    assert np.isnan(table.loc["c2", "std"]) and np.isnan(table.loc["c2", "ci_low"])
    assert best_configs(across_seeds(runs))["config_id"].tolist() == ["c2"]  # 0.8 beats a mean of 0.6


def test_matrix_ranks_ties_and_markdown() -> None:
    import pandas as pd

    from coderig_analyze.matrix import comparison_matrix, matrix_markdown

    runs = pd.DataFrame([
        {"config_id": "a1", "pass_rate": 0.5, "passed_problems": 5, "total_problems": 10},
        {"config_id": "b1", "pass_rate": 0.5, "passed_problems": 5, "total_problems": 10},
        {"config_id": "c1", "pass_rate": 0.2, "passed_problems": 2, "total_problems": 10},
        {"config_id": "c2", "pass_rate": 0.9, "passed_problems": 9, "total_problems": 10},
    ])
    best = pd.DataFrame([
        {"model_name": "a", "dataset": "x", "config_id": "a1"}, {"model_name": "b", "dataset": "x", "config_id": "b1"},
        {"model_name": "c", "dataset": "x", "config_id": "c1"}, {"model_name": "c", "dataset": "y", "config_id": "c2"},
    ])
    m = comparison_matrix(best, runs, category="cat", missing=["a on y"])
    ranks = {(c.model_name, c.dataset): c.rank for c in m.cells}
    assert ranks == {("a", "x"): 1, ("b", "x"): 1, ("c", "x"): 3, ("c", "y"): 1}  # ties share the better rank
    assert m.mean_rank == {"a": 1.0, "b": 1.0, "c": 2.0} and m.models == ["a", "b", "c"] and m.datasets == ["x", "y"]
    text = matrix_markdown(m)
    assert "| a | pass@1 50.0% [23.7%, 76.3%] (#1) | — | 1.00 |" in text  # Wilson 5/10; runs without a task type: code
    assert m.metrics == {"x": "pass@1", "y": "pass@1"} and m.presets == []


def test_matrix_cell_of_several_seeds_is_a_bootstrap_over_problems_not_a_t_interval() -> None:
    import pandas as pd

    from coderig_analyze.matrix import cell_interval, comparison_matrix

    # Two seeds that agree exactly (1 of 4 problems each): the old t interval over the two seed means was
    # [25%, 25%], zero-width, narrower than either run's own Wilson interval [4.6%, 69.9%].
    first = {0: pd.Series([True, False, False, False], index=["p1", "p2", "p3", "p4"]),
             1: pd.Series([True, False, False, False], index=["p1", "p2", "p3", "p4"])}
    runs = pd.DataFrame([{"run": i, "config_id": "b1", "label": "T=0.8 top_p=1 max=64 tpl=chat", "pass_rate": 0.25,
                          "passed_problems": 1, "total_problems": 4} for i in (0, 1)])
    best = pd.DataFrame([{"model_name": "b", "dataset": "x", "config_id": "b1"}])
    [cell] = comparison_matrix(best, runs, category=None, missing=[], first=first, replicates=500, seed=0).cells
    assert cell.label == "T=0.8 top_p=1 max=64 tpl=chat" and cell.runs == 2
    iv = cell.pass_rate
    assert iv.method == "bootstrap over problems, 2 seeds" and iv.estimate == pytest.approx(0.25)
    assert iv.low == 0.0 and iv.high >= 0.5  # as wide as the problems make it, not as the seeds agree
    # One run: exactly the run's own Wilson interval, as in runs.csv.
    one = cell_interval(runs.iloc[:1], first, level=0.95, replicates=500, seed=0)
    assert (one.method, round(one.low, 3), round(one.high, 3)) == ("wilson", 0.046, 0.699)
    # Seeds that disagree on every problem: each problem passed by half the seeds.
    first[1] = ~first[0]
    split = cell_interval(runs, first, level=0.95, replicates=500, seed=0)
    assert split.estimate == pytest.approx(0.5) and split.low == split.high == pytest.approx(0.5)

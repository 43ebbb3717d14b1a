"""Which runs to compare pairwise, and the comparison records."""

from __future__ import annotations

import itertools

import pandas as pd

from coderig_schemas.analysis import Interval, PairedComparison

from .paired import compare


def first_outcomes(outcomes: pd.DataFrame) -> dict[int, pd.Series]:
    """run -> whether each problem's first sample passed, indexed by problem_id (sorted)."""
    return {int(run): g.set_index("problem_id")["first_passed"].sort_index() for run, g in outcomes.groupby("run")}


def paired_comparison(
    first: dict[int, pd.Series], a: pd.Series, b: pd.Series, *, replicates: int, seed: int, level: float,
) -> PairedComparison | None:
    """Compare run a with run b (rows of the runs table) on the problems both scored; None if there are none."""
    sa, sb = first.get(int(a["run"])), first.get(int(b["run"]))
    if sa is None or sb is None:
        return None
    if not sa.index.equals(sb.index):
        common = sa.index.intersection(sb.index)
        sa, sb = sa.loc[common], sb.loc[common]
    if sa.empty:
        return None
    r = compare(sa.to_numpy(dtype=bool), sb.to_numpy(dtype=bool), replicates=replicates, seed=seed, level=level)
    return PairedComparison(
        dataset=str(a["dataset"]), a_ref=str(a["run_ref"]), b_ref=str(b["run_ref"]), a_model=str(a["model_name"]),
        b_model=str(b["model_name"]), problems=r.problems, a_rate=r.a_rate, b_rate=r.b_rate,
        difference=Interval(estimate=r.difference, low=r.low, high=r.high, level=level, method="paired bootstrap"),
        both_passed=r.both_passed, a_only=r.a_only, b_only=r.b_only, both_failed=r.both_failed, mcnemar_p=r.p_value,
    )


def pairs_to_compare(runs: pd.DataFrame, best: pd.DataFrame) -> list[tuple[int, int]]:
    """Run pairs: per dataset, every two models at their best configuration, on each seed both ran.

    When two models share no seed, their first runs (lowest seed) are paired.
    """
    pairs = []
    chosen = runs[runs["config_id"].isin(best["config_id"])]
    for _, group in chosen.groupby("dataset", sort=True):
        models = sorted(group["model_name"].unique())
        for ma, mb in itertools.combinations(models, 2):
            ra = group[group["model_name"] == ma].sort_values("seed", na_position="first")
            rb = group[group["model_name"] == mb].sort_values("seed", na_position="first")
            common = sorted(set(ra["seed"].dropna()) & set(rb["seed"].dropna()))
            if common:
                for s in common:
                    pairs.append((int(ra.loc[ra["seed"] == s, "run"].iloc[0]), int(rb.loc[rb["seed"] == s, "run"].iloc[0])))
            else:
                pairs.append((int(ra["run"].iloc[0]), int(rb["run"].iloc[0])))
    return pairs

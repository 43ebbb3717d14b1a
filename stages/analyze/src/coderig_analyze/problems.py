"""Per-problem outcomes of each run: the table every rate is computed from."""

from __future__ import annotations

import pandas as pd

from coderig_schemas import Verdict

#: Result columns whose first-sample values are kept per problem when present (first_<column>).
CHECK_COLUMNS = ["tests_passed", "tests_total", "loose_passed", "loose_tests_passed"]


def problem_outcomes(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, problem_id): n samples, c passed, and whether the first sample passed.

    results needs columns run, problem_id, sample_index, verdict, passed, split, difficulty. The
    first sample is the one with the lowest sample_index (what AnalysisSummary.pass_rate counts).
    Samples with verdict sandbox_error are left out, as the score stage leaves them out of n and c:
    the harness failed, the model's answer was never judged. A problem whose every sample is a
    sandbox error has no row. When results has them, the first sample's CHECK_COLUMNS come along as
    first_tests_passed, first_tests_total, first_loose_passed and first_loose_tests_passed.
    """
    columns = ["run", "problem_id", "sample_index", "passed", "split", "difficulty"]
    checks = [c for c in CHECK_COLUMNS if c in results]
    judged = results[results["verdict"] != Verdict.SANDBOX_ERROR.value] if len(results) else results
    ordered = judged[columns + checks].sort_values(["run", "problem_id", "sample_index"], kind="stable")
    grouped = ordered.groupby(["run", "problem_id"], sort=True, observed=True)
    # The first sample's check counts and loose verdict (IFEval's instruction-level and loose metrics):
    # the groupby's 'first' skips nulls (it would take a later sample's value), so the first rows are taken whole.
    out = grouped.agg(
        n=("passed", "size"), c=("passed", "sum"), first_passed=("passed", "first"),
        split=("split", "first"), difficulty=("difficulty", "first"),
    ).reset_index()
    if checks:
        firsts = ordered.drop_duplicates(["run", "problem_id"], keep="first")[["run", "problem_id", *checks]]
        out = out.merge(firsts.rename(columns={c: f"first_{c}" for c in checks}), on=["run", "problem_id"], how="left")
    out["c"] = out["c"].astype("int64")
    out["first_passed"] = out["first_passed"].astype(bool)
    return out

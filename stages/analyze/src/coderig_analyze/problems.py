"""Per-problem outcomes of each run: the table every rate is computed from."""

from __future__ import annotations

import pandas as pd

from coderig_schemas import Verdict


def problem_outcomes(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, problem_id): n samples, c passed, and whether the first sample passed.

    results needs columns run, problem_id, sample_index, verdict, passed, split, difficulty. The
    first sample is the one with the lowest sample_index (what AnalysisSummary.pass_rate counts).
    Samples with verdict sandbox_error are left out, as the score stage leaves them out of n and c:
    the harness failed, the model's answer was never judged. A problem whose every sample is a
    sandbox error has no row.
    """
    columns = ["run", "problem_id", "sample_index", "passed", "split", "difficulty"]
    judged = results[results["verdict"] != Verdict.SANDBOX_ERROR.value] if len(results) else results
    ordered = judged[columns].sort_values(["run", "problem_id", "sample_index"], kind="stable")
    grouped = ordered.groupby(["run", "problem_id"], sort=True, observed=True)
    out = grouped.agg(
        n=("passed", "size"), c=("passed", "sum"), first_passed=("passed", "first"),
        split=("split", "first"), difficulty=("difficulty", "first"),
    ).reset_index()
    out["c"] = out["c"].astype("int64")
    out["first_passed"] = out["first_passed"].astype(bool)
    return out

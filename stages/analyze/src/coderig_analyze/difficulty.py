"""Difficulty: the labelled breakdown of each run, and empirical difficulty across runs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coderig_schemas.analysis import BucketStats, DifficultyBreakdown

LEVELS = ("easy", "medium", "hard")
#: Empirical buckets by pass fraction across runs: easy >= 2/3 > medium >= 1/3 > hard.
EASY_AT, MEDIUM_AT = 2 / 3, 1 / 3


def bucket(total: int, passed: int) -> BucketStats:
    """Counts and rate of a bucket (rate 0 when empty)."""
    return BucketStats(total=total, passed=passed, pass_rate=passed / total if total else 0.0)


def breakdown(outcomes: pd.DataFrame, column: str) -> dict[str, BucketStats]:
    """Problems and first-sample passes per value of column (missing values skipped)."""
    grouped = outcomes.dropna(subset=[column]).groupby(column, observed=True)["first_passed"].agg(["size", "sum"])
    return {str(k): bucket(int(r["size"]), int(r["sum"])) for k, r in grouped.iterrows()}


def difficulty_breakdown(outcomes: pd.DataFrame) -> DifficultyBreakdown:
    """The easy/medium/hard breakdown users' tooling reads (problems without a label are left out)."""
    found = breakdown(outcomes, "difficulty")
    return DifficultyBreakdown(**{level: found.get(level, bucket(0, 0)) for level in LEVELS})


def tag_breakdown(outcomes: pd.DataFrame, problems: pd.DataFrame) -> dict[str, BucketStats]:
    """Problems and first-sample passes per problem tag (a problem counts once in each of its tags)."""
    if problems.empty or "tags" not in problems:
        return {}
    tags = problems[["problem_id", "tags"]].explode("tags").dropna(subset=["tags"])
    if tags.empty:
        return {}
    joined = outcomes[["problem_id", "first_passed"]].merge(tags, on="problem_id")
    return breakdown(joined, "tags")


def empirical_label(fraction: np.ndarray) -> np.ndarray:
    """easy / medium / hard from pass fractions."""
    return np.where(fraction >= EASY_AT, "easy", np.where(fraction >= MEDIUM_AT, "medium", "hard"))


def problem_difficulty(outcomes: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, problem_id) across runs.

    outcomes: run, problem_id, n, c, difficulty; runs: run, dataset, model_name. Columns: runs,
    models, samples, passed_samples, pass_fraction (mean over runs of c/n, each run weighing the
    same), models_solving (models with any passing sample), empirical_difficulty, never_solved,
    always_solved.
    """
    joined = outcomes.merge(runs[["run", "dataset", "model_name"]], on="run")
    joined["rate"] = joined["c"] / joined["n"]
    joined["solved"] = joined["c"] > 0
    joined["all"] = joined["c"] == joined["n"]
    solving = joined[joined["solved"]].groupby(["dataset", "problem_id"])["model_name"].nunique().rename("models_solving")
    table = joined.groupby(["dataset", "problem_id"]).agg(
        difficulty=("difficulty", "first"), runs=("run", "nunique"), models=("model_name", "nunique"),
        samples=("n", "sum"), passed_samples=("c", "sum"), pass_fraction=("rate", "mean"),
        any_solved=("solved", "any"), all_solved=("all", "all"),
    ).join(solving).reset_index()
    table["models_solving"] = table["models_solving"].fillna(0).astype("int64")
    table["empirical_difficulty"] = empirical_label(table["pass_fraction"].to_numpy())
    table["never_solved"] = ~table.pop("any_solved")
    table["always_solved"] = table.pop("all_solved")
    return table.sort_values(["dataset", "pass_fraction", "problem_id"], kind="stable").reset_index(drop=True)

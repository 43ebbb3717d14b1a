"""Difficulty: the labelled breakdown of each run, and empirical difficulty across runs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coderig_schemas.analysis import BucketStats
from coderig_schemas.passk import pass_rate

LEVELS = ("easy", "medium", "hard")
#: Empirical buckets by pass fraction across runs: easy >= 2/3 > medium >= 1/3 > hard.
EASY_AT, MEDIUM_AT = 2 / 3, 1 / 3


def bucket(total: int, passed: int) -> BucketStats:
    """Counts and rate of a bucket (rate 0 when empty)."""
    return BucketStats(total=total, passed=passed, pass_rate=pass_rate(passed, total) or 0.0)


def breakdowns_by_run(outcomes: pd.DataFrame, column: str) -> dict[int, dict[str, BucketStats]]:
    """breakdown() of every run at once: run -> value of column -> stats."""
    grouped = outcomes.dropna(subset=[column]).groupby(["run", column], observed=True)["first_passed"].agg(["size", "sum"])
    out: dict[int, dict[str, BucketStats]] = {}
    for (run, value), size, passed in zip(grouped.index, grouped["size"], grouped["sum"], strict=True):
        out.setdefault(int(run), {})[str(value)] = bucket(int(size), int(passed))
    return out


def problem_breakdowns(outcomes: pd.DataFrame, problems: list[pd.DataFrame], column: str) -> dict[int, dict[str, BucketStats]]:
    """Per run, problems and first-sample passes per value of a problems-frame column (MATH's 'level').

    problems[i] holds run i's problem_id and column; problems without a value are left out.
    """
    frames = [p[["problem_id", column]].dropna(subset=[column]).assign(run=i)
              for i, p in enumerate(problems) if not p.empty and column in p]
    values = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if values.empty:
        return {}
    keyed = outcomes[["run", "problem_id", "first_passed"]].assign(problem_id=lambda f: f["problem_id"].astype(str))
    return breakdowns_by_run(keyed.merge(values.astype({"problem_id": str, column: str}), on=["run", "problem_id"]), column)


def tag_breakdowns(outcomes: pd.DataFrame, problems: list[pd.DataFrame]) -> dict[int, dict[str, BucketStats]]:
    """Per run, problems and first-sample passes per problem tag (a problem counts once in each of its tags).

    problems[i] holds run i's problem_id and tags (MATH-500's tag is its subject).
    """
    exploded: dict[int, pd.DataFrame] = {}  # runs of one dataset share one problems frame: explode it once
    frames = []
    for i, p in enumerate(problems):
        if p.empty or "tags" not in p:
            continue
        if id(p) not in exploded:
            exploded[id(p)] = p[["problem_id", "tags"]].explode("tags").dropna(subset=["tags"])
        frames.append(exploded[id(p)].assign(run=i))
    tags = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if tags.empty:
        return {}
    keyed = outcomes[["run", "problem_id", "first_passed"]].assign(problem_id=lambda f: f["problem_id"].astype(str))
    return breakdowns_by_run(keyed.merge(tags.astype({"problem_id": str}), on=["run", "problem_id"]), "tags")


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

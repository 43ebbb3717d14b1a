"""Model x dataset comparison with ranks (comparison.json and the Markdown table)."""

from __future__ import annotations

import pandas as pd

from coderig_schemas.analysis import ComparisonMatrix, Interval, MatrixCell

from .intervals import bootstrap_means, percentile_interval, wilson
from .metrics import primary_metric, task_type_of


def _labels(cells: pd.DataFrame, runs: pd.DataFrame) -> dict[str, object]:
    """presets, task_types and metrics of a matrix: from the runs of its cells' configurations (cells: dataset, config_id)."""
    chosen = runs[runs["config_id"].isin(set(cells["config_id"]))]
    presets = sorted({p for p in chosen["preset"] if isinstance(p, str)}) if "preset" in chosen else []
    kinds = dict(zip(chosen["config_id"], chosen["task_type"], strict=True)) if "task_type" in chosen else {}
    types: dict[str, object] = {}
    for dataset, config_id in sorted(zip(cells["dataset"], cells["config_id"], strict=True)):
        types.setdefault(str(dataset), task_type_of(kinds.get(config_id)))  # runs without a problems file: code
    return {"presets": presets, "task_types": types, "metrics": {d: primary_metric(t) for d, t in types.items()}}


#: How a cell's interval is computed, as the report states it (one definition for every cell).
CELL_INTERVAL = ("one run: the run's own Wilson interval; several seeds of the configuration: a percentile bootstrap "
                 "over problems of each problem's share of seeds whose first sample passed (problems resampled, seeds "
                 "kept together), so it narrows with problems, not with 2-3 seed means")


def cell_interval(group: pd.DataFrame, first: dict[int, pd.Series] | None, *, level: float, replicates: int,
                  seed: int) -> Interval:
    """The pass rate of one configuration's runs with its interval, as CELL_INTERVAL defines it.

    group: the configuration's rows of the runs table (run, pass_rate, passed_problems, total_problems);
    first: run -> per-problem first-sample outcomes (comparisons.first_outcomes), needed for several runs.
    """
    if len(group) == 1:
        passed, total = int(group["passed_problems"].iloc[0]), int(group["total_problems"].iloc[0])
        low, high = wilson(passed, total, level)
        return Interval(estimate=float(group["pass_rate"].iloc[0]), low=low, high=high, level=level, method="wilson")
    known = first or {}
    outcomes = [known[int(r)].astype(float) for r in group["run"] if int(r) in known] if "run" in group else []
    if len(outcomes) < 2:  # outcomes unknown (a caller without them): say so rather than invent an interval
        mean = float(group["pass_rate"].mean())
        return Interval(estimate=mean, low=0.0, high=1.0, level=level, method=f"none ({len(group)} seeds, outcomes unknown)")
    share = pd.concat(outcomes, axis=1).mean(axis=1, skipna=True).to_numpy()  # per problem: share of seeds passed
    lows, highs = percentile_interval(bootstrap_means(share[:, None], replicates, seed), level)
    estimate = float(share.mean())
    return Interval(estimate=estimate, low=max(0.0, min(estimate, float(lows[0]))), high=min(1.0, max(estimate, float(highs[0]))),
                    level=level, method=f"bootstrap over problems, {len(outcomes)} seeds")


def comparison_matrix(
    best: pd.DataFrame, runs: pd.DataFrame, *, category: str | None, missing: list[str], level: float = 0.95,
    first: dict[int, pd.Series] | None = None, replicates: int = 1000, seed: int = 0,
) -> ComparisonMatrix:
    """Cells from each model's best configuration per dataset; ranks within each dataset.

    best: best_configs(...) rows; runs: one row per run (run, config_id, pass_rate, passed_problems,
    total_problems; optional label, preset and task_type). Each cell's interval is CELL_INTERVAL
    (cell_interval). Each dataset's cells hold its task type's primary metric (named in ``metrics``).
    """
    cells = []
    for _, b in best.iterrows():
        group = runs[runs["config_id"] == b["config_id"]]
        interval = cell_interval(group, first, level=level, replicates=replicates, seed=seed)
        label = str(group["label"].iloc[0]) if "label" in group and isinstance(group["label"].iloc[0], str) else ""
        cells.append({"model_name": b["model_name"], "dataset": b["dataset"], "config_id": b["config_id"], "label": label,
                      "runs": len(group), "pass_rate": interval})
    frame = pd.DataFrame(cells)
    if frame.empty:
        return ComparisonMatrix(category=category, models=[], datasets=[], cells=[], mean_rank={}, missing=missing)
    labels = _labels(frame, runs)
    frame["estimate"] = [c.estimate for c in frame["pass_rate"]]
    frame["rank"] = frame.groupby("dataset")["estimate"].rank(method="min", ascending=False).astype(int)
    mean_rank = frame.groupby("model_name")["rank"].mean()
    models = sorted(mean_rank.index, key=lambda m: (mean_rank[m], m))
    out = [MatrixCell(model_name=r.model_name, dataset=r.dataset, config_id=r.config_id, label=r.label, runs=r.runs,
                      pass_rate=r.pass_rate, rank=r.rank)
           for r in frame.sort_values(["dataset", "rank", "model_name"]).itertuples()]
    return ComparisonMatrix.model_validate({
        "category": category, **labels, "models": models, "datasets": sorted(frame["dataset"].unique()), "cells": out,
        "mean_rank": {m: float(mean_rank[m]) for m in models}, "missing": missing})


def matrix_heading(matrix: ComparisonMatrix) -> str:
    """One line naming the matrix's category and preset(s), and what its cells hold."""
    parts = [f"Category `{matrix.category}`" if matrix.category else "No category"]
    parts.append("preset " + ", ".join(f"`{p}`" for p in matrix.presets) if matrix.presets else "no preset recorded")
    return ("; ".join(parts) + ". Each cell: the dataset's metric (the share of problems whose first sample passed, "
            "named by task type) at the model's best configuration (its settings after the value), its interval and the "
            f"model's rank on the dataset. Interval: {CELL_INTERVAL}.\n")


def matrix_markdown(matrix: ComparisonMatrix) -> str:
    """The matrix as a Markdown table: metric value [CI] (rank) per cell, models by mean rank.

    A second header row gives each dataset's task type; every cell names its metric (pass@1, accuracy,
    prompt_level_strict_accuracy...), so datasets of different task types share one table unambiguously.
    """
    if not matrix.cells:
        return "_No runs._\n"
    by_key = {(c.model_name, c.dataset): c for c in matrix.cells}
    head = "| model | " + " | ".join(matrix.datasets) + " | mean rank |"
    rule = "|---|" + "---|" * len(matrix.datasets) + "---|"
    kinds = "| _task type_ | " + " | ".join(
        f"_{matrix.task_types[d].value}_" if d in matrix.task_types else "—" for d in matrix.datasets) + " | |"
    lines = [head, rule, kinds]
    for model in matrix.models:
        row = []
        for dataset in matrix.datasets:
            cell = by_key.get((model, dataset))
            metric = matrix.metrics.get(dataset, "pass rate")
            row.append("—" if cell is None else
                       f"{metric} {cell.pass_rate.estimate:.1%} [{cell.pass_rate.low:.1%}, {cell.pass_rate.high:.1%}] (#{cell.rank})"
                       + (f" — `{cell.label}`, {cell.runs} seed{'s' if cell.runs > 1 else ''}" if cell.label else ""))
        lines.append(f"| {model} | " + " | ".join(row) + f" | {matrix.mean_rank[model]:.2f} |")
    return "\n".join(lines) + "\n"

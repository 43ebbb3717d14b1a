"""Model x dataset comparison with ranks (comparison.json and the Markdown table)."""

from __future__ import annotations

import pandas as pd

from coderig_schemas.analysis import ComparisonMatrix, Interval, MatrixCell

from .intervals import t_interval, wilson


def comparison_matrix(
    best: pd.DataFrame, runs: pd.DataFrame, *, category: str | None, missing: list[str], level: float = 0.95,
) -> ComparisonMatrix:
    """Cells from each model's best configuration per dataset; ranks within each dataset.

    best: best_configs(...) rows; runs: one row per run (config_id, pass_rate, passed_problems,
    total_problems). A cell of one run gets a Wilson interval, of several seeds a t interval.
    """
    cells = []
    for _, b in best.iterrows():
        group = runs[runs["config_id"] == b["config_id"]]
        mean = float(group["pass_rate"].mean())
        if len(group) == 1:
            low, high = wilson(int(group["passed_problems"].iloc[0]), int(group["total_problems"].iloc[0]), level)
            method = "wilson"
        else:
            ci = t_interval(group["pass_rate"], level) or (mean, mean)
            low, high = max(0.0, ci[0]), min(1.0, ci[1])
            method = f"t over {len(group)} seeds"
        cells.append({"model_name": b["model_name"], "dataset": b["dataset"], "config_id": b["config_id"], "runs": len(group),
                      "pass_rate": Interval(estimate=mean, low=low, high=high, level=level, method=method)})
    frame = pd.DataFrame(cells)
    if frame.empty:
        return ComparisonMatrix(category=category, models=[], datasets=[], cells=[], mean_rank={}, missing=missing)
    frame["estimate"] = [c.estimate for c in frame["pass_rate"]]
    frame["rank"] = frame.groupby("dataset")["estimate"].rank(method="min", ascending=False).astype(int)
    mean_rank = frame.groupby("model_name")["rank"].mean()
    models = sorted(mean_rank.index, key=lambda m: (mean_rank[m], m))
    out = [MatrixCell(model_name=r.model_name, dataset=r.dataset, config_id=r.config_id, runs=r.runs, pass_rate=r.pass_rate, rank=r.rank)
           for r in frame.sort_values(["dataset", "rank", "model_name"]).itertuples()]
    return ComparisonMatrix(category=category, models=models, datasets=sorted(frame["dataset"].unique()), cells=out,
                            mean_rank={m: float(mean_rank[m]) for m in models}, missing=missing)


def matrix_markdown(matrix: ComparisonMatrix) -> str:
    """The matrix as a Markdown table: pass rate [CI] (rank) per cell, models by mean rank."""
    if not matrix.cells:
        return "_No runs._\n"
    by_key = {(c.model_name, c.dataset): c for c in matrix.cells}
    head = "| model | " + " | ".join(matrix.datasets) + " | mean rank |"
    rule = "|---|" + "---|" * len(matrix.datasets) + "---|"
    lines = [head, rule]
    for model in matrix.models:
        row = []
        for dataset in matrix.datasets:
            cell = by_key.get((model, dataset))
            row.append("—" if cell is None else
                       f"{cell.pass_rate.estimate:.1%} [{cell.pass_rate.low:.1%}, {cell.pass_rate.high:.1%}] (#{cell.rank})")
        lines.append(f"| {model} | " + " | ".join(row) + f" | {matrix.mean_rank[model]:.2f} |")
    return "\n".join(lines) + "\n"

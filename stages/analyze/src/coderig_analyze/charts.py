"""PNG charts made with matplotlib (Agg backend, fixed pixel size, no dependence on a display)."""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from coderig_schemas.analysis import Analysis, RunAnalysis
from coderig_schemas.passk import pass_rate
from coderig_schemas.verdict_colors import verdict_color

from .verdicts import VERDICTS

#: Every chart is WIDTH x HEIGHT pixels.
WIDTH, HEIGHT, DPI = 1000, 600, 100


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # no bbox_inches='tight': keep the exact pixel size
    return buf.getvalue()


def pass_rate_by_model(a: Analysis) -> bytes:
    """Grouped bars: pass rate of each model (best configuration) per dataset, with CI error bars."""
    fig, ax = _figure()
    datasets, models = a.matrix.datasets, a.matrix.models
    width = 0.8 / max(1, len(models))
    cells = {(c.model_name, c.dataset): c for c in a.matrix.cells}
    x = np.arange(len(datasets))
    for i, model in enumerate(models):
        est = np.array([cells[(model, d)].pass_rate.estimate if (model, d) in cells else np.nan for d in datasets])
        low = np.array([cells[(model, d)].pass_rate.low if (model, d) in cells else np.nan for d in datasets])
        high = np.array([cells[(model, d)].pass_rate.high if (model, d) in cells else np.nan for d in datasets])
        errors = [np.clip(est - low, 0, None), np.clip(high - est, 0, None)]  # never negative, even by rounding
        ax.bar(x + i * width - 0.4 + width / 2, est, width, yerr=errors, capsize=3, label=model)
    ax.set_xticks(x, datasets)
    ax.set_ylim(0, 1)
    ax.set_ylabel("pass rate")
    ax.set_title(f"Pass rate by model (best configuration, {a.level * 100:.10g}% CI)")
    if models:
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=min(len(models), 6), frameon=False)
    fig.tight_layout()
    return _png(fig)


def config_title(model: str, dataset: str, split: str | None, label: str, config_id: str) -> str:
    """How a chart names one configuration: model / dataset[/split] / settings label (config id when it has no label)."""
    where = f"{dataset}/{split}" if split else dataset
    return f"{model} / {where} / {label or config_id}"


def _by_config(a: Analysis) -> list[tuple[str, list[RunAnalysis]]]:
    """Runs grouped per configuration (the seeds of one model, dataset, split and settings), in matrix order.

    Never pooled across configurations: two temperatures of one model are two bars, each named by its label.
    """
    groups: dict[tuple[str, str, str], list[RunAnalysis]] = {}
    for r in a.runs:
        groups.setdefault((r.config.dataset, r.config.model_name, r.config.config_id), []).append(r)
    order = {m: i for i, m in enumerate(a.matrix.models)}
    keys = sorted(groups, key=lambda k: (k[0], groups[k][0].config.split or "", order.get(k[1], len(order)), k[1],
                                         groups[k][0].config.label, k[2]))
    out = []
    for key in keys:
        c = groups[key][0].config
        out.append((config_title(c.model_name, c.dataset, c.split, c.label, c.config_id), groups[key]))
    return out


def difficulty_breakdown(a: Analysis) -> bytes:
    """Grouped bars: pass rate per difficulty for each configuration (problems pooled over its seeds only)."""
    fig, ax = _figure()
    groups = _by_config(a)
    x = np.arange(len(groups))
    for i, level in enumerate(("easy", "medium", "hard")):
        rates = []
        for _, runs in groups:
            buckets = [getattr(r.summary.difficulty_breakdown, level) for r in runs]
            rate = pass_rate(sum(b.passed for b in buckets), sum(b.total for b in buckets))
            rates.append(np.nan if rate is None else rate)
        ax.bar(x + (i - 1) * 0.27, rates, 0.27, label=level)
    ax.set_xticks(x, [label for label, _ in groups], fontsize="x-small", rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("pass rate (first sample)")
    ax.set_title("Pass rate by difficulty")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _png(fig)


def verdict_distribution(a: Analysis) -> bytes:
    """Stacked horizontal bars: share of each verdict among the samples of each configuration (its seeds)."""
    fig, ax = _figure()
    groups = _by_config(a)
    y = np.arange(len(groups))
    left = np.zeros(len(groups))
    for verdict in VERDICTS:
        counts = np.array([sum(r.summary.verdict_counts.get(verdict, 0) for r in runs) for _, runs in groups], dtype=float)
        totals = np.array([max(1, sum(r.summary.total_samples for r in runs)) for _, runs in groups], dtype=float)
        shares = counts / totals
        if shares.any():
            # The workbook fills verdict cells with the same colours (one map, in the contract).
            ax.barh(y, shares, left=left, label=verdict, color=verdict_color(verdict), edgecolor="white", linewidth=0.5)
            left += shares
    ax.set_yticks(y, [label for label, _ in groups], fontsize="x-small")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of samples")
    ax.set_title("Verdict distribution")
    if left.any():  # below the axes, in one row: inside, it would hide the bars it explains
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=5, frameon=False)
    fig.tight_layout()
    return _png(fig)


def seed_spread(a: Analysis, runs: pd.DataFrame) -> bytes:
    """Per configuration: each seed's pass rate as a dot, the mean as a bar."""
    fig, ax = _figure()
    groups = list(runs.groupby("config_id", sort=False))
    for i, (_, group) in enumerate(groups):
        rates = group["pass_rate"].to_numpy()
        ax.scatter(np.full(len(rates), i), rates, s=30, zorder=3)
        ax.hlines(rates.mean(), i - 0.3, i + 0.3, colors="black", zorder=4)
    labels = [f"{g['model_name'].iloc[0]} / {g['dataset'].iloc[0]} / {_text(g, 'label') or cid}" for cid, g in groups]
    ax.set_xticks(np.arange(len(groups)), labels, fontsize="x-small", rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("pass rate")
    ax.set_title("Spread across seeds (dots: seeds, line: mean)")
    fig.tight_layout()
    return _png(fig)


def _text(group: pd.DataFrame, column: str) -> str:
    value = group[column].iloc[0] if column in group else None
    return value if isinstance(value, str) else ""


def all_charts(a: Analysis, runs: pd.DataFrame) -> dict[str, bytes]:
    """File name -> PNG bytes of every chart."""
    makers: dict[str, Callable[[], bytes]] = {
        "pass_rate_by_model.png": lambda: pass_rate_by_model(a),
        "difficulty_breakdown.png": lambda: difficulty_breakdown(a),
        "verdict_distribution.png": lambda: verdict_distribution(a),
        "seed_spread.png": lambda: seed_spread(a, runs),
    }
    return {name: make() for name, make in makers.items()}

"""Spread of the pass rate across seeds, per configuration (seed_analysis.csv)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .intervals import t_interval

CONFIG_COLUMNS = ["config_id", "model_name", "dataset", "temperature", "top_p", "max_tokens", "template", "preset"]


def _seed_order(seed: object) -> tuple[int, float]:
    return (0, 0.0) if seed is None or pd.isna(seed) else (1, float(seed))  # type: ignore[arg-type]


def seed_analysis(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One row per config_id: runs, seeds, mean, std (ddof=1), min, max and a t interval of the mean (clipped to [0, 1]).

    runs: one row per run with CONFIG_COLUMNS, seed and pass_rate.
    """
    rows = []
    for config_id, group in runs.groupby("config_id", sort=False):
        rates = group["pass_rate"].to_numpy(dtype=np.float64)
        ci = t_interval(rates, level)
        first = group.iloc[0]
        rows.append({
            **{c: first[c] for c in CONFIG_COLUMNS}, "config_id": config_id,
            "runs": len(rates), "seeds": " ".join("none" if pd.isna(s) else str(int(s)) for s in sorted(group["seed"], key=_seed_order)),
            "mean": float(rates.mean()), "std": float(rates.std(ddof=1)) if len(rates) > 1 else np.nan,
            "min": float(rates.min()), "max": float(rates.max()),
            # A rate lives in [0, 1]: the t interval is clipped there (with two seeds it is very wide).
            "ci_low": max(0.0, ci[0]) if ci else np.nan, "ci_high": min(1.0, ci[1]) if ci else np.nan,
        })
    columns = [*CONFIG_COLUMNS, "runs", "seeds", "mean", "std", "min", "max", "ci_low", "ci_high"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["dataset", "model_name", "mean"], ascending=[True, True, False], kind="stable").reset_index(drop=True)


def best_configs(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset), the configuration with the highest mean pass rate across its seeds."""
    ordered = seeds.sort_values(["model_name", "dataset", "mean", "config_id"], ascending=[True, True, False, True], kind="stable")
    return ordered.drop_duplicates(["model_name", "dataset"]).reset_index(drop=True)

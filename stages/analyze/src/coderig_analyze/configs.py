"""Pass rate by configuration factor (factor_analysis.csv)."""

from __future__ import annotations

import numpy as np
import pandas as pd

FACTORS = ("temperature", "top_p", "max_tokens", "template", "preset")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def factor_analysis(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows (factor, value, model_name, dataset): runs, mean, std, min, max of the pass rate.

    Each factor is compared within one model and dataset (mixing models would confound the
    factor with the model); the 'model' factor compares models within a dataset.
    """
    frames = []
    for factor in (*FACTORS, "model"):
        column = "model_name" if factor == "model" else factor
        values = runs[column].map(_text)
        keyed = runs.assign(factor=factor, value=values)
        stats = keyed.groupby(["factor", "value", "model_name", "dataset"], sort=True)["pass_rate"].agg(
            runs="size", mean="mean", std=lambda s: s.std(ddof=1) if len(s) > 1 else np.nan, min="min", max="max",
        ).reset_index()
        frames.append(stats)
    return pd.concat(frames, ignore_index=True)

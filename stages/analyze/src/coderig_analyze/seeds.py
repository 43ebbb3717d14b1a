"""Seeds and configurations: one row per seed (seed_analysis.csv) and the spread across seeds of each
configuration (config_analysis.csv), as reasoning-suite users expect them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .intervals import t_interval

#: What makes a configuration: the run's identity but its seed (model, dataset, split, sampling, prompt, engine;
#: ``config_id`` hashes it, ``label`` reads it). Its runs differ only in their seed. 'dataset' is the name the
#: dataset goes by in the analysis ('mbpp/test' when several splits of mbpp are analyzed together).
CONFIG_COLUMNS = ["config_id", "label", "model_name", "dataset", "split", "temperature", "top_p", "max_tokens", "n",
                  "chat_template", "template", "preset", "engine"]

#: seed_analysis.csv: per run (one seed of one configuration) what it scored and how it generated.
SEED_COLUMNS = [*CONFIG_COLUMNS, "seed", "task_type", "metric", "problems", "passed", "pass_rate", "ci_low", "ci_high",
                "pass_at_1", "samples", "response_tokens_mean", "response_chars_mean", "truncated_share", "run_ref"]


def _seed_order(seed: object) -> tuple[int, float]:
    return (0, 0.0) if seed is None or pd.isna(seed) else (1, float(seed))  # type: ignore[arg-type]


def per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run, ordered by dataset, model, configuration and seed (SEED_COLUMNS).

    runs: the runs table (analyze_runs), whose rate columns are renamed for the reader: problems
    (judged), passed (first sample passed), pass_rate (the task type's metric, named in 'metric'),
    response_tokens_mean, response_chars_mean, truncated_share (samples cut by max_tokens).
    """
    renamed = runs.rename(columns={"total_problems": "problems", "passed_problems": "passed", "samples_scored": "samples",
                                   "completion_tokens_mean": "response_tokens_mean"})
    out = renamed.reindex(columns=SEED_COLUMNS)
    order = out.assign(_seed=[_seed_order(s) for s in out["seed"]])
    order = order.sort_values(["dataset", "model_name", "config_id", "_seed"], kind="stable")
    return order.drop(columns="_seed").reset_index(drop=True)


def across_seeds(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One row per config_id: runs, seeds, mean, std (ddof=1), min, max and a t interval of the mean (clipped to [0, 1]).

    runs: one row per run with CONFIG_COLUMNS, seed and pass_rate; optional task_type, metric,
    response_tokens_mean / completion_tokens_mean, response_chars_mean and truncated_share are averaged
    over the seeds too.
    """
    rows = []
    for config_id, group in runs.groupby("config_id", sort=False):
        rates = group["pass_rate"].to_numpy(dtype=np.float64)
        ci = t_interval(rates, level)
        first = group.iloc[0]
        rows.append({
            **{c: first.get(c) for c in CONFIG_COLUMNS}, "config_id": config_id,
            "dataset_name": first.get("dataset_name", first.get("dataset")),
            "task_type": first.get("task_type"), "metric": first.get("metric"),
            "runs": len(rates), "seeds": " ".join("none" if pd.isna(s) else str(int(s)) for s in sorted(group["seed"], key=_seed_order)),
            "mean": float(rates.mean()), "std": float(rates.std(ddof=1)) if len(rates) > 1 else np.nan,
            "min": float(rates.min()), "max": float(rates.max()),
            # A rate lives in [0, 1]: the t interval is clipped there (with two seeds it is very wide).
            "ci_low": max(0.0, ci[0]) if ci else np.nan, "ci_high": min(1.0, ci[1]) if ci else np.nan,
            "response_tokens_mean": _mean(group, "response_tokens_mean", "completion_tokens_mean"),
            "response_chars_mean": _mean(group, "response_chars_mean"),
            "truncated_share": _mean(group, "truncated_share"),
        })
    columns = [*CONFIG_COLUMNS, "dataset_name", "task_type", "metric", "runs", "seeds", "mean", "std", "min", "max", "ci_low", "ci_high",
               "response_tokens_mean", "response_chars_mean", "truncated_share"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["dataset", "model_name", "mean"], ascending=[True, True, False], kind="stable").reset_index(drop=True)


def _mean(group: pd.DataFrame, *columns: str) -> float:
    """Mean over the seeds of the first column present (NaN when unknown for every seed)."""
    for c in columns:
        if c in group:
            values = pd.to_numeric(group[c], errors="coerce").dropna()
            return float(values.mean()) if len(values) else np.nan
    return np.nan


def best_configs(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset), the configuration with the highest mean pass rate across its seeds."""
    ordered = seeds.sort_values(["model_name", "dataset", "mean", "config_id"], ascending=[True, True, False, True], kind="stable")
    return ordered.drop_duplicates(["model_name", "dataset"]).reset_index(drop=True)

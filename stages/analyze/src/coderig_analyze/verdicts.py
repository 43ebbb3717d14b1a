"""The verdict taxonomy and the generation side of each run: counts, shares, exception types,
extraction methods, finish reasons, tokens, latency and throughput."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from coderig_schemas import Verdict
from coderig_schemas.analysis import Distribution

#: Every verdict in a fixed order, so tables and charts line up across runs.
VERDICTS = [v.value for v in Verdict]


def verdict_table(results: pd.DataFrame) -> pd.DataFrame:
    """Samples per (run, verdict) with shares; every verdict appears, with 0 where none."""
    counts = pd.crosstab(results["run"], results["verdict"]).reindex(columns=VERDICTS, fill_value=0)
    long = counts.stack().rename("count").reset_index()
    totals = long.groupby("run")["count"].transform("sum")
    long["share"] = np.where(totals > 0, long["count"] / totals.where(totals > 0, 1), 0.0)
    return long


def counts_by(results: pd.DataFrame, column: str, mask: pd.Series | None = None) -> pd.DataFrame:
    """Samples per (run, value of column), most frequent first; rows with a missing value are skipped."""
    frame = results if mask is None else results[mask]
    if column not in frame or frame.empty:
        return pd.DataFrame({"run": pd.Series(dtype="int64"), column: pd.Series(dtype=object), "count": pd.Series(dtype="int64")})
    out = frame.dropna(subset=[column]).groupby(["run", column], observed=True).size().rename("count").reset_index()
    return out.sort_values(["run", "count", column], ascending=[True, False, True], kind="stable")


def exception_counts(results: pd.DataFrame) -> pd.DataFrame:
    """Runtime errors per (run, exception_type)."""
    return counts_by(results, "exception_type", results["verdict"] == Verdict.RUNTIME_ERROR.value)


def distribution(values: pd.Series) -> Distribution | None:
    """Count, total, mean, median, p95 and max of the non-missing values (None when there are none)."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
    if v.size == 0:
        return None
    p50, p95 = np.percentile(v, [50, 95])
    return Distribution(count=int(v.size), total=float(v.sum()), mean=float(v.mean()), median=float(p50), p95=float(p95),
                        max=float(v.max()))


def throughput(results: pd.DataFrame) -> dict[str, Any]:
    """Generated tokens and samples per second of summed latency (None without latencies)."""
    if "latency_s" not in results:
        return {"tokens_per_s": None, "samples_per_s": None}
    latency = pd.to_numeric(results["latency_s"], errors="coerce")
    total = float(latency.sum(skipna=True))
    if total <= 0:
        return {"tokens_per_s": None, "samples_per_s": None}
    tokens = pd.to_numeric(results["completion_tokens"], errors="coerce")
    with_both = latency.notna() & tokens.notna()
    both_latency = float(latency[with_both].sum())
    tps = float(tokens[with_both].sum()) / both_latency if both_latency > 0 else None
    return {"tokens_per_s": tps, "samples_per_s": float(latency.notna().sum()) / total}

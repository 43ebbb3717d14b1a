"""Confidence intervals: Wilson and Clopper-Pearson for proportions, seeded bootstrap over problems,
and Student's t for means across seeds."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

#: Bootstrap replicates drawn at once: bounds memory at BLOCK x problems integers.
BLOCK = 200


def wilson(passed: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (good coverage even near 0 or 1)."""
    if total == 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def clopper_pearson(passed: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion."""
    if total == 0:
        return (0.0, 1.0)
    alpha = 1 - level
    low = 0.0 if passed == 0 else float(stats.beta.ppf(alpha / 2, passed, total - passed + 1))
    high = 1.0 if passed == total else float(stats.beta.ppf(1 - alpha / 2, passed + 1, total - passed))
    return (low, high)


def bootstrap_counts(n_items: int, replicates: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """How often each item is drawn in each bootstrap replicate (replicates x n_items)."""
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=replicates)


def bootstrap_means(values: npt.NDArray[np.float64], replicates: int, seed: int) -> npt.NDArray[np.float64]:
    """Bootstrap distribution of the column means of values (problems x statistics), resampling rows.

    Returns replicates x statistics. Drawn in blocks with one seeded generator, so the result
    depends only on (values, replicates, seed).
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64).T).T
    rng = np.random.default_rng(seed)
    n_items = values.shape[0]
    out = np.empty((replicates, values.shape[1]))
    for start in range(0, replicates, BLOCK):
        stop = min(replicates, start + BLOCK)
        counts = bootstrap_counts(n_items, stop - start, rng)
        out[start:stop] = counts @ np.nan_to_num(values) / n_items
    return out


def percentile_interval(draws: npt.NDArray[np.float64], level: float = 0.95) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Percentile bootstrap bounds per column."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    return low, high


def t_interval(values: npt.ArrayLike, level: float = 0.95) -> tuple[float, float] | None:
    """Student's t interval of the mean of a few values (None with fewer than two)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return None
    mean = float(v.mean())
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return (mean - half, mean + half)

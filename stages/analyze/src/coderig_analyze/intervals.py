"""Confidence intervals: Wilson and Clopper-Pearson for proportions, seeded bootstrap over problems,
and Student's t for means across seeds."""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
from scipy import special

#: Bootstrap replicates drawn at once: bounds memory at BLOCK x problems integers.
BLOCK = 200


def wilson(passed: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (good coverage even near 0 or 1)."""
    if total == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    # Rounding can put a bound a hair on the wrong side of p (1 - 1e-16 for 10 of 10): clamp it.
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def clopper_pearson(passed: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion."""
    if total == 0:
        return (0.0, 1.0)
    alpha = 1 - level
    low = 0.0 if passed == 0 else float(special.betaincinv(passed, total - passed + 1, alpha / 2))
    high = 1.0 if passed == total else float(special.betaincinv(passed + 1, total - passed, 1 - alpha / 2))
    return (low, high)


def bootstrap_counts(n_items: int, replicates: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """How often each of n_items is drawn in each replicate of n_items draws with replacement (replicates x n_items)."""
    draws = rng.integers(0, n_items, size=(replicates, n_items))
    offsets = (np.arange(replicates) * n_items)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=replicates * n_items).reshape(replicates, n_items)


#: Count matrices kept for reuse (problems x replicates integers each, so only for moderate sizes).
_CACHE_LIMIT = 20_000_000


@lru_cache(maxsize=4)
def _cached_counts(n_items: int, replicates: int, seed: int) -> npt.NDArray[np.float64]:
    # Kept as floats: the matrix product with the values then needs no conversion per call.
    counts = bootstrap_counts(n_items, replicates, np.random.default_rng(seed)).astype(np.float64)
    counts.setflags(write=False)
    return counts


def bootstrap_means(values: npt.NDArray[np.float64], replicates: int, seed: int) -> npt.NDArray[np.float64]:
    """Bootstrap distribution of the column means of values (problems x statistics), resampling rows.

    Returns replicates x statistics and depends only on (values, replicates, seed). Every call with
    the same number of problems, replicates and seed uses the same resamples (common random
    numbers): the many runs and pairs of one analysis share one draw instead of paying for one each.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64).T).T
    n_items = values.shape[0]
    clean = np.nan_to_num(values)
    if n_items * replicates <= _CACHE_LIMIT:
        result: npt.NDArray[np.float64] = _cached_counts(n_items, replicates, seed) @ clean / n_items
        return result
    rng = np.random.default_rng(seed)
    out = np.empty((replicates, values.shape[1]))
    for start in range(0, replicates, BLOCK):
        stop = min(replicates, start + BLOCK)
        out[start:stop] = bootstrap_counts(n_items, stop - start, rng) @ clean / n_items
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
    half = float(special.stdtrit(v.size - 1, 0.5 + level / 2)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return (mean - half, mean + half)

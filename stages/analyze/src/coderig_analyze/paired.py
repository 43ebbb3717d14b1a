"""Paired comparison of two runs on the same problems: difference, paired bootstrap CI, exact McNemar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from .intervals import bootstrap_means, percentile_interval


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2.

    Under the null each discordant pair favours A or B with chance 1/2, so the p-value is twice the
    smaller binomial tail, P(X <= min(a_only, b_only)) with X ~ Bin(a_only + b_only, 1/2), capped at 1.
    """
    discordant = a_only + b_only
    if discordant == 0:
        return 1.0
    return min(1.0, 2.0 * float(special.bdtr(min(a_only, b_only), discordant, 0.5)))


@dataclass(frozen=True)
class PairedResult:
    """Outcome of a paired comparison (rates on the common problems)."""

    problems: int
    a_rate: float
    b_rate: float
    difference: float
    low: float
    high: float
    both_passed: int
    a_only: int
    b_only: int
    both_failed: int
    p_value: float


def compare(a: npt.ArrayLike, b: npt.ArrayLike, *, replicates: int, seed: int, level: float = 0.95) -> PairedResult:
    """Compare two boolean outcome vectors aligned on the same problems.

    The CI resamples problems (the same draw for both runs, so the pairing is kept).
    """
    av = np.asarray(a, dtype=bool)
    bv = np.asarray(b, dtype=bool)
    if av.shape != bv.shape or av.size == 0:
        raise ValueError("a and b must be non-empty and aligned")
    diff = av.astype(np.float64) - bv.astype(np.float64)
    draws = bootstrap_means(diff[:, None], replicates, seed)
    low, high = percentile_interval(draws, level)
    a_only = int(np.sum(av & ~bv))
    b_only = int(np.sum(~av & bv))
    return PairedResult(
        problems=int(av.size), a_rate=float(av.mean()), b_rate=float(bv.mean()), difference=float(diff.mean()),
        low=float(low[0]), high=float(high[0]), both_passed=int(np.sum(av & bv)), a_only=a_only, b_only=b_only,
        both_failed=int(np.sum(~av & ~bv)), p_value=mcnemar_exact(a_only, b_only),
    )

"""The unbiased pass@k estimator (Chen et al., 2021), for every k at once.

For a problem with n samples of which c passed, pass@k = 1 - C(n-c, k) / C(n, k): the chance that
k samples drawn without replacement contain at least one that passed. The ratio of binomials is
computed as the stable product prod_{j<k} (n-c-j) / (n-j), never as factorials, and the running
product gives every k <= n in one vectorized pass.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def pass_at_k_matrix(n: npt.ArrayLike, c: npt.ArrayLike, k_max: int) -> npt.NDArray[np.float64]:
    """pass@k for each problem (rows) and k = 1..k_max (columns).

    n: samples per problem; c: passed samples per problem. Entries with k > n are NaN.
    """
    n_arr = np.asarray(n, dtype=np.int64)
    c_arr = np.asarray(c, dtype=np.int64)
    if n_arr.shape != c_arr.shape or n_arr.ndim != 1:
        raise ValueError("n and c must be 1-d arrays of the same length")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr) or np.any(n_arr < 1):
        raise ValueError("need 0 <= c <= n and n >= 1 for every problem")
    j = np.arange(k_max, dtype=np.float64)[None, :]
    fails = (n_arr - c_arr)[:, None].astype(np.float64)
    total = n_arr[:, None].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Factor j of C(n-c, k)/C(n, k): (n-c-j)/(n-j); it hits 0 once k > n-c (a pass is certain).
        factors = np.clip(fails - j, 0.0, None) / (total - j)
    all_fail = np.cumprod(np.where(j < total, factors, 1.0), axis=1)
    out = 1.0 - all_fail
    out[np.broadcast_to(j + 1 > total, out.shape)] = np.nan
    return out


def pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: int) -> float:
    """Mean pass@k over problems (every problem must have n >= k)."""
    m = pass_at_k_matrix(n, c, k)[:, k - 1]
    if np.isnan(m).any():
        raise ValueError(f"pass@{k} needs at least {k} samples for every problem")
    return float(m.mean())

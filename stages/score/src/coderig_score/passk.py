"""The unbiased pass@k estimator (Chen et al., 2021) in its numerically stable product form.

pass@k = 1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k / i), for n samples of which c pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) passes."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def per_problem(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, dict[int, float]]:
    """{problem: {k: pass@k}} for every k <= that problem's n, from {problem: (n, c)}."""
    wanted = sorted(set(ks))
    return {pid: {k: pass_at_k(n, c, k) for k in wanted if k <= n} for pid, (n, c) in counts.items()}


def overall(counts: Mapping[str, tuple[int, int]], ks: Iterable[int] | None = None) -> dict[int, float]:
    """Mean pass@k over problems, for every k <= the smallest n (all k <= n when ks is None)."""
    if not counts:
        return {}
    n_min = min(n for n, _ in counts.values())
    wanted = sorted(k for k in (set(ks) if ks is not None else range(1, n_min + 1)) if 1 <= k <= n_min)
    return {k: sum(pass_at_k(n, c, k) for n, c in counts.values()) / len(counts) for k in wanted}


def counts_from(results: Iterable[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """{problem: (n, c)} from (problem_id, passed) pairs."""
    out: dict[str, tuple[int, int]] = {}
    for pid, ok in results:
        n, c = out.get(pid, (0, 0))
        out[pid] = (n + 1, c + int(ok))
    return out

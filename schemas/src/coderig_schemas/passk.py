"""Pass rates and the unbiased pass@k estimator (Chen et al., 2021): the one definition every stage uses.

A pass rate is passed / counted (:func:`pass_rate`); :class:`PassTally` counts samples and problems as
they stream by and gives the sample pass rate and the problem solve rate.

For a problem with n samples of which c passed, pass@k = 1 - C(n-c, k) / C(n, k): the chance that k
samples drawn without replacement contain at least one that passed. The ratio of binomials is computed
as the stable running product prod_{j<k} (n-c-j) / (n-j), never as factorials (C(1000, 500) overflows a
float), and the running product gives every k <= n in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


def pass_rate(passed: int, total: int) -> float | None:
    """The share of ``total`` counted items that passed; None when nothing was counted (a rate of nothing
    is unknown, not 0: callers that show 0 for an empty bucket say so with ``or 0.0``)."""
    if not 0 <= passed <= total:
        raise ValueError(f"need 0 <= passed <= total, got passed={passed}, total={total}")
    return passed / total if total else None


@dataclass
class PassTally:
    """Samples counted one at a time: how many passed, and which problems at least one sample solved."""

    samples: int = 0
    passed: int = 0
    problems: dict[str, bool] = field(default_factory=dict)  # problem id -> any of its samples passed

    def add(self, problem_id: str, passed: bool) -> None:
        """Count one sample of a problem."""
        self.samples += 1
        self.passed += passed
        self.problems[problem_id] = self.problems.get(problem_id, False) or passed

    @property
    def solved(self) -> int:
        """Problems with at least one passing sample."""
        return sum(self.problems.values())

    def pass_rate(self) -> float | None:
        """Passing samples over samples (None: no sample)."""
        return pass_rate(self.passed, self.samples)

    def solve_rate(self) -> float | None:
        """Solved problems over problems (None: no problem)."""
        return pass_rate(self.solved, len(self.problems))


def _check(n: int, c: int) -> None:
    if not 0 <= c <= n or n < 1:
        raise ValueError(f"need 0 <= c <= n and n >= 1, got n={n}, c={c}")


def curve(n: int, c: int, k_max: int) -> list[float]:
    """pass@k for k = 1..k_max of one problem with n samples, c of them passed (k_max <= n)."""
    _check(n, c)
    if not 0 <= k_max <= n:
        raise ValueError(f"need 0 <= k_max <= n, got n={n}, k_max={k_max}")
    out = []
    all_fail = 1.0
    for j in range(k_max):
        # Factor j of C(n-c, k)/C(n, k); it is 0 once k > n-c (a pass is then certain).
        all_fail *= max(n - c - j, 0) / (n - j)
        out.append(1.0 - all_fail)
    return out


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) passes."""
    _check(n, c)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, c={c}, k={k}")
    return curve(n, c, k)[-1]


def counts_from(results: Iterable[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """{problem: (n, c)} from (problem_id, passed) pairs."""
    out: dict[str, tuple[int, int]] = {}
    for pid, ok in results:
        n, c = out.get(pid, (0, 0))
        out[pid] = (n + 1, c + int(ok))
    return out


def per_problem(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, dict[int, float]]:
    """{problem: {k: pass@k}} for every k <= that problem's n, from {problem: (n, c)}."""
    wanted = sorted(set(ks))
    out = {}
    for pid, (n, c) in counts.items():
        values = curve(n, c, max((k for k in wanted if k <= n), default=0))
        out[pid] = {k: values[k - 1] for k in wanted if 1 <= k <= n}
    return out


def overall(counts: Mapping[str, tuple[int, int]], ks: Iterable[int] | None = None) -> dict[int, float]:
    """Mean pass@k over problems, for every k <= the smallest n (all k <= n when ks is None)."""
    if not counts:
        return {}
    n_min = min(n for n, _ in counts.values())
    wanted = sorted(k for k in (set(ks) if ks is not None else range(1, n_min + 1)) if 1 <= k <= n_min)
    if not wanted:
        return {}
    curves = [curve(n, c, wanted[-1]) for n, c in counts.values()]
    return {k: sum(cv[k - 1] for cv in curves) / len(curves) for k in wanted}


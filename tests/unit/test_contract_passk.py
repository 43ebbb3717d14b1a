"""pass@k (coderig_schemas.passk, used by score and analyze) equals the exact combinatorial value, for every k <= n."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from coderig_schemas import passk


def exact(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 20, 50, 200])
def test_pass_at_k_equals_fractions_on_a_grid(n: int) -> None:
    # Every (c, k) up to n=50; for n=200 every 7th value plus both ends (the full 40k grid of exact
    # Fractions is most of the fast tier's time and adds no case the strided one misses).
    values = range(n + 1) if n <= 50 else sorted({*range(0, n + 1, 7), 1, n - 1, n})
    for c in values:
        for k in (v for v in values if v >= 1):
            got = passk.pass_at_k(n, c, k)
            assert got == pytest.approx(float(exact(n, c, k)), rel=1e-12, abs=1e-12), (n, c, k)


def test_edges() -> None:
    assert passk.pass_at_k(10, 0, 3) == 0.0
    assert passk.pass_at_k(10, 10, 1) == 1.0
    assert passk.pass_at_k(10, 8, 3) == 1.0  # fewer than k wrong answers: any draw of k has a pass
    assert passk.pass_at_k(5, 2, 1) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        passk.pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        passk.pass_at_k(3, 1, 4)


def test_large_n_is_stable() -> None:
    # comb(2000, 1000) overflows a float; the product form does not.
    assert passk.pass_at_k(2000, 1, 1000) == pytest.approx(0.5)
    assert passk.pass_at_k(2000, 3, 1000) == pytest.approx(float(exact(2000, 3, 1000)))


def test_per_problem_and_overall() -> None:
    counts = passk.counts_from([("a", True), ("a", False), ("a", False), ("b", True), ("b", True), ("c", False), ("c", False)])
    assert counts == {"a": (3, 1), "b": (2, 2), "c": (2, 0)}
    per = passk.per_problem(counts, [1, 2, 3])
    assert set(per["a"]) == {1, 2, 3} and set(per["b"]) == {1, 2}
    assert per["a"][2] == pytest.approx(float(exact(3, 1, 2)))
    overall = passk.overall(counts)
    assert set(overall) == {1, 2}  # every k <= the smallest n
    assert overall[1] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert overall[2] == pytest.approx((float(exact(3, 1, 2)) + 1 + 0) / 3)
    assert passk.overall({}) == {}


def test_curve_gives_every_k_at_once_and_matches_the_scalar() -> None:
    for n in range(1, 13):
        for c in range(n + 1):
            got = passk.curve(n, c, n)
            assert len(got) == n
            for k in range(1, n + 1):
                assert got[k - 1] == pytest.approx(float(exact(n, c, k)), abs=1e-12)
    assert passk.curve(1000, 1, 500)[499] == pytest.approx(0.5, rel=1e-12)  # C(1000, 500) overflows a float
    with pytest.raises(ValueError, match="0 <= c <= n"):
        passk.curve(2, 3, 1)
    with pytest.raises(ValueError, match="k_max <= n"):
        passk.curve(2, 1, 3)


def test_the_toy_run_by_hand() -> None:
    # 2 samples per problem with 2, 1, 1, 0 passes: pass@1 = (1 + 1/2 + 1/2 + 0) / 4 = 0.5; pass@2 = 3/4.
    counts = {"a": (2, 2), "b": (2, 1), "c": (2, 1), "d": (2, 0)}
    assert passk.overall(counts) == {1: 0.5, 2: 0.75}
    assert passk.overall(counts, [3]) == {}  # no k above the smallest n


def test_pass_rate_is_none_for_nothing_counted_and_refuses_impossible_counts() -> None:
    from coderig_schemas.passk import pass_rate

    assert pass_rate(3, 4) == 0.75
    assert pass_rate(0, 0) is None
    with pytest.raises(ValueError):
        pass_rate(5, 4)


def test_pass_tally_counts_samples_and_solved_problems() -> None:
    from coderig_schemas.passk import PassTally

    t = PassTally()
    assert t.pass_rate() is None and t.solve_rate() is None
    for pid, ok in [("a", False), ("a", True), ("b", False), ("b", False)]:
        t.add(pid, ok)
    assert (t.samples, t.passed, t.solved) == (4, 1, 1)
    assert t.pass_rate() == 0.25 and t.solve_rate() == 0.5

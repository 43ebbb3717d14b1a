"""Difficulty mixes: apportioning, exact ratios, shortfalls reported, seeded and spread over problems."""

from __future__ import annotations

from collections import Counter

import pytest

from coderig_export.mix import MIXES, apportion, largest_exact_size, parse_ratios, select_mix, spread_order
from coderig_schemas import Difficulty

E, M, H = Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD


def items(easy: int, medium: int, hard: int, unknown: int = 0, per_problem: int = 1) -> list[tuple[str, Difficulty | None]]:
    """(id, difficulty) items; ids are 'bucket-problem-sample' so problems can be told apart."""
    out: list[tuple[str, Difficulty | None]] = []
    for d, n in ((E, easy), (M, medium), (H, hard), (None, unknown)):
        out += [(f"{d}-{i // per_problem}-{i % per_problem}", d) for i in range(n)]
    return out


def run(pool: list[tuple[str, Difficulty | None]], mix: str, size: int | None = None, seed: int = 0,
        ratios: tuple[float, float, float] | None = None) -> tuple[list[tuple[str, Difficulty | None]], object]:
    return select_mix(pool, lambda x: x[1], lambda x: x[0].rsplit("-", 1)[0], mix=mix,
                      ratios=ratios if ratios is not None else MIXES[mix], size=size, seed=seed)


def test_default_ratios_are_documented_values() -> None:
    assert MIXES["balanced"] == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert MIXES["easy_heavy"] == (0.6, 0.25, 0.15)
    assert MIXES["medium_heavy"] == (0.2, 0.6, 0.2)
    assert MIXES["hard_heavy"] == (0.15, 0.25, 0.6)
    assert all(abs(sum(r) - 1) < 1e-9 for r in MIXES.values() if r is not None)


def test_apportion_sums_to_size_and_follows_ratios() -> None:
    assert apportion(10, (1 / 3, 1 / 3, 1 / 3)) == [4, 3, 3]
    assert apportion(100, (0.6, 0.25, 0.15)) == [60, 25, 15]
    assert apportion(7, (0.5, 0.5, 0.0)) == [4, 3, 0]
    for size in range(0, 50):
        assert sum(apportion(size, (0.15, 0.25, 0.6))) == size


def test_parse_ratios_normalizes_and_rejects_nonsense() -> None:
    assert parse_ratios("2,1,1") == pytest.approx((0.5, 0.25, 0.25))
    for bad in ("1,1", "a,b,c", "-1,1,1", "0,0,0", "inf,1,1"):
        with pytest.raises(ValueError):
            parse_ratios(bad)


@pytest.mark.parametrize("mix", ["balanced", "easy_heavy", "medium_heavy", "hard_heavy"])
def test_mix_hits_its_ratios_when_every_bucket_has_enough(mix: str) -> None:
    chosen, report = run(items(500, 500, 500), mix, size=200)
    counts = Counter(d for _, d in chosen)
    assert [counts[E], counts[M], counts[H]] == apportion(200, MIXES[mix])  # type: ignore[arg-type]
    assert report.shortfalls == [] and report.total_short == 0  # type: ignore[attr-defined]
    for got, want in zip(report.achieved().values(), MIXES[mix], strict=True):  # type: ignore[attr-defined,arg-type]
        assert got == pytest.approx(want, abs=0.005)


def test_short_bucket_takes_all_it_has_and_is_reported() -> None:
    chosen, report = run(items(100, 100, 5), "balanced", size=60)
    counts = Counter(d for _, d in chosen)
    assert (counts[E], counts[M], counts[H]) == (20, 20, 5)
    [short] = report.shortfalls  # type: ignore[attr-defined]
    assert (short.difficulty, short.target, short.taken, short.short, short.available) == ("hard", 20, 5, 15, 5)
    assert report.achieved() == pytest.approx({"easy": 20 / 45, "medium": 20 / 45, "hard": 5 / 45})  # type: ignore[attr-defined]
    assert report.as_dict()["taken"] == 45  # type: ignore[attr-defined]


def test_without_size_the_largest_exact_mix_is_taken() -> None:
    chosen, report = run(items(100, 40, 7), "balanced")
    assert Counter(d for _, d in chosen) == {E: 7, M: 7, H: 7}
    assert report.shortfalls == []  # type: ignore[attr-defined]
    assert largest_exact_size([100, 40, 7], (0.6, 0.25, 0.15)) == 46  # 28+12+6 fits; 47 would need 8 hard


def test_a_scarce_or_empty_bucket_is_named_as_the_limit() -> None:
    _, report = run(items(100, 40, 7), "balanced")
    assert report.limited_by is not None and report.limited_by.difficulty == "hard"  # type: ignore[attr-defined]
    chosen, report = run(items(10, 10, 0), "balanced")
    assert chosen == [] and report.limited_by.difficulty == "hard"  # type: ignore[attr-defined]
    _, report = run(items(3, 3, 3), "balanced")
    assert report.limited_by is None  # type: ignore[attr-defined]
    _, report = run(items(100, 40, 7), "balanced", size=30)
    assert report.limited_by is None  # type: ignore[attr-defined]


def test_unknown_difficulty_is_left_out_of_ratio_mixes_and_counted() -> None:
    chosen, report = run(items(3, 3, 3, unknown=4), "balanced")
    assert all(d is not None for _, d in chosen)
    assert report.unknown_dropped == 4  # type: ignore[attr-defined]


def test_mix_all_keeps_everything_and_reports_a_short_size() -> None:
    pool = items(3, 2, 1, unknown=2)
    chosen, report = select_mix(pool, lambda x: x[1], lambda x: x[0], mix="all", ratios=None, size=None, seed=0)
    assert sorted(chosen) == sorted(pool)
    _, report = select_mix(pool, lambda x: x[1], lambda x: x[0], mix="all", ratios=None, size=20, seed=0)
    assert report.total_short == 12


def test_same_seed_same_selection_other_seed_other_selection() -> None:
    pool = items(300, 300, 300)
    assert run(pool, "balanced", size=30, seed=1)[0] == run(pool, "balanced", size=30, seed=1)[0]
    assert run(pool, "balanced", size=30, seed=1)[0] != run(pool, "balanced", size=30, seed=2)[0]


def test_a_quota_is_spread_over_problems_before_repeating_one() -> None:
    # 10 easy problems with 10 samples each: 10 picks must cover 10 distinct problems.
    pool = items(100, 0, 0, per_problem=10)
    chosen, _ = run(pool, "easy_heavy", size=16, ratios=(1.0, 0.0, 0.0))
    problems = Counter(x[0].rsplit("-", 1)[0] for x in chosen)
    assert len(problems) == 10 and max(problems.values()) == 2


def test_spread_order_is_a_permutation() -> None:
    import random

    pool = [f"p{i % 3}-{i}" for i in range(10)]
    out = spread_order(pool, lambda s: s.split("-")[0], random.Random(0))
    assert sorted(out) == sorted(pool)
    assert len({s.split("-")[0] for s in out[:3]}) == 3


def test_mix_names_have_one_home() -> None:
    # the typed option (FinetuneConfig.mix) takes its names from the table of ratios
    from typing import get_args

    from coderig_export.config import FinetuneConfig
    from coderig_export.mix import MIXES, RATIO_MIXES, MixName, describe_mixes

    assert FinetuneConfig.model_fields["mix"].annotation is MixName
    assert tuple(MIXES) == get_args(MixName) and "all" not in RATIO_MIXES
    assert "easy_heavy .6/.25/.15" in describe_mixes()

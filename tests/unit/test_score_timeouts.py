"""Timeouts: max(floor, factor x reference time) per test, capped per sample, default without a reference."""

from __future__ import annotations

from coderig_schemas import ReferenceTiming
from coderig_score.timeouts import TimeoutPolicy, budget_for
from tests.factories import make_problem


def timing(verdict: str = "passed", **durations: float) -> ReferenceTiming:
    return ReferenceTiming(problem_id="p", dataset="toy", verdict=verdict, setup_duration_s=0.4,
                           test_durations_s=durations, machine="test")


def test_calibrated_per_test() -> None:
    policy = TimeoutPolicy(floor_s=1.0, factor=5.0, default_s=7.0, sample_cap_s=30.0)
    b = budget_for(make_problem("p"), timing(t0=0.001, t1=2.0), policy)
    assert b.tests_s == [1.0, 10.0]  # floor for the fast test, 5x for the slow one
    assert b.prelude_s == 2.0
    assert b.cap_s == 30.0


def test_capped_and_default() -> None:
    policy = TimeoutPolicy(floor_s=1.0, factor=5.0, default_s=7.0, sample_cap_s=8.0)
    assert budget_for(make_problem("p"), timing(t0=0.01, t1=100.0), policy).tests_s == [1.0, 8.0]
    # no timing, a failing reference, or an unknown test: the default
    assert budget_for(make_problem("p"), None, policy).tests_s == [7.0, 7.0]
    assert budget_for(make_problem("p"), timing("wrong_answer", t0=0.01, t1=0.01), policy).tests_s == [7.0, 7.0]
    assert budget_for(make_problem("p"), timing(t0=0.01), policy).tests_s == [1.0, 7.0]

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


def test_a_test_with_cases_is_limited_per_case_and_budgeted_as_a_whole() -> None:
    from coderig_score.sandbox import Limits, make_job

    problem = make_problem("p", tests=[{"test_id": "t0", "code": "for i in range(3):\n    __coderig_case__(i)", "visibility": "hidden"},
                                       {"test_id": "t1", "code": "assert f(2) == 2", "visibility": "hidden"}])
    t = timing(t0=3.0, t1=0.001).model_copy(update={"case_durations_s": {"t0": 0.1}, "clock": "cpu"})
    b = budget_for(problem, t, TimeoutPolicy(floor_s=0.1, factor=5.0))
    assert b.tests_s == [0.5, 0.1] and b.totals_s == [15.0, 0.1]
    job = make_job("", prelude=[], tests=[c.code for c in problem.tests], test_timeouts=b.tests_s, prelude_timeout=b.prelude_s,
                   sample_cap=b.cap_s, limits=Limits(), test_totals=b.totals_s, wall_floor=2.0, wall_factor=10.0)
    assert job["test_timeouts"] == [0.5, 0.1] and job["test_walls"] == [5.0, 2.0]
    assert job["sample_cpu"] >= 15.1  # the cases together, not one case's limit


def test_uncalibrated_case_tests_get_the_sample_budget() -> None:
    problem = make_problem("p", tests=[{"test_id": "t0", "code": "__coderig_case__(0)", "visibility": "hidden"}])
    b = budget_for(problem, None, TimeoutPolicy(default_s=2.0, sample_cap_s=50.0))
    assert b.tests_s == [2.0] and b.totals_s == [50.0]


def test_wall_clock_timings_of_schema_v1_stay_readable() -> None:
    from coderig_schemas import ReferenceTiming

    old = ReferenceTiming.model_validate({"schema_version": 1, "problem_id": "p", "dataset": "toy", "verdict": "passed",
                                          "setup_duration_s": 0.5, "test_durations_s": {"t0": 1.0}, "machine": "m"})
    assert old.clock == "wall" and old.case_durations_s == {}
    assert budget_for(make_problem("p"), old, TimeoutPolicy(floor_s=0.1)).tests_s[0] == 5.0

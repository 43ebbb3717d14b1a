"""Time budgets calibrated on the reference solution: max(floor, factor x reference time), capped."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from coderig_schemas import Problem, ReferenceTiming, Verdict


class TimeoutPolicy(BaseModel):
    """How per-test time limits are derived (defaults in docs/score.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    floor_s: float = Field(default=1.0, gt=0, description="Smallest per-test timeout, seconds.")
    factor: float = Field(default=5.0, ge=1, description="Multiple of the reference's measured time per test.")
    default_s: float = Field(default=5.0, gt=0, description="Per-test timeout when no reference timing is known.")
    sample_cap_s: float = Field(default=120.0, gt=0, description="Wall-clock cap for one sample, all tests included.")
    max_timeouts: int = Field(default=3, ge=1, description="After this many timed-out tests, a sample's other tests are not run.")


class SampleBudget(BaseModel):
    """Time budgets of one sample."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prelude_s: float
    tests_s: list[float]
    cap_s: float


def budget_for(problem: Problem, timing: ReferenceTiming | None, policy: TimeoutPolicy) -> SampleBudget:
    """Per-test timeouts for a problem: calibrated where the reference passed here, else the default."""
    cap = policy.sample_cap_s
    if timing is None or timing.verdict != Verdict.PASSED:
        tests = [min(policy.default_s, cap) for _ in problem.tests]
        return SampleBudget(prelude_s=min(max(policy.default_s, policy.floor_s), cap), tests_s=tests, cap_s=cap)
    tests = []
    for t in problem.tests:
        ref = timing.test_durations_s.get(t.test_id)
        tests.append(min(cap, policy.default_s if ref is None else max(policy.floor_s, policy.factor * ref)))
    prelude = min(cap, max(policy.floor_s, policy.factor * timing.setup_duration_s))
    return SampleBudget(prelude_s=prelude, tests_s=tests, cap_s=cap)


def measuring_budget(problem: Problem, per_test_s: float, cap_s: float) -> SampleBudget:
    """Generous budgets used while measuring the reference solutions themselves."""
    return SampleBudget(prelude_s=min(per_test_s, cap_s), tests_s=[min(per_test_s, cap_s)] * len(problem.tests), cap_s=cap_s)

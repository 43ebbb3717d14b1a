"""Time budgets calibrated on the reference solution: CPU limits max(floor, factor x reference CPU time), capped.

Every limit here is CPU time of all the sample's processes, which a busy machine does not inflate
the way it inflates wall time; each phase also gets a generous wall-clock bound (``wall_for``) that
only stops programs that sleep or block.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from coderig_schemas import Problem, ReferenceTiming, Verdict

CASE_HOOK = "__coderig_case__"  # a test calling it runs cases, each held to the test's limit
WALL_FLOOR_S = 30.0
WALL_FACTOR = 30.0


def wall_for(cpu_s: float, floor_s: float = WALL_FLOOR_S, factor: float = WALL_FACTOR) -> float:
    """The wall-clock bound of a phase with this CPU limit: max(floor, factor x the CPU limit) (30 s, 30x).

    Generous on purpose: a CPU-bound program still finishes within it on a machine where thirty
    busy processes share each core; it exists for programs that sleep or wait on a pipe or a lock.
    """
    return max(floor_s, factor * cpu_s)


class TimeoutPolicy(BaseModel):
    """How per-test limits are derived (defaults in docs/score.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    floor_s: float = Field(default=0.1, gt=0, description="Smallest per-test CPU limit, seconds.")
    factor: float = Field(default=5.0, ge=1, description="Multiple of the reference's measured CPU time per test.")
    default_s: float = Field(default=5.0, gt=0, description="Per-test CPU limit when no reference timing is known.")
    sample_cap_s: float = Field(default=120.0, gt=0, description="CPU budget of one sample, all tests included.")
    max_timeouts: int = Field(default=1, ge=1, description="After this many timed-out tests, a sample's other tests are not run.")
    wall_floor_s: float = Field(default=WALL_FLOOR_S, gt=0, description="Smallest wall-clock bound of a test (sleeping programs).")
    wall_factor: float = Field(default=WALL_FACTOR, ge=1, description="Wall-clock bound = max(wall floor, this x the CPU limit).")


class SampleBudget(BaseModel):
    """Time budgets of one sample (CPU seconds; wall bounds follow from them, see wall_for)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prelude_s: float
    tests_s: list[float]
    cap_s: float
    wall_floor_s: float = WALL_FLOOR_S
    wall_factor: float = WALL_FACTOR
    totals_s: list[float] = Field(default_factory=list, description="Per test, what its cases may use together (tests with cases).")


def budget_for(problem: Problem, timing: ReferenceTiming | None, policy: TimeoutPolicy) -> SampleBudget:
    """Per-test CPU limits for a problem: calibrated where the reference passed here, else the default.

    A test that announces cases (HumanEval+ inputs) applies its limit to each case, so it is
    calibrated on the reference's slowest case. Wall-clock timings (older outputs) count as CPU time
    (they are larger).
    """
    cap = policy.sample_cap_s
    if timing is None or timing.verdict != Verdict.PASSED:
        tests = [min(policy.default_s, cap) for _ in problem.tests]
        # Without a timing, what a test's cases use together is bounded by the sample's budget only.
        totals = [cap if CASE_HOOK in t.code else limit for t, limit in zip(problem.tests, tests, strict=True)]
        return SampleBudget(prelude_s=min(max(policy.default_s, policy.floor_s), cap), tests_s=tests, cap_s=cap,
                            wall_floor_s=policy.wall_floor_s, wall_factor=policy.wall_factor, totals_s=totals)
    tests, totals = [], []
    for t in problem.tests:
        whole = timing.test_durations_s.get(t.test_id)
        ref = timing.case_durations_s.get(t.test_id, whole)
        tests.append(min(cap, policy.default_s if ref is None else max(policy.floor_s, policy.factor * ref)))
        totals.append(max(tests[-1], cap if whole is None and CASE_HOOK in t.code else min(cap, policy.factor * (whole or 0.0))))
    prelude = min(cap, max(policy.floor_s, policy.factor * timing.setup_duration_s))
    return SampleBudget(prelude_s=prelude, tests_s=tests, cap_s=cap, wall_floor_s=policy.wall_floor_s,
                        wall_factor=policy.wall_factor, totals_s=totals)


def measuring_budget(problem: Problem, per_test_s: float, cap_s: float) -> SampleBudget:
    """Generous budgets used while measuring the reference solutions themselves."""
    return SampleBudget(prelude_s=min(per_test_s, cap_s), tests_s=[min(per_test_s, cap_s)] * len(problem.tests), cap_s=cap_s)

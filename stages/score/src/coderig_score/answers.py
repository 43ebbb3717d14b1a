"""What the graders of text answers share: the result's frame (the reasoning rule is the contract's ``strip_think``)."""

from __future__ import annotations

from typing import Any

from coderig_schemas import FinishReason, Problem, Sample, ScoreResult, TestOutcome, TestStatus, Verdict

from .verdicts import _base


def text_result(problem: Problem, sample: Sample, outcomes: list[TestOutcome], verdict: Verdict,
                duration_s: float, **extra: Any) -> ScoreResult:
    """A ScoreResult for a graded text answer; a failed answer cut by the token limit is truncated_generation."""
    if verdict not in (Verdict.PASSED, Verdict.SANDBOX_ERROR) and sample.finish_reason == FinishReason.LENGTH:
        verdict = Verdict.TRUNCATED_GENERATION
    passed = [o for o in outcomes if o.status == TestStatus.PASSED]
    failing = next((o for o in outcomes if o.status != TestStatus.PASSED), None)
    return ScoreResult(
        **_base(problem, sample), task_type=problem.task_type, verdict=verdict, passed=verdict == Verdict.PASSED,
        tests=outcomes, tests_passed=len(passed), visible_passed=0, hidden_passed=len(passed),
        failing_test_id=None if failing is None else failing.test_id,
        error_message=None if failing is None else failing.error_message,
        duration_s=round(duration_s, 6), **extra,
    )

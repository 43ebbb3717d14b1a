"""What the graders of text answers share: the response after any reasoning block, and the result's frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coderig_schemas import FinishReason, Problem, Sample, ScoreResult, TestOutcome, TestStatus, Verdict

from .verdicts import _base

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class Visible:
    """The part of a response that counts as the answer, after removing the reasoning."""

    text: str
    had_think: bool
    cut_in_think: bool


def strip_think(response: str) -> Visible:
    """Drop the reasoning: everything up to the last ``</think>``, and an unclosed trailing ``<think>``.

    The one rule every grader of text answers (math, IFEval, BFCL) applies. A ``</think>`` without an
    opening tag is common: chat templates of reasoning models (Qwen3, DeepSeek-R1) put ``<think>`` in
    the prompt, so the response starts inside the reasoning. A ``<think>`` opened after the last close
    (or never closed at all) means the response was cut inside its reasoning: ``cut_in_think``, and
    only the text before it is visible.
    """
    text = response
    had = THINK_OPEN in text or THINK_CLOSE in text
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        text = text[close + len(THINK_CLOSE):]
    opened = text.find(THINK_OPEN)
    if opened >= 0:
        return Visible(text=text[:opened], had_think=True, cut_in_think=True)
    return Visible(text=text, had_think=had, cut_in_think=False)


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

"""One function-calling sample -> its ScoreResult: one check per expected call, the decoded calls beside."""

from __future__ import annotations

import json
import time
from typing import Any

from coderig_schemas import InvalidInputError, Problem, Sample, ScoreResult, TestOutcome, TestStatus, Verdict
from coderig_schemas.reasoning import strip_think
from coderig_schemas.score import AnswerMethod, ExtractedAnswer
from coderig_schemas.tasks import FunctionCallingGrading

from ..answers import text_result
from .checker import CallsVerdict, check_answer


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def score_sample(problem: Problem, sample: Sample) -> ScoreResult:
    """Check the calls in ``sample.raw_response`` with BFCL's AST rules.

    Verdict: ``passed`` when every expected call is matched, ``wrong_answer`` when calls were read but one
    does not match, ``no_answer`` when no call could be read (not JSON, not a call, text around it),
    ``truncated_generation`` when a failing response hit the token limit. ``answer`` holds the decoded
    calls (JSON), how they were written, and the possible answers (JSON). Nothing is executed.
    """
    grading = problem.grading
    if not isinstance(grading, FunctionCallingGrading):
        raise InvalidInputError(f"{problem.problem_id}: not a function_calling problem", hint="check the generate output")
    started = time.perf_counter()
    gold = _json(grading.possible_answers)
    visible = strip_think(sample.raw_response)
    response = None if visible.cut_in_think else visible.text
    try:
        verdict: CallsVerdict = check_answer(
            response if response is not None else "", grading.functions, grading.possible_answers, grading.category.value)
    except ValueError as exc:  # the problem itself is inconsistent
        raise InvalidInputError(f"{problem.dataset}/{problem.problem_id}: grading: {exc}", hint="check the BFCL files") from None
    outcomes = [
        TestOutcome(test_id=t.test_id, visibility=t.visibility, status=TestStatus.PASSED if c.passed else TestStatus.FAILED,
                    duration_s=0.0, expected=_json(expected),
                    error_message=None if c.passed else f"{c.error_type}: {c.detail}")
        for t, c, expected in zip(problem.tests, verdict.checks, grading.possible_answers, strict=True)
    ]
    if verdict.parse_error is not None:
        answer = ExtractedAnswer(extracted=None, method=AnswerMethod.NONE, gold=gold)
        # cut inside the reasoning: truncated, as the math grader says it
        result = Verdict.NO_ANSWER if response is not None else Verdict.TRUNCATED_GENERATION
    else:
        calls = [{c.name: c.arguments} for c in verdict.calls]
        answer = ExtractedAnswer(extracted=_json(calls), method=AnswerMethod(verdict.method or "none"), gold=gold)
        result = Verdict.PASSED if verdict.passed else Verdict.WRONG_ANSWER
    return text_result(problem, sample, outcomes, result, time.perf_counter() - started, answer=answer)

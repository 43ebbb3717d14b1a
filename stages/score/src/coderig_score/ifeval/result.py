"""One IFEval sample -> its ScoreResult: one check per instruction, strict verdicts with the loose ones beside."""

from __future__ import annotations

import time

from coderig_schemas import InvalidInputError, Problem, Sample, ScoreResult, TestOutcome, TestStatus, Verdict
from coderig_schemas.reasoning import strip_think
from coderig_schemas.tasks import InstructionFollowingGrading

from ..answers import text_result
from .grading import build_all, grade
from .instructions import InstructionArgsError


def _status(ok: bool) -> TestStatus:
    return TestStatus.PASSED if ok else TestStatus.FAILED


def score_sample(problem: Problem, sample: Sample) -> ScoreResult:
    """Grade ``sample.raw_response`` (after any ``<think>`` block) against the problem's instructions.

    Verdict: ``passed`` when every instruction is followed strictly, ``wrong_answer`` otherwise,
    ``no_answer`` for a blank response (or one cut inside its reasoning block), ``truncated_generation``
    when a failing response hit the token limit. ``loose_passed``/``loose_tests_passed`` and each check's
    ``loose_status`` carry the loose verdicts. Raises InvalidInputError for instructions IFEval does not define.
    """
    grading = problem.grading
    if not isinstance(grading, InstructionFollowingGrading):
        raise InvalidInputError(f"{problem.problem_id}: not an instruction_following problem", hint="check the generate output")
    started = time.perf_counter()
    try:
        instructions = build_all(grading.instruction_id_list, grading.kwargs)
    except InstructionArgsError as exc:
        raise InvalidInputError(f"{problem.dataset}/{problem.problem_id}: grading: {exc}",
                                hint="regenerate the problems with coderig-generate's IFEval loader") from None
    visible = strip_think(sample.raw_response)
    response = None if visible.cut_in_think else visible.text
    if response is None or not response.strip():
        why = "the response ends inside its <think> block" if response is None else "empty response"
        outcomes = [TestOutcome(test_id=t.test_id, visibility=t.visibility, status=TestStatus.FAILED, duration_s=0.0,
                                expected=i.id, error_message=why, loose_status=TestStatus.FAILED)
                    for t, i in zip(problem.tests, instructions, strict=True)]
        # cut inside the reasoning: truncated, as the math grader says it
        return text_result(problem, sample, outcomes, Verdict.NO_ANSWER if response is not None else Verdict.TRUNCATED_GENERATION,
                           time.perf_counter() - started, loose_passed=False, loose_tests_passed=0)
    verdict = grade(instructions, response)
    outcomes = [
        TestOutcome(test_id=t.test_id, visibility=t.visibility, status=_status(v.strict), duration_s=0.0,
                    expected=v.instruction_id, loose_status=_status(v.loose),
                    error_message=None if v.strict else f"instruction not followed: {v.instruction_id}")
        for t, v in zip(problem.tests, verdict.instructions, strict=True)
    ]
    return text_result(problem, sample, outcomes, Verdict.PASSED if verdict.strict else Verdict.WRONG_ANSWER,
                       time.perf_counter() - started, loose_passed=verdict.loose,
                       loose_tests_passed=sum(v.loose for v in verdict.instructions))

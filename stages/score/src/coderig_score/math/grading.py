"""Score math samples: extract the final answer here, compare it in the grader pool, build the result.

A math sample has one check (test_id ``answer``), so its ``ScoreResult`` has the shape of a code
sample's with one test: ``tests_passed/tests_total`` is 0/1 or 1/1 and pass@k means the same.

=========================  =====================================================================
verdict                    when
=========================  =====================================================================
``passed``                 the extracted answer is equivalent to the gold one (math-verify)
``wrong_answer``           an answer was found and is not equivalent (both kept in ``answer``)
``no_answer``              nothing extractable after the reasoning
``truncated_generation``   the response was cut inside ``<think>`` with no answer after it, or
                           ``finish_reason`` is ``length`` and the sample did not pass
``sandbox_error``          the grader failed, hung or ran out of its limits twice: excluded
=========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from coderig_schemas import (
    AnswerExtraction,
    ExtractedAnswer,
    MathGrading,
    Problem,
    Sample,
    ScoreResult,
    TaskType,
    TestOutcome,
    TestStatus,
    Verdict,
    Visibility,
)
from coderig_schemas.reasoning import Visible, strip_think
from coderig_schemas.tasks import MATH_CHECK_ID

from ..verdicts import _base, _finish
from .extract import Extracted, extract_answer
from .pool import GraderPool


@dataclass(frozen=True)
class Prepared:
    """What the host found in a response before any parsing: the visible part and its final answer."""

    visible: Visible
    extracted: Extracted
    gold: str


def grading_of(problem: Problem) -> MathGrading:
    """The problem's math grading data (the contract guarantees it for task_type math)."""
    if not isinstance(problem.grading, MathGrading):
        raise ValueError(f"{problem.problem_id}: not a math problem (task_type {problem.task_type})")
    return problem.grading


def prepare(problem: Problem, sample: Sample) -> Prepared:
    """Strip the reasoning and extract the final answer (pure, cheap: done in the scoring process)."""
    grading = grading_of(problem)
    visible = strip_think(sample.raw_response)
    extracted = extract_answer(visible.text, allow_last_number=grading.extraction == AnswerExtraction.LAST_NUMBER)
    return Prepared(visible, extracted, grading.answer)


def _check(problem: Problem, status: TestStatus, prep: Prepared, duration: float, message: str | None = None,
           exception: str | None = None) -> list[TestOutcome]:
    test_id = problem.tests[0].test_id if problem.tests else MATH_CHECK_ID
    return [TestOutcome(test_id=test_id, visibility=Visibility.HIDDEN, status=status, duration_s=round(duration, 6),
                        expected=prep.gold, actual=prep.extracted.answer, error_message=message, exception_type=exception)]


def _result(problem: Problem, sample: Sample, prep: Prepared, verdict: Verdict, status: TestStatus, duration: float,
            message: str | None = None, exception: str | None = None, attempts: int = 1) -> ScoreResult:
    base = _base(problem, sample)
    base.update(task_type=TaskType.MATH, tests_total=1, visible_total=0, hidden_total=1)
    answer = ExtractedAnswer(extracted=prep.extracted.answer, method=prep.extracted.method, gold=prep.gold)
    return _finish(base, sample, verdict, _check(problem, status, prep, duration, message, exception),
                   duration_s=round(duration, 6), error_message=message, exception_type=exception, attempts=attempts,
                   answer=answer)


def unanswered(problem: Problem, sample: Sample, prep: Prepared) -> ScoreResult:
    """No final answer was found: no_answer, or truncated_generation when cut inside the reasoning."""
    if prep.visible.cut_in_think:
        return _result(problem, sample, prep, Verdict.TRUNCATED_GENERATION, TestStatus.NOT_RUN, 0.0,
                       "the response ended inside <think>: no final answer after the reasoning")
    where = "after </think>" if prep.visible.had_think else "in the response"
    return _result(problem, sample, prep, Verdict.NO_ANSWER, TestStatus.NOT_RUN, 0.0,
                   f"no final answer {where} (no \\boxed{{}}, no 'final answer is' phrase"
                   + (", no number)" if grading_of(problem).extraction == AnswerExtraction.LAST_NUMBER else ")"))


def graded(problem: Problem, sample: Sample, prep: Prepared, result: dict[str, Any] | None, error: str | None,
           attempts: int) -> ScoreResult:
    """The result of a graded answer (``result`` from the pool) or of a grader failure (``error``)."""
    if result is None:
        kind = "GraderTimeout" if "timeout" in (error or "") else "GraderError"
        return _result(problem, sample, prep, Verdict.SANDBOX_ERROR, TestStatus.SANDBOX_ERROR, 0.0,
                       f"{error or 'unknown grader failure'} (on {attempts} attempts; the sample is excluded)", kind, attempts)
    duration = float(result.get("duration_s", 0.0))
    if result["equivalent"]:
        return _result(problem, sample, prep, Verdict.PASSED, TestStatus.PASSED, duration, attempts=attempts)
    parsed = f" (read as {result['answer_parsed']})" if result.get("answer_parsed") else ""
    return _result(problem, sample, prep, Verdict.WRONG_ANSWER, TestStatus.FAILED, duration,
                   f"answer {_short(prep.extracted.answer)}{parsed} is not equivalent to the gold answer {_short(prep.gold)}",
                   attempts=attempts)


def _short(text: str | None, limit: int = 200) -> str:
    """A text for a message: the whole of it is in ``answer``."""
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "..."


def grade_items(pool: GraderPool, items: list[tuple[Any, Problem, Sample]]) -> Iterator[tuple[Any, ScoreResult, None]]:
    """Score (key, problem, sample) math items; yield (key, result, None) as they complete.

    Each distinct (gold, answer) pair is graded once: the grading is a pure function of the pair,
    and samples of one problem often give the same final answer (n samples, several seeds).
    """
    prepared: dict[Any, tuple[Problem, Sample, Prepared]] = {}
    same: dict[tuple[str, str], list[Any]] = {}  # (gold, answer) -> keys of the samples that gave it
    for key, problem, sample in items:
        prep = prepare(problem, sample)
        if prep.extracted.answer is None:
            yield key, unanswered(problem, sample, prep), None
            continue
        prepared[key] = (problem, sample, prep)
        same.setdefault((prep.gold, prep.extracted.answer), []).append(key)
    by_first = {keys[0]: keys for keys in same.values()}
    for out in pool.run((keys[0], gold, answer) for (gold, answer), keys in same.items()):
        for key in by_first[out.key]:
            problem, sample, prep = prepared[key]
            yield key, graded(problem, sample, prep, out.result, out.error, out.attempts), None


def grade_in_process(problem: Problem, sample: Sample) -> ScoreResult:
    """Grade one sample here, without a pool: no time or memory limit (tests, and the benchmark's baseline)."""
    from .equivalence import grade_answer

    prep = prepare(problem, sample)
    if prep.extracted.answer is None:
        return unanswered(problem, sample, prep)
    return graded(problem, sample, prep, grade_answer(prep.gold, prep.extracted.answer), None, 1)

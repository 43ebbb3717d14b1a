"""Turn what the sandbox observed into per-test outcomes and one verdict (pure functions).

Only a ``passed`` record written by the harness after a test returned counts as a pass; exit
codes, printed text and missing records never do.
"""

from __future__ import annotations

import signal
from typing import Any

from coderig_schemas import (
    FinishReason,
    Problem,
    Sample,
    ScoreResult,
    TestCase,
    TestOutcome,
    TestStatus,
    Verdict,
    Visibility,
)
from coderig_schemas.sample import ExtractionMethod

from .protocol import ActualRecord, CompileRecord, ExitInfo, JobDone, PreludeRecord, TestExit, TestRecord

TRUNCATION_MARK = "\n[... {n} more bytes truncated by coderig]"

_STATUS_TO_VERDICT = {
    TestStatus.FAILED: Verdict.WRONG_ANSWER,
    TestStatus.ERROR: Verdict.RUNTIME_ERROR,
    TestStatus.TIMEOUT: Verdict.TIMEOUT,
    TestStatus.MEMORY_EXCEEDED: Verdict.MEMORY_EXCEEDED,
    TestStatus.SANDBOX_ERROR: Verdict.SANDBOX_ERROR,
}
_RECORD_STATUS = {"passed": TestStatus.PASSED, "failed": TestStatus.FAILED, "error": TestStatus.ERROR,
                  "memory": TestStatus.MEMORY_EXCEEDED}


def has_code(sample: Sample) -> bool:
    """Whether extraction found anything to run."""
    return sample.extraction_method != ExtractionMethod.EMPTY and bool(sample.extracted_code.strip())


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def capped(text: str, dropped: int) -> str:
    """Captured output with the truncation marker when bytes were dropped."""
    return text + TRUNCATION_MARK.format(n=dropped) if dropped else text


def _base(problem: Problem, sample: Sample) -> dict[str, Any]:
    vis = [t for t in problem.tests if t.visibility == Visibility.VISIBLE]
    return {
        "sample_id": sample.sample_id, "problem_id": sample.problem_id, "dataset": sample.dataset, "split": sample.split,
        "sample_index": sample.sample_index, "seed": sample.seed, "model_name": sample.model_name,
        "difficulty": problem.difficulty, "tests_total": len(problem.tests),
        "visible_total": len(vis), "hidden_total": len(problem.tests) - len(vis),
    }


def _finish(base: dict[str, Any], sample: Sample, verdict: Verdict, outcomes: list[TestOutcome], **extra: Any) -> ScoreResult:
    if verdict != Verdict.PASSED and verdict != Verdict.SANDBOX_ERROR and sample.finish_reason == FinishReason.LENGTH:
        verdict = Verdict.TRUNCATED_GENERATION
    passed = [o for o in outcomes if o.status == TestStatus.PASSED]
    return ScoreResult(
        **base, verdict=verdict, passed=verdict == Verdict.PASSED, tests=outcomes,
        tests_passed=len(passed),
        visible_passed=sum(1 for o in passed if o.visibility == Visibility.VISIBLE),
        hidden_passed=sum(1 for o in passed if o.visibility == Visibility.HIDDEN),
        **extra,
    )


def not_run(problem: Problem, status: TestStatus = TestStatus.NOT_RUN) -> list[TestOutcome]:
    """Outcomes of tests that never ran."""
    return [TestOutcome(test_id=t.test_id, visibility=t.visibility, status=status, duration_s=0.0) for t in problem.tests]


def no_code_result(problem: Problem, sample: Sample) -> ScoreResult:
    """Extraction found nothing: nothing is run."""
    return _finish(_base(problem, sample), sample, Verdict.NO_CODE, not_run(problem), duration_s=0.0,
                   error_message="no code was extracted from the response")


def sandbox_error_result(problem: Problem, sample: Sample, error: str, attempts: int) -> ScoreResult:
    """The harness failed twice: reported as such, never as the model's failure."""
    return _finish(_base(problem, sample), sample, Verdict.SANDBOX_ERROR, not_run(problem, TestStatus.SANDBOX_ERROR),
                   duration_s=0.0, error_message=error[:2000], exception_type="SandboxError", attempts=attempts)


def server_killed_result(problem: Problem, sample: Sample, attempts: int) -> ScoreResult:
    """The server died during this sample twice, in a sandbox where the program shares its uid.

    Only there can a program kill the server, and a harness failure does not repeat on one sample
    while every other sample runs: the program's failure, so that killing the parent is no way to
    turn a wrong answer into an excluded sandbox error.
    """
    return _finish(_base(problem, sample), sample, Verdict.RUNTIME_ERROR, not_run(problem), duration_s=0.0,
                   error_message="the program killed the sandbox's server process (on both attempts)", attempts=attempts)


def judge(problem: Problem, sample: Sample, reply: JobDone, attempts: int = 1) -> ScoreResult:
    """The verdict on one executed sample, from the worker's reply."""
    base = _base(problem, sample)
    records = reply["records"]
    extra: dict[str, Any] = {
        "duration_s": round(reply["wall"], 6), "attempts": attempts,
        "stdout": capped(reply["stdout"], reply["stdout_dropped"]),
        "stderr": capped(reply["stderr"], reply["stderr_dropped"]),
    }
    killed = reply["killed"]
    compiled = next((r for r in records if isinstance(r, CompileRecord)), None)
    if compiled is not None:
        where = f" (line {compiled.line})" if compiled.line else ""
        return _finish(base, sample, Verdict.SYNTAX_ERROR, not_run(problem), exception_type=compiled.exception_type,
                       error_message=f"{compiled.message}{where}", **extra)
    prelude = next((r for r in records if isinstance(r, PreludeRecord)), None)
    if prelude is None or prelude.status != "ok":
        name: str | None
        if prelude is not None:
            verdict = Verdict.MEMORY_EXCEEDED if prelude.status == "memory" else Verdict.RUNTIME_ERROR
            name, msg = prelude.exception_type, prelude.message
        elif killed:
            verdict, name, msg = Verdict.TIMEOUT, None, "the code did not finish loading within its time limit"
        else:
            verdict, name, msg = Verdict.RUNTIME_ERROR, None, _death(reply["exit"], "while loading the code")
        return _finish(base, sample, verdict, not_run(problem), exception_type=name, error_message=msg, **extra)

    by_test: dict[int, TestRecord] = {}
    actual: dict[int, ActualRecord] = {}
    exits: dict[int, TestExit] = {}
    for r in records:
        if isinstance(r, TestRecord):
            by_test.setdefault(r.test_index, r)  # the first record of a test counts
        elif isinstance(r, ActualRecord):
            actual[r.test_index] = r
        elif isinstance(r, TestExit):
            exits[r.test_index] = r
    outcomes: list[TestOutcome] = []
    first_unfinished = True
    for i, t in enumerate(problem.tests):
        rec, ex = by_test.get(i), exits.get(i)
        if rec is not None:
            outcome = _recorded(t, rec, actual.get(i))
        elif ex is not None:
            outcome = _exited(t, ex)
        elif killed and first_unfinished:
            outcome = _outcome(t, TestStatus.TIMEOUT, 0.0, msg="the sample's time limit ran out during this test")
            first_unfinished = False
        else:
            outcome = _outcome(t, TestStatus.NOT_RUN, 0.0)
        outcomes.append(outcome)
    failing = next((o for o in outcomes if o.status != TestStatus.PASSED), None)
    if failing is None and outcomes:
        return _finish(base, sample, Verdict.PASSED, outcomes, **extra)
    if failing is None:  # a problem without tests cannot be passed
        return _finish(base, sample, Verdict.RUNTIME_ERROR, outcomes, error_message="the problem has no tests", **extra)
    if failing.status == TestStatus.NOT_RUN:
        verdict = Verdict.TIMEOUT if killed else Verdict.RUNTIME_ERROR
        msg = failing.error_message or _death(reply["exit"], "before all tests ran")
    else:
        verdict = _STATUS_TO_VERDICT[failing.status]
        msg = failing.error_message
    return _finish(base, sample, verdict, outcomes, exception_type=failing.exception_type, error_message=msg,
                   failing_test_id=failing.test_id, **extra)


def _outcome(test: TestCase, status: TestStatus, duration: float, *, name: str | None = None, msg: str | None = None,
             expected: str | None = None, actual: str | None = None) -> TestOutcome:
    return TestOutcome(test_id=test.test_id, visibility=test.visibility, status=status, duration_s=round(duration, 6),
                       exception_type=name, error_message=msg, expected=expected if expected is not None else test.expected_repr,
                       actual=actual)


def _recorded(test: TestCase, rec: TestRecord, compared: ActualRecord | None) -> TestOutcome:
    """A test the harness reported on: its status, and for a failed 'assert a == b' the compared values."""
    status = _RECORD_STATUS[rec.status]
    msg = rec.message
    if status == TestStatus.MEMORY_EXCEEDED:
        msg = msg or "MemoryError: the address-space limit was reached"
    expected, act = test.expected_repr, None
    if compared is not None:
        expected = expected or compared.expected
        act = compared.actual
    return _outcome(test, status, rec.duration_s, name=rec.exception_type, msg=msg, expected=expected, actual=act)


def _exited(test: TestCase, ex: TestExit) -> TestOutcome:
    """A test whose process ended (or was stopped) before the harness reported on it."""
    if ex.how == "timeout":
        return _outcome(test, TestStatus.TIMEOUT, ex.wall_s, msg="the test exceeded its CPU time limit")
    if ex.how == "wall":
        return _outcome(test, TestStatus.TIMEOUT, ex.wall_s, msg="the test exceeded its wall-clock limit (it slept or blocked)")
    if ex.how == "signal" and ex.value == signal.SIGXCPU:
        return _outcome(test, TestStatus.TIMEOUT, ex.wall_s, msg=f"killed by {_signal_name(ex.value)} (CPU time limit)")
    if ex.how == "signal":
        return _outcome(test, TestStatus.ERROR, ex.wall_s, name=_signal_name(ex.value),
                        msg=f"the test process died from {_signal_name(ex.value)}")
    return _outcome(test, TestStatus.ERROR, ex.wall_s, name="SystemExit",
                    msg=f"the program exited with status {ex.value} before the test finished")


def _death(exit_info: ExitInfo, when: str) -> str:
    if "signal" in exit_info:
        return f"the program was killed by {_signal_name(exit_info['signal'])} {when}"
    return f"the program exited with status {exit_info.get('code')} {when}"

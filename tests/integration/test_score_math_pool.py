"""The math grader pool: limits, retry and exclusion, worker-count independence."""

from __future__ import annotations

from typing import Any

import pytest

from coderig_schemas import Verdict
from coderig_score.math.grading import grade_in_process, grade_items
from coderig_score.math.pool import GraderLimits, GraderPool
from tests.factories import make_math_problem, make_sample

pytestmark = pytest.mark.slow

# sympy evaluates this tower of powers for minutes (math-verify's own 5 s alarm would turn it into a
# silent "not equal", i.e. a wrong answer); coderig's CPU limit ends the grader instead.
PATHOLOGICAL = "\\boxed{9^{9^{9^{9}}}}"


def _items(responses: list[tuple[str, str]]) -> list[tuple[Any, Any, Any]]:
    out = []
    for i, (gold, response) in enumerate(responses):
        problem = make_math_problem(f"p{i}", answer=gold)
        sample = make_sample(problem, raw_response=response, extracted_code="", extraction_method="not_applicable")
        out.append((i, problem, sample))
    return out


RESPONSES = [("\\frac{1}{2}", "\\boxed{0.5}"), ("3", "\\boxed{4}"), ("5", "no idea"), ("\\{1,2\\}", "\\boxed{\\{2,1\\}}"),
             ("(1,2)", "<think>\\boxed{(1,2)}</think>\\boxed{(1,2)}"), ("7", "<think>\\boxed{7}")]


def test_a_pathological_answer_is_an_excluded_grader_timeout_and_the_rest_is_scored() -> None:
    items = _items([("5", PATHOLOGICAL), *RESPONSES, ("6", PATHOLOGICAL)])
    with GraderPool(2, GraderLimits(cpu_s=1.0)) as pool:
        results = dict((k, r) for k, r, _ in grade_items(pool, items))
        restarts = pool.restarts
    assert sorted(results) == list(range(len(items)))
    for k in (0, len(items) - 1):
        r = results[k]
        assert r.verdict == Verdict.SANDBOX_ERROR and not r.passed
        assert r.exception_type == "GraderTimeout" and r.attempts == 2
        assert r.error_message is not None and "CPU" in r.error_message
        assert r.tests[0].status.value == "sandbox_error"
        assert r.answer is not None and r.answer.extracted == "9^{9^{9^{9}}}"
    assert restarts == 4  # each pathological answer: two attempts, each on a fresh worker
    got = [results[k + 1].verdict for k in range(len(RESPONSES))]
    assert got == [Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.NO_ANSWER, Verdict.PASSED, Verdict.PASSED,
                   Verdict.TRUNCATED_GENERATION]


def _comparable(result: Any) -> dict[str, Any]:
    data = result.model_dump(mode="json")
    data.pop("duration_s")
    for t in data["tests"]:
        t.pop("duration_s")
    return data


def test_verdicts_do_not_depend_on_the_worker_count_or_the_pool() -> None:
    items = _items(RESPONSES * 3)
    runs = []
    for workers in (1, 2):
        with GraderPool(workers) as pool:
            runs.append({k: _comparable(r) for k, r, _ in grade_items(pool, items)})
    in_process = {k: _comparable(grade_in_process(p, s)) for k, p, s in items}
    assert runs[0] == runs[1] == in_process


def test_a_grader_out_of_memory_is_excluded_not_counted() -> None:
    # 2**(2**34) needs 2 GiB: sympy catches the MemoryError itself and answers "not equal", which the
    # worker must not pass on as the model's wrong answer.
    items = _items([("5", "\\boxed{2^{2^{34}}}"), ("5", "\\boxed{5}")])
    with GraderPool(1, GraderLimits(cpu_s=120.0, memory_mb=256)) as pool:
        results = {k: r for k, r, _ in grade_items(pool, items)}
    assert results[1].verdict == Verdict.PASSED
    assert results[0].verdict == Verdict.SANDBOX_ERROR and results[0].attempts == 2
    assert results[0].error_message is not None and "MemoryError" in results[0].error_message

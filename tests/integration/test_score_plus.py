"""HumanEval+ is graded as EvalPlus grades it: its output comparison, and a time limit per input."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coderig_schemas import Problem, ScoreResult, TestStatus, Verdict
from coderig_score.timeouts import TimeoutPolicy

pytestmark = [pytest.mark.sandbox, pytest.mark.data]

Score = Callable[..., ScoreResult]


@pytest.fixture(scope="module")
def plus(load_dataset: Callable[..., list[Problem]]) -> dict[str, Problem]:
    return {p.problem_id: p for p in load_dataset("humaneval_plus")}


def _answer(p: Problem, body: str) -> str:
    return (p.prompt or "") + body


def test_a_tuple_for_a_list_fails_as_in_evalplus(score_code: Score, plus: dict[str, Problem]) -> None:
    # HumanEval/21 (rescale_to_unit) expects a list of floats; a tuple compares equal under np.allclose.
    p = plus["HumanEval/21"]
    body = "    lo, hi = min(numbers), max(numbers)\n    return tuple((x - lo) / (hi - lo) for x in numbers)\n"
    r = score_code(_answer(p, body), problem=p)
    assert r.verdict == Verdict.WRONG_ANSWER and r.failing_test_id == "t0"
    assert (r.error_message or "").startswith("input 0: ")
    listed = body.replace("tuple(", "list(")
    assert score_code(_answer(p, listed), problem=p).verdict == Verdict.PASSED


def test_a_longer_list_fails_as_in_evalplus(score_code: Score, plus: dict[str, Problem]) -> None:
    # HumanEval/163 (generate_integers): [0] where [] is expected used to pass through np.allclose's broadcasting.
    p = plus["HumanEval/163"]
    ref = p.reference_solution or ""
    wrong = ref.replace("def generate_integers(", "def _generate_integers(") + (
        "\n\ndef generate_integers(a, b):\n    out = _generate_integers(a, b)\n    return out or [0]\n")
    r = score_code(wrong, problem=p)
    assert r.verdict == Verdict.WRONG_ANSWER
    assert "expected [], got [0]" in (r.error_message or "")


def test_find_zero_is_checked_by_its_root(score_code: Score, plus: dict[str, Problem]) -> None:
    # HumanEval/32: EvalPlus 0.3.1's released check fails every answer; here a true root passes, 0.0 fails.
    p = plus["HumanEval/32"]
    assert score_code(p.reference_solution or "", problem=p).verdict == Verdict.PASSED
    r = score_code(_answer(p, "    return 0.0\n"), problem=p)
    assert r.verdict == Verdict.WRONG_ANSWER and (r.error_message or "").startswith("input ")


def test_each_input_has_its_own_limit(score_code: Score, plus: dict[str, Problem]) -> None:
    # Every input of a chunk takes ~0.03 s of CPU: several seconds for the chunk, but each input stays
    # under its own 0.2 s limit, so the answer passes (a per-chunk limit would have stopped it).
    p = plus["HumanEval/0"]
    slow = ("import time\n" + (p.reference_solution or "").replace(
        "    sorted_numbers = sorted(numbers)",
        "    t = time.process_time()\n    while time.process_time() - t < 0.03:\n        pass\n"
        "    sorted_numbers = sorted(numbers)"))
    assert "process_time" in slow
    few = p.model_copy(update={"tests": p.tests[:1]})
    assert len(few.tests[0].code) and few.tests[0].input_repr
    r = score_code(slow, problem=few, policy=TimeoutPolicy(default_s=0.2, floor_s=0.2))
    assert r.verdict == Verdict.PASSED, r.error_message
    # and a loop on one input is stopped on that input
    looping = (p.reference_solution or "").replace("    sorted_numbers = sorted(numbers)",
                                                    "    while len(numbers) == 2:\n        pass\n    sorted_numbers = sorted(numbers)")
    r = score_code(looping, problem=few, policy=TimeoutPolicy(default_s=0.2, floor_s=0.2))
    assert r.verdict == Verdict.TIMEOUT and r.tests[0].status == TestStatus.TIMEOUT

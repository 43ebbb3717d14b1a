"""Known-wrong answers get the right verdict class, through the real sandbox (one per class)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coderig_schemas import ScoreResult, TestStatus, Verdict
from coderig_score.timeouts import TimeoutPolicy
from tests.factories import make_problem

pytestmark = pytest.mark.sandbox

Score = Callable[..., ScoreResult]


def test_passed_counts_visible_and_hidden(score_code: Score) -> None:
    r = score_code("def f(x):\n    return x\n")
    assert r.verdict == Verdict.PASSED and r.passed
    assert (r.tests_passed, r.visible_passed, r.hidden_passed, r.tests_total) == (2, 1, 1, 2)
    assert [t.status for t in r.tests] == [TestStatus.PASSED, TestStatus.PASSED]


def test_wrong_answer_keeps_every_test_with_expected_and_actual(score_code: Score) -> None:
    # wrong on the visible test only: the hidden one still runs and passes
    r = score_code("def f(x):\n    return 5 if x == 1 else x\n")
    assert r.verdict == Verdict.WRONG_ANSWER and not r.passed
    assert r.failing_test_id == "t0" and r.exception_type == "AssertionError"
    assert [t.status for t in r.tests] == [TestStatus.FAILED, TestStatus.PASSED]
    assert (r.tests[0].expected, r.tests[0].actual) == ("1", "5")
    assert (r.visible_passed, r.hidden_passed) == (0, 1)


def test_runtime_error_has_type_and_message(score_code: Score) -> None:
    r = score_code("def f(x):\n    return {}[x]\n")
    assert r.verdict == Verdict.RUNTIME_ERROR
    assert r.exception_type == "KeyError" and r.error_message == "1"
    assert all(t.status == TestStatus.ERROR for t in r.tests)


def test_syntax_error(score_code: Score) -> None:
    r = score_code("def f(x)\n    return x\n")
    assert r.verdict == Verdict.SYNTAX_ERROR and r.exception_type == "SyntaxError"
    assert "line 1" in (r.error_message or "")
    assert all(t.status == TestStatus.NOT_RUN for t in r.tests)


def test_timeout_does_not_hide_the_other_tests(score_code: Score) -> None:
    r = score_code("def f(x):\n    while x == 1:\n        pass\n    return x\n",
                   policy=TimeoutPolicy(default_s=0.5, floor_s=0.5))
    assert r.verdict == Verdict.TIMEOUT
    assert [t.status for t in r.tests] == [TestStatus.TIMEOUT, TestStatus.PASSED]


def test_memory_exceeded(score_code: Score) -> None:
    r = score_code("def f(x):\n    return len(bytearray(8 * 1024 ** 3)) and x\n")
    assert r.verdict == Verdict.MEMORY_EXCEEDED
    assert r.tests[0].status == TestStatus.MEMORY_EXCEEDED


def test_no_code_is_not_run(score_code: Score) -> None:
    r = score_code("", extraction_method="empty")
    assert r.verdict == Verdict.NO_CODE and r.duration_s == 0


def test_truncated_generation_only_when_not_passing(score_code: Score) -> None:
    assert score_code("def f(x):\n    return (x", finish_reason="length").verdict == Verdict.TRUNCATED_GENERATION
    assert score_code("def f(x):\n    return x\n", finish_reason="length").verdict == Verdict.PASSED


def test_order_imports_candidate_setup_preamble_test(score_code: Score) -> None:
    # A candidate's own name shadows an import from test_imports (the LeetCode 'Sequence' case);
    # setup and preamble see the candidate.
    problem = make_problem(
        "order", test_imports=["from typing import Sequence", "import math"],
        setup_code="ORDER = [Sequence.__module__]", test_preamble="candidate = f",
        tests=[{"test_id": "t0", "code": "assert ORDER == ['candidate'] and candidate(2) == 2", "visibility": "hidden"}],
    )
    r = score_code("class Sequence:\n    pass\n\ndef f(x):\n    return int(math.sqrt(x * x))\n", problem=problem)
    assert r.verdict == Verdict.PASSED, r


def test_setup_error_is_a_runtime_error(score_code: Score) -> None:
    problem = make_problem("setup", setup_code="raise RuntimeError('bad setup')")
    r = score_code("def f(x):\n    return x\n", problem=problem)
    assert r.verdict == Verdict.RUNTIME_ERROR and r.error_message == "bad setup"


def test_cpu_limit_is_per_test_not_cumulative(score_code: Score) -> None:
    # Eight tests of ~0.45 s CPU each, 1.5 s of CPU per test: the process's CPU total (3.6 s) passes the
    # first tests' limits, yet every test passes. The limits count CPU time, so this holds however busy
    # the machine is (with wall-clock limits it failed under load).
    burn = ("def f(x):\n    import time\n    t = time.process_time()\n"
            "    while time.process_time() - t < 0.45:\n        pass\n    return x\n")
    tests = [{"test_id": f"t{i}", "code": f"assert f({i}) == {i}", "visibility": "hidden"} for i in range(8)]
    r = score_code(burn, problem=make_problem("cpu", tests=tests), policy=TimeoutPolicy(default_s=1.5, floor_s=1.5))
    assert r.verdict == Verdict.PASSED, [(t.status, t.error_message) for t in r.tests]


def _numbered(n: int) -> list[dict[str, str]]:
    return [{"test_id": f"t{i}", "code": f"assert f({i}) == {i}", "visibility": "hidden"} for i in range(n)]


def test_reporting_a_failure_does_not_change_the_later_tests(score_code: Score) -> None:
    # The program's 1st and 3rd calls are wrong. Expected and actual of t0 are the values that were
    # compared: reporting them calls nothing again, so the calls of t1 and t2 do not shift.
    code = "calls = []\ndef f(x):\n    calls.append(x)\n    return -1 if len(calls) in (1, 3) else x\n"
    r = score_code(code, problem=make_problem("state", tests=_numbered(3)))
    assert [t.status for t in r.tests] == [TestStatus.FAILED, TestStatus.PASSED, TestStatus.FAILED]
    assert (r.tests[0].expected, r.tests[0].actual) == ("0", "-1")


def test_a_hanging_re_evaluation_costs_no_timeout(score_code: Score) -> None:
    # Wrong the first time for 1..3, hangs when called again with the same argument. Expected and actual
    # are the values compared, so nothing calls the program again (a re-evaluation used to hang here).
    code = ("seen = set()\ndef f(x):\n    if x in seen:\n        while True:\n            pass\n"
            "    seen.add(x)\n    return -x if 0 < x < 4 else x\n")
    r = score_code(code, problem=make_problem("hang", tests=_numbered(6)), policy=TimeoutPolicy(default_s=0.6, floor_s=0.6))
    assert r.verdict == Verdict.WRONG_ANSWER and r.failing_test_id == "t1"
    assert [t.status for t in r.tests] == [TestStatus.PASSED] + [TestStatus.FAILED] * 3 + [TestStatus.PASSED] * 2


def test_memory_error_keeps_its_message(score_code: Score) -> None:
    r = score_code("def f(x):\n    raise MemoryError('cache full')\n")
    assert r.verdict == Verdict.MEMORY_EXCEEDED and r.error_message == "cache full"


def test_process_pools_work(score_code: Score) -> None:
    # multiprocessing needs a writable /dev/shm (semaphores) and pickles the program's functions by
    # module name: both used to fail, so a correct program was a runtime_error.
    pool = ("import multiprocessing\ndef square(v):\n    return v * v\n"
            "def f(x):\n    with multiprocessing.Pool(2) as p:\n        return round(p.map(square, [x])[0] ** 0.5)\n")
    executor = ("import concurrent.futures as cf\ndef f(x):\n    with cf.ProcessPoolExecutor(2) as ex:\n"
                "        return ex.submit(abs, x).result()\n")
    for code in (pool, executor):
        r = score_code(code, policy=TimeoutPolicy(default_s=5.0, floor_s=5.0))
        assert r.verdict == Verdict.PASSED, (code, r.exception_type, r.error_message)


def test_cpu_of_child_processes_counts(score_code: Score) -> None:
    # The loop runs in a child process while the test's own process waits: the sample's CPU time
    # (all its processes) reaches the limit, not the waiting process's.
    code = ("import os\ndef f(x):\n    pid = os.fork()\n    if pid == 0:\n        while True:\n            pass\n"
            "    os.waitpid(pid, 0)\n    return x\n")
    r = score_code(code, policy=TimeoutPolicy(default_s=0.3, floor_s=0.3, wall_floor_s=600.0))
    assert r.verdict == Verdict.TIMEOUT and r.tests[0].error_message == "the test exceeded its CPU time limit"


def test_a_sleeping_program_meets_the_wall_clock_bound(score_code: Score) -> None:
    code = "import time\ndef f(x):\n    time.sleep(3600)\n"
    r = score_code(code, policy=TimeoutPolicy(default_s=0.3, floor_s=0.3, wall_floor_s=0.5, wall_factor=1.0))
    assert r.verdict == Verdict.TIMEOUT
    assert r.tests[0].error_message == "the test exceeded its wall-clock limit (it slept or blocked)"


def test_after_a_timeout_the_other_tests_are_not_run_by_default(score_pool: object) -> None:
    from coderig_score.scoring import score_items
    from coderig_score.timeouts import budget_for
    from tests.factories import make_sample

    problem = make_problem("loop", tests=_numbered(4))
    sample = make_sample(problem, extracted_code="def f(x):\n    while x == 1:\n        pass\n    return x\n")
    policy = TimeoutPolicy(default_s=0.2)
    [(_, r, _)] = list(score_items(score_pool, [(0, problem, sample, budget_for(problem, None, policy))],  # type: ignore[arg-type]
                                   score_pool.settings.limits, policy.max_timeouts))  # type: ignore[attr-defined]
    assert [t.status for t in r.tests] == [TestStatus.PASSED, TestStatus.TIMEOUT, TestStatus.NOT_RUN, TestStatus.NOT_RUN]

"""Verdicts do not move with the machine's load (CPU-time limits): a tested property, without timings.

The references of the four code datasets (HumanEval; MBPP's and sanitized MBPP's test splits; a
slice of LeetCode with its slowest problem) and a known
mix of wrong answers, runtime errors and infinite loops are scored on a quiet-as-it-gets machine, then
again while this test runs CPU burners (two per core, each bounded in time and always stopped here).
Every record must be identical apart from durations: verdicts, test statuses, messages, expected and
actual values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from coderig_schemas import Problem, Sample, ScoreResult, Verdict
from coderig_score.scoring import ScoreConfig, measure_references, reference_sample, score_items
from coderig_score.timeouts import TimeoutPolicy, budget_for
from tests.factories import make_sample

pytestmark = [pytest.mark.sandbox, pytest.mark.data, pytest.mark.slow]

BURN_S = 900  # a burner outlives no test run by much, even if this process is killed hard
LEETCODE_SLICE = 24
SLOWEST_LEETCODE = "leetcode/find-the-number-of-subsequences-with-equal-gcd"


def _wrong_answers(problem: Problem, loops: bool) -> list[str]:
    """Programs that are wrong in known ways (the entry point of HumanEval and MBPP problems)."""
    name = problem.entry_point
    assert name
    head = f"def {name}(*args, **kwargs):\n"
    progs = [
        head + "    return None\n",  # wrong answer, actual 'None'
        head + "    return len(args) + 7\n",  # wrong answer with a deterministic actual value
        head + "    return 1 / 0\n",  # runtime error
        head + f"    return {name}(*args, **kwargs)\n",  # RecursionError
        f"def {name}(:\n",  # syntax error
    ]
    if loops:
        progs += [head + "    while True:\n        pass\n", "while True:\n    pass\n" + head + "    return None\n"]
    return progs


@pytest.fixture(scope="module")
def workload(load_dataset: Callable[..., list[Problem]]) -> tuple[list[Problem], list[tuple[Problem, Sample]]]:
    leetcode = load_dataset("leetcode")
    # MBPP's test split holds its slowest reference (mbpp/123, about 2 s of CPU); sanitized MBPP's default split.
    problems = (load_dataset("humaneval") + load_dataset("mbpp") + load_dataset("mbpp_sanitized")
                + leetcode[:LEETCODE_SLICE] + [p for p in leetcode if p.problem_id == SLOWEST_LEETCODE])
    items = [(p, reference_sample(p)) for p in problems]
    for dataset in ("humaneval", "mbpp"):
        chosen = [p for p in problems if p.dataset == dataset][:20]
        for k, p in enumerate(chosen):
            for j, code in enumerate(_wrong_answers(p, loops=k < 6)):
                items.append((p, make_sample(p, index=j + 1, extracted_code=code)))
    return problems, items


@pytest.fixture
def burners() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two CPU burners per core for the duration of one test, each bounded, always stopped."""
    code = f"import time\nend = time.monotonic() + {BURN_S}\nwhile time.monotonic() < end:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
             for _ in range(2 * (os.cpu_count() or 1))]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _comparable(r: ScoreResult) -> dict[str, Any]:
    return r.model_dump(mode="json", exclude={"duration_s": True, "tests": {"__all__": {"duration_s"}}})


def _score(pool: Any, items: list[tuple[Problem, Sample]], budgets: dict[str, Any]) -> list[ScoreResult]:
    jobs = [(i, p, s, budgets[p.problem_id]) for i, (p, s) in enumerate(items)]
    out: dict[int, ScoreResult] = {k: r for k, r, _ in score_items(pool, jobs, pool.settings.limits, 1)}
    return [out[i] for i in range(len(items))]


@pytest.mark.slow
def test_verdicts_and_records_do_not_depend_on_load(score_pool: Any, workload: Any, request: pytest.FixtureRequest) -> None:
    problems, items = workload
    timings = {t.problem_id: t for t in measure_references(score_pool, problems, ScoreConfig())}
    assert all(t.verdict == Verdict.PASSED for t in timings.values()), [t for t in timings.values() if t.verdict != "passed"]
    budgets = {p.problem_id: budget_for(p, timings[p.problem_id], TimeoutPolicy()) for p in problems}
    quiet = _score(score_pool, items, budgets)
    procs = request.getfixturevalue("burners")
    loaded = _score(score_pool, items, budgets)
    assert all(p.poll() is None for p in procs)  # the burners ran all along
    refs = len(problems)
    assert all(r.verdict == Verdict.PASSED for r in quiet[:refs] + loaded[:refs]), [
        (r.sample_id, r.verdict, r.error_message) for r in quiet[:refs] + loaded[:refs] if not r.passed]
    kinds = {r.verdict for r in quiet[refs:]}
    assert {Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR, Verdict.SYNTAX_ERROR, Verdict.TIMEOUT} <= kinds
    assert any(t.actual for r in quiet[refs:] for t in r.tests)  # expected/actual are part of the comparison
    differ = [(a.sample_id, _comparable(a), _comparable(b)) for a, b in zip(quiet, loaded, strict=True)
              if _comparable(a) != _comparable(b)]
    assert differ == []

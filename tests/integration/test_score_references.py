"""Every reference solution of the five benchmarks passes in the sandbox, test by test (CI check)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from coderig_schemas import Problem, Verdict
from coderig_score.scoring import ScoreConfig, measure_references

pytestmark = [pytest.mark.sandbox, pytest.mark.data, pytest.mark.slow]

# Expected exceptions, with their cause, are listed in docs/score.md ("Reference self-check"): none today.
KNOWN_FAILURES: dict[str, set[str]] = {"humaneval": set(), "humaneval_plus": set(), "mbpp": set(), "mbpp_sanitized": set(),
                                       "leetcode": set()}


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "split", "count"), [
    ("humaneval", None, 164), ("humaneval_plus", None, 164), ("mbpp", "all", 974), ("mbpp_sanitized", "all", 427),
    ("leetcode", None, 228),
])
def test_reference_solutions_pass(dataset: str, split: str | None, count: int, score_pool: Any,
                                  load_dataset: Callable[..., list[Problem]]) -> None:
    problems = load_dataset(dataset, split)
    assert len(problems) == count
    timings = measure_references(score_pool, problems, ScoreConfig())
    assert len(timings) == count
    failed = {t.problem_id: f"{t.verdict.value} at {t.failing_test_id}: {t.error_message}" for t in timings
              if t.verdict != Verdict.PASSED}
    assert set(failed) == KNOWN_FAILURES[dataset], failed
    for t, p in zip(timings, problems, strict=True):
        assert set(t.test_durations_s) == {c.test_id for c in p.tests}

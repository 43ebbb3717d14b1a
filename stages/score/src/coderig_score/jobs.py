"""What a worker is asked to run: the ``RunJob`` message for one program, its limits and how long to wait."""

from __future__ import annotations

from coderig_schemas import Problem

from .protocol import RunJob
from .settings import Limits
from .timeouts import WALL_FACTOR, WALL_FLOOR_S, SampleBudget, wall_for

REPORT_CPU_S = 1.0  # CPU limit for writing a failed test's expected and actual values
HOST_SLACK_S = 30.0


def make_job(code: str, *, prelude: list[str], tests: list[str], test_timeouts: list[float], prelude_timeout: float,
             sample_cap: float, limits: Limits, max_timeouts: int = 1, imports: list[str] | None = None,
             entry_point: str | None = None, wall_floor: float = WALL_FLOOR_S, wall_factor: float = WALL_FACTOR,
             test_totals: list[float] | None = None) -> RunJob:
    """The message a worker runs: imports, candidate code, prelude parts, tests and their limits.

    ``test_timeouts``, ``prelude_timeout`` and ``sample_cap`` are CPU seconds of all the sample's
    processes; each phase also gets the wall-clock bound ``wall_for`` of its CPU limit, and the
    sample the sum of those (at most ``wall_for(sample_cap)``). A test that announces cases applies
    its limit to each case; ``test_totals`` then says what all its cases may use together.
    The worker sets the job's ``id`` as it sends it.
    """
    totals = [max(t, w) for t, w in zip(test_timeouts, test_totals or test_timeouts, strict=True)]
    walls = [wall_for(t, wall_floor, wall_factor) for t in test_timeouts]
    prelude_wall = wall_for(prelude_timeout, wall_floor, wall_factor)
    budget = prelude_timeout + sum(totals) + 0.05 * len(tests) + 0.5
    return RunJob(
        type="run", id=0, code=code, entry_point=entry_point, imports=imports or [], prelude=prelude, tests=tests,
        test_timeouts=test_timeouts, test_walls=walls, max_timeouts=max_timeouts, prelude_cpu=prelude_timeout,
        prelude_wall=prelude_wall, report_cpu=REPORT_CPU_S, sample_cpu=min(budget, sample_cap),
        deadline=min(prelude_wall + sum(wall_for(t, wall_floor, wall_factor) for t in totals),
                     wall_for(sample_cap, wall_floor, wall_factor)),
        output_cap=limits.output_kb * 1024,
        limits={
            "memory_bytes": limits.memory_mb * 1024 * 1024, "file_bytes": limits.file_mb * 1024 * 1024,
            "open_files": limits.open_files, "processes": limits.processes,
        },
    )


def job_wall_s(job: RunJob) -> float:
    """The longest a job can take on its worker (its wall deadline)."""
    return float(job["deadline"])


def build_job(problem: Problem, code: str, budget: SampleBudget, limits: Limits, max_timeouts: int) -> RunJob:
    """The worker message for one program against one problem."""
    return make_job(code, imports=list(problem.test_imports), prelude=[problem.setup_code, problem.test_preamble],
                    tests=[t.code for t in problem.tests], test_timeouts=budget.tests_s,
                    prelude_timeout=budget.prelude_s, sample_cap=budget.cap_s, limits=limits, max_timeouts=max_timeouts,
                    entry_point=problem.entry_point, wall_floor=budget.wall_floor_s, wall_factor=budget.wall_factor,
                    test_totals=budget.totals_s or None)


def host_timeout(job: RunJob) -> float:
    """How long the host waits for a worker's reply before declaring the harness broken."""
    return job_wall_s(job) + HOST_SLACK_S

"""Sending each sample to its task type's grader: code to the sandbox (judged by ``verdicts``), math to the
answer grader pool, IFEval and BFCL to the in-process text graders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from coderig_schemas import InvalidInputError, Problem, Sample, ScoreResult, TaskType

from .jobs import build_job, host_timeout
from .pool import LazyPool, WorkerPool
from .protocol import JobDone
from .settings import Limits
from .timeouts import SampleBudget
from .verdicts import has_code, judge, no_code_result, sandbox_error_result, server_killed_result

if TYPE_CHECKING:
    from .scoring import ScoreConfig


def score_items(
    pool: WorkerPool, items: list[tuple[Any, Problem, Sample, SampleBudget]], limits: Limits, max_timeouts: int,
) -> Iterator[tuple[Any, ScoreResult, JobDone | None]]:
    """Score (key, problem, sample, budget) items; yield (key, result, raw reply) as they complete."""
    by_key = {key: (problem, sample) for key, problem, sample, _ in items}
    jobs = []
    for key, problem, sample, budget in items:
        if not has_code(sample):
            yield key, no_code_result(problem, sample), None
            continue
        job = build_job(problem, sample.extracted_code, budget, limits, max_timeouts)
        jobs.append((key, job, host_timeout(job)))
    for out in pool.run(jobs):
        problem, sample = by_key[out.key]
        if out.reply is None and out.server_killed:
            yield out.key, server_killed_result(problem, sample, out.attempts), None
        elif out.reply is None:
            yield out.key, sandbox_error_result(problem, sample, out.error or "unknown harness failure", out.attempts), None
        else:
            yield out.key, judge(problem, sample, out.reply, out.attempts), out.reply


#: Task types graded in this process from the response text (nothing is executed): IFEval and BFCL.
TEXT_TASK_TYPES = frozenset({TaskType.INSTRUCTION_FOLLOWING, TaskType.FUNCTION_CALLING})


def grade_text(problem: Problem, sample: Sample) -> ScoreResult:
    """Grade an instruction-following (IFEval) or function-calling (BFCL) sample, in process."""
    if problem.task_type == TaskType.INSTRUCTION_FOLLOWING:
        from .ifeval.result import score_sample as score_ifeval

        return score_ifeval(problem, sample)
    from .bfcl.result import score_sample as score_bfcl

    return score_bfcl(problem, sample)


class TaskDispatch:
    """Sends each sample to its task type's grader: code to the sandbox, math to the answer grader pool.

    Each backend starts only when a sample needs it (a math run never starts a sandbox).
    """

    def __init__(self, lazy: LazyPool, cfg: ScoreConfig, workers: int) -> None:
        self.lazy, self.cfg, self.workers = lazy, cfg, workers
        self.math_pool: Any = None

    def __enter__(self) -> TaskDispatch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.math_pool is not None:
            self.math_pool.close()

    def score(self, items: list[tuple[Any, Problem, Sample, SampleBudget]]) -> Iterator[tuple[Any, ScoreResult, JobDone | None]]:
        """(key, result, raw reply) for every item, code first, then math, then IFEval and BFCL."""
        code = [it for it in items if it[1].task_type == TaskType.CODE]
        math = [(key, problem, sample) for key, problem, sample, _ in items if problem.task_type == TaskType.MATH]
        text = [(key, problem, sample) for key, problem, sample, _ in items if problem.task_type in TEXT_TASK_TYPES]
        others = sorted({it[1].task_type.value for it in items}
                        - {TaskType.CODE.value, TaskType.MATH.value, *(t.value for t in TEXT_TASK_TYPES)})
        if others:
            raise InvalidInputError(f"this coderig-score cannot grade task type(s) {', '.join(others)}",
                                    hint="score them with a coderig-score that supports them")
        if code:
            yield from score_items(self.lazy.get(), code, self.cfg.limits, self.cfg.timeouts.max_timeouts)
        if math:
            from .math.grading import grade_items
            from .math.pool import GraderPool

            self.math_pool = GraderPool(self.workers, self.cfg.math).__enter__()
            yield from grade_items(self.math_pool, math)
        for key, problem, sample in text:
            yield key, grade_text(problem, sample), None

    def stats(self) -> dict[str, Any]:
        """The backends' part of the manifest's stats."""
        out: dict[str, Any] = {}
        pool = self.lazy.pool
        if pool is not None:
            out.update({"sandbox": pool.mode, "sandbox_layers": pool.layers, "python": pool.python,
                        "network_check": pool.network.detail if pool.network else None})
        if self.math_pool is not None:
            out["grader_restarts"] = self.math_pool.restarts
        return out

"""A pool of warm grader processes with a CPU-time and memory limit per grading.

The parser reads untrusted text and sympy can hang (``9^{9^{9^{9}}}``) or exhaust memory, so no
grading runs in the scoring process. A fork server (multiprocessing's ``forkserver``) imports sympy
and math-verify once (:mod:`.worker`); each worker is forked from it warm, grades jobs one at a time
under ``RLIMIT_AS`` and a per-job CPU-time limit, and is replaced by a fresh fork after any failure.
The pool also keeps a wall-clock deadline per job (a backstop for a worker stuck without using CPU).

A job that fails (the worker died, exceeded its limits, or the grader raised) is retried once on a
fresh worker; if it fails again it comes back as a failure, which the caller reports like a sandbox
error: excluded, never counted against the model.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coderig_schemas import CoderigError

log = logging.getLogger("coderig.score.math")

WORKER_MODULE = "coderig_score.math.worker"
ATTEMPTS = 2
#: Jobs queued in each worker's pipe. More than one, so that a worker never waits for the scoring
#: process between jobs: on a loaded machine each such hand-over costs a scheduling delay.
DEPTH = 16
#: A run of jobs with the same gold answer is sent to one worker whole, up to this many jobs in its pipe.
#: Bounded so that the replies of a full pipe (under 1 KiB each) always fit in the reply pipe's buffer:
#: a worker never blocks on a reply while the scoring process blocks on sending it a long answer.
MAX_BLOCK = 32


class GraderLimits(BaseModel):
    """Limits on one grading (part of the score config: a limit decides which samples are excluded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_s: float = Field(default=5.0, gt=0, description="CPU seconds one grading (parse and compare) may use.")
    memory_mb: int = Field(default=2048, ge=256, description="Address-space limit of a grader process (RLIMIT_AS), MiB.")
    wall_factor: float = Field(default=6.0, ge=1, description="Wall-clock backstop per job: factor x cpu_s + 10 s.")


@dataclass
class Outcome:
    """What became of one job: the grader's result, or why it failed (twice)."""

    key: Any
    result: dict[str, Any] | None
    error: str | None
    attempts: int


@dataclass
class _Worker:
    process: Any
    conn: Connection
    # Jobs sent and not answered yet, in the order the worker grades them (with their attempt number).
    inflight: deque[tuple[tuple[Any, str, str], int]] = field(default_factory=deque)
    deadline: float = 0.0  # for the job at the head of inflight, the one being graded


_CONTEXT: ForkServerContext | None = None


def _context() -> ForkServerContext:
    """The fork-server context, preloading the grader stack once per scoring process."""
    global _CONTEXT
    if _CONTEXT is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([WORKER_MODULE])
        _CONTEXT = ctx
    return _CONTEXT


def _serve(conn: Connection, memory_mb: int, cpu_s: float) -> None:
    """A worker's entry point. The grader stack is imported here, in the child, where the fork server's
    preload has already done it: the scoring process itself never imports sympy."""
    from .worker import serve

    serve(conn, memory_mb, cpu_s)


class GraderPool:
    """``workers`` warm grader processes; :meth:`run` grades jobs and yields outcomes as they finish."""

    def __init__(self, workers: int, limits: GraderLimits | None = None) -> None:
        self.n = max(1, workers)
        self.limits = limits or GraderLimits()
        self.workers: list[_Worker] = []
        self.restarts = 0

    def __enter__(self) -> GraderPool:
        if importlib.util.find_spec("math_verify") is None:
            # Without it every worker would die on start and every math sample be excluded: say it once.
            raise CoderigError("math-verify is not installed: math answers cannot be graded",
                               hint="run 'make setup', or pip install math-verify==0.9.0")
        for _ in range(self.n):
            self.workers.append(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> _Worker:
        ctx = _context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self.limits.memory_mb, self.limits.cpu_s), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def _stop(self, w: _Worker) -> None:
        try:
            w.conn.close()
        except OSError:
            pass
        if w.process.is_alive():
            w.process.kill()
        w.process.join(5)

    def close(self) -> None:
        """Stop every worker."""
        for w in self.workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.process.join(2)
            self._stop(w)
        self.workers = []

    def _death(self, w: _Worker) -> str:
        w.process.join(1)
        code = w.process.exitcode
        if code == -signal.SIGPROF:
            return f"grader timeout: more than {self.limits.cpu_s:g} s of CPU"
        if code is not None and code < 0:
            return f"the grader process died from {signal.Signals(-code).name}"
        return f"the grader process exited with status {code}"

    def run(self, jobs: Iterable[tuple[Any, str, str]]) -> Iterator[Outcome]:
        """Grade ``(key, gold, answer)`` jobs; yield one :class:`Outcome` per job, in completion order.

        Up to :data:`DEPTH` jobs wait in each worker's pipe; the worker grades them in order, so the
        job at the head is the one running: a death, a limit or a deadline is that job's failure,
        and the jobs queued behind it go back to the queue without losing an attempt.
        """
        if not self.workers:
            self.__enter__()
        pending: deque[tuple[tuple[Any, str, str], int]] = deque((job, 1) for job in jobs)
        wall = self.limits.wall_factor * self.limits.cpu_s + 10.0
        while pending or any(w.inflight for w in self.workers):
            for i, w in enumerate(self.workers):
                # Whole runs of one gold answer go to one worker (a problem's samples are consecutive):
                # its parses stay in that worker's caches instead of being repeated by every worker.
                while pending and len(w.inflight) < DEPTH:
                    gold = pending[0][0][1]
                    while pending and pending[0][0][1] == gold and len(w.inflight) < MAX_BLOCK:
                        job, attempt = pending.popleft()
                        try:
                            w.conn.send(job)
                        except (OSError, ValueError):
                            pending.appendleft((job, attempt))
                            pending.extendleft(reversed(w.inflight))
                            w.inflight.clear()
                            self._replace(i)
                            break
                        if not w.inflight:
                            w.deadline = time.monotonic() + wall
                        w.inflight.append((job, attempt))
                    if not w.inflight:  # replaced after a failed send
                        break
            busy = [w for w in self.workers if w.inflight]
            if not busy:
                continue
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
            for i, w in enumerate(self.workers):
                if not w.inflight:
                    continue
                error: str | None = None
                if w.conn in ready:
                    # Take every reply already in the pipe before looking at the process's death.
                    try:
                        while w.inflight and w.conn.poll():
                            key, status, payload = w.conn.recv()
                            (job, attempt) = w.inflight[0]
                            if status != "ok":
                                error = str(payload)
                                break
                            w.inflight.popleft()
                            w.deadline = time.monotonic() + wall
                            yield Outcome(key, payload, None, attempt)
                    except (EOFError, OSError):
                        error = self._death(w)
                    if error is None:
                        continue
                elif w.process.sentinel in ready:
                    error = self._death(w)
                elif time.monotonic() >= w.deadline:
                    error = f"grader timeout: no answer within {wall:g} s of wall-clock time"
                else:
                    continue
                # The worker failed on its head job: replace it, retry that job once, requeue the rest.
                (job, attempt), *rest = w.inflight
                w.inflight.clear()
                self._replace(i)
                pending.extendleft(reversed(rest))
                if attempt < ATTEMPTS:
                    log.info("grader failure on %r (%s); retrying on a fresh worker", job[0], error)
                    pending.appendleft((job, attempt + 1))
                else:
                    log.warning("grader failure on %r, twice (%s): the sample is excluded", job[0], error)
                    yield Outcome(job[0], None, error, attempt)

    def _replace(self, i: int) -> None:
        self._stop(self.workers[i])
        self.workers[i] = self._start()
        self.restarts += 1

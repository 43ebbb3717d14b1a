"""The body of one grader worker (imported once by the pool's warm fork server).

Importing this module imports sympy and math-verify and runs one grading, so that every worker
forked afterwards starts warm (the first ``parse`` alone costs ~0.1 s of lazy set-up).

A worker grades jobs one at a time from its pipe under two limits set here: the address space
(``RLIMIT_AS``, for the whole worker) and, per job, the CPU time: a profiling timer
(``ITIMER_PROF``, user + system CPU, sub-second) whose ``SIGPROF`` keeps its default action, so the
kernel ends the worker even inside a long C call that no Python-level alarm could interrupt (the
alarm math-verify uses is off). CPU time, not wall time, so that a loaded machine does not turn a
slow grading into a timeout. After any failure the worker exits and the pool forks a fresh one: a
grader interrupted half-way is not trusted with the next job.
"""

from __future__ import annotations

import os
import resource
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from .equivalence import GraderFailure, grade_answer

#: A grading whose address-space peak reached this share of the limit failed, whatever it returned.
MEMORY_NEAR_LIMIT = 0.9

# Warm-up at import, done once in the fork server and inherited by every worker. Only one grading:
# warming ANTLR's parser with a corpus of answer shapes was measured to cost more at start-up than
# it saved the workers.
grade_answer("\\frac{1}{2}", "0.5")


def _peak_mb() -> float:
    """The process's address-space high-water mark (VmPeak), MiB; 0 where /proc does not say."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def serve(conn: Connection, memory_mb: int, cpu_s: float) -> None:
    """Grade ``(key, gold, answer)`` jobs from ``conn`` until it sends None or closes.

    Replies ``(key, "ok", result)``; ``(key, "failed", message)`` ends the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # A session of its own, as the sandbox gives each program: terminal signals stay with the scorer,
    # and with Linux's autogroup scheduling each worker gets its own share of a busy machine (in
    # the scorer's session, all workers together would share one process's share).
    try:
        os.setsid()
    except OSError:  # already a session leader
        pass
    signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the CPU limit: SIGPROF ends the process
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        key, gold, answer = msg
        peak_before = _peak_mb()
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_PROF, cpu_s)
        try:
            result: Any = grade_answer(gold, answer)
            result["duration_s"] = time.perf_counter() - t0
        except GraderFailure as e:
            conn.send((key, "failed", str(e)))
            break
        except MemoryError:
            conn.send((key, "failed", f"MemoryError: the grader reached its {memory_mb} MiB address-space limit"))
            break
        except Exception as e:  # a bug in the grader stack: the harness's failure, not the model's
            conn.send((key, "failed", f"{type(e).__name__}: {e}"[:500]))
            break
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        peak = _peak_mb()
        if peak > peak_before and peak >= MEMORY_NEAR_LIMIT * memory_mb:
            # sympy catches MemoryError in places and carries on with a weaker comparison ("not equal"):
            # a grading that reached the limit is the grader's failure whatever it returned.
            conn.send((key, "failed", f"MemoryError: the grader reached its {memory_mb} MiB address-space limit"))
            break
        conn.send((key, "ok", result))
    conn.close()

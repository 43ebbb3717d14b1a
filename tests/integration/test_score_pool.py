"""The worker pool: a harness failure is retried once on a restarted worker, then reported as sandbox_error."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from coderig_schemas import Verdict
from coderig_score import protocol
from coderig_score.sandbox import SandboxError, SandboxSettings, WorkerPool, make_job
from coderig_score.scoring import score_items
from coderig_score.timeouts import TimeoutPolicy, budget_for
from tests.factories import make_problem, make_sample

pytestmark = pytest.mark.sandbox

SLOW = "import time\ntime.sleep(1.5)\ndef f(x):\n    return x\n"
FAST = "def f(x):\n    return x\n"


@pytest.fixture
def one_worker() -> Iterator[WorkerPool]:
    with WorkerPool(SandboxSettings(mode="bwrap"), 1) as pool:
        yield pool


def kill_worker_after(pool: WorkerPool, delays: list[float]) -> threading.Thread:
    """Kill the worker's whole sandbox (as a harness crash would) after each delay."""
    def run() -> None:
        for d in delays:
            time.sleep(d)
            proc = pool.workers[0].proc
            if proc is not None:
                os.killpg(proc.pid, signal.SIGKILL)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def items(codes: list[str]) -> list[tuple[Any, Any, Any, Any]]:
    problem = make_problem("p")
    budget = budget_for(problem, None, TimeoutPolicy(default_s=3.0))
    return [(i, problem, make_sample(problem, i, extracted_code=c), budget) for i, c in enumerate(codes)]


def test_a_harness_crash_is_retried_once(one_worker: WorkerPool) -> None:
    killer = kill_worker_after(one_worker, [0.5])
    got = {k: r for k, r, _ in score_items(one_worker, items([SLOW, FAST, FAST]), one_worker.settings.limits, 3)}
    killer.join()
    assert [got[i].verdict for i in range(3)] == [Verdict.PASSED] * 3
    assert [got[i].attempts for i in range(3)] == [2, 1, 1]  # only the job that was running counts an attempt


def test_two_harness_crashes_give_sandbox_error_and_the_pool_goes_on(one_worker: WorkerPool) -> None:
    killer = kill_worker_after(one_worker, [0.5, 0.8])
    got = {k: r for k, r, _ in score_items(one_worker, items([SLOW, FAST]), one_worker.settings.limits, 3)}
    killer.join()
    assert got[0].verdict == Verdict.SANDBOX_ERROR and got[0].attempts == 2 and not got[0].passed
    assert "worker 0" in (got[0].error_message or "")
    assert got[1].verdict == Verdict.PASSED


def test_replies_waiting_together_stay_in_step(one_worker: WorkerPool) -> None:
    # Two jobs in flight whose replies both sit in the pipe before the host reads: none may be lost.
    worker = one_worker.workers[0]
    job = make_job("def f(x):\n    return x\n", prelude=[], tests=["assert f(1) == 1"], test_timeouts=[2.0],
                   prelude_timeout=2.0, sample_cap=10.0, limits=one_worker.settings.limits)
    ids = [worker.submit(job) for _ in range(3)]
    time.sleep(1.0)
    replies = [worker.receive(i, timeout=10) for i in ids]
    assert [r["id"] for r in replies] == ids


def test_big_jobs_and_big_replies_do_not_deadlock(one_worker: WorkerPool) -> None:
    # 100 KiB programs whose replies exceed a pipe buffer: queued behind a running job, such a program
    # could fill the server's stdin while the server fills ours. Run it in a thread to detect a hang.
    big = "# " + "x" * 100_000 + "\nimport sys\nsys.stdout.write('o' * 70000)\nsys.stderr.write('e' * 70000)\n" + FAST
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.extend(
        score_items(one_worker, items([big, FAST, big, big, FAST]), one_worker.settings.limits, 3)), daemon=True)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "the host and the worker deadlocked"
    assert [(r.verdict, r.attempts) for _, r, _ in result] == [(Verdict.PASSED, 1)] * 5


def test_the_server_refuses_a_malformed_job_and_goes_on(one_worker: WorkerPool) -> None:
    # The server checks each message against the shared protocol: a job without its fields is a harness
    # failure it reports (never a verdict), and the same server then runs the next job.
    worker = one_worker.workers[0]
    assert worker.proc is not None and worker.proc.stdin is not None
    raw = json.dumps({"type": "run", "id": 1, "code": FAST}).encode()
    worker.proc.stdin.write(protocol.HEADER.pack(len(raw)) + raw)
    worker.proc.stdin.flush()
    with pytest.raises(SandboxError, match="ProtocolError: run: missing field 'entry_point'"):
        worker.receive(1, timeout=30)
    job = make_job(FAST, prelude=[], tests=["assert f(1) == 1"], test_timeouts=[2.0], prelude_timeout=2.0, sample_cap=10.0,
                   limits=one_worker.settings.limits)
    reply = worker.call(job, timeout=30)
    assert [type(r).__name__ for r in reply["records"]] == ["PreludeRecord", "TestRecord"]
    assert reply["records"][1].status == "passed"

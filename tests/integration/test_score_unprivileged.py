"""bubblewrap started by an unprivileged user (a user namespace; no uid drop possible).

The scorer runs as root in CI; this starts the workers as 'nobody' to exercise the layout a
non-root host uses: private mounts, no network, limits and the process-tree kill still hold.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from coderig_schemas import Verdict
from coderig_score.sandbox import NetworkOpenError, SandboxSettings, WorkerPool, make_job
from coderig_score.scoring import score_items
from coderig_score.timeouts import TimeoutPolicy, budget_for
from tests.factories import make_problem, make_sample

NOBODY = 65534
pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(os.geteuid() != 0, reason="starting the workers as another user needs root")]
PROGRAMS = {
    "def f(x):\n    return x\n": Verdict.PASSED,
    "def f(x):\n    return -1\n": Verdict.WRONG_ANSWER,
    "def f(x)\n": Verdict.SYNTAX_ERROR,
    "def f(x):\n    while True:\n        pass\n": Verdict.TIMEOUT,
    "def f(x):\n    return len(bytearray(8 * 1024 ** 3))\n": Verdict.MEMORY_EXCEEDED,
    "import os\nos._exit(0)\n": Verdict.RUNTIME_ERROR,
    "open('/etc/hostname-copy', 'w')\ndef f(x):\n    return x\n": Verdict.RUNTIME_ERROR,
    # /dev is a tmpfs owned by the program's user here: read-only, or it could fill the host's memory
    "open('/dev/filler', 'w')\ndef f(x):\n    return x\n": Verdict.RUNTIME_ERROR,
    "print(open('/root/.bashrc').read())\ndef f(x):\n    return x\n": Verdict.RUNTIME_ERROR,
    "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\ndef f(x):\n    return x\n": Verdict.RUNTIME_ERROR,
}


@pytest.fixture(scope="module")
def nobody_pool() -> Iterator[WorkerPool]:
    with WorkerPool(SandboxSettings(mode="bwrap", run_as=NOBODY), 1) as pool:
        yield pool


def test_unprivileged_bwrap_contains_and_judges(nobody_pool: WorkerPool) -> None:
    assert nobody_pool.mode == "bwrap" and nobody_pool.network is not None and nobody_pool.network.closed
    assert nobody_pool.workers[0].info["uid"] == NOBODY
    problem = make_problem("p")
    policy = TimeoutPolicy(default_s=0.5, floor_s=0.5)
    items: list[tuple[Any, Any, Any, Any]] = [
        (code, problem, make_sample(problem, extracted_code=code), budget_for(problem, None, policy)) for code in PROGRAMS]
    got = {key: r.verdict for key, r, _ in score_items(nobody_pool, items, nobody_pool.settings.limits, 3)}
    assert got == PROGRAMS


def test_unprivileged_daemon_is_killed(nobody_pool: WorkerPool) -> None:
    worker = nobody_pool.workers[0]
    limits = nobody_pool.settings.limits
    daemon = ("import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        os.write(w, str(os.getpid()).encode()); time.sleep(600)\n    os._exit(0)\nprint(os.read(r, 20).decode())\n")
    pid = int(worker.call(make_job(daemon, prelude=[], tests=["pass"], test_timeouts=[2.0], prelude_timeout=2.0,
                                   sample_cap=10.0, limits=limits), timeout=30)["stdout"])
    look = f"import os\nprint(os.path.exists('/proc/{pid}'))"
    reply = worker.call(make_job(look, prelude=[], tests=["pass"], test_timeouts=[2.0], prelude_timeout=2.0, sample_cap=10.0,
                                 limits=limits), timeout=30)
    assert reply["stdout"].strip() == "False"


def test_killing_the_server_is_the_programs_failure(nobody_pool: WorkerPool) -> None:
    # Same uid as the server here, so the kill succeeds: the verdict must still be the program's failure.
    problem = make_problem("p")
    code = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return x\n"
    items: list[tuple[Any, Any, Any, Any]] = [(0, problem, make_sample(problem, extracted_code=code),
                                               budget_for(problem, None, TimeoutPolicy(default_s=1.0)))]
    [(_, result, _)] = list(score_items(nobody_pool, items, nobody_pool.settings.limits, 3))
    assert result.verdict == Verdict.RUNTIME_ERROR and result.attempts == 2
    assert "killed the sandbox's server" in (result.error_message or "")
    ok = make_sample(problem, extracted_code=next(iter(PROGRAMS)))
    [(_, after, _)] = list(score_items(nobody_pool, [(1, problem, ok, items[0][3])], nobody_pool.settings.limits, 3))
    assert after.verdict == Verdict.PASSED  # the pool restarted its worker and goes on


def test_open_network_is_refused_unless_overridden(caplog: pytest.LogCaptureFixture) -> None:
    # Without bubblewrap and without root (so no namespace of its own) the sandbox sees the host's network.
    with pytest.raises(NetworkOpenError, match="network is reachable from inside the sandbox"):
        WorkerPool(SandboxSettings(mode="none", run_as=NOBODY), 1).__enter__()
    with caplog.at_level(logging.WARNING, logger="coderig"), \
            WorkerPool(SandboxSettings(mode="none", run_as=NOBODY, allow_open_network=True), 1) as pool:
        assert pool.network is not None and not pool.network.closed
        assert "eth0" in pool.network.interfaces or len(pool.network.interfaces) > 1
    assert "--i-know-the-network-is-open" in caplog.text


def test_nothing_written_in_scratch_space_survives_to_the_next_sample(nobody_pool: WorkerPool) -> None:
    # Unprivileged, /tmp and /dev/shm inside the sandbox are writable by the program: wiped after each sample.
    worker = nobody_pool.workers[0]
    limits = nobody_pool.settings.limits

    def run(code: str) -> str:
        job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[2.0], prelude_timeout=2.0, sample_cap=10.0, limits=limits)
        return str(worker.call(job, timeout=30)["stdout"]).strip()

    wrote = run("import os\nfor d in ('/tmp', '/dev/shm'):\n    open(d + '/left', 'w').write('x')\nprint('wrote')\n")
    assert wrote == "wrote"
    assert run("import os\nprint(os.path.exists('/tmp/left'), os.path.exists('/dev/shm/left'))") == "False False"


def test_process_limit_holds_without_a_uid_of_its_own(nobody_pool: WorkerPool) -> None:
    # RLIMIT_NPROC counts per user namespace: inside this sandbox only, so it bounds a fork bomb here too.
    worker = nobody_pool.workers[0]
    code = ("import os, time\nmade = 0\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n        made += 1\n    except OSError:\n        break\nprint(made)\n")
    job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[5.0], prelude_timeout=5.0, sample_cap=10.0,
                   limits=nobody_pool.settings.limits)
    made = int(worker.call(job, timeout=30)["stdout"].strip())
    assert 0 < made <= nobody_pool.settings.limits.processes


def test_dev_shm_is_bounded(nobody_pool: WorkerPool) -> None:
    # Writable by the program here: a tmpfs of the configured size, not one as large as the host's memory.
    worker = nobody_pool.workers[0]
    code = ("n = 0\ntry:\n    while True:\n        with open('/dev/shm/f%d' % n, 'wb') as fh:\n"
            "            fh.write(bytes(8 * 1024 * 1024))\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)\n")
    job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[5.0], prelude_timeout=5.0, sample_cap=10.0,
                   limits=nobody_pool.settings.limits)
    count, errno = worker.call(job, timeout=30)["stdout"].split()
    assert int(count) * 8 <= nobody_pool.settings.limits.tmpfs_mb and errno == "28"


def test_fork_bomb_is_bounded_in_the_unprivileged_fallback() -> None:
    # The locked-down container's layout: no bubblewrap, no uid of its own, no PID namespace. RLIMIT_NPROC
    # then counts the uid's tasks everywhere; unbounded, a bomb filled the container's pids limit and
    # neither the scorer nor the other worker could fork any more (issue 14). A uid nothing else uses.
    uid = 64_321
    with WorkerPool(SandboxSettings(mode="none", run_as=uid, allow_open_network=True), 1) as pool:
        worker = pool.workers[0]
        limits = pool.settings.limits
        code = ("import os, time\nmade = 0\nfor _ in range(300):\n    try:\n        if os.fork() == 0:\n"
                "            time.sleep(60)\n            os._exit(0)\n        made += 1\n    except OSError:\n        break\nprint(made)\n")
        job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[5.0], prelude_timeout=5.0, sample_cap=10.0, limits=limits)
        made = int(worker.call(job, timeout=60)["stdout"].strip())
        assert 0 < made <= limits.processes
        # and every one of them is gone when the sample ends: the next sample forks as many again
        again = int(worker.call(job, timeout=60)["stdout"].strip())
        assert again == made
        bomb = "def f(x):\n    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
        problem = make_problem("p")
        policy = TimeoutPolicy(default_s=1.0, floor_s=1.0)
        items: list[tuple[Any, Any, Any, Any]] = [
            (code, problem, make_sample(problem, extracted_code=code), budget_for(problem, None, policy))
            for code in (bomb, "def f(x):\n    return x\n")]
        got = {key: r.verdict for key, r, _ in score_items(pool, items, limits, 3)}
        assert got[bomb] in (Verdict.TIMEOUT, Verdict.RUNTIME_ERROR) and got["def f(x):\n    return x\n"] == Verdict.PASSED

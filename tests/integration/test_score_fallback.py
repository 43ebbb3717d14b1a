"""The fork server without bubblewrap (--sandbox none, as inside a locked-down container).

No private mounts here, but the other layers hold: limits, the result channel, the process-tree
kill (the server is a child subreaper) and, as root, a network namespace of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from coderig_schemas import Verdict
from coderig_score.sandbox import SandboxSettings, WorkerPool, make_job
from coderig_score.scoring import score_items
from coderig_score.timeouts import TimeoutPolicy, budget_for
from tests.factories import make_problem, make_sample

# As root the server gives itself a network namespace; without root it would see the host's network.
pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(os.geteuid() != 0, reason="the fallback's network namespace needs root")]

PROGRAMS = {
    "def f(x):\n    return x\n": Verdict.PASSED,
    "def f(x):\n    return -1\n": Verdict.WRONG_ANSWER,
    "def f(x):\n    return {}[x]\n": Verdict.RUNTIME_ERROR,
    "def f(x)\n": Verdict.SYNTAX_ERROR,
    "def f(x):\n    while True:\n        pass\n": Verdict.TIMEOUT,
    "def f(x):\n    return len(bytearray(8 * 1024 ** 3))\n": Verdict.MEMORY_EXCEEDED,
    "import os\nos._exit(0)\n": Verdict.RUNTIME_ERROR,
    "import os\ntry:\n    os.kill(os.getppid(), 9)\nexcept OSError:\n    pass\ndef f(x):\n    return -1\n": Verdict.WRONG_ANSWER,
    "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\ndef f(x):\n    return x\n": Verdict.RUNTIME_ERROR,
}


@pytest.fixture(scope="module")
def plain_pool() -> Iterator[WorkerPool]:
    with WorkerPool(SandboxSettings(mode="none"), 1) as pool:
        yield pool


def test_network_check_passes_and_verdicts_match(plain_pool: WorkerPool) -> None:
    assert plain_pool.mode == "none" and plain_pool.network is not None and plain_pool.network.closed
    problem = make_problem("p")
    policy = TimeoutPolicy(default_s=0.5, floor_s=0.5)
    items: list[tuple[Any, Any, Any, Any]] = [
        (code, problem, make_sample(problem, extracted_code=code), budget_for(problem, None, policy)) for code in PROGRAMS]
    got = {key: r.verdict for key, r, _ in score_items(plain_pool, items, plain_pool.settings.limits, 3)}
    assert got == PROGRAMS


def test_daemons_are_killed_without_a_pid_namespace(plain_pool: WorkerPool) -> None:
    worker = plain_pool.workers[0]
    daemon = ("import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        os.write(w, str(os.getpid()).encode()); time.sleep(600)\n    os._exit(0)\nprint(os.read(r, 20).decode())\n")
    job = make_job(daemon, prelude=[], tests=["pass"], test_timeouts=[2.0], prelude_timeout=2.0, sample_cap=10.0,
                   limits=plain_pool.settings.limits)
    reply = worker.call(job, timeout=30)
    pid = int(reply["stdout"].strip())
    assert reply["wall"] < 2
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_auto_falls_back_only_inside_a_read_only_container(monkeypatch: pytest.MonkeyPatch) -> None:
    # bubblewrap failing on a host must not silently drop the private mounts (the run store and /tmp would
    # be open to the programs); with a read-only root (the compose service) the fallback is what is meant.
    import coderig_score.isolation as isolation
    import coderig_score.jail as jail
    import coderig_score.sandbox as sb

    monkeypatch.setattr(jail, "find_bwrap", lambda: None)
    monkeypatch.setattr(jail, "root_is_read_only", lambda: False)
    monkeypatch.setattr(isolation, "jail_config", lambda python: None)  # no Landlock either (with it, see test_score_isolation)
    refused = r"bubblewrap cannot start here \(bubblewrap not found.*\), Landlock is not available and / is writable"
    with pytest.raises(sb.SandboxError, match=refused), WorkerPool(SandboxSettings(mode="auto"), 1):
        pass
    monkeypatch.setattr(jail, "root_is_read_only", lambda: True)
    with WorkerPool(SandboxSettings(mode="auto"), 1) as pool:
        assert pool.mode == "none" and pool.network is not None and pool.network.closed


def test_the_cli_reports_a_sandbox_that_cannot_start_in_one_line(monkeypatch: pytest.MonkeyPatch, run_store: Any) -> None:
    from click.testing import CliRunner

    import coderig_score.isolation as isolation
    import coderig_score.jail as jail
    from coderig_score.cli import main
    from tests.factories import publish_generate

    monkeypatch.setattr(jail, "find_bwrap", lambda: None)
    monkeypatch.setattr(jail, "root_is_read_only", lambda: False)
    monkeypatch.setattr(isolation, "jail_config", lambda python: None)
    p = make_problem("p")
    gen = publish_generate(run_store, [p], [make_sample(p)])
    r = CliRunner().invoke(main, ["run", "--generate", gen.ref, "--no-calibrate", "-q"])
    assert r.exit_code == 1 and r.stdout == ""
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("error: the sandbox cannot start: bubblewrap cannot start here")
    assert "--sandbox none" in line
    assert not (run_store / "score").exists()

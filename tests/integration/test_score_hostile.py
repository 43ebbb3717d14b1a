"""Hostile programs are contained, get a non-passing verdict, and the scorer keeps going."""

from __future__ import annotations

import ast
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coderig_schemas import ScoreResult, Verdict
from coderig_score.sandbox import make_job
from coderig_score.timeouts import TimeoutPolicy

pytestmark = pytest.mark.sandbox

Score = Callable[..., ScoreResult]
CORRECT = "def f(x):\n    return x\n"


@pytest.fixture(autouse=True)
def scorer_keeps_going(score_code: Score) -> Iterator[None]:
    """After every hostile program, a correct answer still passes on the same pool."""
    yield
    assert score_code(CORRECT).verdict == Verdict.PASSED


def hostile(body: str) -> str:
    """A correct f that first runs body: it may pass only if body had no effect."""
    return "import os, sys\n" + body + "\n" + CORRECT


def jailed(pool: Any) -> bool:
    """Whether the pool is the fallback without bubblewrap (the locked-down container): Landlock refuses
    with PermissionError what bubblewrap's empty namespaces refuse otherwise."""
    return bool(pool.mode == "none")


def test_layers_in_force_are_reported(score_pool: Any) -> None:
    layers = score_pool.layers
    print(f"sandbox {score_pool.mode}: layers {layers}")  # shown by the container test (pytest -s inside)
    assert "fork-server" in layers and "network-closed" in layers
    assert ("bubblewrap" in layers) != jailed(score_pool)
    if jailed(score_pool):
        assert any(layer.startswith("landlock") for layer in layers) or os.geteuid() == 0


def test_network_connect_fails(score_code: Score, score_pool: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        r = score_code(hostile(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"))
        r2 = score_code(hostile("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)"))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody reached the host's loopback
    finally:
        listener.close()
    assert r.verdict == r2.verdict == Verdict.RUNTIME_ERROR
    if jailed(score_pool):
        assert r.exception_type == r2.exception_type == "PermissionError"  # Landlock: no TCP connect at all
    else:
        assert r.exception_type == "ConnectionRefusedError" and r2.exception_type == "OSError"


def test_host_files_run_store_and_home_are_invisible(score_code: Score, tmp_path: Path, run_store: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN-1234")
    run_store.mkdir(parents=True, exist_ok=True)
    (run_store / "stored.txt").write_text("TOKEN-5678")
    for path in (secret, run_store / "stored.txt", Path.home() / ".bashrc", Path("/work/shared/data/README.md"),
                 Path(os.getcwd()) / "pyproject.toml"):
        r = score_code(hostile(f"print(open({str(path)!r}).read())"))
        assert r.verdict == Verdict.RUNTIME_ERROR, path
        assert r.exception_type in ("FileNotFoundError", "PermissionError"), (path, r.error_message)
        assert "TOKEN" not in r.stdout
    env = score_code(hostile("print(sorted(os.environ))"))
    assert env.stdout.strip() == "['HOME', 'LANG', 'PATH', 'TMPDIR']"  # nothing from the host's environment


def test_writing_outside_the_temp_dir_fails(score_code: Score, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    # (Unprivileged, /tmp inside is the worker's own tmpfs, writable but wiped after every sample;
    # /dev/shm is such a tmpfs for every uid: test_dev_shm_is_private_bounded_and_wiped.)
    private = [Path("/tmp/pwned")] if os.geteuid() == 0 else []
    for path in (target, Path("/usr/pwned"), Path("/etc/pwned"), Path("/dev/pwned"), *private):
        r = score_code(hostile(f"open({str(path)!r}, 'w').write('x')"))
        assert r.verdict == Verdict.RUNTIME_ERROR, path
        assert r.exception_type in ("FileNotFoundError", "PermissionError", "OSError"), (path, r.error_message)
    assert not target.exists()
    # its own working directory is writable, private and fresh for every sample
    first = score_code(hostile("open('mine.txt', 'w').write('x')\nprint(os.listdir('.'), oct(os.stat('.').st_mode & 0o777))"))
    assert first.verdict == Verdict.PASSED and first.stdout.strip() == "['mine.txt'] 0o700"
    assert score_code(hostile("print(os.listdir('.'))")).stdout.strip() == "[]"


def test_dev_shm_is_private_bounded_and_wiped(score_code: Score, score_pool: Any) -> None:
    # The worker's own size-limited tmpfs (semaphores need it); filling it must stop at its size, not
    # at the host's memory, and nothing written there reaches the next sample.
    fill = ("n = 0\ntry:\n    while True:\n        with open('/dev/shm/f%d' % n, 'wb') as fh:\n"
            "            fh.write(bytes(8 * 1024 * 1024))\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)\n")
    r = score_code(hostile(fill), policy=TimeoutPolicy(default_s=5.0, floor_s=5.0))
    count, errno = r.stdout.split()
    if jailed(score_pool):
        # Without bubblewrap /dev/shm is shared and never wiped: Landlock closes it (docs/score.md).
        assert (count, errno) == ("0", "13"), r.stdout  # EACCES on the first file
        return
    assert int(count) <= 256 // 8 and errno == "28", r.stdout  # ENOSPC at the tmpfs size (256 MiB)
    assert score_code(hostile("print(os.listdir('/dev/shm'))")).stdout.strip() == "[]"


def test_fork_bomb_is_contained(score_code: Score) -> None:
    bomb = "def f(x):\n    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
    r = score_code(bomb, policy=TimeoutPolicy(default_s=1.0, floor_s=1.0))
    assert r.verdict in (Verdict.TIMEOUT, Verdict.RUNTIME_ERROR)


def test_a_sample_forks_at_most_its_process_limit(score_pool: Any) -> None:
    # In every layout (a uid of its own, a user namespace, or the container fallback's uid count), so a
    # bomb can never fill the machine's or the container's pids limit and starve the scorer's own forks.
    code = ("import os, time\nmade = 0\nfor _ in range(300):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(60)\n            os._exit(0)\n        made += 1\n    except OSError:\n        break\nprint(made)\n")
    limits = score_pool.settings.limits
    job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[5.0], prelude_timeout=5.0, sample_cap=10.0, limits=limits)
    made = int(score_pool.workers[0].call(job, timeout=120)["stdout"].strip())
    assert 0 < made <= limits.processes


def test_memory_bomb_is_contained(score_code: Score) -> None:
    r = score_code("def f(x):\n    hog = []\n    while True:\n        hog.append(bytearray(10 ** 7))\n",
                   policy=TimeoutPolicy(default_s=20.0))
    assert r.verdict == Verdict.MEMORY_EXCEEDED


def test_infinite_loop_times_out(score_code: Score) -> None:
    r = score_code("while True:\n    pass\n", policy=TimeoutPolicy(default_s=0.5, floor_s=0.5))
    assert r.verdict == Verdict.TIMEOUT and r.duration_s < 5


def test_output_flood_is_capped_with_a_marker(score_code: Score) -> None:
    r = score_code(hostile("sys.stdout.write('x' * 50_000_000)\nsys.stderr.write('y' * 50_000_000)"))
    assert r.verdict == Verdict.PASSED  # output is not a verdict
    assert r.stdout.startswith("xxx") and r.stdout.endswith("more bytes truncated by coderig]")
    assert len(r.stdout) < 70 * 1024 and len(r.stderr) < 70 * 1024


def test_daemon_child_is_killed_when_the_sample_ends(score_pool: Any) -> None:
    worker = score_pool.workers[0]
    limits = score_pool.settings.limits
    daemon = (
        "import os, time\n"
        "r, w = os.pipe()\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.write(w, str(os.getpid()).encode()); time.sleep(600)\n"
        "    os._exit(0)\n"
        "print(os.read(r, 20).decode())\n"
    )
    job = make_job(daemon, prelude=[], tests=["pass"], test_timeouts=[2.0], prelude_timeout=2.0, sample_cap=10.0, limits=limits)
    first = worker.call(job, timeout=30)
    pid = int(first["stdout"].strip())
    assert first["wall"] < 2  # the sleeping daemon did not hold the sample open
    if jailed(score_pool):
        # No PID namespace and no /proc for the programs (Landlock): look from here, the scorer's side.
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        return
    look = f"import os\nprint(os.path.exists('/proc/{pid}'), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    second = worker.call(make_job(look, prelude=[], tests=["pass"], test_timeouts=[2.0], prelude_timeout=2.0, sample_cap=10.0,
                                  limits=limits), timeout=30)
    alive, pids = second["stdout"].split(" ", 1)
    assert alive == "False"
    assert len(ast.literal_eval(pids)) == 3  # the namespace's init, the server, and this program


def test_killing_the_parent_fails(score_code: Score) -> None:
    # Every kill is attempted (errors ignored), then a wrong answer: the server must survive to judge it.
    for body in ("os.kill(os.getppid(), 9)", "os.kill(1, 9)", "os.kill(2, 9)", "os.killpg(os.getpgid(0), 9)", "os.kill(-1, 9)"):
        for where in ("top", "test"):
            attempt = f"try:\n    {body}\nexcept OSError:\n    pass\n"
            if where == "top":
                code = "import os\n" + attempt + "def f(x):\n    return -1\n"
            else:
                code = "import os\ndef f(x):\n" + "".join("    " + line + "\n" for line in attempt.splitlines()) + "    return -1\n"
            r = score_code(code)
            assert r.verdict in (Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR), (body, where, r.verdict, r.error_message)


def test_exit_before_the_asserts_does_not_pass(score_code: Score) -> None:
    for code in ("import sys\nsys.exit(0)", "exit(0)", "import os\nos._exit(0)", "raise SystemExit(0)",
                 "def f(x):\n    import os\n    os._exit(0)\n", "def f(x):\n    raise SystemExit(0)\n",
                 "import signal, os\nos.kill(os.getpid(), signal.SIGKILL)"):
        r = score_code(code)
        assert r.verdict == Verdict.RUNTIME_ERROR, (code, r.verdict, r.error_message)


def test_overriding_builtins_and_assertion_error_does_not_pass(score_code: Score) -> None:
    wrong = "def f(x):\n    return -1\n"
    for body in (
        "import builtins\nclass Fake(Exception):\n    pass\nbuiltins.AssertionError = Fake",
        "AssertionError = None",
        "import builtins\nbuiltins.isinstance = lambda *a: False\nbuiltins.repr = lambda o: 'passed'",
        "import __main__\n__main__._exec = lambda *a, **k: None\n__main__._isinstance = lambda *a: False",
        "import os\nos._exit = lambda c: None\nos.write = lambda fd, b: len(b)",
    ):
        r = score_code(body + "\n" + wrong)
        assert r.verdict == Verdict.WRONG_ANSWER, (body, r.verdict, r.error_message)


def test_printing_passed_or_forging_records_does_not_pass(score_code: Score) -> None:
    forged = "0" * 32 + " ('test', 0, 'passed', 0.0, None, None)\n" + "0" * 32 + " ('test', 1, 'passed', 0.0, None, None)\n"
    code = (
        "import os\nprint('passed')\nprint('All tests passed')\n"
        f"for fd in range(3, 20):\n    try:\n        os.write(fd, {forged!r}.encode())\n    except OSError:\n        pass\n"
        "def f(x):\n    return -1\n"
    )
    r = score_code(code)
    assert r.verdict == Verdict.WRONG_ANSWER and r.tests_passed == 0


LOOP = "def f(x):\n    while True:\n        pass\n"
CHANNEL_ATTACKS = {
    # Per-test deadlines are kept by the server, not by an alarm the program could switch off.
    "signal_hijack": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                     "signal.setitimer = lambda *a: None\nsignal.alarm = lambda *a: None\n" + LOOP,
    "forged_progress": "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'0\\n1\\n2\\n' * 1000)\n"
                       "    except OSError:\n        pass\n" + LOOP,
    "stop_itself": "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGSTOP)\n    return x\n",
    "close_every_fd": "import os\nos.closerange(3, 4096)\ndef f(x):\n    return -1\n",
    "close_every_fd_in_test": "import os\ndef f(x):\n    os.closerange(0, 4096)\n    return -1\n",
    "flood_every_fd": "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'x' * 10_000_000)\n"
                      "    except OSError:\n        pass\ndef f(x):\n    return -1\n",
    "segfault": "import ctypes\ndef f(x):\n    ctypes.string_at(0)\n",
    "exit_from_a_thread": "import os, threading, time\n"
                          "threading.Thread(target=lambda: (time.sleep(0.05), os._exit(0)), daemon=True).start()\n"
                          "def f(x):\n    time.sleep(0.3)\n    return -1\n",
    "exit_at_exit": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef f(x):\n    return -1\n",
}


@pytest.mark.parametrize("name", sorted(CHANNEL_ATTACKS))
def test_attacks_on_the_harness_are_the_programs_failure(score_code: Score, name: str) -> None:
    # sandbox_error is left out of pass@k's n, so a program able to cause it would hide its own failure.
    r = score_code(CHANNEL_ATTACKS[name])
    assert r.verdict not in (Verdict.PASSED, Verdict.SANDBOX_ERROR), (name, r.verdict, r.error_message)
    assert r.tests_passed == 0

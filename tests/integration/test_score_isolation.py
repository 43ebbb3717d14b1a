"""Without bubblewrap the run store must stay out of the programs' reach, or the scorer refuses to start.

The fork server alone (``--sandbox none``, or ``auto`` where bubblewrap cannot start, as in the locked-down
score container) shares the scorer's file system. These tests need no container: the store is made
reachable the way a container makes it (a directory the programs' uid may list and write), and the
pool must refuse; with Landlock (isolation.py) the same store must be out of reach and stay byte-identical.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import coderig_score.isolation as isolation
import coderig_score.jail as jail
from coderig_schemas import Verdict
from coderig_score.isolation import StoreReachableError, landlock_abi
from coderig_score.sandbox import NetworkCheck, SandboxSettings, WorkerPool
from coderig_score.scoring import score_items
from coderig_score.timeouts import TimeoutPolicy, budget_for
from tests.factories import make_problem, make_sample
from tests.snapshots import changes, snapshot

# As root the workers drop to uids of their own; the store below is open to every uid, as /runs is to the
# programs inside the container (they run as the scorer's own uid there).
pytestmark = [pytest.mark.sandbox,
              pytest.mark.skipif(os.geteuid() != 0, reason="the fallback's network namespace needs root (as in test_score_fallback)")]


@pytest.fixture
def open_store() -> Iterator[Path]:
    """A run store every uid can list and write (outside pytest's private tmp directory)."""
    root = Path(tempfile.mkdtemp(prefix="coderig-open-store-"))
    os.chmod(root, 0o777)
    out = root / "generate" / "m__humaneval__s0" / "abc"
    out.mkdir(parents=True)
    (out / "manifest.json").write_text('{"secret": "other outputs"}')
    for d in (root / "generate", out.parent, out):
        os.chmod(d, 0o777)
    os.chmod(out / "manifest.json", 0o666)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_fallback_without_landlock_refuses_a_reachable_store(open_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "jail_config", lambda python: None)  # a kernel (or seccomp profile) without Landlock
    before = snapshot(open_store)
    with pytest.raises(StoreReachableError, match=r"programs could reach the run store .*list.*write.*Landlock unavailable"):
        WorkerPool(SandboxSettings(mode="none", protect=(str(open_store),)), 1).__enter__()
    assert changes(before, snapshot(open_store)) == []  # the probe's own canary file is gone


def test_auto_fallback_without_landlock_refuses_too(open_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # bubblewrap missing, a read-only root (the compose service), no Landlock: the store check still refuses.
    monkeypatch.setattr(jail, "find_bwrap", lambda: None)
    monkeypatch.setattr(jail, "root_is_read_only", lambda: True)
    monkeypatch.setattr(isolation, "jail_config", lambda python: None)
    with pytest.raises(StoreReachableError):
        WorkerPool(SandboxSettings(mode="auto", protect=(str(open_store),)), 1).__enter__()


needs_landlock = pytest.mark.skipif(landlock_abi() < 4, reason="Landlock with TCP rules (Linux 6.7+) is not available here")


@needs_landlock
def test_landlock_keeps_the_store_out_of_reach(open_store: Path) -> None:
    before = snapshot(open_store)
    with WorkerPool(SandboxSettings(mode="none", protect=(str(open_store),)), 1) as pool:
        assert pool.jail is not None
        [check] = pool.store_checks
        assert check.closed and set(check.denied) >= {"list", "read", "write"}, check
        assert pool.layers[:2] == [f"landlock-abi{landlock_abi()}", "netns"] and "store-unreachable" in pool.layers
    assert changes(before, snapshot(open_store)) == []


@needs_landlock
def test_hostile_program_gets_nothing_of_the_store(open_store: Path) -> None:
    """The done-means attack, natively: list and write the store, read another output, open a loopback socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    manifest = next(open_store.glob("generate/*/*/manifest.json"))
    attacks = {
        "list": f"os.listdir({str(open_store)!r})",
        "write": f"open({str(open_store / 'pwned.txt')!r}, 'w').write('x')",
        "read": f"open({str(manifest)!r}).read()",
        "proc": "os.listdir('/proc/%d/root' % os.getppid())",
        "loopback": f"__import__('socket').create_connection(('127.0.0.1', {listener.getsockname()[1]}), timeout=2)",
        "tmp": "open('/tmp/coderig-pwned', 'w').write('x')",
    }
    before = snapshot(open_store)
    problem = make_problem("p")
    policy = TimeoutPolicy(default_s=2.0, floor_s=2.0)
    items = []
    for key, attack in attacks.items():
        code = f"import os\n{attack}\ndef f(x):\n    return x\n"
        items.append((key, problem, make_sample(problem, extracted_code=code), budget_for(problem, None, policy)))
    try:
        with WorkerPool(SandboxSettings(mode="none", protect=(str(open_store),)), 1) as pool:
            got = {key: r for key, r, _ in score_items(pool, items, pool.settings.limits, 3)}
            ok = make_sample(problem, extracted_code="def f(x):\n    return x\n")
            [(_, after, _)] = list(score_items(pool, [("ok", problem, ok, items[0][3])], pool.settings.limits, 3))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached the scorer's loopback
    finally:
        listener.close()
    assert {k: r.verdict for k, r in got.items()} == dict.fromkeys(attacks, Verdict.RUNTIME_ERROR)
    assert all(r.exception_type == "PermissionError" for r in got.values()), {k: r.error_message for k, r in got.items()}
    assert after.verdict == Verdict.PASSED  # the scorer goes on
    assert changes(before, snapshot(open_store)) == []
    assert not Path("/tmp/coderig-pwned").exists()


def test_the_cli_refuses_a_reachable_store_in_one_line(open_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from coderig_score.cli import main
    from tests.factories import publish_generate

    monkeypatch.setattr(isolation, "jail_config", lambda python: None)
    p = make_problem("p")
    gen = publish_generate(open_store, [p], [make_sample(p)])
    before = snapshot(open_store)
    r = CliRunner().invoke(main, ["run", "--generate", gen.ref, "--no-calibrate", "--sandbox", "none", "-q",
                                  "--runs", str(open_store)])
    assert r.exit_code == 1 and r.stdout == "", r.output
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("error: refusing to score: programs could reach the run store"), line
    assert "Landlock" in line
    assert changes(before, snapshot(open_store)) == [] and not (open_store / "score").exists()


def test_loopback_reached_is_never_closed() -> None:
    # The container's own loopback is shared with the scorer when there is no network namespace: reaching the
    # scorer's listener there is a way out (docs/score.md), whatever the namespace layout.
    assert not NetworkCheck(["lo"], False, True, "").closed
    assert NetworkCheck(["lo"], False, False, "").closed

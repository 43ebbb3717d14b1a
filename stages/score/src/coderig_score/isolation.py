"""What a program may reach of the scorer's files, when bubblewrap is not there to hide them.

bubblewrap mounts only the system directories, so the run store does not exist for the programs.
Where it cannot start (a locked-down container: cap_drop ALL, no-new-privileges, a masked /proc that
a user namespace may not mount again), the fork server runs the programs in the scorer's own mount
namespace, where the store is mounted read-write for the scorer's uid, which is also the programs'.
Two things close that:

- ``jail_config``: the fork server's child puts itself in a Landlock jail (``_landlock.py``) right
  before the untrusted code: system directories read-only, its own working directory writable,
  nothing else, no TCP, no signal out of the jail.
- ``probe_store``: before any sample is scored, a probe program runs through the same path and
  tries to list the store, read a file of it, create a file in it, and reach it through
  ``/proc/<scorer>/root``. If anything succeeds, the pool refuses to start (``StoreReachableError``),
  whatever the mode: the fallback never scores with the store in reach.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _landlock

if TYPE_CHECKING:
    from .sandbox import Limits, Worker

JAIL_SOURCE = Path(_landlock.__file__).read_text()
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class StoreReachableError(Exception):
    """A program could list, read or write the run store: scoring would let it tamper with results."""


def landlock_abi() -> int:
    """The kernel's Landlock ABI version here (0: none, or filtered by the container's seccomp profile)."""
    return int(_landlock.abi())


def jail_config(python: str) -> dict[str, Any] | None:
    """What the fork server needs to jail each sample with Landlock, or None where the kernel has none.

    The server executes ``source`` in a namespace of its own and calls its ``restrict`` in the child
    with ``read`` plus the interpreter's import path, and ``write`` plus the sample's working directory.
    """
    if landlock_abi() < 1:
        return None
    prefix = str(Path(os.path.realpath(python)).parent.parent)
    read = [*SYSTEM_DIRS, *_landlock.READ_EXTRA]
    if not prefix.startswith("/usr"):
        read.append(prefix)
    # Not /dev/shm: outside bubblewrap it is the container's (or the host's) one, shared, unwiped and, on a
    # host, as large as half the memory. POSIX semaphores (multiprocessing's locks) are refused with it.
    return {"source": JAIL_SOURCE, "read": read, "write": []}


@dataclass(frozen=True)
class StoreCheck:
    """What the start-up probe could do to the run store from inside the sandbox."""

    store: str
    reached: dict[str, str]  # attempt -> what it got (only the attempts that succeeded)
    denied: dict[str, str]  # attempt -> the error it got

    @property
    def closed(self) -> bool:
        """Nothing of the store could be listed, read or written."""
        return not self.reached


PROBE_CODE = """
import json, os
res = {"reached": {}, "denied": {}}
def attempt(key, fn):
    try:
        res["reached"][key] = repr(fn())[:200]
    except OSError as e:
        res["denied"][key] = "%s: %s" % (type(e).__name__, e.strerror)
attempt("list", lambda: os.listdir(__STORE__))
if __FILE__:
    attempt("read", lambda: len(open(__FILE__, "rb").read(64)))
attempt("write", lambda: os.close(os.open(__CANARY__, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)))
attempt("via /proc/<scorer>/root", lambda: os.listdir("/proc/%d/root%s" % (__PID__, __STORE__)))
print("STOREPROBE " + json.dumps(res))
"""


def _some_file(store: Path) -> str | None:
    """A file of the store for the probe to try to read (the first manifest found, not deep)."""
    for pattern in ("*/*/*/manifest.json", "*/*/manifest.json", "*"):
        for p in store.glob(pattern):
            if p.is_file():
                return str(p)
    return None


def probe_store(worker: Worker, store: str, limits: Limits) -> StoreCheck:
    """Run the probe program through the worker; remove its canary file if it managed to create one."""
    from .sandbox import SandboxError, make_job

    root = Path(store).resolve()
    canary = root / f".coderig-isolation-probe-{secrets.token_hex(8)}"
    code = (PROBE_CODE.replace("__STORE__", repr(str(root))).replace("__FILE__", repr(_some_file(root)))
            .replace("__CANARY__", repr(str(canary))).replace("__PID__", str(os.getpid())))
    job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[10.0], prelude_timeout=10.0, sample_cap=20.0,
                   limits=limits)
    try:
        reply = worker.call(job, timeout=30.0)
    finally:
        try:
            canary.unlink()
        except OSError:
            pass
    for line in reply["stdout"].splitlines():
        if line.startswith("STOREPROBE "):
            res = json.loads(line[len("STOREPROBE "):])
            return StoreCheck(store=str(root), reached=res["reached"], denied=res["denied"])
    raise SandboxError(f"the run-store probe printed no result (stderr: {reply['stderr'][-300:]!r})")

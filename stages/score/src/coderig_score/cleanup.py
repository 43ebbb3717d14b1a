"""Stopping what a worker leaves behind on the host: its sandbox's process group, and a dedicated uid's processes.

(Inside the sandbox the fork server kills what each sample leaves behind; this is the host's part,
when a worker itself is stopped.)
"""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Kill a worker process and its whole process group (its sandbox), wait for it, close its pipes."""
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


def kill_uid(uid: int) -> None:
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

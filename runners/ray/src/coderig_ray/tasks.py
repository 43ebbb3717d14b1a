"""What runs inside Ray tasks: one stage command as a process, and the run store's visibility check.

Each stage is its own program (`coderig-<stage>` beside the worker's Python); a task starts it, waits and
returns its stdout lines, exit code and where it ran. Nothing of a stage is imported here.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ray

#: Exit code of a stage whose output another process is building (README's table): retried after a pause.
CONFLICT = 4
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: be killed when the task's worker dies (its node lost), so no orphan keeps a build lock
    that the retried task on another node would then meet."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):  # not Linux: the lock is freed when the orphan ends
        pass


def node_id() -> str:
    """The Ray node this code runs on."""
    return str(ray.get_runtime_context().get_node_id())


def stage_command(stage: str, args: list[str], runs: str, env: dict[str, str], conflict_wait_s: float = 600.0) -> dict[str, Any]:
    """Run `coderig-<stage> ARGS` with the store ``runs``; wait out conflicts (exit 4: another process, e.g. a
    task of a lost node not yet gone, holds the output's build lock). Returns rc, stdout lines, the end of
    stderr, the node and host it ran on and its wall time."""
    exe = Path(sys.executable).parent / f"coderig-{stage}"
    child_env = {**os.environ, **env, "CODERIG_RUNS": runs}
    child_env.setdefault("CODERIG_PROGRESS_INTERVAL", "60")  # fewer progress lines: stderr is kept in memory
    started = time.monotonic()
    deadline = started + conflict_wait_s
    pause = 1.0
    while True:
        proc = subprocess.run([str(exe), *args], capture_output=True, env=child_env,
                              preexec_fn=_die_with_parent, check=False)
        if proc.returncode != CONFLICT or time.monotonic() > deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 15.0)
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    return {
        "rc": proc.returncode,
        "stdout": [line for line in proc.stdout.decode(errors="replace").splitlines() if line.strip()],
        "stderr_tail": err[-5:],
        "node_id": node_id(),
        "host": socket.gethostname(),
        "seconds": round(time.monotonic() - started, 3),
    }


def read_marker(path: str) -> dict[str, Any]:
    """What this node reads at ``path`` (the driver's marker in the run store), or why it cannot."""
    text: str | None = None
    error: str | None = None
    try:
        text = Path(path).read_text()
    except OSError as e:
        error = f"{type(e).__name__}: {e.strerror or e}"
    return {"node_id": node_id(), "host": socket.gethostname(), "text": text, "error": error}


stage_task = ray.remote(stage_command)
marker_task = ray.remote(num_cpus=0, max_retries=0)(read_marker)

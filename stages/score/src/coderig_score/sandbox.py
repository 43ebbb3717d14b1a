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

This module only gathers the sandbox's public names; each concern has a module of its own:

- ``settings``: ``Limits`` and ``SandboxSettings``;
- ``jail``: the bubblewrap command, the workers' interpreter, the server program;
- ``protocol``: the typed messages between the host and the server (shared by both ends);
- ``worker``: one fork server and its conversation; ``cleanup``: stopping what a worker leaves behind;
- ``jobs``: the ``RunJob`` message for a program; ``probes``: the start-up proofs;
- ``pool``: the worker pool.
"""

from __future__ import annotations

from .jail import bwrap_command, choose_python, find_bwrap, root_is_read_only
from .jobs import REPORT_CPU_S, job_wall_s, make_job
from .pool import LazyPool, Outcome, WorkerPool
from .probes import NetworkCheck, NetworkOpenError, StoreReachableError, probe_network
from .settings import Limits, SandboxMode, SandboxSettings
from .worker import SandboxError, Worker

__all__ = [
    "REPORT_CPU_S", "LazyPool", "Limits", "NetworkCheck", "NetworkOpenError", "Outcome", "SandboxError", "SandboxMode",
    "SandboxSettings", "StoreReachableError", "Worker", "WorkerPool", "bwrap_command", "choose_python", "find_bwrap",
    "job_wall_s", "make_job", "probe_network", "root_is_read_only",
]

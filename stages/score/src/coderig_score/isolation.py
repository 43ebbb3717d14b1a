"""What a program may reach of the scorer's files, when bubblewrap is not there to hide them.

bubblewrap mounts only the system directories, so the run store does not exist for the programs.
Where it cannot start (a locked-down container: cap_drop ALL, no-new-privileges, a masked /proc that
a user namespace may not mount again), the fork server runs the programs in the scorer's own mount
namespace, where the store is mounted read-write for the scorer's uid, which is also the programs'.
Two things close that:

- ``jail_config``: the fork server's child puts itself in a Landlock jail (``_landlock.py``) right
  before the untrusted code: system directories read-only, its own working directory writable,
  nothing else, no TCP, no signal out of the jail.
- ``probes.probe_store``: before any sample is scored, a probe program runs through the same path and
  tries to list the store, read a file of it, create a file in it, and reach it through
  ``/proc/<scorer>/root``. If anything succeeds, the pool refuses to start (``StoreReachableError``),
  whatever the mode: the fallback never scores with the store in reach.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import _landlock
from .probes import StoreCheck, StoreReachableError, probe_store
from .protocol import Landlock

__all__ = ["JAIL_SOURCE", "SYSTEM_DIRS", "StoreCheck", "StoreReachableError", "jail_config", "landlock_abi", "probe_store"]

JAIL_SOURCE = Path(_landlock.__file__).read_text()
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version here (0: none, or filtered by the container's seccomp profile)."""
    return int(_landlock.abi())


def jail_config(python: str) -> Landlock | None:
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
    return Landlock(source=JAIL_SOURCE, read=read, write=[])

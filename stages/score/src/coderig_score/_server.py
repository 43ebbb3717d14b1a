# mypy: ignore-errors
# (a script run by the sandbox interpreter; kept free of annotations that older interpreters would not need)
"""The warm fork server that runs inside the sandbox (stdlib only; never imported by the host).

The host starts it as ``python -I -c <this file's text>`` inside bubblewrap and talks to it over
stdin/stdout with length-prefixed JSON messages. This process (P) never runs untrusted code: for
each sample it forks a child (C) that drops privileges and limits, runs the candidate code and the
problem's setup once, then forks one grandchild (T) per test case. Outcomes travel back on a
dedicated result pipe as lines ``<nonce> <repr(tuple)>``; P keeps only lines carrying this
sample's random nonce, which is never written to stdout/stderr, and a test counts as passed only
when the harness code wrote a ``passed`` record after the test code returned. Exit codes are never
read as verdicts.
"""

import ast
import builtins
import ctypes
import json
import os
import resource
import secrets
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
_ast_Assert, _ast_Compare, _ast_Eq, _ast_Expression, _fix = ast.Assert, ast.Compare, ast.Eq, ast.Expression, ast.fix_missing_locations

RES_FD = 3
MSG_CAP = 2000
REPR_CAP = 1000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


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


# --------------------------------------------------------------------------- harness (runs in C and T)
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


def _set_cpu(seconds):
    s = max(1, int(seconds) + 1)
    try:
        _setrlimit(resource.RLIMIT_CPU, (s, s + 1))
    except _BaseException:
        pass


def _run_test(nonce, index, code, ns, timeout):
    """Body of T: run one test case in a copy of the prepared namespace, report, exit."""
    oom = (nonce + " " + _repr(("test", index, "memory", 0.0, "MemoryError", "")) + "\n").encode()
    try:
        _setpgid(0, 0)
    except _BaseException:
        pass
    _set_cpu(timeout)
    t0 = _perf()
    try:
        _exec(_compile(code, "<test>", "exec"), ns)
        dur = _perf() - t0
        _flush_stdio()
        _emit(nonce, ("test", index, "passed", dur, None, None))
        _exit(0)
    except _MemoryError:
        try:
            _write(RES_FD, oom)
        finally:
            _exit(0)
    except _BaseException as e:
        dur = _perf() - t0
        name, msg = _describe(e)
        failed = _isinstance(e, _AssertionError)
        status = "error" if name == "RecursionError" or not failed else "failed"
        _flush_stdio()
        _emit(nonce, ("test", index, status, dur, name, msg))
        if failed:
            ea = _expected_actual(code, ns)
            if ea is not None:
                _emit(nonce, ("actual", index, ea[0], ea[1]))
        _flush_stdio()
        _exit(0)


def _wait_child(pid, timeout):
    """Wait for a child up to timeout seconds; return (status or None if it timed out, wall)."""
    t0 = _perf()
    try:
        fd = _pidfd_open(pid)
    except _BaseException:
        fd = -1
    status = None
    if fd >= 0:
        while True:
            left = timeout - (_perf() - t0)
            if left <= 0:
                break
            try:
                r, _, _ = _select([fd], [], [], left)
            except InterruptedError:
                continue
            if r:
                status = _waitpid(pid, 0)[1]
                break
        _close(fd)
    else:  # no pidfd (old kernel): poll
        while _perf() - t0 < timeout:
            got, st = _waitpid(pid, os.WNOHANG)
            if got:
                status = st
                break
            time.sleep(0.002)
    wall = _perf() - t0
    if status is None:
        for target in (lambda: _killpg(pid, signal.SIGKILL), lambda: _kill(pid, signal.SIGKILL)):
            try:
                target()
            except _BaseException:
                pass
        _waitpid(pid, 0)
    return status, wall


def child_main(job, nonce, workdir, uid, gid):
    """Body of C: enter the jail, run the prelude once, fork one T per test."""
    os.setsid()
    os.chdir(workdir)
    lim = job["limits"]
    for res, val in (
        (resource.RLIMIT_AS, lim["memory_bytes"]),
        (resource.RLIMIT_FSIZE, lim["file_bytes"]),
        (resource.RLIMIT_NOFILE, lim["open_files"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, lim["processes"]),
    ):
        if val is None:
            continue
        try:
            resource.setrlimit(res, (val, val))
        except (ValueError, OSError):
            pass
    _set_cpu(job["sample_cap"])
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
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
    ns = {"__name__": "candidate", "__builtins__": builtins}
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
    timeouts_left = job["max_timeouts"]
    for index, (code, timeout) in enumerate(zip(job["tests"], job["test_timeouts"], strict=True)):
        if timeouts_left <= 0:
            break
        try:
            pid = _fork()
        except _BaseException as e:
            _emit(nonce, ("texit", index, 0.0, "forkfail", _describe(e)[1], False))
            continue
        if pid == 0:
            try:
                _run_test(nonce, index, code, ns, timeout)
            finally:
                _exit(70)
        status, wall = _wait_child(pid, timeout)
        if status is None:
            timeouts_left -= 1
            _emit(nonce, ("texit", index, wall, "timeout", 0, True))
        elif _WIFSIGNALED(status):
            _emit(nonce, ("texit", index, wall, "signal", _WTERMSIG(status), False))
        else:
            _emit(nonce, ("texit", index, wall, "exit", _WEXITSTATUS(status), False))
    _flush_stdio()
    _exit(0)


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
        if self.uid is not None:
            # A reaper with the sample's uid kills everything that uid owns; the uid is this worker's alone.
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgid(self.gid)
                    os.setuid(self.uid)
                    for _ in range(1000):
                        try:
                            os.kill(-1, signal.SIGKILL)
                        except ProcessLookupError:
                            break
                        time.sleep(0.001)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
        try:
            os.killpg(child_pid, signal.SIGKILL)
        except OSError:
            pass

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
        import shutil

        for name in os.listdir(self.tmp):
            path = os.path.join(self.tmp, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def run(self, job):
        self.counter += 1
        nonce = secrets.token_hex(16)
        workdir = os.path.join(self.tmp, f"s{self.counter}")
        os.mkdir(workdir, 0o700)
        if self.uid is not None:
            os.chown(workdir, self.uid, self.gid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                null = os.open("/dev/null", os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.dup2(res_w, RES_FD)
                os.closerange(RES_FD + 1, 1 << 16)
                child_main(job, nonce, workdir, self.uid, self.gid)
            except BaseException as e:
                try:
                    os.write(2, (f"coderig harness: {e!r}\n").encode())
                finally:
                    os._exit(71)
            os._exit(0)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        cap = job["output_cap"]
        bufs = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        dropped = {out_r: 0, err_r: 0, res_r: 0}
        res_cap = 64 * 1024 * 1024
        pidfd = os.pidfd_open(pid)
        deadline = t0 + job["deadline"]
        prelude_deadline = t0 + job["prelude_deadline"]
        killed = None
        status = None
        open_fds = [out_r, err_r, res_r]

        def pump(fds):
            for fd in fds:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    open_fds.remove(fd)
                    continue
                limit = res_cap if fd == res_r else cap
                room = limit - len(bufs[fd])
                if room > 0:
                    bufs[fd] += chunk[:room]
                dropped[fd] += max(0, len(chunk) - max(room, 0))

        while status is None:
            now = time.monotonic()
            limit_t = deadline
            if b" ('prelude'," not in bufs[res_r] and b" ('compile'," not in bufs[res_r]:
                limit_t = min(limit_t, prelude_deadline)
            if now >= limit_t:
                killed = "deadline" if limit_t == deadline else "prelude_deadline"
                break
            r, _, _ = select.select([*open_fds, pidfd], [], [], limit_t - now)
            pump([fd for fd in r if fd != pidfd])
            if pidfd in r:
                status = os.waitpid(pid, 0)[1]
        os.close(pidfd)
        self.kill_others(pid)
        if status is None:
            status = self.reaped.pop(pid, None)
        if status is None:
            status = os.waitpid(pid, 0)[1]
        self.reap()
        self.reaped.clear()
        # Every writer is dead now: drain to end of file.
        while open_fds:
            r, _, _ = select.select(open_fds, [], [], 1.0)
            if not r:
                break
            pump(r)
        for fd in (out_r, err_r, res_r):
            os.close(fd)
        wall = time.monotonic() - t0
        self.clean_tmp()
        records = []
        prefix = nonce + " "
        for line in bytes(bufs[res_r]).decode("utf-8", "replace").split("\n"):
            if not line.startswith(prefix):
                continue
            try:
                rec = ast.literal_eval(line[len(prefix):])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(rec, tuple) and rec:
                records.append(list(rec))
        exit_info = (
            {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"code": os.WEXITSTATUS(status)}
        )
        return {
            "ok": True, "records": records, "exit": exit_info, "killed": killed, "wall": wall,
            "stdout": bytes(bufs[out_r]).decode("utf-8", "replace"), "stderr": bytes(bufs[err_r]).decode("utf-8", "replace"),
            "stdout_dropped": dropped[out_r], "stderr_dropped": dropped[err_r],
        }


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
    net_unshared = False
    if cfg.get("unshare_net") and libc is not None:
        net_unshared = libc.unshare(CLONE_NEWNET) == 0
    server = Server(cfg, proto_out)
    os.makedirs(server.tmp, exist_ok=True)
    send(proto_out, {"ok": True, "ready": True, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0],
                     "net_unshared": net_unshared})
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

# mypy: ignore-errors
# (a script run by the sandbox interpreter; kept free of annotations that older interpreters would not need)
"""The warm fork server that runs inside the sandbox (stdlib only; never imported by the host).

The host starts it as ``python -I -c <program>`` inside bubblewrap, the program being the text of
``protocol.py`` (loaded as the module ``coderig_protocol``) and then this file's (``jail.server_program``),
and talks to it over stdin/stdout with the messages ``coderig_protocol`` defines. This process (P) never
runs untrusted code: for each sample it forks a child (C) that enters a fresh directory, sets limits,
drops to the worker's uid (as root), runs the test imports, the candidate code and the problem's setup,
then the tests in order, announcing each on a progress pipe so that P can hold it to its own time
limit. If C dies or overruns in a test, P kills everything the sample started and forks a new C from
the next test.

Outcomes travel back on a dedicated result pipe as lines ``<nonce> <repr(tuple)>`` (the protocol's
records: kind, then fields); P keeps only well-formed records on lines carrying this sample's random
nonce, which is never written to stdout/stderr, and a test counts as passed only when the harness
code wrote a ``passed`` record after the test code returned. Exit codes are never read as verdicts.
(Progress announcements only move deadlines, never beyond the sample's own budget, so forging them
gains nothing.)
"""

import ast
import builtins
import ctypes
import os
import resource
import select
import signal
import struct
import sys
import time
import types

import coderig_protocol as wire  # registered by the program the host starts (see the docstring)

# Saved before any untrusted code runs: the harness only calls these, never module attributes
# that a candidate could monkeypatch.
_fork, _exit, _write, _close, _waitpid, _kill, _killpg = os.fork, os._exit, os.write, os.close, os.waitpid, os.kill, os.killpg
_select, _perf, _repr, _exec, _compile = select.select, time.perf_counter, repr, exec, compile
_AssertionError, _MemoryError, _BaseException, _isinstance, _type = AssertionError, MemoryError, BaseException, isinstance, type
_setrlimit, _parse, _eval, _str, _len = resource.setrlimit, ast.parse, eval, str, len
_getrusage, _RUSAGE_CHILDREN, _mono, _process_time = resource.getrusage, resource.RUSAGE_CHILDREN, time.monotonic, time.process_time
_settrace, _setprofile, _update, _dict = sys.settrace, sys.setprofile, dict.update, dict
_MSG = struct.Struct("=qqdd")  # (test index, case: -1 test start / >= 0 case start / -2 reporting, monotonic, own CPU)
_pack = _MSG.pack
_ast_Assert, _ast_Compare, _ast_Eq, _ast_Expression, _fix = ast.Assert, ast.Compare, ast.Eq, ast.Expression, ast.fix_missing_locations
TEST_START, REPORTING = -1, -2  # (a case announces its own number, >= 0)

RES_FD = 3
# What the LeetCode preamble and MBPP/HumanEval solutions import (measured: 300 LeetCode samples took
# 4.1 s without this, 1.8 s with it; MBPP, which imports little, is about 5% slower for the larger fork).
# numpy: HumanEval+'s checks import it; importing it once per worker instead of once per program saves
# most of a HumanEval+ sample's start (about 0.1 s of CPU each).
PRELOAD = (
    "re", "math", "cmath", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing", "random",
    "datetime", "operator", "copy", "array", "sortedcontainers", "decimal", "fractions", "statistics", "numpy",
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
CLK_TCK = os.sysconf("SC_CLK_TCK")
KILL_GRACE_S = 30.0  # how long kill_others keeps killing a sample's survivors (they exit slowly under load)
# Filled in main(), before any untrusted code: the builtins and every loaded module's attributes as
# they were, which the harness restores before each test (see _Guard).
PRISTINE_BUILTINS = {}
MODULE_SNAPSHOT = {}


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def snapshot_modules():
    """Every loaded module's attributes (the state the tests are meant to see)."""
    for name, mod in list(sys.modules.items()):
        if name not in MODULE_SNAPSHOT and _isinstance(mod, types.ModuleType):
            try:
                MODULE_SNAPSHOT[name] = (mod, dict(mod.__dict__))
            except Exception:
                pass


# --------------------------------------------------------------------------- harness (runs in C)
def _cut(s, cap):
    s = _str(s)
    return s if _len(s) <= cap else s[:cap] + "...[truncated]"


def _emit(nonce, rec):
    try:
        _write(RES_FD, (nonce + " " + _repr(rec) + "\n").encode("utf-8", "backslashreplace"))
    except _BaseException:
        pass


def _announce(index, case):
    """Tell the server where the program is (it holds each phase to its own CPU and wall limits)."""
    try:
        _write(PROGRESS_FD, _pack(index, case, _mono(), _process_time()))
    except _BaseException:
        pass


def _cpu_all():
    """CPU seconds of this process and of its children that have been waited for."""
    try:
        ch = _getrusage(_RUSAGE_CHILDREN)
        return _process_time() + ch.ru_utime + ch.ru_stime
    except _BaseException:
        return 0.0


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


def _import_names(sources):
    """Top-level module names imported by the dataset's code (imports, setup, preamble, tests)."""
    names = set()
    for src in sources:
        try:
            tree = _parse(src)
        except _BaseException:
            continue
        for node in ast.walk(tree):
            if _isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif _isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def _equality(code):
    """For a test that is exactly 'assert <a> == <b>': (a, b) compiled, to keep the compared values."""
    try:
        tree = _parse(code)
        if _len(tree.body) != 1 or not _isinstance(tree.body[0], _ast_Assert) or tree.body[0].msg is not None:
            return None
        test = tree.body[0].test
        if not _isinstance(test, _ast_Compare) or _len(test.ops) != 1 or not _isinstance(test.ops[0], _ast_Eq):
            return None
        left = _compile(_fix(_ast_Expression(test.left)), "<test>", "eval")
        right = _compile(_fix(_ast_Expression(test.comparators[0])), "<test>", "eval")
        return left, right
    except _BaseException:
        return None


class _Guard:
    """What the tests see, restored before each test whatever the program changed.

    The tests (with the setup and preamble) run in a namespace of their own whose builtins are a
    private copy taken before any untrusted code ran; before each test the real builtins module,
    the modules the dataset's code imports (with their submodules), the sys.modules entries of the
    modules loaded before the program, and the trace/profile hooks are put back as they were.
    """

    def __init__(self, module_names):
        self.builtins = builtins.__dict__
        self.pristine = PRISTINE_BUILTINS
        self.mods = _dict((k, v[0]) for k, v in MODULE_SNAPSHOT.items())
        tops = {m.split(".", 1)[0] for m in module_names} | {"builtins"}
        pairs = []
        for name, (mod, snap) in MODULE_SNAPSHOT.items():
            if name.split(".", 1)[0] in tops:
                pairs.append((mod.__dict__, snap))
        self.pairs = pairs
        self.threading = sys.modules.get("threading")

    def restore(self):
        try:
            _settrace(None)
            _setprofile(None)
            _update(sys.modules, self.mods)
            _update(self.builtins, self.pristine)
            for d, snap in self.pairs:
                _update(d, snap)
        except _BaseException:
            pass


def _no_case(k):
    return None


def _report_values(nonce, index, left, right):
    """Emit expected and actual of a failed 'assert a == b': the very values that were compared."""
    _announce(index, REPORTING)
    try:
        expected = _cut(_repr(right), REPR_CAP)
        actual = _cut(_repr(left), REPR_CAP)
    except _BaseException:
        return
    _emit(nonce, ("actual", index, expected, actual))


def _run_tests(nonce, first, codes, ns, guard):
    """Run tests first.. in order in the test namespace, report each, exit.

    Before each test the program announces (index, CPU so far) on the progress pipe, so that the
    server can apply that test's own limits; if the process dies or overruns in a test, the server
    starts a fresh one from the next test on (the other tests are not hidden by one failure). A
    test may announce cases within it (``__coderig_case__(k)``): each case then gets the test's limit.
    """
    n = _len(codes)
    state = [first, 0.0, 0.0]  # current test, CPU at the start of the current case, slowest case so far

    def case(k):
        now = _cpu_all()
        if now - state[1] > state[2]:
            state[2] = now - state[1]
        state[1] = now
        _announce(state[0], k if _isinstance(k, int) and k >= 0 else 0)

    ns["__builtins__"]["__coderig_case__"] = case
    for index in range(first, n):
        guard.restore()
        ns["__builtins__"]["__coderig_case__"] = case
        state[0], state[2] = index, 0.0
        code, eq = codes[index]
        left = right = None
        _announce(index, TEST_START)
        c0 = state[1] = _cpu_all()
        t0 = _perf()
        try:
            if _isinstance(code, _BaseException):
                raise code
            if eq is not None:
                left = _eval(eq[0], ns)
                right = _eval(eq[1], ns)
                if not (left == right):
                    raise _AssertionError()
            else:
                _exec(code, ns)
            dur, cpu = _perf() - t0, _cpu_all()
            _flush_stdio()
            _emit(nonce, ("test", index, "passed", dur, None, None, cpu - c0, max(state[2], cpu - state[1])))
        except _MemoryError as e:
            dur, cpu = _perf() - t0, _cpu_all()
            _emit(nonce, ("test", index, "memory", dur, "MemoryError", _describe(e)[1], cpu - c0, max(state[2], cpu - state[1])))
        except _BaseException as e:
            dur, cpu = _perf() - t0, _cpu_all()
            name, msg = _describe(e)
            failed = _isinstance(e, _AssertionError)
            status = "error" if name == "RecursionError" or not failed else "failed"
            _flush_stdio()
            _emit(nonce, ("test", index, status, dur, name, msg, cpu - c0, max(state[2], cpu - state[1])))
            if failed and eq is not None:
                guard.restore()
                _report_values(nonce, index, left, right)
        _flush_stdio()
    _announce(n, TEST_START)
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
    # A backstop for this process alone (the server counts the CPU time of all the sample's processes
    # against each test's limit): the whole sample's CPU budget, which a dropped process cannot raise.
    cap = int(job["sample_cpu"]) + 2
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cap, cap))
    except (ValueError, OSError):
        pass
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
    sources = job["tests"]
    entry = job["entry_point"]  # the function the tests call may have a builtin's name (MBPP's 'sum')
    dataset_code = [*job["imports"], *job["prelude"], *sources]
    imported = _import_names(dataset_code)
    t0 = _perf()
    c0 = _cpu_all()
    try:
        for part in job["imports"]:
            if part:
                _exec(_compile(part, "<test_imports>", "exec"), ns)
        # Modules the dataset's code imports are loaded (and recorded as they are) before the program runs.
        for name in sorted(imported):
            try:
                __import__(name)
            except _BaseException:
                pass
        snapshot_modules()
        guard = _Guard(imported)
        after_imports = _dict(ns)
        _exec(cand, ns)
        # The dataset's code runs in a namespace of its own: the program's names (the contract's order:
        # they shadow the imports), but not the program's rebinding of a builtin's name (except the
        # entry point's) or of an imported module, and builtins of its own.
        tns = {}
        for k, v in ns.items():
            if k in PRISTINE_BUILTINS and k != entry and after_imports.get(k, PRISTINE_BUILTINS[k]) is not v:
                continue
            was = after_imports.get(k)
            if _isinstance(was, types.ModuleType) and was is not v:
                v = was
            tns[k] = v
        tns["__builtins__"] = _dict(PRISTINE_BUILTINS)
        tns["__builtins__"]["__coderig_case__"] = _no_case  # the real hook is installed when the tests start
        guard.restore()
        before = _dict(tns)
        for part in job["prelude"]:
            if part:
                _exec(_compile(part, "<setup>", "exec"), tns)
        # What the setup defines is visible to the program too, as in one shared namespace.
        for k, v in tns.items():
            if k != "__builtins__" and before.get(k, ns) is not v:
                ns[k] = v
    except _MemoryError:
        _emit(nonce, ("prelude", "memory", _perf() - t0, "MemoryError", "", _cpu_all() - c0))
        _exit(0)
    except _BaseException as e:
        name, msg = _describe(e)
        _flush_stdio()
        _emit(nonce, ("prelude", "error", _perf() - t0, name, msg, _cpu_all() - c0))
        _exit(0)
    _flush_stdio()
    _emit(nonce, ("prelude", "ok", _perf() - t0, None, None, _cpu_all() - c0))
    codes = []
    for src in sources:
        try:
            codes.append((_compile(src, "<test>", "exec"), _equality(src)))
        except _BaseException as e:
            codes.append((e, None))
    _run_tests(nonce, first, codes, tns, guard)


# --------------------------------------------------------------------------- P: the warm parent
class Server:
    def __init__(self, cfg):
        self.uid = cfg["uid"]
        self.gid = cfg["gid"]
        self.own_pidns = cfg["own_pidns"]
        self.tmp = cfg["tmp"]
        self.counter = 0
        self.me = os.getpid()
        self.reaped = {}
        self.reaped_cpu = 0.0
        self.current_child = None
        # Inside our own PID namespace every process but us, the namespace's init and our ancestors is the sample's.
        self.not_sample = {1, self.me} | set(_ancestors(self.me))

    def sample_pids(self):
        """The sample's live processes."""
        if self.own_pidns:
            return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in self.not_sample]
        return _descendants(self.me)

    def sample_cpu(self):
        """CPU seconds used so far by all the sample's processes, children and reaped ones included."""
        total = self.reaped_cpu
        child = self.current_child
        for pid in self.sample_pids():
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            # fields[11:15]: utime, stime, cutime, cstime (clock ticks); the main process's own time exactly.
            try:
                waited = (int(fields[13]) + int(fields[14])) / CLK_TCK
                if pid == child:
                    total += time.clock_gettime(_cpu_clock(pid)) + waited
                else:
                    total += (int(fields[11]) + int(fields[12])) / CLK_TCK + waited
            except (OSError, ValueError, IndexError):
                pass
        return total

    def kill_others(self, child_pid):
        """Kill every process the sample left behind (daemons and grandchildren included).

        Bounded by time, not by rounds, in both layouts: on a loaded machine killed processes take a
        while to exit, and one left behind (a fork bomb's survivor) would go on eating the next samples'
        processes and CPU.
        """
        try:
            os.killpg(child_pid, signal.SIGKILL)
        except OSError:
            pass
        give_up = time.monotonic() + KILL_GRACE_S
        pause = 0.0002
        while True:
            self.reap()
            victims = self.leftovers()
            if not victims or time.monotonic() > give_up:
                return
            for p in victims:
                try:
                    os.killpg(p, signal.SIGKILL)  # a survivor's own group (it may have called setsid)
                except OSError:
                    pass
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def leftovers(self):
        """The sample's processes still alive (or not yet reaped)."""
        if self.own_pidns:
            # Inside our own PID namespace every process but us, the namespace's init and our ancestors is the sample's.
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, self.me)]
            return [p for p in pids if not _is_ancestor(p, self.me)]
        # Without one we are a child subreaper: what the sample left behind (daemons included) is
        # re-parented to us as its parent dies.
        return _children(self.me)

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
        # No namespace and no uid of our own (the locked-down container): the count is our uid's tasks
        # everywhere, so allow what runs now plus the sample's share. Unbounded, a fork bomb would fill
        # the container's pids limit, and then neither the scorer nor the other workers could fork.
        return job["limits"]["processes"] + _tasks_of_uid(os.getuid())

    def reap(self):
        """Collect every exited child (orphans are re-parented to us: we are a subreaper)."""
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reaped[pid] = status
            if pid != self.current_child:
                # An orphan of the sample (re-parented to us): its CPU time, with its waited-for children's.
                self.reaped_cpu += usage.ru_utime + usage.ru_stime

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
        self.cpu_used = 0.0  # CPU of the sample's earlier attempts (the sample's CPU budget covers them all)
        n = len(job["tests"])
        first = 0
        timeouts_left = job["max_timeouts"]
        extra = []
        killed = None
        status = 0
        while True:
            kind, current, status, wall = self.attempt(job, nonce, workdir, first, deadline, (out_w, err_w, res_w))
            if kind == "timeout":
                extra.append(wire.TestExit(current, wall, "timeout", 0))
                timeouts_left -= 1
            elif kind == "wall":
                extra.append(wire.TestExit(current, wall, "wall", 0))
                timeouts_left -= 1
            elif kind == "reporting":
                # The test's record is written (it wins over this entry); only its expected/actual report
                # overran, which is no timed-out test.
                extra.append(wire.TestExit(current, wall, "timeout", 0))
                kind = "crash_after_record"
            elif kind == "crash":
                how = ("signal", os.WTERMSIG(status)) if os.WIFSIGNALED(status) else ("exit", os.WEXITSTATUS(status))
                extra.append(wire.TestExit(current, wall, how[0], how[1]))
            elif kind in ("deadline", "prelude_deadline"):
                killed = kind
            resumable = kind in ("timeout", "wall", "crash", "crash_after_record")
            if resumable and current + 1 < n and timeouts_left > 0 and time.monotonic() < deadline:
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
                # Only records of the protocol's shapes go on (ProtocolError is a ValueError).
                records.append(wire.decode_record(ast.literal_eval(line[len(prefix):])))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
        exit_info = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"code": os.WEXITSTATUS(status)}
        return {
            "type": "done", "id": job["id"], "records": records + extra, "exit": exit_info, "killed": killed,
            "wall": time.monotonic() - t0,
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
        """One C from test first on; returns (kind, current test, wait status, wall of current test).

        Each phase (the loading, each test, each case a test announces) is held to its CPU limit,
        counted over all the sample's processes, and to a generous wall-clock limit for programs
        that sleep or block; the sample as a whole to its CPU budget and its wall deadline.
        """
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
        self.current_child = pid
        self.reaped_cpu = 0.0
        os.close(prog_w)
        pidfd = os.pidfd_open(pid)
        cpu_limits = job["test_timeouts"]
        wall_limits = job["test_walls"]
        n = len(cpu_limits)
        sample_cpu_budget = job["sample_cpu"]
        current = None  # None while loading (imports, candidate, setup)
        phase = TEST_START
        cpu_base = self.cpu_used
        cpu_start = 0.0
        cpu_limit, wall_limit = job["prelude_cpu"], job["prelude_wall"]
        last_own = 0.0
        cpu = 0.0
        pbuf = b""
        status = None
        kind = None
        fds = [prog_r, pidfd]
        while status is None:
            now = time.monotonic()
            cpu = self.sample_cpu()
            used = cpu - cpu_start
            if now >= deadline or cpu_base + cpu >= sample_cpu_budget:
                kind = "deadline"
            elif used > cpu_limit or now - started >= wall_limit:
                if current is None:
                    kind = "prelude_deadline"
                elif phase == REPORTING:
                    kind = "reporting"
                else:
                    kind = "timeout" if used > cpu_limit else "wall"
            if kind is not None:
                break
            # Sleep until the wall limit, but look at the CPU time again before the CPU limit can be
            # reached (one process cannot use more CPU than wall time).
            wait = min(deadline, started + wall_limit) - now
            wait = min(wait, max(0.005, min(0.05, cpu_limit - used, sample_cpu_budget - cpu_base - cpu)))
            r, _, _ = select.select([*self.open_fds, *fds], [], [], max(wait, 0.0))
            self.pump([fd for fd in r if fd in self.open_fds])
            if prog_r in r:
                data = os.read(prog_r, 65536)
                if not data:
                    fds.remove(prog_r)
                pbuf += data
                usable = len(pbuf) - len(pbuf) % _MSG.size
                if usable:
                    msgs = [_MSG.unpack_from(pbuf, k) for k in range(0, usable, _MSG.size)]
                    pbuf = pbuf[usable:]
                    # Where each phase began, in the sample's CPU time: the program reports its own CPU
                    # time at the boundary; what it used since then (by our clock) belongs to the new phase.
                    now_cpu = self.sample_cpu()
                    try:
                        own_now = time.clock_gettime(_cpu_clock(pid))
                    except OSError:
                        own_now = last_own
                    for index, case, when, own in msgs:
                        if not (first <= index <= n and (current is None or index >= current)):
                            continue
                        own = min(max(own, last_own), own_now)
                        last_own = own
                        if index != current or case != phase:
                            cpu_start = now_cpu - (own_now - own)
                            # The program's clock reading is trusted only if it is not in the future.
                            started = min(max(when, started), time.monotonic())
                        if index != current:
                            current = index
                        phase = case
                        if current >= n:
                            cpu_limit, wall_limit = sample_cpu_budget, deadline - started
                        elif case == REPORTING:
                            cpu_limit, wall_limit = job["report_cpu"], wall_limits[current]
                        else:
                            cpu_limit, wall_limit = cpu_limits[current], wall_limits[current]
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
        self.cpu_used = cpu_base + cpu
        self.current_child = None
        if kind is None:
            kind = "done" if current is None or current >= n else "crash"
        return kind, current if current is not None else first, status, wall


def _tasks_of_uid(uid):
    """Tasks (threads included: what RLIMIT_NPROC counts) whose real uid is uid, from /proc."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                real = threads = None
                for line in f:
                    if line.startswith("Uid:"):
                        real = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
        if real == uid:
            count += threads or 1
    return count


def _cpu_clock(pid):
    """The clock id of a process's CPU time (clock_getcpuclockid: CPUCLOCK_SCHED of the whole process)."""
    return ((~pid) << 3) | 2


def _descendants(me):
    """Every live descendant of ours (children of all our threads, recursively)."""
    out = []
    todo = [me]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except (OSError, ValueError):
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def _ancestors(me):
    """Our ancestors' pids (never the sample's)."""
    found = []
    cur = me
    for _ in range(64):
        try:
            with open(f"/proc/{cur}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if parent <= 0:
            break
        found.append(parent)
        if parent <= 1:
            break
        cur = parent
    return found


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
    cfg = wire.decode(wire.read_frame(proto_in))
    if cfg["type"] != "config":
        raise wire.ProtocolError(f"expected the server's config first, got a {cfg['type']!r} message")
    global _JAIL
    if cfg["landlock"] is not None:
        jail = {}
        exec(compile(cfg["landlock"]["source"], "<landlock>", "exec"), jail)
        _JAIL = (jail["restrict"], cfg["landlock"]["read"] + [p for p in sys.path if p], cfg["landlock"]["write"])
    net_unshared = False
    if cfg["unshare_net"] and libc is not None:
        net_unshared = libc.unshare(CLONE_NEWNET) == 0
    # Warm the modules programs and test preambles import most (an import in a sample would read
    # and execute them again for every program). Module state stays pristine: this process never
    # runs untrusted code, and each sample is a fresh fork (random re-seeds itself after a fork).
    # One thread per numerical library: a fork keeps only the forking thread, and a sample's CPU time
    # should be its own work.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:
            pass
    PRISTINE_BUILTINS.update(builtins.__dict__)
    snapshot_modules()
    server = Server(cfg)
    os.makedirs(server.tmp, exist_ok=True)
    wire.write_message(proto_out, {"type": "ready", "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0],
                                   "net_unshared": net_unshared, "landlock": _JAIL is not None})
    # Jobs until the host closes our stdin (it stops a worker by killing its sandbox).
    while True:
        try:
            frame = wire.read_frame(proto_in)
        except EOFError:
            return
        job_id = None
        try:
            job = wire.decode(frame)
            if job["type"] != "run":
                raise wire.ProtocolError(f"expected a job, got a {job['type']!r} message")
            job_id = job["id"]
            reply = server.run(job)
        except Exception as e:
            import traceback

            reply = {"type": "failed", "id": job_id, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-4000:]}
            try:
                server.reap()
                server.clean_tmp()
            except Exception:
                pass
        try:
            wire.write_message(proto_out, reply)
        except wire.ProtocolError as e:  # a reply of ours that the protocol does not define: a harness bug
            wire.write_message(proto_out, {"type": "failed", "id": job_id, "error": f"ProtocolError: {e}", "traceback": ""})


if __name__ == "__main__":
    try:
        main()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    sys.exit(0)

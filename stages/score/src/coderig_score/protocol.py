"""The wire protocol between the scorer (the host) and the fork server in the sandbox (``_server.py``).

Both ends use this very file: the host imports it as ``coderig_score.protocol``; the sandbox
interpreter, which has no coderig installed, gets its text next to the server's and loads it as the
module ``coderig_protocol`` (``jail.server_program``). So it imports the standard library only, and
nothing here may need a newer Python than the server does.

**Framing**: each message is a 4-byte big-endian length, then that many bytes of a UTF-8 JSON object
whose ``type`` names the message. ``encode`` checks a message against its definition before sending;
``decode`` checks what arrives and raises ``ProtocolError`` on anything else, so the two ends cannot
drift apart silently.

**Messages**, in the order they flow:

- host -> server, once: ``ServerConfig`` (uid, scratch directory, Landlock jail ...); the server answers
  ``Ready``.
- host -> server: ``RunJob`` (one program, its tests and limits), any number, queued in order; the server
  answers each with ``JobDone`` or ``JobFailed`` (the harness failed), carrying the job's ``id``.

**Records** (``JobDone.records``) are what happened to a sample, in order: the harness in the sample's
own process writes ``CompileRecord``, ``PreludeRecord``, ``TestRecord`` and ``ActualRecord`` on its
result channel as ``<nonce> <repr(tuple)>`` lines (the tuple is the record's kind, then its fields in
order; the harness builds plain tuples because it may call nothing that untrusted code could have
patched); the server adds a ``TestExit`` when a test's process ended before its record. On the wire a
record is the list ``[kind, *fields]``; decoded, it is one of the NamedTuples below.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any, Literal, NamedTuple, TypedDict, Union, cast

#: The length prefix of every frame.
HEADER = struct.Struct(">I")
#: Name under which the sandbox interpreter registers this module (it is not installed there).
SANDBOX_MODULE = "coderig_protocol"


class ProtocolError(ValueError):
    """A message or record that is not one this protocol defines (unknown type, missing or mistyped field)."""


# --------------------------------------------------------------------------- records (sample -> server -> host)
class CompileRecord(NamedTuple):
    """The candidate code does not compile under the sandbox interpreter."""

    exception_type: str
    message: str
    line: int | None


class PreludeRecord(NamedTuple):
    """How loading went: test imports, candidate code, setup and preamble."""

    status: str  # one of PRELUDE_STATUSES
    duration_s: float
    exception_type: str | None
    message: str | None
    cpu_s: float


class TestRecord(NamedTuple):
    """One test finished in the harness: its status, times and the exception it raised."""

    test_index: int
    status: str  # one of TEST_STATUSES
    duration_s: float
    exception_type: str | None
    message: str | None
    cpu_s: float
    slowest_case_cpu_s: float  # the CPU time of the test's slowest announced case (the test's own when none)


class ActualRecord(NamedTuple):
    """A failed ``assert a == b`` test's compared values, as reprs: expected (b) and actual (a)."""

    test_index: int
    expected: str
    actual: str


class TestExit(NamedTuple):
    """The server's note that a test's process ended before the test's record was written."""

    test_index: int
    wall_s: float
    how: str  # one of EXIT_KINDS
    value: int  # the signal number (how == "signal"), the exit status (how == "exit"), else 0


Record = Union[CompileRecord, PreludeRecord, TestRecord, ActualRecord, TestExit]  # noqa: UP007 (also run by older interpreters)

PRELUDE_STATUSES = ("ok", "error", "memory")
TEST_STATUSES = ("passed", "failed", "error", "memory")
#: timeout: over its CPU limit; wall: over its wall-clock limit; signal: died from one; exit: exited early.
EXIT_KINDS = ("timeout", "wall", "signal", "exit")
#: Why the server stopped a sample as a whole (``JobDone.killed``).
KILL_REASONS = ("deadline", "prelude_deadline")

RECORD_KINDS: dict[str, type[Any]] = {
    "compile": CompileRecord, "prelude": PreludeRecord, "test": TestRecord, "actual": ActualRecord, "texit": TestExit,
}
_KIND_OF = {cls: kind for kind, cls in RECORD_KINDS.items()}


# --------------------------------------------------------------------------- messages
class Landlock(TypedDict):
    """How each sample jails itself where bubblewrap is not used (``isolation.jail_config``)."""

    source: str  # the text of _landlock.py, executed by the server
    read: list[str]
    write: list[str]


class ServerConfig(TypedDict):
    """host -> server, first: how this worker runs samples."""

    type: Literal["config"]
    uid: int | None  # the uid (and gid) samples drop to (a root scorer), else None
    gid: int | None
    own_pidns: bool  # bubblewrap gave the server a PID namespace of its own
    tmp: str  # where each sample's working directory is made
    unshare_net: bool  # unshare a network namespace (root without bubblewrap)
    landlock: Landlock | None


class Ready(TypedDict):
    """server -> host, once: the server is warm and waits for jobs."""

    type: Literal["ready"]
    pid: int
    uid: int
    python: str
    net_unshared: bool
    landlock: bool


class JobLimits(TypedDict):
    """rlimits of a sample's processes."""

    memory_bytes: int
    file_bytes: int
    open_files: int
    processes: int


class RunJob(TypedDict):
    """host -> server: run one program against its tests. Times are seconds (CPU, or wall where named so)."""

    type: Literal["run"]
    id: int  # set by the worker as it sends the job; replies carry it
    code: str
    entry_point: str | None
    imports: list[str]
    prelude: list[str]
    tests: list[str]
    test_timeouts: list[float]  # CPU per test (per case for a test that announces cases)
    test_walls: list[float]
    max_timeouts: int
    prelude_cpu: float
    prelude_wall: float
    report_cpu: float  # CPU for writing a failed test's compared values
    sample_cpu: float  # the sample's CPU budget
    deadline: float  # the sample's wall-clock bound
    output_cap: int  # bytes of stdout and of stderr kept
    limits: JobLimits


class ExitInfo(TypedDict, total=False):
    """How the sample's last process ended: by a signal, or with an exit code."""

    signal: int
    code: int


class JobDone(TypedDict):
    """server -> host: what happened to one job's program."""

    type: Literal["done"]
    id: int
    records: list[Record]
    exit: ExitInfo
    killed: str | None  # one of KILL_REASONS, or None
    wall: float
    stdout: str
    stderr: str
    stdout_dropped: int
    stderr_dropped: int


class JobFailed(TypedDict):
    """server -> host: the harness itself failed on a job (never the program's fault)."""

    type: Literal["failed"]
    id: int | None
    error: str
    traceback: str


Message = Union[ServerConfig, Ready, RunJob, JobDone, JobFailed]  # noqa: UP007


# --------------------------------------------------------------------------- the definitions the checks use
# A field's spec: a type (int, float, str, bool), None, a tuple of alternatives, [spec] for a list,
# a dict for a nested object (key -> spec; _Optional(spec) when the key may be absent), or RECORD.
class _Optional(NamedTuple):
    spec: Any


class _RecordSpec:
    pass


RECORD = _RecordSpec()
_LIMITS = {"memory_bytes": int, "file_bytes": int, "open_files": int, "processes": int}
_LANDLOCK = {"source": str, "read": [str], "write": [str]}

MESSAGES: dict[str, dict[str, Any]] = {
    "config": {"uid": (int, None), "gid": (int, None), "own_pidns": bool, "tmp": str, "unshare_net": bool,
               "landlock": (_LANDLOCK, None)},
    "ready": {"pid": int, "uid": int, "python": str, "net_unshared": bool, "landlock": bool},
    "run": {"id": int, "code": str, "entry_point": (str, None), "imports": [str], "prelude": [str], "tests": [str],
            "test_timeouts": [float], "test_walls": [float], "max_timeouts": int, "prelude_cpu": float,
            "prelude_wall": float, "report_cpu": float, "sample_cpu": float, "deadline": float, "output_cap": int,
            "limits": _LIMITS},
    "done": {"id": int, "records": [RECORD], "exit": {"signal": _Optional(int), "code": _Optional(int)},
             "killed": (None, *KILL_REASONS), "wall": float, "stdout": str, "stderr": str, "stdout_dropped": int,
             "stderr_dropped": int},
    "failed": {"id": (int, None), "error": str, "traceback": str},
}
#: Each message type's TypedDict (for readers; the checks use MESSAGES).
MESSAGE_TYPES: dict[str, type[Any]] = {"config": ServerConfig, "ready": Ready, "run": RunJob, "done": JobDone, "failed": JobFailed}

RECORDS: dict[type[Any], tuple[Any, ...]] = {
    CompileRecord: (str, str, (int, None)),
    PreludeRecord: (PRELUDE_STATUSES, float, (str, None), (str, None), float),
    TestRecord: (int, TEST_STATUSES, float, (str, None), (str, None), float, float),
    ActualRecord: (int, str, str),
    TestExit: (int, float, EXIT_KINDS, int),
}


def _convert(value: Any, spec: Any, where: str, outgoing: bool) -> Any:
    """value checked against spec (records decoded, or encoded when outgoing); ProtocolError if it does not fit."""
    if spec is None:
        if value is None:
            return None
    elif isinstance(spec, str):  # a literal (the members of a tuple of allowed strings)
        if value == spec:
            return value
    elif spec is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif spec is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif spec is str or spec is bool:
        if isinstance(value, spec):
            return value
    elif isinstance(spec, tuple):
        for alternative in spec:
            try:
                return _convert(value, alternative, where, outgoing)
            except ProtocolError:
                continue
    elif isinstance(spec, list):
        if isinstance(value, list):
            return [_convert(v, spec[0], f"{where}[{i}]", outgoing) for i, v in enumerate(value)]
    elif isinstance(spec, dict):
        if isinstance(value, dict):
            return _convert_object(value, spec, where, outgoing)
    elif spec is RECORD:
        return encode_record(value) if outgoing else decode_record(value)
    raise ProtocolError(f"{where}: {_short(value)} is not {_describe(spec)}")


def _convert_object(value: dict[str, Any], spec: dict[str, Any], where: str, outgoing: bool) -> dict[str, Any]:
    unknown = sorted(set(value) - set(spec))
    if unknown:
        raise ProtocolError(f"{where}: unknown field {unknown[0]!r}")
    out: dict[str, Any] = {}
    for key, field in spec.items():
        if isinstance(field, _Optional):
            if key in value:
                out[key] = _convert(value[key], field.spec, f"{where}.{key}", outgoing)
        elif key not in value:
            raise ProtocolError(f"{where}: missing field {key!r}")
        else:
            out[key] = _convert(value[key], field, f"{where}.{key}", outgoing)
    return out


def _describe(spec: Any) -> str:
    if spec is None:
        return "null"
    if isinstance(spec, str):
        return repr(spec)
    if isinstance(spec, type):
        return spec.__name__
    if isinstance(spec, tuple):
        return " or ".join(_describe(s) for s in spec)
    if isinstance(spec, list):
        return f"a list of {_describe(spec[0])}"
    if spec is RECORD:
        return "a record"
    return "an object"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def decode_record(value: Any) -> Record:
    """A record from its wire form ``[kind, *fields]`` (a list, or the tuple the harness wrote); a record is checked."""
    if type(value) in _KIND_OF:
        value = [_KIND_OF[type(value)], *value]
    if not isinstance(value, (list, tuple)) or not value or not isinstance(value[0], str):
        raise ProtocolError(f"record {_short(value)}: not a [kind, fields...] sequence")
    cls = RECORD_KINDS.get(value[0])
    if cls is None:
        raise ProtocolError(f"record {_short(value)}: unknown kind {value[0]!r}")
    specs = RECORDS[cls]
    if len(value) != 1 + len(specs):
        raise ProtocolError(f"record {_short(value)}: {value[0]} has {len(specs)} fields, got {len(value) - 1}")
    # (no zip(strict=): the sandbox interpreter may predate it; the lengths are equal here)
    fields = [_convert(value[1 + i], spec, f"{value[0]}.{cls._fields[i]}", False) for i, spec in enumerate(specs)]
    record: Record = cls(*fields)
    return record


def encode_record(record: Record) -> list[Any]:
    """A record's wire form: its kind, then its fields in order."""
    kind = _KIND_OF.get(type(record))
    if kind is None:
        raise ProtocolError(f"{_short(record)} is not a record")
    fields = [_convert(record[i], spec, f"{kind}.{record._fields[i]}", True) for i, spec in enumerate(RECORDS[type(record)])]
    return [kind, *fields]


def check(message: Any, *, outgoing: bool = False) -> Message:
    """The message, checked against its type's definition (records decoded; encoded when outgoing)."""
    if not isinstance(message, dict):
        raise ProtocolError(f"a message must be a JSON object, got {_short(message)}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGES:
        raise ProtocolError(f"unknown message type {kind!r} (known: {', '.join(MESSAGES)})")
    body = {k: v for k, v in message.items() if k != "type"}
    return cast(Message, {"type": kind, **_convert_object(body, MESSAGES[kind], kind, outgoing)})


def encode(message: Message) -> bytes:
    """One frame: the checked message as length-prefixed JSON."""
    data = json.dumps(check(message, outgoing=True)).encode()
    return HEADER.pack(len(data)) + data


def decode(payload: bytes | bytearray) -> Message:
    """A message from a frame's JSON payload (the bytes after the length prefix)."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f"a frame is not JSON ({e})") from None
    return check(obj)


def read_frame(fd: int) -> bytes:
    """The payload of the next frame on a blocking descriptor; EOFError at the end of the stream."""
    (n,) = HEADER.unpack(_read_exact(fd, HEADER.size))
    return _read_exact(fd, n)


def write_message(fd: int, message: Message) -> None:
    """Encode a message and write all of it to a blocking descriptor."""
    data = encode(message)
    while data:
        data = data[os.write(fd, data):]


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf

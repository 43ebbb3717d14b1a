"""The wire protocol between the scorer and the fork server, on its own (no sandbox, no subprocess)."""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from coderig_score import jail, protocol
from coderig_score.protocol import ActualRecord, CompileRecord, PreludeRecord, ProtocolError
from coderig_score.protocol import TestExit as ExitRecord  # (not Test*: pytest would collect them)
from coderig_score.protocol import TestRecord as TRecord

SERVER = Path(jail.__file__).with_name("_server.py")

LANDLOCK = {"source": "def restrict(r, w): pass", "read": ["/usr"], "write": []}
MESSAGES: dict[str, dict[str, Any]] = {
    "config": {"type": "config", "uid": 1000064, "gid": 1000064, "own_pidns": True, "tmp": "/tmp", "unshare_net": False,
               "landlock": LANDLOCK},
    "ready": {"type": "ready", "pid": 2, "uid": 0, "python": "3.11.2", "net_unshared": False, "landlock": False},
    "run": {"type": "run", "id": 7, "code": "def f(x):\n    return x\n", "entry_point": "f", "imports": [],
            "prelude": ["", "candidate = f"], "tests": ["assert f(1) == 1"], "test_timeouts": [0.5], "test_walls": [30.0],
            "max_timeouts": 1, "prelude_cpu": 0.5, "prelude_wall": 30.0, "report_cpu": 1.0, "sample_cpu": 1.5,
            "deadline": 60.0, "output_cap": 65536,
            "limits": {"memory_bytes": 2 << 30, "file_bytes": 16 << 20, "open_files": 256, "processes": 32}},
    "done": {"type": "done", "id": 7, "exit": {"code": 0}, "killed": None, "wall": 0.25, "stdout": "hi\n", "stderr": "",
             "stdout_dropped": 0, "stderr_dropped": 0,
             "records": [PreludeRecord("ok", 0.01, None, None, 0.01),
                         TRecord(0, "failed", 0.002, "AssertionError", "", 0.002, 0.002),
                         ActualRecord(0, "1", "5"), ExitRecord(1, 0.6, "timeout", 0)]},
    "failed": {"type": "failed", "id": None, "error": "OSError: fork failed", "traceback": "..."},
}


def roundtrip(message: Any) -> Any:
    frame = protocol.encode(message)
    (n,) = protocol.HEADER.unpack(frame[:protocol.HEADER.size])
    assert n == len(frame) - protocol.HEADER.size
    return protocol.decode(frame[protocol.HEADER.size:])


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_every_message_survives_a_round_trip(kind: str) -> None:
    assert roundtrip(MESSAGES[kind]) == MESSAGES[kind]


def test_records_come_back_as_named_records() -> None:
    done = roundtrip(MESSAGES["done"])
    [prelude, test, actual, texit] = done["records"]
    assert isinstance(test, TRecord) and (test.test_index, test.status, test.exception_type) == (0, "failed", "AssertionError")
    assert isinstance(prelude, PreludeRecord) and prelude.status == "ok"
    assert isinstance(actual, ActualRecord) and (actual.expected, actual.actual) == ("1", "5")
    assert isinstance(texit, ExitRecord) and (texit.how, texit.wall_s) == ("timeout", 0.6)


def test_a_record_as_the_harness_writes_it_decodes() -> None:
    # The harness writes tuples (repr'd on the result channel); the server reads them with literal_eval.
    line = repr(("test", 3, "passed", 0.5, None, None, 1, 0.25))
    rec = protocol.decode_record(ast.literal_eval(line))
    assert rec == TRecord(3, "passed", 0.5, None, None, 1.0, 0.25) and isinstance(rec.cpu_s, float)
    compiled = protocol.decode_record(["compile", "SyntaxError", "invalid syntax", None])
    assert compiled == CompileRecord("SyntaxError", "invalid syntax", None)
    assert protocol.encode_record(rec) == ["test", 3, "passed", 0.5, None, None, 1.0, 0.25]


def broken(kind: str, **change: Any) -> dict[str, Any]:
    msg = dict(MESSAGES[kind])
    for key, value in change.items():
        if value is KeyError:
            del msg[key]
        else:
            msg[key] = value
    return msg


@pytest.mark.parametrize(("message", "error"), [
    ({"type": "exit"}, "unknown message type 'exit'"),
    ({"id": 1}, "unknown message type None"),
    (["run"], "must be a JSON object"),
    (broken("run", code=KeyError), "run: missing field 'code'"),
    (broken("run", op="run"), "run: unknown field 'op'"),
    (broken("run", id=True), r"run.id: True is not int"),
    (broken("run", test_timeouts=["1"]), r"run.test_timeouts\[0\]: '1' is not float"),
    (broken("run", limits={"memory_bytes": 1, "file_bytes": 1, "open_files": 1}), "run.limits: missing field 'processes'"),
    (broken("config", landlock={"source": "", "read": "/usr", "write": []}), "config.landlock"),
    (broken("done", killed="forgot"), r"done.killed: 'forgot' is not null or 'deadline' or 'prelude_deadline'"),
    (broken("done", exit={"code": 0, "status": 1}), "done.exit: unknown field 'status'"),
    (broken("done", records=[["texit", 0, 0.1, "forkfail", 11]]), r"texit.how: 'forkfail' is not 'timeout' or 'wall'"),
    (broken("done", records=[["test", 0, "passed", 0.1, None, None]]), "test has 7 fields, got 5"),
    (broken("done", records=[["verdict", "passed"]]), "unknown kind 'verdict'"),
    (broken("done", records=[[]]), "not a \\[kind, fields...\\] sequence"),
    (broken("done", records=[["test", 0, "ok", 0.1, None, None, 0.1, 0.1]]), "test.status: 'ok' is not 'passed'"),
])
def test_malformed_messages_are_rejected(message: Any, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        protocol.check(message)
    # and the same on the wire
    if isinstance(message, dict) and "records" in message:
        message = {**message, "records": [r if isinstance(r, list) else protocol.encode_record(r) for r in message["records"]]}
    with pytest.raises(ProtocolError, match=error):
        protocol.decode(json.dumps(message).encode())


def test_a_bad_message_is_never_sent() -> None:
    with pytest.raises(ProtocolError, match="run: missing field 'tests'"):
        protocol.encode(broken("run", tests=KeyError))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="is not a record"):
        protocol.encode_record(("test", 0))  # type: ignore[arg-type]


def test_a_frame_that_is_not_json_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        protocol.decode(b"{'type': 'run'")


def test_frames_read_back_to_back_then_end_of_stream() -> None:
    r, w = os.pipe()
    try:
        protocol.write_message(w, MESSAGES["ready"])  # type: ignore[arg-type]
        protocol.write_message(w, MESSAGES["failed"])  # type: ignore[arg-type]
        os.close(w)
        assert protocol.decode(protocol.read_frame(r)) == MESSAGES["ready"]
        assert protocol.decode(protocol.read_frame(r)) == MESSAGES["failed"]
        with pytest.raises(EOFError):
            protocol.read_frame(r)
    finally:
        os.close(r)


def test_the_typed_messages_and_the_checked_definitions_agree() -> None:
    for kind, cls in protocol.MESSAGE_TYPES.items():
        assert set(cls.__annotations__) == {"type", *protocol.MESSAGES[kind]}, kind
    for cls, specs in protocol.RECORDS.items():
        assert len(cls._fields) == len(specs), cls


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{path.name}: relative import"
            names.add(node.module.split(".")[0])
    return names


def test_the_protocol_module_runs_without_coderig() -> None:
    # The sandbox interpreter loads protocol.py from its text, with the standard library only.
    assert _imports(Path(protocol.__file__)) <= set(sys.stdlib_module_names) | {"__future__"}
    assert protocol.SANDBOX_MODULE in _imports(SERVER)
    program = jail.server_program()
    assert repr(jail.PROTOCOL_SOURCE) in program and repr(jail.SERVER_SOURCE) in program  # both texts travel verbatim
    assert f"sys.modules[{protocol.SANDBOX_MODULE!r}]" in program


def test_every_record_the_server_writes_is_one_the_protocol_defines() -> None:
    """The harness's record tuples and the server's TestExits match the definitions, and none is dead."""
    tree = ast.parse(SERVER.read_text())
    emitted: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_emit":
            rec = node.args[1]
            assert isinstance(rec, ast.Tuple) and isinstance(rec.elts[0], ast.Constant), ast.unparse(node)
            kind = rec.elts[0].value
            assert kind in protocol.RECORD_KINDS, kind
            assert len(rec.elts) - 1 == len(protocol.RECORD_KINDS[kind]._fields), ast.unparse(node)
            emitted.add(kind)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "wire.TestExit":
            assert len(node.args) == len(ExitRecord._fields), ast.unparse(node)
            emitted.add("texit")
    assert emitted == set(protocol.RECORD_KINDS)
    constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    # Every status, exit kind and kill reason the host understands is one the server produces.
    for values in (protocol.TEST_STATUSES, protocol.PRELUDE_STATUSES, protocol.EXIT_KINDS, protocol.KILL_REASONS):
        assert set(values) <= constants, set(values) - constants

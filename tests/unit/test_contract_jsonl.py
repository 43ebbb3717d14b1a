"""The one JSON-lines reader (coderig_schemas.io): every stage's JSONL input goes through it, and every
problem is reported as 'file:line: problem'."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from coderig_schemas import InvalidInputError
from coderig_schemas.io import iter_jsonl_objects, parse_json_document


def test_objects_with_their_lines_blank_lines_skipped_and_gzip_read(tmp_path: Path) -> None:
    rows = [{"a": "one\u2028two\x85three"}, {"b": 2}]  # separators JSON strings may hold unescaped: not line breaks
    text = json.dumps(rows[0], ensure_ascii=False) + "\r\n\n  \n" + json.dumps(rows[1]) + "\n"
    plain = tmp_path / "x.jsonl"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "x.jsonl.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        got = list(iter_jsonl_objects(path))
        assert [r.obj for r in got] == rows
        assert [r.where for r in got] == [f"{path}:1", f"{path}:4"]


@pytest.mark.parametrize(("content", "needle"), [
    (b'{"a": 1}\n{"a": \n', "bad.jsonl:2: not JSON"),
    (b'{"a": 1}\n[1, 2]\n', "bad.jsonl:2: a JSON list, not an object"),
    (b'"text"\n', "bad.jsonl:1: a JSON string, not an object"),
    (b'{"a": 1}\n{"a": "\xff"}\n', "bad.jsonl:2: not JSON"),  # not UTF-8
])
def test_a_bad_line_names_file_and_line(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as e:
        list(iter_jsonl_objects(path))
    assert e.value.message.startswith(str(path)) and needle in e.value.message


def test_missing_and_damaged_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="file not found"):
        list(iter_jsonl_objects(tmp_path / "none.jsonl", missing_hint="check --replay-file"))
    damaged = tmp_path / "d.jsonl.gz"
    damaged.write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:30])
    with pytest.raises(InvalidInputError, match="cannot read"):
        list(iter_jsonl_objects(damaged))


def test_a_json_document_error_is_at_its_line() -> None:
    assert parse_json_document('{"a": [1,\n 2]}', "m.json") == {"a": [1, 2]}
    with pytest.raises(InvalidInputError, match=r"^m\.json:3: not JSON"):
        parse_json_document('{\n"a": 1,\n"b" 2}', "m.json")

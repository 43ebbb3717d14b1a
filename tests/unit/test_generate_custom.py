"""The custom dataset format: valid files load, each bad line names file:line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coderig_generate.datasets import load_problems
from coderig_schemas import Difficulty, DifficultySource, InvalidInputError, UsageError, Visibility

GOOD: list[dict[str, Any]] = [
    {"problem_id": "adv/1", "prompt": "Return the n-th Fibonacci number.", "entry_point": "fib",
     "reference_solution": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
     "tests": ["assert fib(0) == 0", {"code": "assert fib(10) == 55", "visibility": "visible"}], "difficulty": "hard",
     "tags": ["math"], "date": "2025-01-01"},
    {"problem_id": "adv/2", "prompt": "Reverse a string.", "entry_point": "rev", "reference_solution": "def rev(s):\n    return s[::-1]\n",
     "test": "def check(candidate):\n    assert candidate('ab') == 'ba'\n    assert candidate('') == ''\n"},
]


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_custom_file_loads(tmp_path: Path) -> None:
    problems = load_problems("custom", source=_write(tmp_path / "adv.jsonl", GOOD))
    a, b = problems
    assert [t.visibility for t in a.tests] == [Visibility.HIDDEN, Visibility.VISIBLE]
    assert a.tests[1].input_repr == "fib(10)" and a.tests[1].expected_repr == "55"
    assert (a.difficulty, a.difficulty_source) == (Difficulty.HARD, DifficultySource.DATASET)
    assert len(b.tests) == 2 and b.test_preamble.strip().endswith("candidate = rev")
    # problems without a difficulty get the derived rule; the labelled one keeps its own
    assert b.difficulty_source == DifficultySource.DERIVED


def test_custom_env_var(tmp_path: Path) -> None:
    f = _write(tmp_path / "adv.jsonl", GOOD)
    assert len(load_problems("custom", env={"CODERIG_DATA_CUSTOM": str(f)})) == 2


@pytest.mark.parametrize(("bad", "needle"), [
    ({"problem_id": "x", "prompt": "p"}, ":2: <record>: Value error, give exactly one of 'tests'"),
    ({"problem_id": "x", "prompt": "p", "tests": []}, ":2: <record>: Value error, 'tests' is empty"),
    ({"problem_id": "x", "prompt": "p", "tests": ["assert 1"], "difficulty": "brutal"}, ":2: difficulty:"),
    ({"problem_id": "x", "prompt": "p", "tests": ["assert 1"], "colour": "red"}, ":2: colour: Extra inputs"),
    ({"problem_id": "x", "prompt": "p", "test": "def check(c):\n    assert c(1)\n"}, "needs 'entry_point'"),
    ({"problem_id": "x", "prompt": "p", "entry_point": "f", "test": "x = 1\n"}, ":2: test: test code has no 'def check"),
    ({"problem_id": "adv/1", "prompt": "p", "tests": ["assert 1"]}, ":2: problem_id: 'adv/1' repeats"),
    ("{not json", ":2: not JSON"),
    ({"problem_id": "x", "prompt": "p", "tests": [{"code": "assert 1", "visibility": "secret"}]},
     ":2: tests.0.visibility: Input should be 'visible' or 'hidden'"),  # as docs/generate.md shows
    ({"problem_id": "x", "prompt": "p", "tests": ["assert 1", 7]}, ":2: tests.1: Input should be a valid dictionary"),
])
def test_bad_custom_line_names_file_and_line(tmp_path: Path, bad: Any, needle: str) -> None:
    f = _write(tmp_path / "adv.jsonl", [GOOD[0], bad])
    with pytest.raises(InvalidInputError) as e:
        load_problems("custom", source=f)
    assert e.value.message.startswith(f"{f}:2") and needle in e.value.message


def test_custom_splits(tmp_path: Path) -> None:
    rows = [{**GOOD[0], "split": "dev"}, GOOD[1]]
    f = _write(tmp_path / "adv.jsonl", rows)
    assert [p.split for p in load_problems("custom", source=f)] == ["dev", "test"]
    assert [p.problem_id for p in load_problems("custom", source=f, split="dev")] == ["adv/1"]
    with pytest.raises(UsageError, match="no problem of 'custom' is in split 'train'"):
        load_problems("custom", source=f, split="train")


def test_unicode_line_separators_inside_strings_are_not_line_breaks(tmp_path: Path) -> None:
    # ensure_ascii=False leaves U+2028/U+2029/U+0085 unescaped; they are legal inside JSON strings
    rows = [{"problem_id": "u1", "prompt": "one\u2028two\u2029three\x85four", "tests": ["assert 1"]},
            {"problem_id": "u2", "prompt": "p", "tests": ["assert 2"]}]
    f = tmp_path / "u.jsonl"
    f.write_text("\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    problems = load_problems("custom", source=f)
    assert [p.problem_id for p in problems] == ["u1", "u2"]
    assert problems[0].prompt == "one\u2028two\u2029three\x85four"
    f.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n{bad\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"u\.jsonl:2: not JSON"):
        load_problems("custom", source=f)

"""Difficulty where the dataset has none: a documented deterministic rule, or a user's mapping file."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from pathlib import Path

from coderig_schemas import Difficulty, DifficultySource, InvalidInputError, Problem
from coderig_schemas.io import parse_json_document

#: Name recorded in Problem.difficulty_rule for the derived rule.
DERIVED_RULE = "ast_node_tercile_v1"


def ast_size(code: str | None) -> int:
    """Number of AST nodes of a program (0 when absent or unparsable)."""
    if not code:
        return 0
    try:
        return sum(1 for _ in ast.walk(ast.parse(code)))
    except SyntaxError:
        return 0


def _natural_key(problem_id: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", problem_id))


def derive_difficulty(problems: list[Problem]) -> list[Problem]:
    """Terciles of reference-solution AST node count over the given problems (the whole dataset).

    Problems sorted by (node count, problem id in natural order); the first third (rounded down)
    is easy, the next third medium, the rest hard. Problems that already carry a difficulty keep it.
    """
    todo = [p for p in problems if p.difficulty is None]
    ranked = sorted(todo, key=lambda p: (ast_size(p.reference_solution), _natural_key(p.problem_id)))
    third = len(ranked) // 3
    level: dict[str, Difficulty] = {}
    for i, p in enumerate(ranked):
        level[p.problem_id] = Difficulty.EASY if i < third else Difficulty.MEDIUM if i < 2 * third else Difficulty.HARD
    return [
        p.model_copy(update={"difficulty": level[p.problem_id], "difficulty_source": DifficultySource.DERIVED,
                             "difficulty_rule": DERIVED_RULE})
        if p.problem_id in level else p
        for p in problems
    ]


def _level(path: Path, line: int, pid: str, value: object) -> Difficulty:
    text = str(value).strip().lower() if value is not None else ""
    try:
        return Difficulty(text)
    except ValueError:
        raise InvalidInputError(
            f"{path}:{line}: {pid}: difficulty {value!r} is not easy, medium or hard", hint="fix the mapping file"
        ) from None


def read_mapping(path: Path) -> dict[str, Difficulty]:
    """problem_id -> difficulty from a JSON object or a CSV with columns problem_id,difficulty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"{path}: cannot read difficulty mapping: {e}", hint="check --difficulty-map") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        obj = parse_json_document(text, path, hint="fix the mapping file")
        if not isinstance(obj, dict):
            raise InvalidInputError(f"{path}:1: expected a JSON object problem_id -> difficulty", hint="fix the mapping file")
        lines = text.splitlines()
        out = {}
        for pid, value in obj.items():
            line = next((i for i, ln in enumerate(lines, start=1) if json.dumps(pid) in ln), 1)
            out[str(pid)] = _level(path, line, str(pid), value)
        return out
    reader = csv.reader(io.StringIO(text))
    out = {}
    for line, row in enumerate(reader, start=1):
        if not row or not "".join(row).strip():
            continue
        if line == 1 and [c.strip().lower() for c in row[:2]] == ["problem_id", "difficulty"]:
            continue
        if len(row) != 2:
            raise InvalidInputError(f"{path}:{line}: expected 2 columns problem_id,difficulty, got {len(row)}", hint="fix the mapping file")
        pid = row[0].strip()
        if pid in out:
            raise InvalidInputError(f"{path}:{line}: {pid}: listed twice", hint="fix the mapping file")
        out[pid] = _level(path, line, pid, row[1])
    return out


def apply_mapping(problems: list[Problem], path: Path) -> tuple[list[Problem], int]:
    """Override difficulties from a mapping file; returns (problems, how many mapping ids matched no problem)."""
    mapping = read_mapping(path)
    rule = f"mapping:{path.name}"
    out = [
        p.model_copy(update={"difficulty": mapping[p.problem_id], "difficulty_source": DifficultySource.MAPPING, "difficulty_rule": rule})
        if p.problem_id in mapping else p
        for p in problems
    ]
    known = {p.problem_id for p in problems}
    return out, sum(1 for pid in mapping if pid not in known)

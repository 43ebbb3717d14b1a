"""Math normalizers: one raw row of MATH-500, GSM8K, AIME 2024/2025 or AMC 2023 -> a math ``Problem``.

Every math problem has one check (test_id ``answer``) and a :class:`~coderig_schemas.MathGrading` with the
gold answer; the score stage extracts the model's final answer and compares it. ``reference_solution``
is a response that must pass (``MODEL=reference`` replays it): MATH-500's worked ``solution`` (it ends in
``\\boxed{}``), GSM8K's worked answer (``... #### 72``, read by the last-number rule), and for AIME and AMC,
which ship no usable solution, ``The final answer is $\\boxed{gold}$.``.

Both the copies in ``../shared/data/math`` (see its README) and the hub's copies load: the field names
that differ between them are accepted alike (``problem`` or ``question``).
"""

from __future__ import annotations

import re
from typing import Any

from coderig_schemas import (
    AnswerExtraction,
    AnswerFormat,
    Difficulty,
    DifficultySource,
    InvalidInputError,
    Problem,
    TaskType,
    TestCase,
    Visibility,
)
from coderig_schemas.tasks import MATH_CHECK_ID

from .loaders import _need, _problem
from .sources import RawRecord

#: MATH's level 1-5 -> difficulty, recorded as Problem.difficulty_rule. Levels 1-2 easy, 3-4 medium, 5 hard:
#: on MATH-500 that is 133 / 233 / 134 problems, the closest split into thirds the levels allow.
MATH_LEVEL_RULE = "math_level_v1: 1-2 easy, 3-4 medium, 5 hard"
_LEVELS = {1: Difficulty.EASY, 2: Difficulty.EASY, 3: Difficulty.MEDIUM, 4: Difficulty.MEDIUM, 5: Difficulty.HARD}

_GSM8K_FINAL = re.compile(r"####\s*(\S.*?)\s*$", re.DOTALL)


def _text(rec: RawRecord, *keys: str) -> str:
    """The first of keys present as a non-empty string (copies name the statement 'problem' or 'question')."""
    for key in keys:
        value = rec.row.get(key)
        if isinstance(value, str) and value.strip():
            return value
    raise InvalidInputError(f"{rec.where}: {keys[0]}: field missing or empty", hint="is this the right file for the dataset?")


def _math_problem(rec: RawRecord, *, dataset: str, split: str, problem_id: str, prompt: str, answer: str,
                  answer_format: AnswerFormat, extraction: AnswerExtraction, reference: str, **fields: Any) -> Problem:
    return _problem(
        rec, dataset=dataset, split=split, problem_id=problem_id, prompt=prompt, task_type=TaskType.MATH,
        reference_solution=reference,
        tests=[TestCase(test_id=MATH_CHECK_ID, code="", visibility=Visibility.HIDDEN, expected_repr=answer)],
        grading={"kind": "math", "answer": answer, "answer_format": answer_format, "extraction": extraction},
        **fields,
    )


def boxed_reference(answer: str) -> str:
    """A response that states answer the way the default prompt asks for it."""
    return f"The final answer is $\\boxed{{{answer}}}$."


# -- MATH-500 ------------------------------------------------------------------------------------
def math500(rec: RawRecord, split: str) -> Problem:
    """MATH-500: LaTeX gold answer; level 1-5 -> difficulty (MATH_LEVEL_RULE); subject kept as tag and in source."""
    unique_id = _need(rec, "unique_id")
    level = rec.row.get("level")
    if isinstance(level, str) and level.removeprefix("Level ").isdigit():  # MATH's original files say "Level 3"
        level = int(level.removeprefix("Level "))
    if not isinstance(level, int) or isinstance(level, bool) or level not in _LEVELS:
        raise InvalidInputError(f"{rec.where}: level: {rec.row.get('level')!r} is not 1-5", hint="fix the record")
    subject = _need(rec, "subject")
    pid = unique_id.removeprefix("test/").removesuffix(".json")
    return _math_problem(
        rec, dataset="math500", split=split, problem_id=f"math500/{pid}", prompt=_need(rec, "problem"),
        answer=_need(rec, "answer"), answer_format=AnswerFormat.LATEX, extraction=AnswerExtraction.BOXED,
        reference=_need(rec, "solution"), difficulty=_LEVELS[level], difficulty_source=DifficultySource.DERIVED,
        difficulty_rule=MATH_LEVEL_RULE, tags=[subject],
        source={"task_id": unique_id, "subject": subject, "level": level},
    )


# -- GSM8K ---------------------------------------------------------------------------------------
def gsm8k_final_answer(answer: str) -> str | None:
    """The gold number after '#### ' at the end of a GSM8K answer (as written: '1,450,000', '-3')."""
    m = _GSM8K_FINAL.search(answer)
    return m.group(1) if m else None


_POSITION = re.compile(r"(?::(\d+)| row (\d+))$")


def row_position(rec: RawRecord) -> int:
    """0-based position of a row in its source: line - 1 of a JSONL file, the row index of a hub split.

    GSM8K has no ids; its position is its id (the same for the JSONL file and the hub, which hold the
    same rows in the same order).
    """
    m = _POSITION.search(rec.where)
    if m is None:
        raise InvalidInputError(f"{rec.where}: cannot tell the row's position", hint="read GSM8K from a JSONL file or the hub")
    return int(m.group(1)) - 1 if m.group(1) else int(m.group(2))


def gsm8k(rec: RawRecord, split: str) -> Problem:
    """GSM8K: the gold is the number after '####'; the worked answer is the reference (read by the last-number rule)."""
    worked = _need(rec, "answer")
    gold = gsm8k_final_answer(worked)
    if gold is None:
        raise InvalidInputError(f"{rec.where}: answer: no '#### <number>' at its end", hint="is this GSM8K's test file?")
    number = row_position(rec)
    return _math_problem(
        rec, dataset="gsm8k", split=split, problem_id=f"gsm8k/{number}", prompt=_need(rec, "question"),
        answer=gold, answer_format=AnswerFormat.NUMBER, extraction=AnswerExtraction.LAST_NUMBER,
        reference=worked, source={"task_id": number},
    )


# -- AIME / AMC ----------------------------------------------------------------------------------
_URL_EXAM = re.compile(r"(\d{4})_(AIME_I+|AMC_\d+[AB]?)_Problems/Problem_(\d+)")


def _integer_text(value: Any, rec: RawRecord, key: str) -> str:
    """An integer-valued answer as text; AMC's floats (27.0) lose the '.0', AIME's '025' keeps its zeros."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{rec.where}: {key}: expected a number, got a boolean", hint="fix the record")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidInputError(f"{rec.where}: {key}: {value} is not an integer", hint="fix the record")
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise InvalidInputError(f"{rec.where}: {key}: field missing or empty", hint="is this the right file for the dataset?")


def _competition(rec: RawRecord, split: str, dataset: str, exams: int) -> Problem:
    answer = _integer_text(rec.row.get("answer"), rec, "answer")
    raw_id = rec.row.get("id")
    if raw_id is None or isinstance(raw_id, bool):
        raise InvalidInputError(f"{rec.where}: id: field missing", hint="is this the right file for the dataset?")
    source: dict[str, str | int | float | bool | None] = {"task_id": raw_id if isinstance(raw_id, int) else str(raw_id)}
    url = rec.row.get("url")
    if isinstance(url, str):
        source["url"] = url
        m = _URL_EXAM.search(url)
        if m:
            source["exam"], source["number"] = f"{m.group(1)} {m.group(2).replace('_', ' ')}", int(m.group(3))
    elif exams == 2 and str(raw_id).isdigit():
        # AIME 2025's copy has no url: rows 0-14 are exam I problems 1-15, rows 15-29 exam II (its README)
        row = int(str(raw_id))
        source["exam"], source["number"] = f"2025 AIME {'I' if row < 15 else 'II'}", row % 15 + 1
    return _math_problem(
        rec, dataset=dataset, split=split, problem_id=f"{dataset}/{raw_id}", prompt=_text(rec, "problem", "question"),
        answer=answer, answer_format=AnswerFormat.NUMBER, extraction=AnswerExtraction.BOXED,
        reference=boxed_reference(answer), source=source,
    )


def aime24(rec: RawRecord, split: str) -> Problem:
    """AIME 2024 (I and II): integer answers 0-999, sometimes zero-padded ('025', kept as given)."""
    return _competition(rec, split, "aime24", 0)


def aime25(rec: RawRecord, split: str) -> Problem:
    """AIME 2025 (I and II): integer answers; exam and problem number derived from the row id."""
    return _competition(rec, split, "aime25", 2)


def amc23(rec: RawRecord, split: str) -> Problem:
    """AMC 12 2023 (40 problems with numeric answers; the options are not part of the data)."""
    return _competition(rec, split, "amc23", 0)

"""The ``custom`` dataset: a JSONL file of the user's own problems (format in docs/generate.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from coderig_schemas import Difficulty, DifficultySource, InvalidInputError, Problem, TestCase, Visibility

from .sources import RawRecord
from .testsplit import SplitError, assert_case, split_check


class CustomTest(BaseModel):
    """One test of a custom problem."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, description="Statements that raise when the check fails.")
    visibility: Literal["visible", "hidden"] = "hidden"
    test_id: str | None = None
    input_repr: str | None = None
    expected_repr: str | None = None


class CustomRecord(BaseModel):
    """One line of a custom dataset file."""

    model_config = ConfigDict(extra="forbid")

    problem_id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    entry_point: str | None = None
    reference_solution: str | None = None
    tests: list[CustomTest] | None = None
    test: str | None = None
    setup_code: str = ""
    test_imports: list[str] = Field(default_factory=list)
    test_preamble: str = ""
    difficulty: Literal["easy", "medium", "hard"] | None = None
    tags: list[str] = Field(default_factory=list)
    date: str | None = None
    split: str = "test"
    source: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    @field_validator("tests", mode="before")
    @classmethod
    def _strings_are_hidden_tests(cls, v: object) -> object:
        # "assert ..." is short for {"code": "assert ..."}: one model, so errors name the field
        # ('tests.0.visibility'), not a union member ('tests.0.str')
        return [{"code": t} if isinstance(t, str) else t for t in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _one_test_form(self) -> CustomRecord:
        if (self.tests is None) == (self.test is None):
            raise ValueError("give exactly one of 'tests' (a list) or 'test' (a check(candidate) function)")
        if self.tests is not None and not self.tests:
            raise ValueError("'tests' is empty")
        if self.test is not None and not self.entry_point:
            raise ValueError("'test' (a check(candidate) function) needs 'entry_point'")
        return self


def custom(rec: RawRecord, split: str) -> Problem:
    """Validate and normalize one custom record."""
    try:
        r = CustomRecord.model_validate(rec.row)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "<record>"
        raise InvalidInputError(f"{rec.where}: {loc}: {first['msg']}", hint="see the custom format in docs/generate.md") from None
    preamble = r.test_preamble
    tests: list[TestCase] = []
    if r.test is not None:
        try:
            split_pre, tests = split_check(r.test, r.entry_point or "", Visibility.HIDDEN)
        except SplitError as e:
            raise InvalidInputError(f"{rec.where}: test: {e}", hint="see the custom format in docs/generate.md") from None
        preamble = (preamble + "\n" if preamble else "") + split_pre
    else:
        for i, t in enumerate(r.tests or []):
            derived = assert_case(t.test_id or f"t{i}", t.code, Visibility(t.visibility))
            tests.append(derived.model_copy(update={
                "input_repr": t.input_repr if t.input_repr is not None else derived.input_repr,
                "expected_repr": t.expected_repr if t.expected_repr is not None else derived.expected_repr,
            }))
        if len({t.test_id for t in tests}) != len(tests):
            raise InvalidInputError(f"{rec.where}: tests: test_id values repeat", hint="give each test a distinct test_id")
    return Problem(
        dataset="custom", split=r.split, problem_id=r.problem_id, prompt=r.prompt, entry_point=r.entry_point,
        reference_solution=r.reference_solution, setup_code=r.setup_code, test_imports=r.test_imports,
        test_preamble=preamble, tests=tests,
        difficulty=Difficulty(r.difficulty) if r.difficulty else None,
        difficulty_source=DifficultySource.DATASET if r.difficulty else DifficultySource.NONE,
        tags=r.tags, date=r.date, source=r.source,
    )

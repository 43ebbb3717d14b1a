"""The normalized benchmark problem: what generate snapshots and every later stage reads."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ._base import Record, upgrade_record
from .tasks import Grading, TaskType, expected_checks, task_type_rules

#: Version 2 added ``task_type`` and ``grading``; a version 1 record reads as a code problem.


class Difficulty(StrEnum):
    """Difficulty bucket of a problem."""

    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class DifficultySource(StrEnum):
    """Where a problem's difficulty came from."""

    DATASET = "dataset"  # the dataset labels it (LeetCode's Easy/Medium/Hard)
    DERIVED = "derived"  # computed by a named, deterministic rule
    MAPPING = "mapping"  # taken from a user-supplied mapping file
    NONE = "none"  # unknown


class Visibility(StrEnum):
    """Whether a test case is shown to the model in the prompt."""

    VISIBLE = "visible"
    HIDDEN = "hidden"


class TestCase(Record):
    """One separately runnable check of a problem.

    For a code problem, the scorer runs, in one fresh namespace: each of ``Problem.test_imports``,
    then the candidate code, then ``Problem.setup_code``, then ``Problem.test_preamble``, then
    ``code`` of one test case. The test passes when ``code`` finishes without raising. For the other
    task types a check names what ``Problem.grading`` checks and its ``code`` is empty.
    """

    __test__ = False  # not a pytest test class

    test_id: str = Field(description="Identifier of the test, unique within its problem (e.g. 't0').")
    code: str = Field(
        description="Python statements that raise (usually AssertionError) when the check fails; "
        "empty for non-code task types (their grader reads Problem.grading)."
    )
    visibility: Visibility = Field(strict=False, description="visible: shown in the prompt; hidden: not shown to the model.")
    input_repr: str | None = Field(
        default=None, description="Human-readable call or input of the check, where the loader knows it."
    )
    expected_repr: str | None = Field(
        default=None, description="Human-readable expected result of the check, where the loader knows it."
    )


class Problem(Record):
    """A benchmark problem normalized from any dataset (HumanEval, MBPP, LeetCode, MATH, custom...).

    Code problems: execution order of one test case, in one fresh namespace: ``test_imports`` (each
    item), the candidate code, ``setup_code``, ``test_preamble``, then the test case's ``code``.
    ``reference_solution`` passes every test in that order (it is also complete on its own).

    Other task types (see :mod:`coderig_schemas.tasks`): ``grading`` holds what the grader needs,
    ``tests`` one entry per check (empty ``code``), ``reference_solution`` a response that passes
    (e.g. a worked solution ending in ``\\boxed{gold}``), and the code-only fields stay empty.

    Reading a version 1 record yields this model with ``task_type="code"`` and no ``grading``.
    """

    # The schema file states the task_type/grading rule too (all but the check counts of IFEval and
    # function calling, which JSON Schema cannot compare with another list's length).
    model_config = ConfigDict(json_schema_extra={"allOf": [
        *task_type_rules(("grading",), required_with_kind="grading"),
        {"if": {"properties": {"task_type": {"const": TaskType.MATH.value}}, "required": ["task_type"]},
         "then": {"properties": {"tests": {"maxItems": 1}}}},
    ]})

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    task_type: TaskType = Field(
        strict=False, default=TaskType.CODE, description="What the problem asks for, which decides how it is graded."
    )
    grading: Grading | None = Field(
        default=None, description="What the grader of a non-code task type needs (gold answer, instructions, "
        "possible calls), discriminated by 'kind' equal to task_type; null for code."
    )
    dataset: str = Field(description="Dataset name in coderig's registry, e.g. 'humaneval', 'mbpp', 'leetcode'.")
    split: str = Field(description="Split of the dataset the problem belongs to, e.g. 'test'.")
    problem_id: str = Field(description="Identifier unique within the dataset, e.g. 'HumanEval/0' or 'mbpp/11'.")
    prompt: str = Field(description="The problem as the dataset states it (description, signature, docstring).")
    entry_point: str | None = Field(default=None, description="Name of the function the tests call, if any.")
    reference_solution: str | None = Field(
        default=None, description="A complete program that passes the tests (the dataset's canonical solution)."
    )
    setup_code: str = Field(default="", description="Code run after the candidate and before the test preamble.")
    test_imports: list[str] = Field(
        default_factory=list,
        description="Code run first, before the candidate: import statements (sanitized MBPP) or the dataset's "
        "preamble of imports and helper classes that solutions may use (LeetCode's ListNode, TreeNode).",
    )
    test_preamble: str = Field(
        default="", description="Code run once before each test case (helpers, 'candidate = entry_point')."
    )
    tests: list[TestCase] = Field(min_length=1, description="The separately runnable checks, in dataset order.")
    difficulty: Difficulty | None = Field(strict=False, default=None, description="easy, medium or hard; null when unknown.")
    difficulty_source: DifficultySource = Field(strict=False,
        default=DifficultySource.NONE, description="Where the difficulty came from."
    )
    difficulty_rule: str | None = Field(
        default=None, description="Name of the rule or mapping file that produced the difficulty, if not the dataset."
    )
    tags: list[str] = Field(default_factory=list, description="Topic tags (e.g. LeetCode's 'Array', 'Dynamic Programming').")
    date: str | None = Field(default=None, description="Publication or estimated date of the problem (ISO 8601), if known.")
    source: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Dataset-specific metadata kept verbatim (original task id, URL, file)."
    )

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: frozenset({"task_type", "grading"})})

    @model_validator(mode="after")
    def _grading_matches_task_type(self) -> Problem:
        # Not expressible in JSON Schema (the schema file is unchanged by it): a math problem
        # without a gold answer, or with two checks, could not be scored consistently.
        if self.task_type == TaskType.CODE:
            if self.grading is not None:
                raise ValueError(f"grading is for non-code problems; task_type is 'code' but grading.kind is {self.grading.kind!r}")
            return self
        if self.grading is None:
            raise ValueError(f"task_type {self.task_type.value!r} needs grading (its grader's data)")
        if self.grading.kind != self.task_type.value:
            raise ValueError(f"grading.kind {self.grading.kind!r} does not match task_type {self.task_type.value!r}")
        want = expected_checks(self.grading)
        if want is not None and len(self.tests) != want:
            raise ValueError(f"a {self.task_type.value} problem has one check per graded item: want {want} tests, "
                             f"got {len(self.tests)}")
        return self

    def tests_by_visibility(self, visibility: Visibility) -> list[TestCase]:
        """Return the test cases with the given visibility, in order."""
        return [t for t in self.tests if t.visibility == visibility]


_V2_PREFIX, _V1_PREFIX = '{"schema_version":2,', '{"schema_version":1,'


def stable_json(problem: Problem) -> str:
    """The compact JSON of a problem as hashes into run keys should see it.

    A code problem is written in its version 1 form (no ``task_type``, no ``grading``, version 1): the
    bytes version 1 wrote, so outputs published before task types existed keep their keys, and a re-run
    of an unchanged code configuration stays a no-op. Other task types are their current JSON.
    """
    if problem.task_type != TaskType.CODE:
        return problem.model_dump_json()
    text = problem.model_dump_json(exclude={"task_type", "grading"})
    if not text.startswith(_V2_PREFIX):  # schema_version is the first field: a reordering would change every key
        raise AssertionError("Problem.schema_version must stay the first field")
    return _V1_PREFIX + text[len(_V2_PREFIX):]

"""The normalized benchmark problem: what generate snapshots and every later stage reads."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from ._base import Record

PROBLEM_SCHEMA_VERSION = 1


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

    The scorer runs, in one fresh namespace: each of ``Problem.test_imports``, then the candidate
    code, then ``Problem.setup_code``, then ``Problem.test_preamble``, then ``code`` of one test
    case. The test passes when ``code`` finishes without raising.
    """

    __test__ = False  # not a pytest test class

    test_id: str = Field(description="Identifier of the test, unique within its problem (e.g. 't0').")
    code: str = Field(description="Python statements that raise (usually AssertionError) when the check fails.")
    visibility: Visibility = Field(strict=False, description="visible: shown in the prompt; hidden: not shown to the model.")
    input_repr: str | None = Field(
        default=None, description="Human-readable call or input of the check, where the loader knows it."
    )
    expected_repr: str | None = Field(
        default=None, description="Human-readable expected result of the check, where the loader knows it."
    )


class Problem(Record):
    """A benchmark problem normalized from any dataset (HumanEval, MBPP, LeetCode, custom).

    Execution order of one test case, in one fresh namespace: ``test_imports`` (each item), the
    candidate code, ``setup_code``, ``test_preamble``, then the test case's ``code``.
    ``reference_solution`` passes every test in that order (it is also complete on its own).
    """

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
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

    def tests_by_visibility(self, visibility: Visibility) -> list[TestCase]:
        """Return the test cases with the given visibility, in order."""
        return [t for t in self.tests if t.visibility == visibility]

"""The scorer's verdict on one sample, and reference timings."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from ._base import Record
from .problem import Difficulty, Visibility

SCORE_SCHEMA_VERSION = 1


class Verdict(StrEnum):
    """Outcome of one sample. Only ``passed`` counts as a success."""

    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"  # a test's assertion failed
    RUNTIME_ERROR = "runtime_error"  # an exception other than AssertionError
    SYNTAX_ERROR = "syntax_error"  # the code does not compile
    TIMEOUT = "timeout"  # wall or CPU time limit hit
    MEMORY_EXCEEDED = "memory_exceeded"  # address-space limit hit (MemoryError or killed)
    NO_CODE = "no_code"  # extraction found nothing
    TRUNCATED_GENERATION = "truncated_generation"  # finish_reason 'length' and not passing
    SANDBOX_ERROR = "sandbox_error"  # the harness failed (after a retry): not the model's fault


class TestStatus(StrEnum):
    """Outcome of one test case."""

    __test__ = False

    PASSED = "passed"
    FAILED = "failed"  # AssertionError
    ERROR = "error"  # another exception
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    NOT_RUN = "not_run"  # an earlier stage (compile, setup) failed, or the sample's time cap ran out
    SANDBOX_ERROR = "sandbox_error"


class TestOutcome(Record):
    """Result of one test case of one sample."""

    __test__ = False

    test_id: str = Field(description="TestCase.test_id.")
    visibility: Visibility = Field(strict=False, description="Visibility of the test case.")
    status: TestStatus = Field(strict=False, description="What happened.")
    duration_s: float = Field(ge=0, description="Wall seconds spent in this test case.")
    exception_type: str | None = Field(default=None, description="Exception class name when it raised.")
    error_message: str | None = Field(default=None, description="Last traceback line or assertion message.")
    expected: str | None = Field(default=None, description="Expected value (repr), where known.")
    actual: str | None = Field(default=None, description="Actual value (repr), where it could be computed.")


class ScoreResult(Record):
    """The verdict on one sample, with per-test detail."""

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
    sample_id: str = Field(description="Sample.sample_id scored.")
    problem_id: str = Field(description="Problem.problem_id.")
    dataset: str = Field(description="Dataset of the problem.")
    split: str = Field(description="Split of the problem.")
    sample_index: int = Field(ge=0, description="Sample.sample_index.")
    seed: int | None = Field(description="Sample.seed.")
    model_name: str = Field(description="Sample.model_name.")
    verdict: Verdict = Field(strict=False, description="Overall outcome.")
    passed: bool = Field(description="True exactly when verdict is 'passed'.")
    exception_type: str | None = Field(default=None, description="Exception class of the first failure, if any.")
    error_message: str | None = Field(default=None, description="Message of the first failure (last traceback line).")
    failing_test_id: str | None = Field(default=None, description="First failing test case, if any.")
    tests_passed: int = Field(ge=0, description="Test cases passed (visible and hidden).")
    tests_total: int = Field(ge=0, description="Test cases run or due (visible and hidden).")
    visible_passed: int = Field(ge=0, description="Visible test cases passed.")
    visible_total: int = Field(ge=0, description="Visible test cases.")
    hidden_passed: int = Field(ge=0, description="Hidden test cases passed.")
    hidden_total: int = Field(ge=0, description="Hidden test cases.")
    tests: list[TestOutcome] = Field(default_factory=list, description="Per-test outcomes in problem order.")
    difficulty: Difficulty | None = Field(strict=False, default=None, description="Problem difficulty, copied for analysis.")
    duration_s: float = Field(ge=0, description="Wall seconds spent scoring the sample.")
    stdout: str = Field(default="", description="Captured standard output, capped and marked when truncated.")
    stderr: str = Field(default="", description="Captured standard error, capped and marked when truncated.")
    attempts: int = Field(default=1, ge=1, description="Sandbox attempts (a sandbox error is retried once).")

    @model_validator(mode="after")
    def _counts_agree(self) -> ScoreResult:
        # Not expressible in JSON Schema, so the schema file is unchanged: a record that says
        # passed with a failing verdict, or more passes than tests, would skew every rate downstream.
        if self.passed != (self.verdict == Verdict.PASSED):
            raise ValueError(f"passed={self.passed} contradicts verdict {self.verdict.value!r}")
        for part, got, of in (("tests", self.tests_passed, self.tests_total),
                              ("visible", self.visible_passed, self.visible_total),
                              ("hidden", self.hidden_passed, self.hidden_total)):
            if got > of:
                raise ValueError(f"{part}_passed={got} exceeds {part}_total={of}")
        if self.visible_total + self.hidden_total != self.tests_total:
            raise ValueError(f"visible_total + hidden_total = {self.visible_total + self.hidden_total}, "
                             f"tests_total = {self.tests_total}")
        if self.visible_passed + self.hidden_passed != self.tests_passed:
            raise ValueError(f"visible_passed + hidden_passed = {self.visible_passed + self.hidden_passed}, "
                             f"tests_passed = {self.tests_passed}")
        return self


class ReferenceTiming(Record):
    """Measured run time of a problem's reference solution, per test, on one machine."""

    schema_version: Literal[1, 2] = Field(
        default=2, description="Version of this record's shape (2 added clock and case_durations_s; 1 is read as wall time)."
    )
    problem_id: str = Field(description="Problem.problem_id.")
    dataset: str = Field(description="Dataset of the problem.")
    problem_sha256: str = Field(
        default="", description="sha256 of the problem's canonical JSON: timings apply only to this exact problem."
    )
    verdict: Verdict = Field(strict=False, description="Verdict of the reference solution itself.")
    clock: Literal["wall", "cpu"] = Field(
        default="wall",
        description="What the durations count: CPU seconds of all the reference's processes (v2), or wall seconds (v1).",
    )
    setup_duration_s: float = Field(
        default=0.0, ge=0, description="Seconds (see clock) of the reference, setup code, test imports and preamble (run once)."
    )
    test_durations_s: dict[str, float] = Field(description="test_id -> measured seconds (see clock).")
    case_durations_s: dict[str, float] = Field(
        default_factory=dict,
        description="test_id -> seconds (see clock) of the slowest case of a test that announces cases (HumanEval+ inputs).",
    )
    failing_test_id: str | None = Field(default=None, description="First failing test of the reference, if it failed.")
    error_message: str | None = Field(default=None, description="Why the reference failed (last traceback line), if it did.")
    machine: str = Field(description="Host fingerprint the timings were measured on (CPU model, cores).")

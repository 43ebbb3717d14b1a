"""The scorer's verdict on one sample, and reference timings."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ._base import Record, upgrade_record
from .problem import Difficulty, Visibility
from .tasks import TaskType, task_type_rules

#: Version 2 added task_type, answer, loose_passed, loose_tests_passed, TestOutcome.loose_status and the
#: verdict 'no_answer'; a version 1 record reads as the result of a code sample.


class Verdict(StrEnum):
    """Outcome of one sample. Only ``passed`` counts as a success.

    Non-code task types use the same verdicts: ``wrong_answer`` (math: an answer was found and is not
    equivalent to the gold one; IFEval: an instruction is not followed; function calling: a call
    does not match), ``no_answer`` (nothing gradable in the response), ``truncated_generation``, and
    ``sandbox_error`` for a grader that failed or hung twice (excluded, never the model's fault).
    """

    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"  # a test's assertion failed, or a non-code check failed
    RUNTIME_ERROR = "runtime_error"  # an exception other than AssertionError
    SYNTAX_ERROR = "syntax_error"  # the code does not compile
    TIMEOUT = "timeout"  # wall or CPU time limit hit
    MEMORY_EXCEEDED = "memory_exceeded"  # address-space limit hit (MemoryError or killed)
    NO_CODE = "no_code"  # extraction found nothing (code task types)
    NO_ANSWER = "no_answer"  # non-code task types: no final answer / no parseable call in the response
    TRUNCATED_GENERATION = "truncated_generation"  # finish_reason 'length' (or cut inside <think>) and not passing
    SANDBOX_ERROR = "sandbox_error"  # the sandbox or the answer grader failed (after a retry): not the model's fault


class AnswerMethod(StrEnum):
    """How the grader took the model's answer out of its response (non-code task types)."""

    BOXED = "boxed"  # the last \boxed{...}
    FINAL_ANSWER_PHRASE = "final_answer_phrase"  # an explicit "the final answer is ..." phrase
    LAST_NUMBER = "last_number"  # the last number of the response (GSM8K's convention)
    JSON = "json"  # function calling: calls decoded from JSON
    PYTHON_CALL = "python_call"  # function calling: calls decoded from Python call syntax, e.g. [f(a=1)]
    NONE = "none"  # nothing extractable (verdict no_answer, or truncated_generation)


class ExtractedAnswer(Record):
    """The answer a grader judged, next to the gold one: why a math or function-calling sample passed or not."""

    extracted: str | None = Field(description="The answer taken from the response (calls as JSON); null when none was found.")
    method: AnswerMethod = Field(strict=False, description="How it was taken from the response.")
    gold: str = Field(description="The gold answer it was compared with (Problem.grading's answer, or the possible calls as JSON).")


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
    loose_status: TestStatus | None = Field(
        strict=False, default=None,
        description="instruction_following: the check's outcome on IFEval's loose variants of the response; null otherwise.",
    )


class ScoreResult(Record):
    """The verdict on one sample, with per-test detail.

    Every task type has this one shape: a math sample has one check, an IFEval sample one per
    instruction, a function-calling sample one per expected call, so ``tests_passed/tests_total``,
    verdicts and pass@k mean the same as for code. Reading a version 1 record yields this model
    with ``task_type="code"``.
    """

    model_config = ConfigDict(json_schema_extra={"allOf": [*task_type_rules(
        ("answer", "loose_passed", "loose_tests_passed"),
        only_for={"loose_passed": ("instruction_following",), "loose_tests_passed": ("instruction_following",)},
    )]})

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    task_type: TaskType = Field(strict=False, default=TaskType.CODE, description="Problem.task_type, copied for analysis.")
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
    attempts: int = Field(default=1, ge=1, description="Sandbox (or grader) attempts (a sandbox error is retried once).")
    answer: ExtractedAnswer | None = Field(
        default=None, description="math and function_calling: the extracted answer, how it was extracted, and the gold one."
    )
    loose_passed: bool | None = Field(
        default=None,
        description="instruction_following: every instruction followed under IFEval's loose variants "
        "(prompt-level loose accuracy); null for other task types.",
    )
    loose_tests_passed: int | None = Field(
        default=None, ge=0,
        description="instruction_following: instructions followed under the loose variants (instruction-level loose).",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: frozenset({"task_type", "answer", "loose_passed", "loose_tests_passed"})})

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
        if self.loose_tests_passed is not None and self.loose_tests_passed > self.tests_total:
            raise ValueError(f"loose_tests_passed={self.loose_tests_passed} exceeds tests_total={self.tests_total}")
        if self.task_type != TaskType.INSTRUCTION_FOLLOWING and (self.loose_passed is not None or self.loose_tests_passed is not None):
            raise ValueError(f"loose_passed and loose_tests_passed are for instruction_following, not {self.task_type.value}")
        if self.task_type == TaskType.CODE and self.answer is not None:
            raise ValueError("answer is for non-code task types; task_type is 'code'")
        return self


class ReferenceTiming(Record):
    """Measured run time of a problem's reference solution, per test, on one machine.

    Version 2 measures CPU seconds (``clock``), records per-input times (``case_durations_s``) and follows
    the Verdict enum (which gained 'no_answer'); version 1 records read as wall-clock timings.
    """

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
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

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: frozenset({"clock", "case_durations_s"})})

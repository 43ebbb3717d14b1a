"""Task types and the data each non-code grader needs: part of the Problem contract.

A problem is one of four task types. ``code`` problems are graded by running ``Problem.tests`` in the
sandbox, as before. The other three carry a ``grading`` record (a union discriminated on ``kind``)
holding what their grader needs; their ``Problem.tests`` still lists one entry per check, so the
number of checks (``tests_total``) is known before scoring, but a check's ``code`` is empty:

============================  ==========================================  ==================================
task type                     grading record                              checks (``Problem.tests``)
============================  ==========================================  ==================================
``code``                      none                                        the dataset's test cases
``math``                      :class:`MathGrading` (gold answer)          one, test_id ``answer``
``instruction_following``     :class:`InstructionFollowingGrading`        one per instruction, ``i0``, ``i1``...
``function_calling``          :class:`FunctionCallingGrading`             one per expected call, ``c0``, ``c1``...
============================  ==========================================  ==================================

Every check of a non-code problem is ``hidden`` (the model never sees how it is checked).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, JsonValue, model_validator

from ._base import Record


class TaskType(StrEnum):
    """What kind of answer a problem asks for, which decides how it is graded."""

    CODE = "code"  # a program, run against test cases in the sandbox
    MATH = "math"  # a final answer, compared with the gold answer for mathematical equivalence
    INSTRUCTION_FOLLOWING = "instruction_following"  # a text checked against verifiable instructions (IFEval)
    FUNCTION_CALLING = "function_calling"  # tool calls checked against the possible answers (BFCL AST)


#: Name of the headline metric per task type. Every one of them is computed the same way, as the
#: share of samples whose verdict is ``passed`` (pass@1 averaged over problems); only the name that
#: reports and exports print differs, so that a number reads as its community expects.
PRIMARY_METRIC: dict[TaskType, str] = {
    TaskType.CODE: "pass@1",
    TaskType.MATH: "accuracy",
    TaskType.INSTRUCTION_FOLLOWING: "prompt_level_strict_accuracy",
    TaskType.FUNCTION_CALLING: "accuracy",
}

#: test_id of a math problem's one check.
MATH_CHECK_ID = "answer"


def instruction_check_id(index: int) -> str:
    """test_id of an IFEval problem's check of instruction ``index`` (ids may repeat, so by position)."""
    return f"i{index}"


def call_check_id(index: int) -> str:
    """test_id of a function-calling problem's check of expected call ``index``."""
    return f"c{index}"


class AnswerFormat(StrEnum):
    """How the gold answer of a math problem is written."""

    LATEX = "latex"  # a LaTeX expression (MATH): parse it wrapped in $...$, or tuples are misread
    NUMBER = "number"  # a plain number, possibly with thousands separators or leading zeros (GSM8K, AIME, AMC)


class AnswerExtraction(StrEnum):
    """Where the grader looks for the model's final answer in its response (after any <think> block)."""

    BOXED = "boxed"  # the last \\boxed{...}; else an explicit "final answer is ..." phrase
    LAST_NUMBER = "last_number"  # as boxed, then the last number of the response (GSM8K's convention)


class MathGrading(Record):
    """What the math grader needs: the gold answer and how to read it."""

    kind: Literal["math"] = Field(description="Discriminator: this record grades a math problem.")
    answer: str = Field(min_length=1, description="The gold final answer as the dataset gives it (LaTeX or a number).")
    answer_format: AnswerFormat = Field(strict=False, description="How the gold answer is written.")
    extraction: AnswerExtraction = Field(
        strict=False, default=AnswerExtraction.BOXED, description="Where to find the model's final answer."
    )


class InstructionFollowingGrading(Record):
    """What the IFEval grader needs: the verifiable instructions and their arguments, in order."""

    kind: Literal["instruction_following"] = Field(
        description="Discriminator: this record grades an instruction-following problem."
    )
    instruction_id_list: list[str] = Field(
        min_length=1, description="IFEval instruction ids, e.g. 'punctuation:no_comma'; one check per entry, in order."
    )
    kwargs: list[dict[str, JsonValue]] = Field(
        description="Arguments of each instruction (same length and order as instruction_id_list); "
        "null-valued keys of the hub copy are dropped by the loader."
    )

    @model_validator(mode="after")
    def _paired(self) -> InstructionFollowingGrading:
        if len(self.kwargs) != len(self.instruction_id_list):
            raise ValueError(f"kwargs has {len(self.kwargs)} entries, instruction_id_list {len(self.instruction_id_list)}")
        return self


class FunctionCallCategory(StrEnum):
    """BFCL's AST categories: how the expected calls are matched."""

    SIMPLE = "simple"  # one function offered, one call expected
    MULTIPLE = "multiple"  # several functions offered, one call expected
    PARALLEL = "parallel"  # one function, several calls expected, in any order
    PARALLEL_MULTIPLE = "parallel_multiple"  # several functions, several calls, in any order


#: One expected call of BFCL's possible answers: exactly one {function_name: {param: [accepted values]}}.
ExpectedCall = Annotated[dict[str, dict[str, list[JsonValue]]], Field(min_length=1, max_length=1)]


class FunctionCallingGrading(Record):
    """What the BFCL AST grader needs: the tools offered and the possible answers."""

    kind: Literal["function_calling"] = Field(
        description="Discriminator: this record grades a function-calling problem."
    )
    functions: list[dict[str, JsonValue]] = Field(
        min_length=1, description="Tool definitions offered to the model, as the dataset gives them "
        "({name, description, parameters}; BFCL's Gorilla type names kept)."
    )
    possible_answers: list[ExpectedCall] = Field(
        min_length=1, description="One entry per expected call: {function_name: {param: [accepted values]}}; "
        "'' among the values means the parameter may be omitted."
    )
    category: FunctionCallCategory = Field(strict=False, description="How calls are matched (simple, multiple, parallel...).")


#: The grader data of a non-code problem, told apart by ``kind``.
Grading = Annotated[
    MathGrading | InstructionFollowingGrading | FunctionCallingGrading, Field(discriminator="kind")
]


def task_type_rules(
    null_for_code: tuple[str, ...], only_for: dict[str, tuple[str, ...]] | None = None,
    required_with_kind: str | None = None,
) -> list[dict[str, JsonValue]]:
    """JSON Schema ``if/then`` rules tying fields to ``task_type``, so the schema files say what the
    models' validators enforce (a missing task_type means code, as in the models).

    ``null_for_code``: fields that must be null or absent for code. ``only_for``: field -> the task
    types that may set it. ``required_with_kind``: a field required for non-code task types, whose
    ``kind`` must equal the task type.
    """
    def is_type(values: list[str]) -> dict[str, JsonValue]:
        return {"properties": {"task_type": {"enum": list(values)}}, "required": ["task_type"]}

    null: dict[str, JsonValue] = {"type": "null"}
    code_or_absent: dict[str, JsonValue] = {"properties": {"task_type": {"const": TaskType.CODE.value}}}
    rules: list[dict[str, JsonValue]] = [
        {"if": code_or_absent, "then": {"properties": {f: null for f in null_for_code}}},
    ]
    for field, allowed in (only_for or {}).items():
        others = [t.value for t in TaskType if t.value not in allowed and t != TaskType.CODE]
        if others:
            rules.append({"if": is_type(others), "then": {"properties": {field: null}}})
    if required_with_kind:
        for t in TaskType:
            if t != TaskType.CODE:
                kind: dict[str, JsonValue] = {"type": "object", "required": ["kind"],
                                              "properties": {"kind": {"const": t.value}}}
                rules.append({"if": is_type([t.value]), "then": {"required": [required_with_kind],
                                                                 "properties": {required_with_kind: kind}}})
    return rules


def expected_checks(grading: MathGrading | InstructionFollowingGrading | FunctionCallingGrading | None) -> int | None:
    """How many checks (``Problem.tests``) a problem with this grading must have; None for code (its dataset decides)."""
    if isinstance(grading, MathGrading):
        return 1
    if isinstance(grading, InstructionFollowingGrading):
        return len(grading.instruction_id_list)
    if isinstance(grading, FunctionCallingGrading):
        return len(grading.possible_answers)
    return None

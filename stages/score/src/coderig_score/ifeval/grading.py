"""Strict and loose grading of one response against a prompt's instructions (IFEval's evaluation_lib).

Strict: an instruction is followed when the response is not blank and its rule passes on the response.
Loose: when its rule passes on any of the official eight variants of the response (as is, without its first
line, without its last line, without both; each also with every ``*`` removed), a variant counting only when
it is not blank. A prompt is followed when every one of its instructions is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .instructions import Instruction, InstructionArgsError, build


@dataclass(frozen=True)
class InstructionVerdict:
    """One instruction's outcome for one response."""

    instruction_id: str
    strict: bool
    loose: bool


@dataclass(frozen=True)
class PromptVerdict:
    """All instructions of a prompt for one response; ``strict``/``loose`` are the prompt-level verdicts."""

    instructions: tuple[InstructionVerdict, ...]

    @property
    def strict(self) -> bool:
        """Prompt-level strict: every instruction followed strictly."""
        return all(v.strict for v in self.instructions)

    @property
    def loose(self) -> bool:
        """Prompt-level loose: every instruction followed loosely."""
        return all(v.loose for v in self.instructions)


def loose_variants(response: str) -> list[str]:
    """The official eight loose variants, in lm-eval's order (the response itself first)."""
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    ]


def followed_strict(instruction: Instruction, response: str) -> bool:
    """Strict verdict of one instruction."""
    return bool(response.strip()) and instruction.check(response)


def followed_loose(instruction: Instruction, variants: Sequence[str]) -> bool:
    """Loose verdict of one instruction, given :func:`loose_variants` of the response."""
    return any(v.strip() and instruction.check(v) for v in variants)


def build_all(instruction_ids: Sequence[str], kwargs: Sequence[Mapping[str, Any] | None]) -> list[Instruction]:
    """Prepare a prompt's instructions; ids and kwargs pair by position, as in IFEval's data."""
    if len(instruction_ids) != len(kwargs):
        raise InstructionArgsError(
            f"{len(instruction_ids)} instruction ids but {len(kwargs)} kwargs; they pair by position")
    return [build(i, k) for i, k in zip(instruction_ids, kwargs, strict=True)]


def grade(instructions: Sequence[Instruction], response: str) -> PromptVerdict:
    """Grade one response against prepared instructions, strict and loose."""
    variants = loose_variants(response)
    return PromptVerdict(tuple(
        InstructionVerdict(i.id, followed_strict(i, response), followed_loose(i, variants)) for i in instructions))


def grade_response(instruction_ids: Sequence[str], kwargs: Sequence[Mapping[str, Any] | None],
                   response: str) -> PromptVerdict:
    """Build a prompt's instructions and grade one response against them."""
    return grade(build_all(instruction_ids, kwargs), response)

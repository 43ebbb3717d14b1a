"""IFEval (instruction following) grading with the official rules, strict and loose.

``grade_response(ids, kwargs, response)`` gives one :class:`InstructionVerdict` per instruction and the
prompt-level verdicts; nothing in a response is executed. See docs/score.md ("Instruction following").
"""

from .grading import InstructionVerdict, PromptVerdict, build_all, grade, grade_response, loose_variants
from .instructions import INSTRUCTION_IDS, NEEDS_PUNKT, Instruction, InstructionArgsError, build
from .text import PunktDataMissing, ensure_punkt

__all__ = [
    "INSTRUCTION_IDS", "NEEDS_PUNKT", "Instruction", "InstructionArgsError", "InstructionVerdict",
    "PromptVerdict", "PunktDataMissing", "build", "build_all", "ensure_punkt", "grade", "grade_response",
    "loose_variants",
]

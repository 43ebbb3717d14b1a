"""BFCL (function calling) checking: read the calls from an answer, check them with BFCL's AST rules.

Nothing in an answer is executed or ``eval``-ed. See docs/score.md ("Function calling").
"""

from .checker import CATEGORIES, CallCheck, CallsVerdict, Category, check_answer, check_call, check_calls, standardize
from .parse import Call, CallParseError, parse_calls, render_call, render_calls

__all__ = [
    "CATEGORIES", "Call", "CallCheck", "CallParseError", "CallsVerdict", "Category", "check_answer", "check_call",
    "check_calls", "parse_calls", "render_call", "render_calls", "standardize",
]

"""One colour per verdict, shared by every view of verdicts (analyze's charts, export's workbook).

A reader who learned "orange is a runtime error" from a chart must find the same orange in the
workbook, so the map lives in the contract, not in either stage. The colours are mid-tones: dark
enough to tell apart as chart bars on white, light enough to read black text on as cell fills
(``sandbox_error``, black, takes white text).
"""

from __future__ import annotations

from .score import Verdict

#: Fill colour of each verdict, RGB hex without '#': the workbook's cell fill and the charts' bar colour.
VERDICT_COLORS: dict[Verdict, str] = {
    Verdict.PASSED: "70AD47",  # green
    Verdict.WRONG_ANSWER: "E06666",  # red
    Verdict.RUNTIME_ERROR: "F4A25B",  # orange
    Verdict.SYNTAX_ERROR: "FFD966",  # yellow
    Verdict.TIMEOUT: "6FA8DC",  # blue
    Verdict.MEMORY_EXCEEDED: "A48AD4",  # purple
    Verdict.NO_CODE: "BFBFBF",  # grey: nothing to run (code task types)
    Verdict.NO_ANSWER: "999999",  # darker grey: nothing gradable (non-code task types)
    Verdict.TRUNCATED_GENERATION: "DDD9C4",  # light khaki: cut at max_tokens
    Verdict.SANDBOX_ERROR: "000000",  # black: the harness failed, not the model
}

#: Text colour on each verdict's fill (white on black, else black).
VERDICT_TEXT_COLORS: dict[Verdict, str] = {v: ("FFFFFF" if v is Verdict.SANDBOX_ERROR else "000000") for v in Verdict}


def verdict_color(verdict: Verdict | str) -> str:
    """The verdict's colour as '#RRGGBB' (matplotlib's form); ValueError for an unknown verdict."""
    return f"#{VERDICT_COLORS[Verdict(verdict)]}"

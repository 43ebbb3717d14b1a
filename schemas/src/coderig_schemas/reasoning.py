"""Where a model's reasoning ends: the one rule every stage applies to ``<think>`` blocks.

Generate removes the reasoning before it extracts code; score removes it before it grades a text answer
(math, IFEval, BFCL). Both must agree on what the model's visible answer is, so the rule lives here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Visible:
    """The part of a response that counts as the answer, after removing the reasoning."""

    text: str
    had_think: bool
    cut_in_think: bool


def strip_think(response: str) -> Visible:
    """Drop the reasoning: closed ``<think>`` blocks, everything before a dangling ``</think>``, and an
    unclosed trailing ``<think>`` with what follows it (tags matched case-insensitively).

    A ``</think>`` without an opening tag is common: chat templates of reasoning models (Qwen3,
    DeepSeek-R1) put ``<think>`` in the prompt, so the response starts inside the reasoning. A
    ``<think>`` that is never closed means the response was cut inside its reasoning (``cut_in_think``),
    and only the text before it is visible.
    """
    low = response.lower()
    had = THINK_OPEN in low or THINK_CLOSE in low
    text = _THINK_BLOCK.sub("", response)
    low = text.lower()
    close = low.rfind(THINK_CLOSE)
    if close >= 0:
        text = text[close + len(THINK_CLOSE):]
        low = low[close + len(THINK_CLOSE):]
    opened = low.find(THINK_OPEN)
    if opened >= 0:
        return Visible(text=text[:opened], had_think=True, cut_in_think=True)
    return Visible(text=text, had_think=had, cut_in_think=False)

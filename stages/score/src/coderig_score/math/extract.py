"""Find the final answer in a math response (pure functions, no sympy).

Order, as lighteval-style suites read a reasoning model's answer:

1. ``<think>...</think>`` is removed by the caller (``coderig_schemas.reasoning.strip_think``, the rule
   IFEval and BFCL share): only what the model wrote after its reasoning counts. A response whose last
   ``<think>`` is never closed was cut while thinking (``Visible.cut_in_think``).
2. The **last** ``\\boxed{...}`` (or ``\\fbox{...}``) with balanced braces: a model that boxes a draft
   answer and then a corrected one means the last.
3. Else the last explicit "final answer is X" / "Final Answer: X" phrase.
4. Else, only where the grader data allows it (GSM8K), the last number of the text.

Each answer comes with the method that found it, recorded in the score result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coderig_schemas.score import AnswerMethod


@dataclass(frozen=True)
class Extracted:
    """A final answer (or None) and how it was found."""

    answer: str | None
    method: AnswerMethod


_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the brace group opening at ``text[start] == '{'``, and the index after it.

    ``\\{`` and ``\\}`` are escaped (set braces) and do not count; None when the group never closes.
    """
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    return None


def boxed_answers(text: str) -> list[str]:
    """Contents of every complete ``\\boxed{...}`` / ``\\fbox{...}`` (also ``\\boxed 5``), in order.

    A box nested in another box is part of the outer one's content, not a separate answer.
    """
    found: list[str] = []
    pos = 0
    while True:
        m = _BOX_RE.search(text, pos)
        if m is None:
            return found
        j = m.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            group = braced(text, j)
            if group is None:  # cut off inside the box: not an answer
                pos = j + 1
                continue
            content, pos = group
            found.append(content.strip())
        elif m.end() < len(text) and text[m.end()] == " ":
            # "\boxed 5": the argument is the next token.
            token = re.match(r"[^\s$]+", text[j:])
            pos = j + (len(token.group(0)) if token else 0)
            if token:
                found.append(token.group(0).rstrip(".,;"))
        else:
            pos = j


def last_boxed(text: str) -> str | None:
    """The last complete boxed answer, or None."""
    found = [b for b in boxed_answers(text) if b]
    return found[-1] if found else None


_FINAL_RE = re.compile(r"final\s+answer\s*(?:is|:|=)\s*:?\s*", re.IGNORECASE)
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)"))


def final_answer_phrase(text: str) -> str | None:
    """The answer after the last "final answer is" / "Final Answer:", or None.

    ``$...$``, ``\\(...\\)`` and ``\\[...\\]`` around it are removed; otherwise it runs to the end of
    the line, without a closing full stop.
    """
    matches = list(_FINAL_RE.finditer(text))
    for m in reversed(matches):
        rest = text[m.end():]
        answer = _delimited(rest)
        if answer is None:
            line = rest.split("\n", 1)[0].strip()
            # "The final answer is 12. I hope it is correct." -> "12"
            line = re.split(r"\.\s+(?=[A-Z])", line, maxsplit=1)[0]
            answer = line.rstrip(" .").strip("*").strip()
        if answer:
            return answer
    return None


def _delimited(rest: str) -> str | None:
    for left, right in _DELIMS:
        if rest.startswith(left):
            end = len(left)
            while True:
                end = rest.find(right, end)
                if end < 0 or rest[end - 1] != "\\":  # "\$" is a dollar sign, not the closing "$"
                    break
                end += 1
            if end > len(left):
                return rest[len(left):end].strip()
    return None


_NUMBER_RE = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+")


def last_number(text: str) -> str | None:
    """The last number of the text (thousands separators and a sign kept), or None."""
    found = _NUMBER_RE.findall(text)
    return found[-1] if found else None


def extract_answer(visible: str, allow_last_number: bool) -> Extracted:
    """The final answer of the visible part of a response, by the first method that finds one."""
    boxed = last_boxed(visible)
    if boxed is not None:
        return Extracted(boxed, AnswerMethod.BOXED)
    phrase = final_answer_phrase(visible)
    if phrase is not None:
        return Extracted(phrase, AnswerMethod.FINAL_ANSWER_PHRASE)
    if allow_last_number:
        number = last_number(visible)
        if number is not None:
            return Extracted(number, AnswerMethod.LAST_NUMBER)
    return Extracted(None, AnswerMethod.NONE)

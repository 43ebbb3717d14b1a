"""Is an extracted answer equivalent to the gold answer? ``math-verify`` decides.

math-verify is the grader lighteval uses. Two things differ from calling ``verify(parse(gold),
parse(response))`` directly, both on purpose:

- The answer given to it is the one :mod:`.extract` found (the last ``\\boxed{}``), wrapped in
  ``$...$`` (after the rewrites of :func:`as_latex`). On a whole response with several boxes,
  math-verify joins them into one set, so a model that boxes a draft and then its correction
  would be wrong with both.
- Its own time limits (``signal.alarm``) are off and its errors are sorted: an exception while
  parsing or comparing means "not parsed" / "not equal", as in math-verify, except ``MemoryError``
  and ``RecursionError``, which are the grader's failure (:class:`GraderFailure`), never the
  model's. Time and memory are bounded from outside, by the worker pool (:mod:`.pool`): math-verify
  turns its own timeout into ``False``, which would count a hang of the parser against the model.

Gold answers are wrapped in ``$...$`` too: without it a tuple such as ``\\left( 3, \\frac{\\pi}{2}
\\right)`` parses as ``3``.
"""

from __future__ import annotations

import logging
import re
from itertools import product
from typing import Any

from math_verify import parse, verify

from .extract import braced

# With the built-in limits off math-verify warns once per process; the pool bounds time instead.
logging.getLogger("math_verify").setLevel(logging.ERROR)

_SCI_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[eE]\s*([+-]?\d+)\s*$")
# A number inside \text{} (or bold): math-verify keeps it as the string "073", never equal to 73.
_TEXT_NUMBER_RE = re.compile(r"^\s*\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{\s*(\(?\s*-?[\d.,]+\s*\)?)\s*\}\s*$")
# A whole answer in bold, as AoPS solutions write it: \textbf{(073)}.
_BOLD_RE = re.compile(r"^\s*\\(?:textbf|mathbf)\s*(?=\{)")


class GraderFailure(Exception):
    """The grader itself failed (out of memory, recursion too deep): exclude the sample."""


def as_latex(answer: str) -> str:
    """The text given to the parser for an answer: ``$answer$``.

    Three forms math-verify misreads are rewritten first: plain scientific notation (``1.5e3``, read
    as ``1.5 * e * 3``) becomes ``1.5\\times10^{3}``; a number in ``\\text{}`` (``\\text{42}``, kept as
    a string) loses the ``\\text``; a whole answer in bold (``\\textbf{(073)}``) loses the bold.
    """
    number = _TEXT_NUMBER_RE.match(answer)
    if number:
        answer = number.group(1)
    bold = _BOLD_RE.match(answer)
    if bold:
        group = braced(answer, bold.end())
        if group is not None and not answer[group[1]:].strip():  # the bold group is the whole answer
            answer = group[0]
    sci = _SCI_RE.match(answer)
    if sci:
        answer = f"{sci.group(1)}\\times10^{{{sci.group(2)}}}"
    return f"${answer}$"


def parse_math(text: str) -> list[Any]:
    """math-verify's parse of ``text`` (a list of sympy objects and strings; empty when nothing parsed)."""
    try:
        return list(parse(text, parsing_timeout=None, raise_on_error=True))
    except (MemoryError, RecursionError) as e:
        raise GraderFailure(f"{type(e).__name__} while parsing") from None
    except Exception:  # math-verify's own rule: unparseable means nothing extracted
        return []


def equivalent(gold: list[Any], answer: list[Any]) -> bool:
    """Whether any parse of the answer equals any parse of the gold (math-verify's rule)."""
    for g, t in product(gold, answer):
        try:
            if verify(g, t, timeout_seconds=None, raise_on_error=True):
                return True
        except (MemoryError, RecursionError) as e:
            raise GraderFailure(f"{type(e).__name__} while comparing") from None
        except Exception:  # as math-verify: a comparison that raises is "not equal"
            continue
    return False


def shown(parsed: list[Any]) -> str | None:
    """A short text of what the parser understood (its first result), for the record."""
    if not parsed:
        return None
    try:
        return str(parsed[0])[:200]
    except Exception:  # printing some sympy objects raises; the record does without
        return None


def grade_answer(gold: str, answer: str) -> dict[str, Any]:
    """Parse gold and answer and compare them: ``{equivalent, gold_parsed, answer_parsed}``.

    Runs in a pool worker; a :class:`GraderFailure` (or a hang, a crash) is the pool's to handle.
    """
    g = parse_math(as_latex(gold))
    a = parse_math(as_latex(answer))
    return {"equivalent": bool(g and a and equivalent(g, a)), "gold_parsed": shown(g), "answer_parsed": shown(a)}

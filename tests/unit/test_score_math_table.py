"""Math grading: a table of (gold, response) pairs with the expected verdict, checked against math-verify.

Each row goes through the real chain (think stripping, extraction, math-verify 0.9.0), in process.
Rows marked "math-verify:" record behaviour of math-verify that may surprise (see docs/score.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from coderig_schemas import Verdict
from coderig_score.math.grading import grade_in_process
from tests.factories import make_math_problem, make_sample

P, W, N, T = Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.NO_ANSWER, Verdict.TRUNCATED_GENERATION
LATEX = {"answer_format": "latex", "extraction": "boxed"}
NUMBER = {"answer_format": "number", "extraction": "boxed"}  # AIME, AMC
GSM = {"answer_format": "number", "extraction": "last_number"}  # GSM8K

# (case id, gold, grading, response, expected verdict, expected extracted answer or None to skip the check)
TABLE: list[tuple[str, str, dict[str, str], str, Verdict, str | None]] = [
    # fractions and decimals
    ("frac-vs-decimal", "\\frac{1}{2}", LATEX, "So $x = \\boxed{0.5}$.", P, "0.5"),
    ("dfrac", "\\frac{1}{2}", LATEX, "$\\boxed{\\dfrac12}$", P, "\\dfrac12"),
    ("tfrac", "\\frac{1}{2}", LATEX, "$\\boxed{\\tfrac{1}{2}}$", P, "\\tfrac{1}{2}"),
    ("decimal-gold", "0.5", LATEX, "\\boxed{\\frac{1}{2}}", P, None),
    ("unreduced-fraction", "\\frac{3}{4}", LATEX, "\\boxed{\\frac{6}{8}}", P, None),
    ("inverted-fraction", "\\frac{3}{4}", LATEX, "\\boxed{\\frac{4}{3}}", W, "\\frac{4}{3}"),
    ("decimal-3-digits", "\\frac{1}{3}", LATEX, "\\boxed{0.333}", W, None),  # math-verify: rounds to 6 places
    ("decimal-6-digits", "\\frac{1}{3}", LATEX, "\\boxed{0.333333}", P, None),
    ("slash-fraction", "\\frac{2}{5}", LATEX, "\\boxed{2/5}", P, "2/5"),
    # nested braces in \boxed
    ("nested-frac-sqrt", "\\frac{\\sqrt{3}}{2}", LATEX, "\\boxed{\\frac{\\sqrt{3}}{2}}", P, "\\frac{\\sqrt{3}}{2}"),
    ("double-braces", "\\frac{1}{2}", LATEX, "\\boxed{\\frac{{1}}{{2}}}", P, "\\frac{{1}}{{2}}"),
    ("equivalent-radical", "2\\sqrt{2}", LATEX, "\\boxed{\\sqrt{8}}", P, None),
    ("escaped-set-braces", "\\{1,2\\}", LATEX, "\\boxed{\\{1, 2\\}}", P, "\\{1, 2\\}"),
    ("nested-boxes", "7", LATEX, "\\boxed{\\boxed{7}}", P, "\\boxed{7}"),
    # several boxed answers: the last counts
    ("last-box-correct", "5", LATEX, "First \\boxed{3}. Wait, that is wrong: \\boxed{5}", P, "5"),
    ("last-box-wrong", "5", LATEX, "\\boxed{5}. Hmm, no: \\boxed{3}", W, "3"),
    ("fbox", "5", LATEX, "\\fbox{5}", P, "5"),
    ("boxed-without-braces", "5", LATEX, "The answer is $\\boxed 5$.", P, "5"),
    ("unclosed-last-box", "5", LATEX, "\\boxed{5}, or maybe \\boxed{3", P, "5"),
    ("boxed-spaces", "12", LATEX, "\\boxed { 12 }", P, "12"),
    # units and \text{}
    ("gold-with-unit", "10\\text{ inches}", LATEX, "\\boxed{10}", P, None),
    ("answer-with-unit", "10", LATEX, "\\boxed{10 \\text{ cm}}", P, None),
    ("answer-with-mbox-unit", "10", LATEX, "\\boxed{10\\mbox{ meters}}", P, None),
    ("text-word", "\\text{Monday}", LATEX, "\\boxed{\\text{Monday}}", P, None),
    ("text-choice", "\\text{(C)}", LATEX, "\\boxed{C}", P, None),
    ("text-wrong-word", "\\text{Evelyn}", LATEX, "\\boxed{\\text{Robert}}", W, None),
    ("dollars", "\\$18.90", LATEX, "\\boxed{18.90}", P, None),
    ("dollar-answer", "18.9", LATEX, "\\boxed{\\$18.90}", P, None),
    # degrees
    ("degrees-gold", "90^\\circ", LATEX, "\\boxed{90}", P, None),
    ("degrees-answer", "30", LATEX, "\\boxed{30^{\\circ}}", P, None),
    ("degrees-both", "30^\\circ", LATEX, "\\boxed{30^\\circ}", P, None),
    ("degrees-wrong", "30^\\circ", LATEX, "\\boxed{60^\\circ}", W, None),
    # percentages
    ("percent-both", "10\\%", LATEX, "\\boxed{10\\%}", P, None),
    ("percent-answer", "10", LATEX, "\\boxed{10\\%}", P, None),
    ("percent-gold", "25\\%", LATEX, "\\boxed{25}", P, None),
    ("percent-as-fraction", "0.1", LATEX, "\\boxed{10\\%}", P, None),
    # intervals
    ("interval", "(-\\infty, 3]", LATEX, "\\boxed{(-\\infty,3]}", P, None),
    ("interval-open-closed", "(-\\infty, 3]", LATEX, "\\boxed{(-\\infty,3)}", W, None),
    ("interval-with-variable", "[2,5)", LATEX, "\\boxed{x \\in [2,5)}", P, None),
    ("interval-union", "(1,2) \\cup (3,\\infty)", LATEX, "\\boxed{(1,2)\\cup(3,\\infty)}", P, None),
    # tuples and sets
    ("tuple-left-right", "\\left( 3, \\frac{\\pi}{2} \\right)", LATEX, "\\boxed{(3, \\frac{\\pi}{2})}", P, None),
    ("tuple-order-matters", "\\left( 3, \\frac{\\pi}{2} \\right)", LATEX, "\\boxed{(\\frac{\\pi}{2}, 3)}", W, None),
    ("list-any-order", "1, 2", LATEX, "\\boxed{2, 1}", P, None),
    ("set-any-order", "\\{1,2,3\\}", LATEX, "\\boxed{\\{3,2,1\\}}", P, None),
    ("set-missing-element", "\\{1,2,3\\}", LATEX, "\\boxed{\\{1,2\\}}", W, None),
    # matrices
    ("matrix-pmatrix-bmatrix", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", LATEX,
     "\\boxed{\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}}", P, None),
    ("vector", "\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}", LATEX, "\\boxed{\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}}", P, None),
    ("matrix-wrong-entry", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", LATEX,
     "\\boxed{\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}}", W, None),
    # negative numbers
    ("negative", "-3", LATEX, "\\boxed{-3}", P, "-3"),
    ("negative-sign-lost", "-3", LATEX, "\\boxed{3}", W, "3"),
    ("negative-last-number", "-12", GSM, "The temperature changed by -12 degrees.", P, "-12"),
    ("amc-float-gold-negative", "-1.0", NUMBER, "\\boxed{-1}", P, None),
    # thousands separators
    ("gsm-thousands-text", "1,450,000", GSM, "In total they pay 1,450,000 dollars.", P, "1,450,000"),
    ("gsm-thousands-boxed", "1450000", GSM, "\\boxed{1,450,000}", P, None),
    ("thousands-latex-comma", "1000", LATEX, "\\boxed{1{,}000}", P, None),
    ("gsm-marker", "18", GSM, "16 - 3 - 4 = <<16-3-4=9>>9 eggs\n9 * 2 = $<<9*2=18>>18\n#### 18", P, "18"),
    ("gsm-last-number-counts", "5", GSM, "She has 5 apples, so 10 in total.", W, "10"),
    ("gsm-boxed-first", "5", GSM, "\\boxed{5} apples, 10 in total.", P, "5"),
    # leading zeros (AIME)
    ("aime-gold-zero-padded", "025", NUMBER, "\\boxed{25}", P, None),
    ("aime-answer-zero-padded", "25", NUMBER, "\\boxed{025}", P, "025"),
    ("aime-wrong", "025", NUMBER, "\\boxed{205}", W, None),
    ("amc-float-gold", "27.0", NUMBER, "\\boxed{27}", P, None),
    ("aops-bold-answer", "073", NUMBER, "so $d = \\boxed{\\textbf{(073)}}.$", P, "\\textbf{(073)}"),  # math-verify alone: "073"
    ("text-number", "42", NUMBER, "\\boxed{\\text{42}}", P, None),  # math-verify alone: the string "42"
    # scientific notation
    ("sci-times", "1500", LATEX, "\\boxed{1.5 \\times 10^{3}}", P, None),
    ("sci-gold", "1.5\\times10^{3}", LATEX, "\\boxed{1500}", P, None),
    ("sci-e-notation", "1500", LATEX, "\\boxed{1.5e3}", P, "1.5e3"),  # math-verify alone: 1.5*e*3 (see docs)
    ("sci-negative-exponent", "0.00015", LATEX, "\\boxed{1.5\\times 10^{-4}}", P, None),
    # answers only inside <think>
    ("only-in-think", "5", LATEX, "<think>so it is \\boxed{5}</think>I am not sure.", N, None),
    ("cut-in-think", "5", LATEX, "<think>it is \\boxed{5}, let me check that again", T, None),
    ("after-think", "5", LATEX, "<think>work</think>The answer is \\boxed{5}.", P, "5"),
    ("think-opened-by-template", "5", LATEX, "the prompt opened the reasoning</think>\\boxed{5}", P, "5"),
    ("think-box-ignored", "5", LATEX, "<think>\\boxed{3}</think>\\boxed{5}", P, "5"),
    ("think-box-not-used", "3", LATEX, "<think>\\boxed{3}</think>\\boxed{5}", W, "5"),
    ("gsm-number-only-in-think", "72", GSM, "<think>48 + 24 = 72</think>I don't know.", N, None),
    # no answer at all
    ("no-answer", "5", LATEX, "I cannot solve this.", N, None),
    ("empty-response", "5", LATEX, "", N, None),
    ("no-fallback-to-number", "5", LATEX, "The result is 5.", N, None),
    ("empty-box", "5", LATEX, "\\boxed{}", N, None),
    # an explicit "final answer" phrase
    ("minerva-phrase", "\\frac{1}{2}", LATEX, "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", P,
     "\\frac{1}{2}"),
    ("phrase-plain", "12", LATEX, "So the final answer is 12.", P, "12"),
    ("phrase-colon-wrong", "12", LATEX, "The final answer is: 13", W, "13"),
    ("phrase-bold", "4", LATEX, "**Final Answer:** 4", P, None),
    ("phrase-escaped-dollar", "\\$32,\\!348", LATEX,
     "Final Answer: The final answer is $\\$32,\\!348$. I hope it is correct.", P, "\\$32,\\!348"),
    # expressions and equations
    ("expanded-polynomial", "x^2+2x+1", LATEX, "\\boxed{(x+1)^2}", P, None),
    ("equation-gold", "y = 2x+3", LATEX, "\\boxed{2x+3}", P, None),
    ("irrational-rounded", "\\sqrt{2}", LATEX, "\\boxed{1.414}", W, None),
    ("pi", "2\\pi", LATEX, "\\boxed{2\\pi}", P, None),
]


def _sample(problem: Any, response: str, finish: str = "stop") -> Any:
    return make_sample(problem, raw_response=response, extracted_code="", extraction_method="not_applicable",
                       finish_reason=finish)


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 60
    assert len({row[0] for row in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("gold", "grading", "response", "verdict", "extracted"), [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_verdict(gold: str, grading: dict[str, str], response: str, verdict: Verdict, extracted: str | None) -> None:
    problem = make_math_problem("p1", answer=gold, grading=grading)
    result = grade_in_process(problem, _sample(problem, response))
    assert result.verdict == verdict, result.error_message
    assert result.passed == (verdict == P)
    assert (result.tests_passed, result.tests_total) == ((1, 1) if verdict == P else (0, 1))
    assert result.answer is not None and result.answer.gold == gold
    if extracted is not None:
        assert result.answer.extracted == extracted
    if verdict in (N, T):
        assert result.answer.extracted is None and result.answer.method.value == "none"
    assert result.tests[0].expected == gold and result.tests[0].actual == result.answer.extracted


def test_length_finish_turns_a_failure_into_truncated_generation() -> None:
    problem = make_math_problem("p1", answer="5")
    wrong = grade_in_process(problem, _sample(problem, "\\boxed{4}", finish="length"))
    right = grade_in_process(problem, _sample(problem, "\\boxed{5}", finish="length"))
    assert wrong.verdict == T and wrong.answer is not None and wrong.answer.extracted == "4"
    assert right.verdict == P


def test_methods_are_recorded() -> None:
    problem = make_math_problem("p1", answer="12", grading=GSM)
    methods = {text: grade_in_process(problem, _sample(problem, text)).answer.method.value  # type: ignore[union-attr]
               for text in ("\\boxed{12}", "The final answer is 12", "So 12.", "nothing")}
    assert methods == {"\\boxed{12}": "boxed", "The final answer is 12": "final_answer_phrase", "So 12.": "last_number",
                       "nothing": "none"}

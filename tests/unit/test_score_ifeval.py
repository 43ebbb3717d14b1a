"""IFEval grading: every one of the 25 instruction types with a complying and a violating response, strict
and loose, plus hand-made sentence and capital-word counts that need NLTK's trained Punkt model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coderig_score import ifeval
from coderig_score.ifeval import text

GERMAN = "Das ist ein sehr schöner Tag, und wir gehen heute zusammen mit den Kindern in den Park spazieren."
ENGLISH = "This is a lovely day, and today we are all going for a long walk in the park with the children."

# (instruction id, kwargs, response, strict verdict, loose verdict)
CASES: list[tuple[str, dict[str, Any], str, bool, bool]] = [
    ("keywords:existence", {"keywords": ["banana", "apple"]}, "I like apple and Banana.", True, True),
    ("keywords:existence", {"keywords": ["banana", "apple"]}, "Only an apple here.", False, False),
    ("keywords:frequency", {"keyword": "cat", "frequency": 3, "relation": "at least"}, "cat, Cat and CAT", True, True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 3, "relation": "at least"}, "cat and cat", False, False),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "one cat", True, True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "cat catalog", False, False),
    ("keywords:forbidden_words", {"forbidden_words": ["bad", "bad"]}, "A good day; my badge is fine.", True, True),
    ("keywords:forbidden_words", {"forbidden_words": ["bad"]}, "What a **BAD** day.", False, False),
    ("keywords:letter_frequency", {"letter": "Z", "let_frequency": 2, "let_relation": "at least"}, "Zz top", True, True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "at least"}, "one z", False, False),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "less than"}, "zzz", False, False),
    ("language:response_language", {"language": "de"}, GERMAN, True, True),
    ("language:response_language", {"language": "de"}, ENGLISH, False, False),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"}, "One. Two.", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"},
     "One. Two.\nThree.", False, True),  # strict counts 3; loose, without the last line, 2
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"}, "One. Two.", False, False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.", True, True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n***\n***\nSecond.", False, False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "Only one paragraph.", False, False),
    ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "don't stop me now", True, True),
    ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "two words", False, False),
    ("length_constraints:number_words", {"num_words": 3, "relation": "less than"}, "two words", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"},
     "First paragraph.\n\n\"Then,\" he said.", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
     "First paragraph.\n\nAnd then, no.", False, False),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", True, True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name].", False, False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\nP.S. See you.", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hello.\np.p.s. more", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello, no postscript.", False, False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n- two", True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* only one", False, False),
    # three bullets: strict fails; loose passes on the variant without the last line
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two\n* three", False, True),
    ("detectable_format:constrained_response", {}, "My answer is yes.", True, True),
    ("detectable_format:constrained_response", {}, "Yes, certainly.", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*first* and *second*", True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*first* only", False, False),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nalpha\nSection 2\nbeta", True, True),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     "SECTION 1\nalpha only", False, False),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True, True),
    ("detectable_format:json_format", {}, "a: 1", False, False),
    # a preamble line: strict fails, loose passes without the first line
    ("detectable_format:json_format", {}, 'Here it is:\n{"a": 1}', False, True),
    ("detectable_format:title", {}, "<<A Poem of Joy>>\nText.", True, True),
    ("detectable_format:title", {}, "<<   >>\nA Poem of Joy", False, False),
    ("combination:two_responses", {}, "Answer one.\n******\nAnswer two.", True, True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False, False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Say hi."}, "say hi. Hi!", True, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Say hi."}, "Hi! Say hi.", False, False),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?\"", True, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Bye.", False, False),
    # a trailing note line: strict fails, loose passes without the last line
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?\n(end)", False, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "THIS is VERY good", True, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "This is Very good", False, False),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"},
     "ONE capital", True, True),
    ("change_case:english_capital", {}, ENGLISH.upper(), True, True),
    ("change_case:english_capital", {}, ENGLISH, False, False),
    ("change_case:english_capital", {}, GERMAN.upper(), False, False),
    ("change_case:english_lowercase", {}, ENGLISH.lower(), True, True),
    ("change_case:english_lowercase", {}, ENGLISH, False, False),
    ("punctuation:no_comma", {}, "No commas here at all.", True, True),
    ("punctuation:no_comma", {}, "One, two.", False, False),
    ("startend:quotation", {}, '  "All quoted."  ', True, True),
    ("startend:quotation", {}, "Not quoted.", False, False),
    # an intro line before the quote: strict fails, loose passes without the first line
    ("startend:quotation", {}, 'Sure:\n"All quoted."', False, True),
]


def test_cases_cover_all_25_types_both_ways() -> None:
    assert len(ifeval.INSTRUCTION_IDS) == 25
    for instruction_id in ifeval.INSTRUCTION_IDS:
        strict = {c[3] for c in CASES if c[0] == instruction_id}
        loose = {c[4] for c in CASES if c[0] == instruction_id}
        assert strict == {True, False} and loose == {True, False}, instruction_id


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "strict", "loose"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_instruction(instruction_id: str, kwargs: dict[str, Any], response: str, strict: bool, loose: bool) -> None:
    verdict = ifeval.grade_response([instruction_id], [kwargs], response)
    assert (verdict.instructions[0].strict, verdict.instructions[0].loose) == (strict, loose)
    assert (verdict.strict, verdict.loose) == (strict, loose)


def test_blank_response_follows_nothing() -> None:
    # no_comma holds for any text without a comma, but a blank response is never counted as followed
    verdict = ifeval.grade_response(["punctuation:no_comma"], [{}], "  \n ")
    assert (verdict.strict, verdict.loose) == (False, False)


def test_prompt_level_needs_every_instruction() -> None:
    ids = ["punctuation:no_comma", "startend:quotation"]
    verdict = ifeval.grade_response(ids, [{}, {}], '"no comma, here"')
    assert [v.strict for v in verdict.instructions] == [False, True]
    assert verdict.strict is False and verdict.loose is False
    assert ifeval.grade_response(ids, [{}, {}], '"no comma here"').strict is True


def test_loose_variants_are_the_official_eight() -> None:
    variants = ifeval.loose_variants("first *x*\nmiddle\nlast")
    assert variants == ["first *x*\nmiddle\nlast", "first x\nmiddle\nlast", "middle\nlast", "first *x*\nmiddle",
                        "middle", "middle\nlast", "first x\nmiddle", "middle"]


def test_markdown_emphasis_variant_rescues_a_starred_title() -> None:
    # "*" removed: the quotation check sees the quote marks at both ends
    verdict = ifeval.grade_response(["startend:quotation"], [{}], '**"Bold quote"**')
    assert (verdict.strict, verdict.loose) == (False, True)


# ---- hand-made sentence and capital-word counts (NLTK's trained English Punkt model) ---------------------

@pytest.mark.parametrize(("passage", "sentences"), [
    ("One. Two. Three.", 3),
    ("Dr. Watson met Mr. Holmes. They talked.", 2),        # known abbreviations do not end sentences
    ("It costs $3.50 today. Buy it!", 2),                   # a decimal point is not a sentence end
    ("Is it? Yes! It is.", 3),
    ("No final stop here", 1),
    ("He arrived at 5 p.m. on Monday. Then he left.", 2),
])
def test_sentence_count(passage: str, sentences: int) -> None:
    assert text.count_sentences(passage) == sentences


def test_trained_punkt_differs_from_untrained() -> None:
    # Why the real data matters: NLTK's untrained tokenizer splits after "Dr." and "Mr.".
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    passage = "Dr. Watson met Mr. Holmes. They talked."
    assert len(PunktSentenceTokenizer().tokenize(passage)) != text.count_sentences(passage)


@pytest.mark.parametrize(("passage", "capitals"), [
    ("THIS is VERY good", 2),
    ("I think NASA and the U.S.A. are BIG.", 4),            # I, NASA, U.S.A., BIG
    ("A WELL-KNOWN fact", 2),                               # A, WELL-KNOWN (one token)
    ("don't SHOUT, OK?", 2),                                # SHOUT, OK; "n't" and punctuation are not words
    ("lower case only", 0),
])
def test_capital_word_count(passage: str, capitals: int) -> None:
    assert sum(1 for w in text.word_tokens(passage) if w.isupper()) == capitals
    kwargs = {"capital_frequency": capitals, "capital_relation": "at least"}
    assert ifeval.grade_response(["change_case:capital_word_frequency"], [kwargs], passage).strict is True
    kwargs = {"capital_frequency": capitals + 1, "capital_relation": "at least"}
    assert ifeval.grade_response(["change_case:capital_word_frequency"], [kwargs], passage).strict is False


def test_letter_frequency_of_a_non_letter_counts_that_character() -> None:
    # IFEval key 1122 asks for 4 hashtags as the "letter" '#'; upstream would count a random letter instead
    kwargs = {"letter": "#", "let_frequency": 4, "let_relation": "at least"}
    assert ifeval.grade_response(["keywords:letter_frequency"], [kwargs], "#a #b #c #d").strict is True
    assert ifeval.grade_response(["keywords:letter_frequency"], [kwargs], "#a #b #c").strict is False


def test_word_count_is_word_character_runs() -> None:
    assert text.count_words("don't stop—me now, 2 times") == 7


# ---- arguments --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("instruction_id", "kwargs", "message"), [
    ("keywords:nonexistent", {}, "unknown IFEval instruction id"),
    ("keywords:frequency", {"keyword": "x", "frequency": 2}, "missing argument 'relation'"),
    ("keywords:frequency", {"keyword": "x", "frequency": 2, "relation": "at most"}, "must be one of"),
    ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": "at least"}, "one character"),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"},
     "nth_paragraph"),
    ("length_constraints:number_words", {"num_words": "5", "relation": "at least"}, "must be int"),
])
def test_bad_arguments_are_errors_not_random(instruction_id: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ifeval.InstructionArgsError, match=message):
        ifeval.grade_response([instruction_id], [kwargs], "text")


def test_hub_style_null_kwargs_are_ignored() -> None:
    kwargs = {"num_highlights": None, "relation": None, "keywords": ["apple"], "keyword": None}
    assert ifeval.grade_response(["keywords:existence"], [kwargs], "an apple").strict is True


def test_ids_and_kwargs_must_pair() -> None:
    with pytest.raises(ifeval.InstructionArgsError, match="pair by position"):
        ifeval.grade_response(["punctuation:no_comma"], [], "x")


def test_every_dataset_row_builds(shared_data: Path) -> None:
    rows = [json.loads(line) for line in (shared_data / "ifeval" / "input_data.jsonl").read_text().splitlines()]
    assert len(rows) == 541
    used = set()
    for row in rows:
        instructions = ifeval.build_all(row["instruction_id_list"], row["kwargs"])
        used.update(i.id for i in instructions)
    assert used == set(ifeval.INSTRUCTION_IDS)


def test_missing_punkt_data_is_an_error_that_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    text._nltk.cache_clear()
    text._sentence_tokenizer.cache_clear()
    try:
        with pytest.raises(ifeval.PunktDataMissing) as caught:
            text.count_sentences("One. Two.")
        assert "punkt_tab" in caught.value.one_line() and "setup_nltk.sh" in caught.value.one_line()
        assert caught.value.exit_code == 1
    finally:
        text._nltk.cache_clear()
        text._sentence_tokenizer.cache_clear()

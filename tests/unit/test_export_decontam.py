"""Decontamination rules: evaluation splits, and copies of their problems under other names."""

from __future__ import annotations

import pytest

from coderig_export.decontam import DEFAULT_EVAL_SPLITS, Decontaminator, SplitRule, normalize_prompt, unmatched_rules
from tests.factories import make_problem


def default() -> Decontaminator:
    return Decontaminator(SplitRule.parse(s) for s in DEFAULT_EVAL_SPLITS)


@pytest.mark.parametrize(("dataset", "split", "expected"), [
    ("humaneval", "test", "eval split humaneval:*"),
    ("humaneval_plus", "test", "eval split humaneval_plus:*"),
    ("mbpp", "test", "eval split mbpp:test"),
    ("mbpp_sanitized", "test", "eval split mbpp_sanitized:test"),
    ("leetcode", "test", "eval split leetcode:test"),
    ("mbpp", "train", None),
    ("mbpp", "validation", None),
    ("mbpp", "prompt", None),
    ("leetcode", "train", None),
    ("custom", "test", None),
])
def test_default_eval_splits(dataset: str, split: str, expected: str | None) -> None:
    p = make_problem(f"{dataset}-x", dataset=dataset, split=split, prompt=f"unique {dataset} {split}")
    assert default().reason(p) == expected


def test_a_copy_under_another_name_is_caught_by_id_or_statement() -> None:
    d = default()
    evalp = make_problem("mbpp/11", dataset="mbpp", split="test", prompt="Write a function to remove first and last occurrence.")
    d.learn([evalp])
    same_id = make_problem("mbpp/11", dataset="my_mbpp_copy", split="train", prompt="other words")
    same_text = make_problem("q7", dataset="custom", split="train", prompt="  write a function to REMOVE first\nand last occurrence. ")
    clean = make_problem("q8", dataset="custom", split="train", prompt="Something else entirely.")
    assert d.reason(same_id) == "same problem id as in mbpp:test"
    assert d.reason(same_text) == "same statement as mbpp:test/mbpp/11"
    assert d.reason(clean) is None


def test_learn_ignores_problems_outside_the_rules() -> None:
    d = default()
    train = make_problem("mbpp/601", dataset="mbpp", split="train", prompt="A train problem.")
    d.learn([train])
    assert d.reason(make_problem("z", dataset="custom", prompt="A train problem.")) is None


def test_against_problems_count_whatever_their_split() -> None:
    d = Decontaminator([])
    d.add_eval_problem(make_problem("secret/1", dataset="inhouse", split="train", prompt="Hold-out task."))
    assert d.reason(make_problem("x", dataset="custom", prompt="hold-out   task.")) is not None
    assert d.reason(make_problem("y", dataset="custom", prompt="Training task.")) is None


def test_rule_parsing() -> None:
    assert SplitRule.parse("mbpp") == SplitRule("mbpp", "*")
    assert SplitRule.parse("leet*:te*").matches("LeetCode", "test")
    for bad in ("", "a:b:c", "a b", ":test"):
        with pytest.raises(ValueError):
            SplitRule.parse(bad)


def test_normalize_prompt() -> None:
    assert normalize_prompt("  A\n\tB  c ") == "a b c"


def test_unmatched_rules() -> None:
    rules = [SplitRule.parse(s) for s in ("mbbp:test", "MBPP:test", "mbpp:tset", "human*", "leet*")]
    no_dataset, no_split = unmatched_rules(rules, {("mbpp", "test"), ("mbpp", "train"), ("humaneval", "test")})
    assert [str(r) for r in no_dataset] == ["mbbp:test", "leet*:*"]
    assert [str(r) for r in no_split] == ["mbpp:tset"]

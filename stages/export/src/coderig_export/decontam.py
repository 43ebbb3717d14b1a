"""Decontamination: keep problems of evaluation splits (and their copies) out of fine-tuning data."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from coderig_schemas import Problem

#: Evaluation splits left out by default, as 'dataset:split' globs (dataset names of coderig's registry).
DEFAULT_EVAL_SPLITS: tuple[str, ...] = (
    "humaneval:*",  # HumanEval: the whole dataset is an evaluation set
    "humaneval_plus:*",  # HumanEval+: the same 164 problems with more tests
    "mbpp:test",  # MBPP task ids 11-510
    "mbpp_sanitized:test",  # the same test problems in sanitized form
    "leetcode:test",  # LeetCodeDataset's test split
    "leetcode_hard:*",  # its Hard test problems
    "math500:*",  # MATH-500: the MATH test subset used for evaluation
    "gsm8k:test",  # GSM8K's test split
    "aime24:*",  # AIME 2024, AIME 2025 and AMC 2023: competition sets used only for evaluation
    "aime25:*",
    "amc23:*",
    "ifeval:*",  # IFEval: instruction-following evaluation prompts
    "bfcl_simple:*",  # BFCL's function-calling evaluation questions
    "bfcl_multiple:*",
    "bfcl_parallel:*",
)

_SPEC = re.compile(r"^[^:\s]+(:[^:\s]+)?$")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class SplitRule:
    """A 'dataset[:split]' pattern (fnmatch globs; a missing split means every split)."""

    dataset: str
    split: str = "*"

    @classmethod
    def parse(cls, spec: str) -> SplitRule:
        """Parse 'mbpp:test', 'humaneval' or 'leet*:te*'; raises ValueError on anything else."""
        if not _SPEC.match(spec):
            raise ValueError(f"{spec!r} is not 'dataset[:split]'")
        dataset, _, split = spec.partition(":")
        return cls(dataset=dataset, split=split or "*")

    def matches(self, dataset: str, split: str) -> bool:
        """Whether a problem of this dataset and split falls under the rule (case-insensitive)."""
        return fnmatch.fnmatchcase(dataset.lower(), self.dataset.lower()) and fnmatch.fnmatchcase(split.lower(), self.split.lower())

    def __str__(self) -> str:
        return f"{self.dataset}:{self.split}"


def unmatched_rules(rules: Iterable[SplitRule], seen: Iterable[tuple[str, str]]) -> tuple[list[SplitRule], list[SplitRule]]:
    """Rules that name no dataset of the (dataset, split) pairs seen, and rules whose dataset is there but no split matches.

    A misspelt rule ('mbbp:test') would otherwise remove nothing, silently keeping the evaluation
    problems it was meant to leave out.
    """
    pairs = set(seen)
    datasets = {d for d, _ in pairs}
    no_dataset, no_split = [], []
    for rule in rules:
        if not any(SplitRule(rule.dataset).matches(d, "") for d in datasets):
            no_dataset.append(rule)
        elif not any(rule.matches(d, s) for d, s in pairs):
            no_split.append(rule)
    return no_dataset, no_split


def normalize_prompt(text: str) -> str:
    """Lower-cased text with every run of whitespace collapsed: how prompts are compared."""
    return _WS.sub(" ", text).strip().lower()


class Decontaminator:
    """Decides which problems are evaluation problems, or copies of one.

    A problem is contaminated when (1) its dataset and split match a rule, or (2) it has the
    problem id or the (normalized) statement of a problem that does, among every problem the
    export sees (its inputs and any ``--against`` outputs). The second test catches the same
    problem under another dataset name: MBPP test problems in a sanitized or custom copy,
    HumanEval problems inside a custom set.
    """

    def __init__(self, rules: Iterable[SplitRule]) -> None:
        self.rules = tuple(rules)
        self._eval_ids: dict[str, str] = {}  # problem_id -> 'dataset:split' it was found in
        self._eval_prompts: dict[str, str] = {}  # normalized statement -> 'dataset:split/problem_id'

    def rule_for(self, problem: Problem) -> SplitRule | None:
        """The first rule matching the problem's dataset and split, if any."""
        return next((r for r in self.rules if r.matches(problem.dataset, problem.split)), None)

    def add_eval_problem(self, problem: Problem) -> None:
        """Declare a problem an evaluation problem, whatever its split (``--against`` outputs)."""
        where = f"{problem.dataset}:{problem.split}"
        self._eval_ids.setdefault(problem.problem_id, where)
        self._eval_prompts.setdefault(normalize_prompt(problem.prompt), f"{where}/{problem.problem_id}")

    def learn(self, problems: Iterable[Problem]) -> None:
        """Look at every problem of the inputs and remember those that the rules name."""
        for p in problems:
            if self.rule_for(p) is not None:
                self.add_eval_problem(p)

    def reason(self, problem: Problem) -> str | None:
        """Why the problem is contaminated ('eval split mbpp:test', 'same problem id as in mbpp:test'), or None when clean."""
        rule = self.rule_for(problem)
        if rule is not None:
            return f"eval split {rule}"
        where = self._eval_ids.get(problem.problem_id)
        if where is not None:
            return f"same problem id as in {where}"
        twin = self._eval_prompts.get(normalize_prompt(problem.prompt))
        if twin is not None:
            return f"same statement as {twin}"
        return None

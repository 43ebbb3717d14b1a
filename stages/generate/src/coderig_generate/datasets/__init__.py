"""The datasets registry: load a public benchmark (or the user's own) as contract ``Problem`` records.

``load_problems(name, source=..., split=..., difficulty_map=...)`` is the one entry point. Sources,
in order: the ``source`` file, ``CODERIG_DATA_<NAME>``, ``<CODERIG_DATA_DIR>/<standard file name>``,
then the public hub through ``datasets.load_dataset`` (see :data:`DATASETS`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from coderig_schemas import Difficulty, InvalidInputError, Problem, UsageError

from . import bfcl, ifeval, loaders
from . import math as math_loaders
from .custom import custom
from .difficulty import DERIVED_RULE, apply_mapping, derive_difficulty
from .loaders import MBPP_SPLITS, Normalizer
from .sources import DATA_DIR_ENV, HubSource, RawRecord, env_var, read_file, read_hub, resolve_local

log = logging.getLogger("coderig.generate")

__all__ = ["DATASETS", "DERIVED_RULE", "DatasetSpec", "dataset_names", "load_problems"]


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset."""

    name: str
    description: str
    normalize: Normalizer
    splits: tuple[str, ...]
    default_split: str
    standard_file: str | None  # file name in the public release (and in ../shared/data)
    hub: HubSource | None
    derive_difficulty: bool = True
    split_by_task_id: bool = False  # MBPP: the split is a function of task_id
    split_files: Mapping[str, str] | None = None  # standard file names of the other splits (LeetCode's train)
    # Reads the raw records itself (name, source, split, env) -> (records, origin): datasets made of several
    # files (BFCL's questions + possible answers) or whose hub split name differs from coderig's (IFEval).
    reader: Callable[[str, Path | None, str, Mapping[str, str] | None], tuple[list[RawRecord], str]] | None = None
    hub_splits: Mapping[str, str] | None = None  # coderig split -> the hub's name for it (AIME 2024's only split is 'train')
    # A subset of another dataset's file: keeps the problems it accepts, relabelled with this entry's name
    # (leetcode_hard: LeetCode's problems labelled Hard).
    subset: Callable[[Problem], bool] | None = None

    def local_file(self, split: str) -> str | None:
        """Standard file name holding ``split`` (None: no standard file has it, so only the hub does)."""
        if self.split_by_task_id or split in ("all", self.default_split):
            return self.standard_file
        return (self.split_files or {}).get(split)


_MBPP_SPLITS = tuple(s for s, _, _ in MBPP_SPLITS)

DATASETS: dict[str, DatasetSpec] = {
    s.name: s for s in (
        DatasetSpec("humaneval", "OpenAI HumanEval, 164 function-completion problems", loaders.humaneval,
                    ("test",), "test", "HumanEval.jsonl.gz", HubSource("openai/openai_humaneval", None, "test")),
        DatasetSpec("humaneval_plus", "HumanEval+ (EvalPlus v0.1.10), HumanEval with ~80x more tests", loaders.humaneval_plus,
                    ("test",), "test", "HumanEvalPlus-OriginFmt.jsonl.gz", HubSource("evalplus/humanevalplus", None, "test")),
        DatasetSpec("mbpp", "MBPP full, 974 basic Python problems (prompt/test/validation/train)", loaders.mbpp,
                    _MBPP_SPLITS, "test", "mbpp.jsonl", HubSource("google-research-datasets/mbpp", "full", None),
                    split_by_task_id=True),
        DatasetSpec("mbpp_sanitized", "MBPP sanitized, 427 hand-verified problems", loaders.mbpp_sanitized,
                    _MBPP_SPLITS, "test", "sanitized-mbpp.json", HubSource("google-research-datasets/mbpp", "sanitized", None),
                    split_by_task_id=True),
        DatasetSpec("leetcode", "LeetCodeDataset v0.3.1, 228 dated problems with Easy/Medium/Hard", loaders.leetcode,
                    ("test", "train"), "test", "LeetCodeDataset-v0.3.1-test.jsonl.gz", HubSource("newfacade/LeetCodeDataset", None, "test"),
                    derive_difficulty=False, split_files={"train": "LeetCodeDataset-v0.3.1-train.jsonl.gz"}),
        # advanced coding (issue 12): the hardest LeetCode problems; HumanEval+ (above) is the other advanced set
        DatasetSpec("leetcode_hard", "LeetCodeDataset v0.3.1 test, the 79 problems labelled Hard", loaders.leetcode,
                    ("test",), "test", "LeetCodeDataset-v0.3.1-test.jsonl.gz", HubSource("newfacade/LeetCodeDataset", None, "test"),
                    derive_difficulty=False, subset=lambda p: p.difficulty == Difficulty.HARD),
        # math (task_type math): one check per problem, the gold answer in Problem.grading; files under math/
        DatasetSpec("math500", "MATH-500, 500 competition problems (7 subjects, level 1-5) with LaTeX answers",
                    math_loaders.math500, ("test",), "test", "math/MATH-500-test.jsonl",
                    HubSource("HuggingFaceH4/MATH-500", None, "test"), derive_difficulty=False),
        DatasetSpec("gsm8k", "GSM8K test, 1,319 grade-school word problems with integer answers", math_loaders.gsm8k,
                    ("test",), "test", "math/gsm8k-test.jsonl", HubSource("openai/gsm8k", "main", "test"),
                    derive_difficulty=False),
        DatasetSpec("aime24", "AIME 2024 I and II, 30 problems with integer answers 0-999", math_loaders.aime24,
                    ("test",), "test", "math/aime-2024.jsonl", HubSource("HuggingFaceH4/aime_2024", None, "train"),
                    derive_difficulty=False, hub_splits={"test": "train"}),
        DatasetSpec("aime25", "AIME 2025 I and II, 30 problems with integer answers 0-999", math_loaders.aime25,
                    ("test",), "test", "math/aime-2025.jsonl", HubSource("math-ai/aime25", None, "test"),
                    derive_difficulty=False),
        DatasetSpec("amc23", "AMC 12 2023, 40 problems with numeric answers (no options)", math_loaders.amc23,
                    ("test",), "test", "math/amc-2023.jsonl", HubSource("math-ai/amc23", None, "test"),
                    derive_difficulty=False),
        # instruction following and function calling (issue 12); their loaders say where the files come from
        DatasetSpec("ifeval", "IFEval, 541 prompts with 1-3 verifiable instructions (instruction following)",
                    ifeval.normalize, ("test",), "test", ifeval.STANDARD_FILE, ifeval.HUB, derive_difficulty=False,
                    reader=ifeval.read),
        *(DatasetSpec(name, f"BFCL v4 {category}, {count} questions (function calling, AST check)", bfcl.normalizer(name),
                      ("test",), "test", f"bfcl/{file}", HubSource(bfcl.HUB_REPO, None, None), derive_difficulty=False,
                      reader=bfcl.read)
          for (name, (category, file)), count in zip(bfcl.FILES.items(), (400, 200, 200), strict=True)),
        DatasetSpec("custom", "your own problems: a JSONL file in the format of docs/generate.md", custom,
                    (), "all", None, None),
    )
}


def dataset_names() -> list[str]:
    """Registered dataset names."""
    return list(DATASETS)


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}", hint=f"choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def _raw(spec: DatasetSpec, source: Path | None, split: str, env: Mapping[str, str] | None) -> tuple[list[RawRecord], str]:
    # CODERIG_DATA_DIR only ever supplies the file of the requested split: reading LeetCode's test file
    # for --split train would label the test problems 'train'
    if spec.reader is not None:
        return spec.reader(spec.name, source, split, env)
    path = resolve_local(spec.name, source, spec.local_file(split), env)
    if path is not None:
        return read_file(path), str(path)
    if spec.hub is None:
        raise UsageError(
            f"dataset {spec.name!r} has no public hub copy",
            hint=f"pass --data-file FILE or set {env_var(spec.name)}=FILE (format in docs/generate.md)",
        )
    hub = spec.hub
    hub_split = (spec.hub_splits or {}).get(split, split)
    if not spec.split_by_task_id and hub_split not in (hub.split, "all"):
        hub = HubSource(hub.repo, hub.config, hub_split)
    return read_hub(spec.name, hub), f"hub:{hub.repo}"


def load_problems(
    name: str,
    *,
    source: Path | None = None,
    split: str | None = None,
    difficulty_map: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Load a registered dataset as ``Problem`` records in dataset order.

    ``split``: the dataset's split (MBPP: prompt, test, validation, train, or ``all``); None: its
    default. ``difficulty_map``: JSON or CSV problem_id -> easy/medium/hard overriding any other
    difficulty. ``env``: the environment to read ``CODERIG_DATA_*`` from (default ``os.environ``).
    Raises InvalidInputError (exit 3) for a bad file or an unreachable hub, UsageError for a bad name.
    """
    spec = _spec(name)
    split = split or spec.default_split
    if split != "all" and spec.splits and split not in spec.splits:
        raise UsageError(f"dataset {name!r} has no split {split!r}", hint=f"choose one of {', '.join(spec.splits)} or all")
    records, origin = _raw(spec, source, split, env)
    if not records:
        raise InvalidInputError(f"{origin}: no records", hint="check the file")
    file_split = "test" if split == "all" else split
    problems = [spec.normalize(r, file_split) for r in records]
    seen: set[str] = set()
    for r, p in zip(records, problems, strict=True):
        if p.problem_id in seen:
            raise InvalidInputError(f"{r.where}: problem_id: {p.problem_id!r} repeats", hint="problem ids must be unique")
        seen.add(p.problem_id)
    if spec.subset is not None:
        problems = [p.model_copy(update={"dataset": spec.name}) for p in problems if spec.subset(p)]
    if spec.split_by_task_id:
        problems.sort(key=lambda p: int(p.source["task_id"] or 0))
    if spec.derive_difficulty:
        problems = derive_difficulty(problems)  # over the whole dataset, so --split and --limit do not change it
    if difficulty_map is not None:
        problems, unmatched = apply_mapping(problems, difficulty_map)
        if unmatched:
            log.warning("%s: %d problem ids match no problem of %s", difficulty_map, unmatched, name)
    if split != "all":
        problems = [p for p in problems if p.split == split]
        if not problems:
            raise UsageError(f"{origin}: no problem of {name!r} is in split {split!r}", hint="pass another --split, or all")
    return problems


# re-exported for callers that describe sources (cli's `datasets` command)
DATA_DIR = DATA_DIR_ENV

"""Choosing the score outputs to analyze and reading them into columns.

Inputs are named by run references ('score/<name>[/<key>]'), by globs over score output names
('qwen*__mbpp__*'), or by a category of a categories file. What is missing or partial (a generate
output nobody scored, a score output with fewer results than samples, a category pair without a
run) becomes an :class:`InputIssue`, never an exception.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import Field

from coderig_schemas import InvalidInputError, Problem, PublishedOutput, RunStore, Sample, ScoreResult
from coderig_schemas._base import Record
from coderig_schemas.analysis import InputIssue, RunConfig
from coderig_schemas.io import hash_json, iter_jsonl
from coderig_schemas.layout import PROBLEMS, RESULTS, SAMPLES, default_name

from .fastread import read_columns

log = logging.getLogger("coderig.analyze")

RESULT_COLUMNS = [
    "sample_id", "problem_id", "split", "sample_index", "verdict", "passed", "exception_type", "difficulty",
]
SAMPLE_COLUMNS = [
    "sample_id", "extraction_method", "finish_reason", "prompt_tokens", "completion_tokens", "latency_s",
    "template_id", "sampling.temperature", "sampling.top_p", "sampling.max_tokens",
]
_GLOB_CHARS = set("*?[")


class Category(Record):
    """One category of the categories file: the models and datasets it compares."""

    models: list[str] = Field(min_length=1, description="Model names.")
    datasets: list[str] = Field(min_length=1, description="Dataset names.")


def read_category(path: Path, name: str) -> Category:
    """Read category name from a YAML file shaped {categories: {name: {models: [...], datasets: [...]}}}."""
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: categories file not found", hint="pass --categories-file PATH") from None
    except yaml.YAMLError as e:
        raise InvalidInputError(f"{path}: not valid YAML ({e})", hint="fix the file") from None
    categories = doc.get("categories") if isinstance(doc, dict) else None
    if not isinstance(categories, dict):
        raise InvalidInputError(f"{path}:1: categories: missing or not a mapping", hint="use {categories: {name: {models, datasets}}}")
    if name not in categories:
        known = ", ".join(sorted(categories)) or "none"
        raise InvalidInputError(f"{path}: no category {name!r}", hint=f"known categories: {known}")
    entry = categories[name]
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{path}: categories.{name}: not a mapping", hint="give it models and datasets lists")
    return Category.model_validate({"models": entry.get("models"), "datasets": entry.get("datasets")}, strict=False)


@dataclass
class Selection:
    """Score outputs chosen, and what was found missing on the way."""

    scores: list[PublishedOutput]
    issues: list[InputIssue]


def _latest_per_name(outputs: list[PublishedOutput]) -> list[PublishedOutput]:
    newest: dict[str, PublishedOutput] = {}
    for out in outputs:  # oldest first, so the last one per name wins
        newest[out.manifest.name] = out
    return list(newest.values())


def _generate_ref(score: PublishedOutput) -> str | None:
    return next((i.ref for i in score.manifest.inputs if i.ref.startswith("generate/")), None)


def select(store: RunStore, refs: list[str], category: tuple[str, Category] | None) -> Selection:
    """Resolve refs, globs and a category into score outputs (the newest version of each name)."""
    chosen: dict[str, PublishedOutput] = {}
    issues: list[InputIssue] = []
    globs: list[str] = []
    for ref in refs:
        if _GLOB_CHARS & set(ref):
            pattern = ref.removeprefix("score/")
            found = _latest_per_name(store.list_outputs("score", pattern))
            if not found:
                log.warning("no score output matches %r", ref)
                issues.append(InputIssue(kind="missing", ref=None, message=f"no score output matches {ref!r}"))
            chosen.update((o.ref, o) for o in found)
            globs.append(pattern)
        else:
            out = store.resolve(ref, stage="score")
            chosen[out.ref] = out
    if category is not None:
        cat_name, cat = category
        for model in cat.models:
            for dataset in cat.datasets:
                pattern = default_name(model, dataset, None).removesuffix("none") + "*"
                found = _latest_per_name(store.list_outputs("score", pattern))
                if not found:
                    msg = f"category {cat_name}: no score output for model {model} on dataset {dataset}"
                    issues.append(InputIssue(kind="missing", ref=None, message=msg))
                chosen.update((o.ref, o) for o in found)
                globs.append(pattern)
    # Generate outputs that nobody scored: only knowable for globs and categories.
    scored = {_generate_ref(o) for o in store.list_outputs("score")}
    for pattern in globs:
        for gen in _latest_per_name(store.list_outputs("generate", pattern)):
            if gen.ref not in scored:
                issues.append(InputIssue(kind="unscored", ref=gen.ref, message=f"{gen.ref} has no score output; run coderig-score on it"))
    if not chosen:
        raise InvalidInputError(
            "nothing to analyze: no score output matches the given references, globs or category",
            hint="list them with 'ls runs/score' and pass 'score/<name>' or a glob like 'model*__mbpp__*'",
        )
    unique = list({(i.kind, i.ref, i.message): i for i in issues}.values())
    return Selection(scores=sorted(chosen.values(), key=lambda o: o.ref), issues=unique)


@dataclass
class RunData:
    """One score output read into columns, with its generate output's samples and problems."""

    score: PublishedOutput
    generate: PublishedOutput | None
    config: RunConfig
    results: pd.DataFrame  # RESULT_COLUMNS plus 'line' (1-based line in results.jsonl) and sample columns
    problems: pd.DataFrame  # problem_id, split, difficulty, tags (list)
    samples_expected: int | None
    has_samples: bool


def _config_value(config: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return None


def _first(frame: pd.DataFrame, column: str) -> Any:
    if column not in frame or frame.empty:
        return None
    value = frame[column].iloc[0]
    return None if pd.isna(value) else value.item() if hasattr(value, "item") else value


def run_config(model: str, dataset: str, seed: int | None, gen_config: dict[str, Any], samples: pd.DataFrame) -> RunConfig:
    """The run's configuration: the generate manifest's config, else what its samples say."""
    fields: dict[str, Any] = {
        "model_name": model, "dataset": dataset, "seed": seed,
        "temperature": _config_value(gen_config, "temperature"),
        "top_p": _config_value(gen_config, "top_p"),
        "max_tokens": _config_value(gen_config, "max_tokens"),
        "template": _config_value(gen_config, "template", "template_id", "prompt_template"),
        "preset": _config_value(gen_config, "preset"),
    }
    for field, column in (("temperature", "sampling.temperature"), ("top_p", "sampling.top_p"),
                          ("max_tokens", "sampling.max_tokens"), ("template", "template_id")):
        if fields[field] is None:
            fields[field] = _first(samples, column)
    if fields["temperature"] is not None:
        fields["temperature"] = float(fields["temperature"])
    if fields["top_p"] is not None:
        fields["top_p"] = float(fields["top_p"])
    if fields["max_tokens"] is not None:
        fields["max_tokens"] = int(fields["max_tokens"])
    if fields["preset"] is not None:
        fields["preset"] = str(fields["preset"])
    fields["config_id"] = hash_json({k: v for k, v in fields.items() if k != "seed"})[:8]
    return RunConfig.model_validate(fields)


def _table_to_frame(table: Any) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas()
    return frame


def load_run(store: RunStore, score: PublishedOutput) -> tuple[RunData, list[InputIssue]]:
    """Read one score output (and its generate output, when it still exists)."""
    issues: list[InputIssue] = []
    if not score.has(RESULTS):
        issues.append(InputIssue(kind="empty", ref=score.ref, message=f"{score.ref} has no {RESULTS}"))
        results = pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_COLUMNS})
    else:
        results = _table_to_frame(read_columns(score.path_of(RESULTS), ScoreResult, [*RESULT_COLUMNS, "model_name", "dataset", "seed"]))
    results["line"] = np.arange(1, len(results) + 1)
    gen: PublishedOutput | None = None
    gen_ref = _generate_ref(score)
    if gen_ref is not None:
        try:
            gen = store.resolve(gen_ref, stage="generate")
        except InvalidInputError as e:
            issues.append(InputIssue(kind="no_generate", ref=score.ref, message=f"{score.ref}: generate input unavailable ({e.message})"))
    problems = pd.DataFrame({"problem_id": pd.Series(dtype=object), "split": pd.Series(dtype=object),
                             "difficulty": pd.Series(dtype=object), "tags": pd.Series(dtype=object)})
    samples_expected: int | None = None
    has_samples = False
    samples = pd.DataFrame()
    if gen is not None:
        if gen.has(PROBLEMS):
            problems = _problems(gen)
        if gen.has(SAMPLES):
            samples_expected = gen.entry(SAMPLES).records
            samples = _table_to_frame(read_columns(gen.path_of(SAMPLES), Sample, SAMPLE_COLUMNS))
            samples["sample_line"] = np.arange(1, len(samples) + 1)
            has_samples = True
    if has_samples:
        results = _attach_samples(results, samples)
    model = str(_first(results, "model_name") or _config_value(gen.manifest.config if gen else {}, "model") or score.manifest.name)
    dataset = str(_first(results, "dataset") or _config_value(gen.manifest.config if gen else {}, "dataset") or "unknown")
    seed_value = _first(results, "seed")
    seed = int(seed_value) if seed_value is not None else None
    config = run_config(model, dataset, seed, gen.manifest.config if gen else {}, samples)
    if samples_expected is not None and len(results) < samples_expected:
        issues.append(InputIssue(kind="partial", ref=score.ref,
                                 message=f"{score.ref}: {len(results)} of {samples_expected} samples scored"))
    if not results.empty and (problems.empty or not results["problem_id"].isin(problems["problem_id"]).all()):
        # No problems snapshot: rebuild what the results themselves carry.
        first = results.drop_duplicates("problem_id")
        problems = pd.DataFrame({"problem_id": first["problem_id"].to_numpy(), "split": first["split"].to_numpy(),
                                 "difficulty": first["difficulty"].to_numpy(), "tags": [[] for _ in range(len(first))]})
    return RunData(score=score, generate=gen, config=config, results=results, problems=problems,
                   samples_expected=samples_expected, has_samples=has_samples), issues


#: Problem snapshots already read, by sha256: the runs of one dataset share the same file content.
_PROBLEMS_SEEN: dict[str, pd.DataFrame] = {}


def _problems(gen: PublishedOutput) -> pd.DataFrame:
    """problem_id, split, difficulty and tags of a generate output's problems (validated once per content)."""
    path = gen.path_of(PROBLEMS)  # checks the sha256 against the manifest
    digest = gen.entry(PROBLEMS).sha256
    if digest not in _PROBLEMS_SEEN:
        rows = [(p.problem_id, p.split, p.difficulty.value if p.difficulty else None, list(p.tags)) for p in iter_jsonl(path, Problem)]
        _PROBLEMS_SEEN[digest] = pd.DataFrame(rows, columns=["problem_id", "split", "difficulty", "tags"])
    return _PROBLEMS_SEEN[digest]


def _attach_samples(results: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Add each result's sample columns (results are in samples order, so usually no join is needed)."""
    extra = [c for c in samples.columns if c != "sample_id"]
    n = len(results)
    if n <= len(samples) and np.array_equal(results["sample_id"].to_numpy(), samples["sample_id"].to_numpy()[:n]):
        for c in extra:
            results[c] = samples[c].to_numpy()[:n]
        return results
    merged: pd.DataFrame = results.merge(samples, on="sample_id", how="left", validate="one_to_one")
    return merged

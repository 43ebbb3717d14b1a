"""Choosing the score outputs to analyze and reading them into columns.

Inputs are named by run references ('score/<name>[/<key>]'), by globs over score output names
('qwen*__mbpp__*'), or by a category of a categories file. What is missing or partial (a generate
output nobody scored, a score output with fewer results than samples, a category pair without a
run) becomes an :class:`InputIssue`, never an exception.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import Field, ValidationError

from coderig_schemas import InvalidInputError, Problem, PublishedOutput, RunStore, Sample, ScoreResult, Verdict
from coderig_schemas._base import Record
from coderig_schemas.analysis import InputIssue, RunConfig
from coderig_schemas.io import iter_jsonl
from coderig_schemas.layout import PROBLEMS, REFERENCE_TIMINGS, RESULTS, SAMPLES, default_name
from coderig_schemas.scored import ScoredRun, generate_input, open_scored_run

from .fastread import read_columns

log = logging.getLogger("coderig.analyze")

RESULT_COLUMNS = [
    "sample_id", "problem_id", "split", "sample_index", "verdict", "passed", "exception_type", "difficulty",
    # per-check counts and IFEval's loose variant (null for other task types): instruction-level and loose metrics
    "tests_passed", "tests_total", "loose_passed", "loose_tests_passed",
]
SAMPLE_COLUMNS = [
    "sample_id", "extraction_method", "finish_reason", "prompt_tokens", "completion_tokens", "latency_s",
    "raw_response",
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
        raise InvalidInputError(f"{path}: categories file not found",
                                hint="check the path given by --categories-file or CODERIG_CATEGORIES") from None
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
    try:
        return Category.model_validate({"models": entry.get("models"), "datasets": entry.get("datasets")}, strict=False)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{path}: categories.{name}.{loc}: {first['msg']}", hint="give lists of model and dataset names") from None


@dataclass
class Selection:
    """Score outputs chosen, and what was found missing on the way."""

    scores: list[PublishedOutput]
    issues: list[InputIssue]
    missing_pairs: list[str]  # 'model on dataset' pairs of the category without a score output


def resolve_run(store: RunStore, ref: str) -> PublishedOutput:
    """A score output named explicitly; reference timings (score's 'reftimes__<dataset>') are refused, not read as an empty run."""
    out = store.resolve(ref, stage="score")
    if not out.has(RESULTS) and out.has(REFERENCE_TIMINGS):
        raise InvalidInputError(
            f"{out.ref} holds the scorer's reference timings ({REFERENCE_TIMINGS}), not results",
            hint="name the score output of a generate output, e.g. 'score/<model>__<dataset>__s<seed>'",
        )
    return out


def _is_run(out: PublishedOutput, shards: bool) -> bool:
    """Whether a glob takes a score output: one holding results, and a shard only when shards are asked for."""
    return out.has(RESULTS) and (shards or not _is_shard(out))


def _is_shard(out: PublishedOutput) -> bool:
    """A shard output of a split score run ('score/shard<i>of<N>__<name>'): its merged output holds the same results."""
    return out.manifest.config.get("shard") is not None


def select(store: RunStore, refs: list[str], category: tuple[str, Category] | None) -> Selection:
    """Resolve refs, globs and a category into score outputs (the last published version of each name, by the store's rule)."""
    chosen: dict[str, PublishedOutput] = {}
    issues: list[InputIssue] = []
    missing_pairs: list[str] = []
    globs: list[str] = []
    for ref in refs:
        if _GLOB_CHARS & set(ref):
            pattern = ref.removeprefix("score/")
            # Shard outputs would count each sample twice next to their merged output: a glob takes them
            # only when it names them ('shard*'); a reference always does. Reference timings are not runs.
            # Which versions of a name a glob takes is the store's rule (RunStore.select), said on stderr.
            selection = store.select("score", pattern, keep=partial(_is_run, shards=pattern.startswith("shard")))
            for note in selection.notes:
                log.warning("%s", note)
            found = selection.outputs
            if not found:
                log.warning("no score output matches %r", ref)
                issues.append(InputIssue(kind="missing", ref=None, message=f"no score output matches {ref!r}"))
            chosen.update((o.ref, o) for o in found)
            globs.append(pattern.partition("/")[0])
        else:
            out = resolve_run(store, ref)
            chosen[out.ref] = out
    if category is not None:
        cat_name, cat = category
        for model in cat.models:
            for dataset in cat.datasets:
                pattern = default_name(model, dataset, None).removesuffix("snone") + "*"  # old and new names alike
                selection = store.select("score", pattern, keep=partial(_is_run, shards=False))
                for note in selection.notes:
                    log.warning("%s", note)
                found = selection.outputs
                if not found:
                    msg = f"category {cat_name}: no score output for model {model} on dataset {dataset}"
                    issues.append(InputIssue(kind="missing", ref=None, message=msg))
                    missing_pairs.append(f"{model} on {dataset}")
                chosen.update((o.ref, o) for o in found)
                globs.append(pattern)
    # Generate outputs that nobody scored: only knowable for globs and categories.
    outputs = store.list_outputs("score")
    scored = {generate_input(o) for o in outputs if not _is_shard(o)}
    sharded = {generate_input(o) for o in outputs if _is_shard(o)}
    for pattern in globs:
        for gen in store.select("generate", pattern.partition("/")[0]).outputs:
            if gen.ref in scored:
                continue
            message = (f"{gen.ref} is scored only in shard outputs, left out; merge them with 'coderig-score merge' "
                       "(or name them: 'score/shard*')" if gen.ref in sharded
                       else f"{gen.ref} has no score output; run coderig-score on it")
            issues.append(InputIssue(kind="unscored", ref=gen.ref, message=message))
    if not chosen:
        raise InvalidInputError(
            f"nothing to analyze: no score output in {store.root} matches the given references, globs or category",
            hint=f"list them with 'ls {store.root / 'score'}' and pass 'score/<name>' or a glob like 'model*__mbpp__*'",
        )
    unique = list({(i.kind, i.ref, i.message): i for i in issues}.values())
    return Selection(scores=sorted(chosen.values(), key=lambda o: o.ref), issues=unique, missing_pairs=missing_pairs)


@dataclass
class RunData:
    """One score output read into columns, with its generate output's samples and problems.

    ``config`` is the run's identity (``coderig_schemas.scored``: published by generate, or derived there
    for older outputs) as a table row; nothing here guesses a model or seed.
    """

    score: PublishedOutput
    generate: PublishedOutput | None
    config: RunConfig
    results: pa.Table  # RUN_SCHEMA: results, 'line' (1-based line in results.jsonl) and their samples' columns
    problems: pd.DataFrame  # problem_id, split, difficulty, tags (list), task_type, level (MATH's 1-5, else None)
    samples_expected: int | None
    has_samples: bool
    task_type: str = "code"  # the problems' task type (the most common one, should a custom file mix them)


#: Columns and types of a run's table (results with their samples' columns), the same for every run.
RUN_SCHEMA = pa.schema([
    ("problem_id", pa.string()), ("split", pa.string()), ("sample_index", pa.int64()), ("verdict", pa.string()),
    ("passed", pa.bool_()), ("exception_type", pa.string()), ("difficulty", pa.string()), ("line", pa.int64()),
    ("extraction_method", pa.string()), ("finish_reason", pa.string()), ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()), ("latency_s", pa.float64()), ("sample_line", pa.int64()),
    ("response_chars", pa.int64()), ("tests_passed", pa.int64()), ("tests_total", pa.int64()),
    ("loose_passed", pa.bool_()), ("loose_tests_passed", pa.int64()),
])


def _first_value(table: pa.Table | None, column: str) -> Any:
    if table is None or table.num_rows == 0 or column not in table.column_names:
        return None
    return table.column(column)[0].as_py()


def _existing(out: PublishedOutput, rel: str) -> Path:
    """Path of a file the manifest lists (its sha256 is checked while it is read)."""
    path = out.path / rel
    if not path.is_file():
        raise InvalidInputError(f"{path}: listed in {out.ref}'s manifest but missing", hint="the store was altered; re-run the stage")
    return path


def open_run(store: RunStore, score: PublishedOutput) -> tuple[ScoredRun, list[InputIssue]]:
    """The scored run (coderig_schemas.scored): a missing or changed generate output is an issue, not an error."""
    run = open_scored_run(store, score, strict=False)
    if run.generate_problem is None:
        return run, []
    return run, [InputIssue(kind="no_generate", ref=score.ref, message=f"{score.ref}: {run.generate_problem}")]


def load_run(run: ScoredRun) -> tuple[RunData, list[InputIssue]]:
    """Read one scored run into columns: its results, and the problems and samples of its generate output when there is one."""
    score, gen = run.score, run.generate
    issues: list[InputIssue] = []
    columns = RESULT_COLUMNS
    if score.has(RESULTS):
        path = _existing(score, RESULTS)
        results = read_columns(path, ScoreResult, columns, verify=lambda d: score.accept_digest(RESULTS, d))
        _check_consistent(path, results)
    else:
        issues.append(InputIssue(kind="empty", ref=score.ref, message=f"{score.ref} has no {RESULTS}"))
        results = pa.table({c: pa.array([], pa.string()) for c in columns})
    n = results.num_rows
    results = results.append_column("line", pa.array(np.arange(1, n + 1, dtype=np.int64)))
    problems = pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    samples_expected: int | None = None
    samples: pa.Table | None = None
    if gen is not None:
        if gen.has(PROBLEMS):
            problems = _problems(gen)
        if gen.has(SAMPLES):
            samples_expected = gen.entry(SAMPLES).records
            samples = read_columns(_existing(gen, SAMPLES), Sample, SAMPLE_COLUMNS, verify=lambda d: gen.accept_digest(SAMPLES, d))
            samples = samples.append_column("sample_line", pa.array(np.arange(1, samples.num_rows + 1, dtype=np.int64)))
            # only the response's length is kept: the texts themselves would be most of the memory
            chars = pc.cast(pc.utf8_length(samples.column("raw_response")), pa.int64())
            samples = samples.drop_columns(["raw_response"]).append_column("response_chars", chars)
    config = RunConfig.from_identity(run.identity)
    if samples_expected is not None and n < samples_expected:
        issues.append(InputIssue(kind="partial", ref=score.ref, message=f"{score.ref}: {n} of {samples_expected} samples scored"))
    harness = pc.sum(pc.equal(results.column("verdict"), Verdict.SANDBOX_ERROR.value)).as_py() if n else 0
    if harness:
        issues.append(InputIssue(kind="partial", ref=score.ref, message=(
            f"{score.ref}: {harness} of {n} samples ended in sandbox_error (the harness failed, not the model): "
            "left out of every rate and pass@k; re-score them")))
    table = _attach_samples(results, samples)
    known = pa.array(problems["problem_id"], pa.string())
    if n and (problems.empty or not pc.all(pc.is_in(table.column("problem_id"), value_set=known)).as_py()):
        # No problems snapshot: rebuild what the results themselves carry.
        first = table.select(["problem_id", "split", "difficulty"]).to_pandas().drop_duplicates("problem_id")
        problems = first.assign(tags=[[] for _ in range(len(first))], task_type=None, level=None).reset_index(drop=True)
    types = problems["task_type"].dropna()
    task_type = str(types.mode().iloc[0]) if len(types) else "code"
    return RunData(score=score, generate=gen, config=config, results=table, problems=problems,
                   samples_expected=samples_expected, has_samples=samples is not None, task_type=task_type), issues


def _check_consistent(path: Path, results: pa.Table) -> None:
    """What the schema cannot say about results: passed agrees with verdict, and each sample is scored once.

    Either would silently skew the rates (a 'wrong_answer' counted as passed; a sample counted twice
    in n and c), so they are invalid input, named by file:line like a schema violation.
    """
    if results.num_rows == 0:
        return
    passed = results.column("passed").to_numpy(zero_copy_only=False).astype(bool)
    verdict = results.column("verdict").to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(passed != (verdict == Verdict.PASSED.value))
    if bad.size:
        i = int(bad[0])
        raise InvalidInputError(
            f"{path}:{i + 1}: passed: {str(bool(passed[i])).lower()} contradicts verdict {verdict[i]!r}",
            hint="passed must be true exactly when verdict is 'passed'; re-score the run",
        )
    ids = pd.Index(results.column("sample_id").to_numpy(zero_copy_only=False))
    repeated = np.flatnonzero(ids.duplicated())
    if repeated.size:
        i = int(repeated[0])
        first = int(np.flatnonzero(ids == ids[i])[0])
        raise InvalidInputError(
            f"{path}:{i + 1}: sample_id: {ids[i]!r} already scored at line {first + 1}",
            hint="each sample must be scored once; re-score the run (or merge its shards again)",
        )


#: Columns of a run's problems frame.
PROBLEM_COLUMNS = ["problem_id", "split", "difficulty", "tags", "task_type", "level"]


def _level(value: object) -> str | None:
    """MATH's level (source.level, 1-5) as a bucket name; None for datasets without one."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


#: Problem snapshots already read, by sha256: the runs of one dataset share the same file content.
_PROBLEMS_SEEN: dict[str, pd.DataFrame] = {}


def _problems(gen: PublishedOutput) -> pd.DataFrame:
    """problem_id, split, difficulty and tags of a generate output's problems (validated once per content)."""
    path = gen.path_of(PROBLEMS)  # checks the sha256 against the manifest
    digest = gen.entry(PROBLEMS).sha256
    if digest not in _PROBLEMS_SEEN:
        if len(_PROBLEMS_SEEN) >= 256:  # a long-lived process analyzing many stores: keep the cache bounded
            _PROBLEMS_SEEN.clear()
        rows = [(p.problem_id, p.split, p.difficulty.value if p.difficulty else None, list(p.tags), p.task_type.value,
                 _level(p.source.get("level"))) for p in iter_jsonl(path, Problem)]
        _PROBLEMS_SEEN[digest] = pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    return _PROBLEMS_SEEN[digest]


def _attach_samples(results: pa.Table, samples: pa.Table | None) -> pa.Table:
    """The run's table in RUN_SCHEMA: results plus their samples' columns (null without samples).

    Results are written in samples order, so the columns usually line up without a join.
    """
    extra = ["extraction_method", "finish_reason", "prompt_tokens", "completion_tokens", "latency_s", "sample_line",
             "response_chars"]
    n = results.num_rows
    if samples is None:
        added = {c: pa.nulls(n, RUN_SCHEMA.field(c).type) for c in extra}
    elif n <= samples.num_rows and pc.all(pc.equal(results.column("sample_id"), samples.column("sample_id").slice(0, n))).as_py() in (
        True, None,
    ):
        added = {c: samples.column(c).slice(0, n) for c in extra}
    else:
        joined = results.select(["sample_id", "line"]).join(samples.select(["sample_id", *extra]), keys="sample_id", join_type="left outer")
        joined = joined.sort_by("line")
        added = {c: joined.column(c) for c in extra}
    columns = {c: results.column(c) for c in RUN_SCHEMA.names if c in results.column_names}
    columns.update(added)
    return pa.table({c: columns[c] for c in RUN_SCHEMA.names}).cast(RUN_SCHEMA)

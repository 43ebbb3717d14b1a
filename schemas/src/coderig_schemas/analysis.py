"""Analysis outputs: the per-run summary users already keep, and its richer companions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ._base import Record, upgrade_record
from .identity import RunIdentity
from .tasks import TaskType

#: Version 2 of ``Analysis`` added ``metrics`` (every run's task-type metrics with CIs); version 2 of
#: ``ComparisonMatrix`` added ``presets``, ``task_types`` and ``metrics`` (the metric each dataset's cells
#: hold). A version 1 document reads as version 2 with those empty.


class Interval(Record):
    """A point estimate with a confidence interval."""

    estimate: float = Field(description="Point estimate.")
    low: float = Field(description="Lower bound.")
    high: float = Field(description="Upper bound.")
    level: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")
    method: str = Field(description="How the interval was computed, e.g. 'wilson', 'bootstrap'.")


class BucketStats(Record):
    """Counts and rate for one bucket (a difficulty, a split, a tag)."""

    total: int = Field(ge=0, description="Problems in the bucket.")
    passed: int = Field(ge=0, description="Problems passed in the bucket.")
    pass_rate: float = Field(ge=0, le=1, description="passed / total; 0 when the bucket is empty.")


class DifficultyBreakdown(Record):
    """Per-difficulty stats, in the shape users' tooling already reads."""

    easy: BucketStats = Field(description="Easy problems.")
    medium: BucketStats = Field(description="Medium problems.")
    hard: BucketStats = Field(description="Hard problems.")


class AnalysisSummary(Record):
    """Summary of one scored run (model x dataset x config x seed)."""

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
    run_ref: str = Field(description="Reference of the score output summarized ('score/<name>/<key>').")
    model_name: str = Field(description="Model name.")
    dataset: str = Field(description="Dataset name.")
    seed: int | None = Field(default=None, description="Seed of the run, if one.")
    total_problems: int = Field(ge=0, description="Problems scored.")
    passed_problems: int = Field(ge=0, description="Problems whose first sample passed.")
    pass_rate: float = Field(ge=0, le=1, description="passed_problems / total_problems.")
    pass_rate_ci: Interval | None = Field(default=None, description="95% confidence interval of pass_rate.")
    pass_at_k: dict[str, float] = Field(default_factory=dict, description="k -> unbiased pass@k over problems.")
    difficulty_breakdown: DifficultyBreakdown = Field(description="Counts and rates per difficulty.")
    verdict_counts: dict[str, int] = Field(default_factory=dict, description="Verdict -> number of samples.")
    total_samples: int = Field(default=0, ge=0, description="Samples scored.")


# -- the analysis.json document and its parts ------------------------------------------------------


class Distribution(Record):
    """Summary of a numeric quantity over samples (tokens, latency)."""

    count: int = Field(ge=0, description="Samples with a value.")
    total: float = Field(description="Sum of the values.")
    mean: float = Field(description="Arithmetic mean.")
    median: float = Field(description="50th percentile.")
    p95: float = Field(description="95th percentile.")
    max: float = Field(description="Largest value.")


class RunConfig(Record):
    """What distinguishes one scored run from another: its identity (coderig_schemas.identity), flattened for tables."""

    model_name: str = Field(description="Model name.")
    dataset: str = Field(description="Dataset name.")
    split: str | None = Field(default=None, description="Split of the problems (several joined by ','); null when unknown.")
    seed: int | None = Field(default=None, description="Seed of the run.")
    temperature: float | None = Field(default=None, description="Sampling temperature.")
    top_p: float | None = Field(default=None, description="Nucleus sampling mass.")
    max_tokens: int | None = Field(default=None, description="Maximum generated tokens.")
    n: int | None = Field(default=None, description="Samples per prompt.")
    chat_template: bool | None = Field(default=None, description="Whether the model's chat template was applied.")
    template: str | None = Field(default=None, description="Prompt template name.")
    preset: str | None = Field(default=None, description="Generation preset name, if one was used.")
    engine: str | None = Field(default=None, description="Inference engine.")
    label: str = Field(default="", description=(
        "The sampling and prompt settings for a person, e.g. 'T=0.8 top_p=0.95 max=1024 tpl=chat' (RunIdentity.label)."))
    config_id: str = Field(description=(
        "Short hash of the run's identity except its seed (RunIdentity.config_id): runs sharing it differ only by seed."))

    @classmethod
    def from_identity(cls, identity: RunIdentity) -> RunConfig:
        """The table view of a run's identity."""
        return cls(model_name=identity.model, dataset=identity.dataset, split=identity.split, seed=identity.seed,
                   temperature=identity.temperature, top_p=identity.top_p, max_tokens=identity.max_tokens, n=identity.n,
                   chat_template=identity.chat_template, template=identity.template_id, preset=identity.preset,
                   engine=identity.engine, label=identity.label(), config_id=identity.config_id)


class RunAnalysis(Record):
    """Everything measured on one scored run (one model x dataset x config x seed)."""

    summary: AnalysisSummary = Field(description="The summary users already keep.")
    generate_ref: str | None = Field(description="Generate output the samples came from; null when it is missing.")
    config: RunConfig = Field(description="Model, dataset and sampling configuration of the run.")
    samples_expected: int | None = Field(description="Samples the generate output holds; null when unknown.")
    complete: bool = Field(description="False when fewer results than samples were scored.")
    samples_per_problem: int = Field(ge=0, description="Smallest number of scored samples of any problem (the largest k).")
    pass_at_k_ci: dict[str, Interval] = Field(description="k -> pass@k with a bootstrap CI over problems.")
    split_breakdown: dict[str, BucketStats] = Field(description="Split -> counts and rate (first sample).")
    tag_breakdown: dict[str, BucketStats] = Field(description="Problem tag -> counts and rate (first sample).")
    verdict_shares: dict[str, float] = Field(description="Verdict -> share of samples.")
    exception_types: dict[str, int] = Field(description="Exception class -> samples with a runtime_error verdict.")
    extraction_methods: dict[str, int] = Field(description="Extraction method -> samples; empty without the generate output.")
    finish_reasons: dict[str, int] = Field(description="Finish reason -> samples; empty without the generate output.")
    prompt_tokens: Distribution | None = Field(description="Prompt tokens per sample.")
    completion_tokens: Distribution | None = Field(description="Generated tokens per sample.")
    latency_s: Distribution | None = Field(description="Seconds per sample, as the engine reported them.")
    tokens_per_s: float | None = Field(description="Generated tokens / summed latency.")
    samples_per_s: float | None = Field(description="Samples / summed latency.")


class SeedGroup(Record):
    """Spread of the pass rate across the seeds of one configuration."""

    config: RunConfig = Field(description="The configuration (seed null).")
    seeds: list[int | None] = Field(description="Seeds of the runs.")
    runs: int = Field(ge=1, description="Number of runs.")
    mean: float = Field(description="Mean pass rate across seeds.")
    std: float | None = Field(description="Sample standard deviation (ddof=1); null for one run.")
    min: float = Field(description="Lowest pass rate.")
    max: float = Field(description="Highest pass rate.")
    ci: Interval | None = Field(description="Student's t interval of the mean; null for one run.")


class ConfigEffect(Record):
    """Pass rate of the runs sharing one value of one configuration factor."""

    factor: str = Field(description="temperature, top_p, max_tokens, template, preset or model.")
    value: str = Field(description="The factor's value, as text.")
    model_name: str = Field(description="Model of the runs.")
    dataset: str = Field(description="Dataset of the runs.")
    runs: int = Field(ge=1, description="Number of runs.")
    mean: float = Field(description="Mean pass rate.")
    std: float | None = Field(description="Sample standard deviation; null for one run.")
    min: float = Field(description="Lowest pass rate.")
    max: float = Field(description="Highest pass rate.")


class MatrixCell(Record):
    """One model on one dataset, at its best configuration."""

    model_name: str = Field(description="Model.")
    dataset: str = Field(description="Dataset.")
    config_id: str = Field(description="Best configuration (highest mean pass rate across its seeds).")
    label: str = Field(default="", description="That configuration's settings for a person (RunIdentity.label).")
    runs: int = Field(ge=1, description="Runs (seeds) of that configuration.")
    pass_rate: Interval = Field(description=(
        "Mean pass rate over those runs with a CI: Wilson for one run (the run's own interval); for several "
        "seeds a percentile bootstrap over problems of each problem's share of seeds passed ('bootstrap over "
        "problems, k seeds'), so the interval reflects the problems, not 2-3 seed means."))
    rank: int = Field(ge=1, description="Rank among the models on this dataset (1 = best; ties share the best rank).")


class ComparisonMatrix(Record):
    """Model x dataset comparison, e.g. of a category such as 'coding_specialists'.

    Datasets of different task types share one matrix: every cell holds the share of problems whose
    first sample passed, named by its dataset's task type (``metrics``: pass@1 for code, accuracy for
    math and function calling, prompt-level strict accuracy for instruction following).
    """

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    category: str | None = Field(description="Category the models and datasets came from, if any.")
    presets: list[str] = Field(default_factory=list, description=(
        "Generation presets of the runs in the matrix, sorted (one for a category run); empty when the "
        "generate outputs name none, and in version 1 documents."))
    task_types: dict[str, TaskType] = Field(default_factory=dict, description=(
        "Dataset -> task type of its problems (empty in version 1 documents)."))
    metrics: dict[str, str] = Field(default_factory=dict, description=(
        "Dataset -> name of the metric its cells hold (coderig_schemas.tasks.PRIMARY_METRIC of its task type; "
        "empty in version 1 documents)."))
    models: list[str] = Field(description="Models, best mean rank first.")
    datasets: list[str] = Field(description="Datasets, sorted.")
    cells: list[MatrixCell] = Field(description="One cell per model and dataset that has runs.")
    mean_rank: dict[str, float] = Field(description="Model -> mean rank over the datasets it was run on.")
    missing: list[str] = Field(description="'model on dataset' pairs the category expects but no score output covers.")

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: frozenset({"presets", "task_types", "metrics"})})


class PairedComparison(Record):
    """Two runs on the same problems: does A beat B? (Also what 'coderig-analyze compare --json' prints.)"""

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
    dataset: str = Field(description="Dataset of both runs.")
    a_ref: str = Field(description="Score output A.")
    b_ref: str = Field(description="Score output B.")
    a_model: str = Field(description="Model of A.")
    b_model: str = Field(description="Model of B.")
    problems: int = Field(ge=1, description="Problems both runs scored (the pairs).")
    a_rate: float = Field(description="A's pass rate (first sample) on those problems.")
    b_rate: float = Field(description="B's pass rate (first sample) on those problems.")
    difference: Interval = Field(description="a_rate - b_rate with a paired bootstrap CI over problems.")
    both_passed: int = Field(ge=0, description="Problems both passed.")
    a_only: int = Field(ge=0, description="Problems only A passed (discordant).")
    b_only: int = Field(ge=0, description="Problems only B passed (discordant).")
    both_failed: int = Field(ge=0, description="Problems both failed.")
    mcnemar_p: float = Field(ge=0, le=1, description="Two-sided exact McNemar p-value (binomial test on the discordant pairs).")

class RunMetrics(Record):
    """A run's metrics as its task type defines them, each with a confidence interval.

    Every run has its primary metric (``metric``: the share of problems whose first sample passed,
    under its task type's name). Instruction following (IFEval) adds the four standard numbers:
    prompt-level and instruction-level accuracy, strict and loose, read from the score results'
    ``passed``/``tests_passed`` (strict) and ``loose_passed``/``loose_tests_passed`` (loose).
    """

    run_ref: str = Field(description="Score output ('score/<name>/<key>').")
    model_name: str = Field(description="Model.")
    dataset: str = Field(description="Dataset.")
    seed: int | None = Field(default=None, description="Seed of the run.")
    task_type: TaskType = Field(description="Task type of the run's problems.")
    metric: str = Field(description="Name of the primary metric (coderig_schemas.tasks.PRIMARY_METRIC).")
    values: dict[str, Interval] = Field(description=(
        "Metric name -> estimate with CI: the primary metric (Wilson), and for instruction following "
        "prompt_level_strict_accuracy, prompt_level_loose_accuracy (Wilson over prompts), "
        "inst_level_strict_accuracy, inst_level_loose_accuracy (bootstrap over prompts)."))


class ProblemSummary(Record):
    """Empirical difficulty of a dataset's problems across every analyzed run."""

    dataset: str = Field(description="Dataset.")
    problems: int = Field(ge=0, description="Problems seen in any run.")
    models: int = Field(ge=0, description="Models that ran on the dataset.")
    empirical: dict[str, int] = Field(description="easy/medium/hard -> problems, by pass fraction (>= 2/3, >= 1/3, below).")
    never_solved: list[str] = Field(description="Problems no sample of any run passed.")
    always_solved: list[str] = Field(description="Problems every sample of every run passed.")


class InputIssue(Record):
    """Something missing or incomplete among the inputs; reported, never fatal."""

    kind: Literal["partial", "unscored", "no_generate", "missing", "empty"] = Field(
        description="partial: fewer results than samples; unscored: a generate output with no score output; "
        "no_generate: a score output whose generate input is gone; missing: a category pair with no run; "
        "empty: a score output without results."
    )
    ref: str | None = Field(description="Output concerned, if any.")
    message: str = Field(description="What is wrong, in a sentence.")


class Analysis(Record):
    """The analysis.json document of a published analysis."""

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    name: str = Field(description="Name of the analysis output.")
    category: str | None = Field(description="Category analyzed, if one was named.")
    level: float = Field(gt=0, lt=1, description="Confidence level of every interval.")
    bootstrap: int = Field(ge=1, description="Bootstrap replicates.")
    seed: int = Field(description="Seed of the bootstrap generator.")
    runs: list[RunAnalysis] = Field(description="One entry per score output analyzed.")
    metrics: list[RunMetrics] = Field(default_factory=list, description=(
        "Per run (same order as runs): its task type's metrics with CIs (empty in version 1 documents)."))
    seed_analysis: list[SeedGroup] = Field(description="Spread across seeds, per configuration.")
    config_analysis: list[ConfigEffect] = Field(description="Pass rate by configuration factor.")
    matrix: ComparisonMatrix = Field(description="Model x dataset comparison with ranks.")
    paired: list[PairedComparison] = Field(description="Paired comparisons of runs of different models on one dataset and seed.")
    problems: list[ProblemSummary] = Field(description="Empirical difficulty per dataset.")
    issues: list[InputIssue] = Field(description="Missing or partial inputs found.")

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: frozenset({"metrics"})})

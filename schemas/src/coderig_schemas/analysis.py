"""Analysis outputs: the per-run summary users already keep, and its richer companions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import Record

ANALYSIS_SCHEMA_VERSION = 1


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

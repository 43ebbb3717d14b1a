"""Which model each JSON Schema file is generated from."""

from __future__ import annotations

from pydantic import BaseModel

from .analysis import Analysis, AnalysisSummary, ComparisonMatrix, PairedComparison
from .finetune import ChatExample, DatasetSummaryRow, FineTuneExample
from .manifest import Manifest
from .problem import Problem
from .sample import Sample
from .score import ReferenceTiming, ScoreResult

#: schema name -> model. A stage that adds a cross-stage file adds its model here.
SCHEMAS: dict[str, type[BaseModel]] = {
    "problem": Problem,
    "sample": Sample,
    "score_result": ScoreResult,
    "reference_timing": ReferenceTiming,
    "analysis_summary": AnalysisSummary,
    "analysis": Analysis,
    "comparison_matrix": ComparisonMatrix,
    "paired_comparison": PairedComparison,
    "finetune_example": FineTuneExample,
    "chat_example": ChatExample,
    "dataset_summary_row": DatasetSummaryRow,
    "manifest": Manifest,
}


def schema_version(model: type[BaseModel]) -> int:
    """The schema_version a model writes."""
    default = model.model_fields["schema_version"].default
    assert isinstance(default, int)  # every contract model defines an int schema_version
    return default


def schema_filename(name: str) -> str:
    """File name of a schema's current version, e.g. 'problem.v1.schema.json'."""
    return f"{name}.v{schema_version(SCHEMAS[name])}.schema.json"

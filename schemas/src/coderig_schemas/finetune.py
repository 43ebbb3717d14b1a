"""Fine-tuning examples exported from passing samples, and the per-dataset summary of an export."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ._base import Record, upgrade_record
from .problem import Difficulty
from .sample import ChatMessage

#: Fields added in version 2 (the source problem's identity), absent from version 1 records.
_ADDED_IN_2 = frozenset({"dataset", "problem_id", "task_id"})
_SOURCE_FIELDS_DOC = {
    "dataset": "Dataset of the source problem in coderig's registry (e.g. 'mbpp'); null in version 1 records.",
    "problem_id": "coderig's id of the source problem (e.g. 'mbpp/11'); null in version 1 records.",
    "task_id": "The dataset's own id of the problem, as text, as the dataset names it (HumanEval's and MBPP's "
               "task_id, e.g. 'HumanEval/0' or '11', LeetCode's slug, IFEval's key, BFCL's id); null in version 1 records.",
}


class FineTuneExample(Record):
    """One instruction-tuning example (Alpaca-style fields), taken from a passing sample."""

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    instruction: str = Field(description="The task given to the model: the problem statement as the dataset gives it.")
    input: str = Field(default="", description="Extra input for the task (empty for coderig's exports).")
    output: str = Field(description="The passing solution (the sample's extracted code).")
    difficulty: Difficulty | None = Field(strict=False, description="Difficulty of the problem; null when unknown.")
    id: str = Field(description="Unique source id: '<sample_id>@<key of the score output>'.")
    run_id: str = Field(description="Reference of the score output the example came from ('score/<name>/<key>').")
    dataset: str | None = Field(default=None, description=_SOURCE_FIELDS_DOC["dataset"])
    problem_id: str | None = Field(default=None, description=_SOURCE_FIELDS_DOC["problem_id"])
    task_id: str | None = Field(default=None, description=_SOURCE_FIELDS_DOC["task_id"])

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: _ADDED_IN_2})


class ChatExample(Record):
    """The same example in the chat ``messages`` form read by TRL, LLaMA-Factory and axolotl."""

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    messages: list[ChatMessage] = Field(min_length=2, description="system?/user/assistant turns.")
    difficulty: Difficulty | None = Field(strict=False, description="Difficulty of the problem; null when unknown.")
    id: str = Field(description="Source id, as in FineTuneExample.id.")
    run_id: str = Field(description="Reference of the score output the example came from.")
    dataset: str | None = Field(default=None, description=_SOURCE_FIELDS_DOC["dataset"])
    problem_id: str | None = Field(default=None, description=_SOURCE_FIELDS_DOC["problem_id"])
    task_id: str | None = Field(default=None, description=_SOURCE_FIELDS_DOC["task_id"])

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: _ADDED_IN_2})


class DatasetSummaryRow(Record):
    """One row of an export's ``datasets_summary.csv``: what one source dataset contributed, and why not more.

    The row with ``dataset == "ALL"`` sums every dataset.
    """

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
    dataset: str = Field(description="Source dataset name, or 'ALL' for the total row.")
    examples: int = Field(ge=0, description="Examples exported from this dataset.")
    easy: int = Field(ge=0, description="Exported examples of easy problems.")
    medium: int = Field(ge=0, description="Exported examples of medium problems.")
    hard: int = Field(ge=0, description="Exported examples of hard problems.")
    unknown_difficulty: int = Field(ge=0, description="Exported examples whose problem has no difficulty.")
    problems: int = Field(ge=0, description="Distinct problems among the exported examples.")
    avg_problem_chars: float | None = Field(description="Mean length of the exported instructions, in characters.")
    avg_solution_chars: float | None = Field(description="Mean length of the exported solutions, in characters.")
    scored_samples: int = Field(ge=0, description="Scored samples read from the inputs for this dataset.")
    passing_samples: int = Field(ge=0, description="Samples that met the pass criterion (before dedup and decontamination).")
    success_rate: float | None = Field(description="passing_samples / scored_samples; null when nothing was scored.")
    success_rate_easy: float | None = Field(description="Pass-criterion rate on easy problems; null when none was scored.")
    success_rate_medium: float | None = Field(description="Pass-criterion rate on medium problems; null when none was scored.")
    success_rate_hard: float | None = Field(description="Pass-criterion rate on hard problems; null when none was scored.")
    contaminated_removed: int = Field(ge=0, description="Passing samples left out because their problem is in an evaluation split.")
    duplicates_removed: int = Field(ge=0, description="Passing samples left out as duplicates (same problem, same normalized code).")
    not_selected: int = Field(ge=0, description="Clean, unique samples the mix did not take (ratio, size or unknown difficulty).")


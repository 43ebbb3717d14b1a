"""Fine-tuning examples exported from passing samples."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import Record
from .problem import Difficulty
from .sample import ChatMessage

FINETUNE_SCHEMA_VERSION = 1


class FineTuneExample(Record):
    """One instruction-tuning example (Alpaca-style fields), taken from a passing sample."""

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
    instruction: str = Field(description="The task given to the model.")
    input: str = Field(default="", description="Extra input for the task (often empty).")
    output: str = Field(description="The passing solution.")
    difficulty: Difficulty | None = Field(strict=False, description="Difficulty of the problem.")
    id: str = Field(description="Source id: '<dataset>/<problem_id>#<sample_id>'.")
    run_id: str = Field(description="Reference of the score output the example came from.")


class ChatExample(Record):
    """The same example in the chat ``messages`` form read by TRL, LLaMA-Factory and axolotl."""

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
    messages: list[ChatMessage] = Field(min_length=2, description="system?/user/assistant turns.")
    difficulty: Difficulty | None = Field(strict=False, description="Difficulty of the problem.")
    id: str = Field(description="Source id, as in FineTuneExample.id.")
    run_id: str = Field(description="Reference of the score output the example came from.")

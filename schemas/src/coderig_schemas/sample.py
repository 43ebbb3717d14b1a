"""One generated answer to one problem."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from ._base import Record, upgrade_record

#: Version 2 added the extraction method 'not_applicable' (answers to non-code problems).


class ExtractionMethod(StrEnum):
    """How the code was taken out of the raw response."""

    FENCED = "fenced"  # a closed ``` block
    UNCLOSED_FENCE = "unclosed_fence"  # an opening fence that never closed (often a truncated answer)
    HEURISTIC = "heuristic"  # no fence; code-looking lines kept
    VERBATIM = "verbatim"  # the response is code as is (replayed reference solutions, completion models)
    EMPTY = "empty"  # nothing usable found
    NOT_APPLICABLE = "not_applicable"  # a non-code task type: nothing is extracted here, the grader reads raw_response


class FinishReason(StrEnum):
    """Why the model stopped."""

    STOP = "stop"
    LENGTH = "length"
    ABORT = "abort"
    ERROR = "error"
    REPLAY = "replay"


class ChatMessage(Record):
    """One message of a chat prompt."""

    role: Literal["system", "user", "assistant"] = Field(description="Author of the message.")
    content: str = Field(description="Text of the message.")


class SamplingParams(Record):
    """Sampling parameters a sample was drawn with."""

    temperature: float = Field(ge=0, description="Softmax temperature; 0 means greedy.")
    top_p: float = Field(default=1.0, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(default=-1, description="Top-k cut-off; -1 disables it.")
    max_tokens: int = Field(gt=0, description="Maximum number of generated tokens.")
    stop: list[str] = Field(default_factory=list, description="Stop sequences.")
    n: int = Field(default=1, ge=1, description="Samples drawn per prompt.")
    seed: int | None = Field(default=None, description="Seed of the run this sample belongs to.")


class Sample(Record):
    """One answer of one model to one problem, with the provenance needed to reproduce it."""

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    sample_id: str = Field(description="Unique id within its output: '<problem_id>#s<seed>#<sample_index>'.")
    problem_id: str = Field(description="Problem.problem_id this answers.")
    dataset: str = Field(description="Dataset name of the problem.")
    split: str = Field(description="Split of the problem.")
    sample_index: int = Field(ge=0, description="Index of this answer among the n drawn for the problem.")
    seed: int | None = Field(description="Seed of the run; null for unseeded engines.")
    model_name: str = Field(description="Registry name of the model, or its path / hub id.")
    model_id: str | None = Field(default=None, description="Hugging Face id or local path actually loaded.")
    template_id: str = Field(description="Name of the prompt template used.")
    template_sha256: str = Field(description="sha256 of the template's text (system prompt and user template).")
    prompt_sha256: str = Field(description="sha256 of the rendered prompt as sent (UTF-8 of prompt_text).")
    prompt_text: str | None = Field(
        default=None, description="The rendered prompt string as sent to the engine (after any chat template)."
    )
    prompt_messages: list[ChatMessage] | None = Field(
        default=None, description="The chat messages, when a chat API or chat template was used."
    )
    raw_response: str = Field(description="The model's full text, unmodified.")
    extracted_code: str = Field(
        description="Code taken out of raw_response; empty when none was found, and for non-code task types "
        "(extraction_method 'not_applicable': their grader extracts the answer from raw_response itself)."
    )
    extraction_method: ExtractionMethod = Field(strict=False, description="How extracted_code was obtained.")
    finish_reason: FinishReason = Field(strict=False, description="Why generation stopped.")
    prompt_tokens: int | None = Field(default=None, ge=0, description="Tokens in the prompt.")
    completion_tokens: int | None = Field(default=None, ge=0, description="Tokens generated.")
    latency_s: float | None = Field(
        default=None, ge=0, description="Seconds from request to answer (batch time share for offline engines)."
    )
    engine: str = Field(description="Engine that produced it: 'vllm', 'openai' or 'replay'.")
    sampling: SamplingParams = Field(description="Sampling parameters used.")

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: frozenset()})

    def to_legacy_record(self, source_task_id: Any = None) -> dict[str, Any]:
        """Return the flat record format of users' older run directories.

        Keys: ``mbpp_id, prompt, response, model_name, temperature, max_tokens, split``.
        ``mbpp_id`` is the dataset's original task id when given, else the problem id.
        """
        return {
            "mbpp_id": source_task_id if source_task_id is not None else self.problem_id,
            "prompt": self.prompt_text if self.prompt_text is not None else _messages_text(self.prompt_messages),
            "response": self.raw_response,
            "model_name": self.model_name,
            "temperature": self.sampling.temperature,
            "max_tokens": self.sampling.max_tokens,
            "split": self.split,
        }


def _messages_text(messages: list[ChatMessage] | None) -> str:
    return "\n\n".join(f"{m.role}: {m.content}" for m in messages or [])

"""Typed, frozen configurations of the export commands (what the manifest records and the output key hashes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .decontam import DEFAULT_EVAL_SPLITS, SplitRule
from .files import FORMATS
from .mix import MIXES, MixName
from .selection import InstructionSource, PassCriterion


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FinetuneConfig(_Config):
    """Options of ``coderig-export finetune``; input references are not part of it (the output key hashes the inputs themselves)."""

    mix: MixName = Field(default="balanced", description="Named difficulty mix.")
    ratios: tuple[float, float, float] | None = Field(
        default=None, description="Easy, medium, hard shares (sum 1): the mix's defaults or --ratios; null for mix 'all'."
    )
    size: int | None = Field(default=None, gt=0, description="Target number of examples; null takes the largest set the ratios allow.")
    seed: int = Field(default=0, description="Seed of the selection and of the output order.")
    criterion: PassCriterion = Field(default=PassCriterion.ALL_TESTS, description="What a sample must pass.")
    eval_splits: tuple[str, ...] = Field(
        default=DEFAULT_EVAL_SPLITS, description="'dataset[:split]' globs left out; empty when --include-eval-splits."
    )
    against: tuple[str, ...] = Field(default=(), description="References of outputs whose problems are all treated as evaluation problems.")
    formats: tuple[str, ...] = Field(default=("jsonl", "chat", "csv"), description="Files to write: jsonl, chat, csv, parquet.")
    instruction: InstructionSource = Field(
        default=InstructionSource.PROMPT, description="Instruction text: the prompt as sent to the model, or the problem statement."
    )
    system_prompt: str | None = Field(default=None, description="System turn of every chat example (default: the one sent, if any).")

    @model_validator(mode="after")
    def _check(self) -> FinetuneConfig:
        if self.mix == "all" and self.ratios is not None:
            raise ValueError("mix 'all' keeps the natural distribution; drop --ratios or pick a named mix")
        if self.mix != "all" and self.ratios is None:
            raise ValueError(f"mix {self.mix!r} needs ratios")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"formats must be some of {', '.join(FORMATS)}; got {', '.join(unknown) or 'none'}")
        for spec in self.eval_splits:
            SplitRule.parse(spec)
        return self

    def rules(self) -> list[SplitRule]:
        """The evaluation-split rules."""
        return [SplitRule.parse(s) for s in self.eval_splits]


def finetune_config(
    *, mix: str, ratios: tuple[float, float, float] | None, size: int | None, seed: int, require_hidden: bool,
    include_eval_splits: bool, eval_splits: tuple[str, ...], against: tuple[str, ...], formats: tuple[str, ...], system_prompt: str | None,
    instruction: str = "prompt",
) -> dict[str, object]:
    """The values of a FinetuneConfig from command-line options (defaults applied, duplicates removed, order fixed)."""
    if ratios is None and mix != "all":
        ratios = MIXES[mix]
    return {
        "mix": mix, "ratios": ratios, "size": size, "seed": seed,
        "criterion": PassCriterion.ALL_TESTS if require_hidden else PassCriterion.VISIBLE_ONLY,
        "eval_splits": () if include_eval_splits else tuple(dict.fromkeys(eval_splits or DEFAULT_EVAL_SPLITS)),
        "against": tuple(sorted(set(against))),
        "formats": tuple(f for f in FORMATS if f in formats) if set(formats) <= set(FORMATS) else tuple(formats),
        "system_prompt": system_prompt,
        "instruction": instruction,
    }


class XlsxConfig(_Config):
    """Options of ``coderig-export xlsx``."""

    code_column: bool = Field(default=True, description="Include the extracted code of each sample.")
    max_cell_chars: int = Field(default=32767, ge=100, le=32767, description="Longest text kept in a cell before truncation with a marker.")
    text_chars: int = Field(default=4000, ge=100, le=32767,
                            description="Longest prompt or raw response kept in a Results cell (their beginning; the JSONL has the rest).")

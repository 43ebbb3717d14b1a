"""The frozen configuration of one ``coderig-generate run`` invocation.

``cli.py`` parses every option into :class:`GenerateConfig`; ``run.py`` reads nothing else. Engines
receive the same object (``VLLMEngine(config)``, ``OpenAIEngine(config)``, ``ReplayEngine(config)``)
and read their knobs from ``config.engine``. Fields left ``None`` take the model registry's default
(``coderig_generate.models.resolve_model(config.model)``) or the engine's own default.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EngineName = Literal["vllm", "openai", "replay"]
#: The GPU-memory presets' names; their shares of GPU memory are data, in the model registry
#: (registry/models.yaml, ``models.get_preset``), which must define exactly these names.
Preset = Literal["balanced", "performance", "memory_optimized"]
PRESET_NAMES: tuple[str, ...] = get_args(Preset)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineConfig(_Frozen):
    """Knobs of the inference engine (vLLM's engine arguments, the OpenAI client, replay input)."""

    name: EngineName = Field(default="vllm", description="Backend: vllm (offline LLM), openai (a server), replay (a JSONL).")
    # -- vLLM ----------------------------------------------------------------------------------
    dtype: str | None = Field(default=None, description="Weights dtype (auto, float16, bfloat16, float32); None: registry default.")
    max_model_len: int | None = Field(default=None, gt=0, description="Context length; None: registry default.")
    max_num_seqs: int | None = Field(default=None, gt=0, description="Maximum sequences per scheduler step.")
    max_num_batched_tokens: int | None = Field(default=None, gt=0, description="Maximum tokens per scheduler step.")
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1, description="Fraction of GPU memory vLLM may use.")
    preset: Preset | None = Field(default=None, description="GPU-memory preset of the model registry: balanced, performance or "
                                  "memory_optimized (its share: coderig-generate models).")
    tensor_parallel_size: int | None = Field(default=None, ge=1, description="GPUs per model replica (tensor parallel).")
    pipeline_parallel_size: int = Field(default=1, ge=1, description="Pipeline stages.")
    data_parallel_size: int = Field(default=1, ge=1, description="Model replicas (data parallel).")
    enforce_eager: bool | None = Field(default=None, description="Disable CUDA graphs / compilation.")
    enable_prefix_caching: bool | None = Field(default=None, description="Reuse KV cache across prompts sharing a prefix.")
    quantization: str | None = Field(default=None, description="Quantization method (awq, gptq, fp8, ...).")
    trust_remote_code: bool = Field(default=False, description="Allow custom model code from the hub.")
    revision: str | None = Field(default=None, description="Model revision (branch, tag or commit); None: registry default.")
    download_dir: str | None = Field(default=None, description="Where weights are downloaded.")
    # -- OpenAI-compatible server --------------------------------------------------------------
    base_url: str | None = Field(default=None, description="Server URL, e.g. http://127.0.0.1:8000/v1.")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Name of the env var holding the API key.")
    concurrency: int = Field(default=16, ge=1, description="Concurrent requests to the server.")
    retries: int = Field(default=3, ge=0, description="Retries with backoff per request.")
    request_timeout_s: float = Field(default=600.0, gt=0, description="Timeout of one request.")
    # -- replay --------------------------------------------------------------------------------
    replay_file: str | None = Field(default=None, description="JSONL of earlier answers (replay engine; not needed for MODEL=reference).")

    def effective_gpu_memory_utilization(self) -> float | None:
        """The explicit value, else the preset's (from the model registry), else None (engine default)."""
        if self.gpu_memory_utilization is not None:
            return self.gpu_memory_utilization
        if self.preset is None:
            return None
        from .models import get_preset  # the registry YAML; imports no ML stack

        return get_preset(self.preset).gpu_memory_utilization


class GenerateConfig(_Frozen):
    """Everything one ``coderig-generate run`` does: model x dataset x seeds, sampling, prompts, engine."""

    model: str = Field(description="Registry name, local path or Hugging Face id; 'reference' replays reference solutions.")
    dataset: str = Field(description="Dataset registry name (humaneval, humaneval_plus, mbpp, mbpp_sanitized, leetcode, "
                         "math500, gsm8k, aime24, aime25, amc23, custom).")
    split: str | None = Field(default=None, description="Split (e.g. test, train, validation, prompt, all); None: the dataset's default.")
    data_file: str | None = Field(default=None, description="Local dataset file; None: env var, CODERIG_DATA_DIR, then the hub.")
    difficulty_map: str | None = Field(default=None, description="JSON or CSV problem_id -> easy/medium/hard overriding difficulty.")
    limit: int | None = Field(default=None, gt=0, description="Only the first N problems (in dataset order).")
    seeds: tuple[int, ...] = Field(default=(0,), min_length=1, description="One output per seed.")
    n: int = Field(default=1, ge=1, description="Samples per prompt.")
    temperature: float | None = Field(default=None, ge=0, description="None: the model's default sampling.")
    top_p: float | None = Field(default=None, gt=0, le=1, description="None: the model's default.")
    top_k: int | None = Field(default=None, description="-1 disables; None: the model's default.")
    max_tokens: int | None = Field(default=None, gt=0, description="None: the model's default.")
    stop: tuple[str, ...] = Field(default=(), description="Stop sequences.")
    prompts_file: str | None = Field(default=None, description="Prompts YAML; None: the packaged registry/prompts.yaml.")
    template: str | None = Field(default=None, description="Template id in the prompts file; None: the dataset's default.")
    system_prompt: str | None = Field(
        default=None, description="System message replacing the template's (literal text; '' sends none); None: the template's."
    )
    chat_template: bool | None = Field(default=None, description="Apply the model's chat template; None: registry default.")
    enable_thinking: bool | None = Field(default=None, description="Thinking mode of models that have one; None: registry default.")
    keep_reachable: bool = Field(default=False, description="Keep only code reachable from the entry point in extracted code.")
    chunk_size: int = Field(default=64, ge=1, description="Problems per resumable unit of work (saved as soon as its engine call returns).")
    batch_prompts: int = Field(
        default=1024, ge=1,
        description="Prompts per engine call, in whole units (every standard dataset fits one call; a kill loses at most one call).",
    )
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Engine knobs.")

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v

    @model_validator(mode="after")
    def _replay_model(self) -> GenerateConfig:
        if self.model == "reference" and self.engine.name != "replay":
            raise ValueError("model 'reference' replays reference solutions: use --engine replay")
        if self.engine.name == "replay" and self.model != "reference" and not self.engine.replay_file:
            raise ValueError("the replay engine needs --replay-file (or --model reference)")
        return self

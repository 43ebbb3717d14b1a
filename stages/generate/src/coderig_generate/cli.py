"""Command line of coderig-generate (thin: options -> frozen config -> one function).

Nothing heavy is imported at module level: ``--help`` must not import vLLM, torch or ``datasets``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import click

from coderig_schemas import RunStore
from coderig_schemas.cli_support import bounded, build_config, from_field, quiet_option, runs_option
from coderig_schemas.lifecycle import stage_command

from .config import PRESET_NAMES, EngineConfig, EngineName, GenerateConfig

_ENGINES = list(get_args(EngineName))
_PRESETS = list(PRESET_NAMES)


def _split_list(values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for v in values:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _seeds(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in value.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected integers separated by commas, e.g. 0,1,2", param_hint="--seeds") from None


def _configs(models: list[str], datasets: list[str], seeds: str, engine_name: str | None, options: dict[str, Any]) -> list[GenerateConfig]:
    """One frozen config per (model, dataset): the options split into the engine's and the run's."""
    if options["data_file"] is not None and len(datasets) > 1:
        raise click.UsageError("--data-file names one dataset's file: give a single --dataset")
    engine_keys = set(EngineConfig.model_fields) - {"name"}
    engine_opts = {k: options.pop(k) for k in list(options) if k in engine_keys}
    engine_opts["request_timeout_s"] = options.pop("request_timeout")
    for key in ("replay_file", "download_dir"):
        engine_opts[key] = str(engine_opts[key]) if engine_opts.get(key) is not None else None
    for key in ("data_file", "difficulty_map", "prompts_file"):
        options[key] = str(options[key]) if options[key] is not None else None
    options["stop"] = tuple(options["stop"])
    options["limit"] = options["limit"] or None  # 0 means no limit (compose passes LIMIT=0 by default)
    configs = []
    for model in models:
        name = engine_name or ("replay" if model == "reference" or engine_opts["replay_file"] else "vllm")
        for dataset in datasets:
            configs.append(build_config(GenerateConfig, model=model, dataset=dataset, seeds=_seeds(seeds),
                                        engine={"name": name, **engine_opts}, **options))
    return configs


@click.group()
def main() -> None:
    """coderig generate: benchmark prompts through vLLM, an OpenAI-compatible server or a replay file.

    Each (model, dataset, seed) becomes one published output holding the normalized problems and one
    sample per answer (raw response, extracted code, provenance). Re-running a finished run is a no-op.
    """


@main.command()
@stage_command
@click.option("--model", "models", multiple=True, required=True,
              help="Registry name, local model dir or Hugging Face id; 'reference' replays reference solutions. Repeat or comma-separate.")
@click.option("--dataset", "datasets", multiple=True, required=True,
              help="humaneval, humaneval_plus, mbpp, mbpp_sanitized, leetcode, math500, gsm8k, aime24, aime25, amc23 or custom. "
                   "Repeat or comma-separate.")
@click.option("--split", default=None, help="Dataset split (MBPP: prompt, test, validation, train, all). Default: the dataset's.")
@click.option("--data-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Local dataset file (else CODERIG_DATA_<NAME>, CODERIG_DATA_DIR, then the hub).")
@click.option("--difficulty-map", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON or CSV problem_id -> easy/medium/hard overriding the difficulty.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Only the first N problems (0: all).")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds; one output per seed.")
@click.option("--n", **from_field(GenerateConfig, "n"), help="Samples per prompt.")
@click.option("--temperature", type=float, default=None, help="Default: the model registry's.")
@click.option("--top-p", type=bounded(GenerateConfig, "top_p"), default=None,
              help="Nucleus sampling mass. Default: the model registry's.")
@click.option("--top-k", type=int, default=None, help="-1 disables. Default: the model registry's.")
@click.option("--max-tokens", type=bounded(GenerateConfig, "max_tokens"), default=None, help="Default: the model registry's.")
@click.option("--stop", multiple=True, help="Stop sequence (repeatable).")
@click.option("--prompts", "prompts_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Prompts YAML (default: the packaged registry/prompts.yaml).")
@click.option("--template", default=None, help="Template id in the prompts file (default: the dataset's).")
@click.option("--system-prompt", default=None,
              help="System message replacing the template's, taken literally ('' sends none). Default: the template's.")
@click.option("--chat-template/--no-chat-template", default=None,
              help="Apply the model's chat template with the generation prompt added (default: registry); off: send the "
                   "template's plain 'completion' text.")
@click.option("--thinking/--no-thinking", "enable_thinking", default=None, help="Thinking mode of models that have one.")
@click.option("--keep-reachable", is_flag=True, help="Keep only code reachable from the entry point in extracted code.")
@click.option("--chunk-size", **from_field(GenerateConfig, "chunk_size"),
              help="Problems per resumable unit.")
@click.option("--batch-prompts", **from_field(GenerateConfig, "batch_prompts"),
              help="Prompts per engine call (whole units).")
@click.option("--engine", "engine_name", type=click.Choice(_ENGINES), default=None,
              help="Backend (default: replay for --model reference or --replay-file, else vllm).")
@click.option("--replay-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSONL of earlier answers for the replay engine.")
@click.option("--dtype", default=None, help="auto, float16, bfloat16, float32 (default: registry).")
@click.option("--max-model-len", type=bounded(EngineConfig, "max_model_len"), default=None,
              help="Context length, prompt + answer (vLLM's max_model_len; default: registry).")
@click.option("--max-num-seqs", type=bounded(EngineConfig, "max_num_seqs"), default=None, help="vLLM max sequences per step.")
@click.option("--max-num-batched-tokens", type=bounded(EngineConfig, "max_num_batched_tokens"), default=None,
              help="vLLM max tokens per step.")
@click.option("--gpu-memory-utilization", type=bounded(EngineConfig, "gpu_memory_utilization"), default=None, help="Share of GPU memory.")
@click.option("--preset", type=click.Choice(_PRESETS), default=None, help="GPU memory preset (its memory share is set in models.yaml).")
@click.option("--tensor-parallel-size", type=bounded(EngineConfig, "tensor_parallel_size"), default=None,
              help="GPUs per replica (default: registry).")
@click.option("--pipeline-parallel-size", **from_field(EngineConfig, "pipeline_parallel_size"),
              help="Pipeline stages.")
@click.option("--data-parallel-size", **from_field(EngineConfig, "data_parallel_size"),
              help="Model replicas.")
@click.option("--enforce-eager/--no-enforce-eager", default=None, help="Disable CUDA graphs / compilation.")
@click.option("--enable-prefix-caching/--no-enable-prefix-caching", default=None, help="vLLM prefix caching.")
@click.option("--quantization", default=None, help="awq, gptq, fp8, ...")
@click.option("--trust-remote-code", is_flag=True, help="Allow the model repo's own code.")
@click.option("--revision", default=None, help="Model revision (default: registry).")
@click.option("--download-dir", type=click.Path(file_okay=False), default=None, help="Where weights are downloaded.")
@click.option("--base-url", default=None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True, help="Env var holding the API key.")
@click.option("--concurrency", **from_field(EngineConfig, "concurrency"), help="Concurrent server requests.")
@click.option("--retries", **from_field(EngineConfig, "retries"), help="Retries per request.")
@click.option("--request-timeout", type=float, default=600.0, show_default=True, help="Seconds per server request.")
@click.option("--dry-run", is_flag=True, help="Print the plan (models x datasets x seeds, prompts, samples) as JSON; load nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of one output path per line.")
@runs_option
@quiet_option
def run(store: RunStore, quiet: bool, models: tuple[str, ...], datasets: tuple[str, ...], dry_run: bool, as_json: bool,
        seeds: str, engine_name: str | None, **options: Any) -> str | list[str]:
    """Generate answers: one output per (model, dataset, seed); prints each output's path."""
    configs = _configs(_split_list(models), _split_list(datasets), seeds, engine_name, options)
    from . import run as runner  # imports the orchestration (and, lazily, the chosen engine) only now

    if dry_run:
        planned = runner.plan(configs, store)
        if not quiet:  # the plan in words on stderr; the JSON on stdout
            for line in runner.plan_summary(planned):
                click.echo(line, err=True)
        return json.dumps(planned, indent=2)
    results = runner.execute(configs, store, quiet=quiet)
    if as_json:
        return json.dumps([{"model": r.model, "dataset": r.dataset, "seed": r.seed, "path": str(r.output.path), "ref": r.output.ref,
                            "existing": r.existing, "samples": r.output.manifest.stats.get("samples")} for r in results], indent=2)
    return [str(r.output.path) for r in results]


@main.command("datasets")
@stage_command
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def datasets_cmd(as_json: bool) -> str | list[str]:
    """List the dataset registry: names, splits, local file names, hub ids and env vars."""
    from .datasets import DATASETS
    from .datasets.sources import DATA_DIR_ENV, env_var

    rows: list[dict[str, Any]] = [{
        "name": s.name, "description": s.description, "splits": list(s.splits), "default_split": s.default_split,
        "file": s.standard_file, "hub": (s.hub.repo + (f":{s.hub.config}" if s.hub.config else "")) if s.hub else None,
        "env": env_var(s.name),
    } for s in DATASETS.values()]
    if as_json:
        return json.dumps(rows, indent=2)
    return [line for r in rows for line in (
        f"{r['name']:<16} {r['description']}",
        f"{'':<16} splits: {', '.join(r['splits']) or '-'} (default {r['default_split']}); file {r['file'] or '-'}; "
        f"hub {r['hub'] or '-'}; env {r['env']} or {DATA_DIR_ENV}")]


@main.command("models")
@stage_command
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def models_cmd(as_json: bool) -> str | list[str]:
    """List the model registry (names, Hugging Face ids, defaults) and the GPU memory presets."""
    from .models import load_models, load_presets

    specs, presets = load_models(), load_presets()
    if as_json:
        return json.dumps({"models": {k: v.model_dump(mode="json") for k, v in specs.items()},
                           "presets": {k: v.model_dump(mode="json") for k, v in presets.items()}}, indent=2)
    return [f"{name:<24} {s.hf_id}  {s.description}" for name, s in specs.items()] + [
        f"preset {name:<17} gpu_memory_utilization {p.gpu_memory_utilization}" for name, p in presets.items()]


if __name__ == "__main__":
    main()

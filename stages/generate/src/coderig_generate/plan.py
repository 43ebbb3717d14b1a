"""The ``--dry-run`` plan of ``coderig-generate run``: what would be generated, where it would be
published, and what hardware each model needs; resolves configurations but loads no model."""

from __future__ import annotations

import re
from typing import Any

from coderig_schemas import RunStore

from .config import GenerateConfig
from .resolution import ProblemCache, Resolved, resolve


def plan(configs: list[GenerateConfig], store: RunStore) -> dict[str, Any]:
    """The --dry-run plan: one row per (model, dataset) with prompt and sample counts; loads no model."""
    runs: list[dict[str, Any]] = []
    cache: ProblemCache = {}
    for config in configs:
        r = resolve(config, cache)
        outputs = []
        for seed in config.seeds:
            key = r.key(seed)
            found = store.published("generate", r.name(seed), key) or r.legacy(store, seed)
            published = str(found.path) if found else None
            outputs.append({"seed": seed, "name": r.name(seed), "ref": f"generate/{r.name(seed)}/{key}", "published": published})
        spec = r.model.spec
        runs.append({
            # the requested split, else every split the problems come from (a custom file may mix them)
            "model": config.model, "dataset": config.dataset,
            "split": r.split,
            "engine": config.engine.name, "seeds": list(config.seeds), "n": config.n, "prompts": len(r.problems),
            "samples_per_seed": len(r.problems) * config.n, "samples": len(r.problems) * config.n * len(config.seeds),
            "template_id": r.template.id, "template_sha256": r.template.sha256, "system_prompt": r.template.system,
            "task_types": sorted({p.task_type.value for p in r.problems}),
            "chat_template": r.chat, "sampling": r.sampling.model_dump(mode="json"),
            "max_model_len": r.config.engine.max_model_len or (spec.max_model_len if spec is not None else None),
            **_hardware(r),
            "outputs": outputs,
        })
    return {
        "runs": runs,
        "totals": {"runs": len(runs), "outputs": sum(len(r["outputs"]) for r in runs),
                   "prompts": sum(r["prompts"] * len(r["seeds"]) for r in runs), "samples": sum(r["samples"] for r in runs)},
    }


_PARAMS_B = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)[Bb](?![A-Za-z])")


def weights_gb(model_id: str | None, dtype: str | None) -> float | None:
    """Rough size of a model's weights in GB, from the parameter count in its name (``Qwen3-8B``: 8e9)
    times the bytes per parameter of its dtype (2 for bfloat16/float16/auto, 4 for float32); None when
    the name does not say (a local or tiny model)."""
    found = _PARAMS_B.search((model_id or "").rsplit("/", 1)[-1])
    if not found:
        return None
    return round(float(found.group(1)) * (4 if dtype == "float32" else 2), 1)


def _hardware(r: Resolved) -> dict[str, Any]:
    """What a vLLM run of this model needs: preset, GPUs, weights (for the dry run's plan)."""
    spec = r.model.spec
    engine = r.config.engine
    dtype = engine.dtype or (spec.dtype if spec is not None else None)
    tensor_parallel = engine.tensor_parallel_size or (spec.tensor_parallel_size if spec is not None else None) or 1
    return {"preset": engine.preset, "gpu_memory_utilization": engine.effective_gpu_memory_utilization(),
            "gpus": tensor_parallel * engine.pipeline_parallel_size * engine.data_parallel_size,
            "dtype": dtype, "weights_gb": weights_gb(r.model_id, dtype)}


def plan_summary(plan_: dict[str, Any]) -> list[str]:
    """Human-readable lines of a plan: the task count, then each model's hardware, then each dataset."""
    runs = plan_["runs"]
    models = list(dict.fromkeys(r["model"] for r in runs))
    datasets = list(dict.fromkeys(r["dataset"] for r in runs))
    seeds = sorted({len(r["seeds"]) for r in runs})
    per_seed = f", {seeds[0]} seed(s) each" if len(seeds) == 1 and seeds[0] > 1 else ""
    lines = [f"Would evaluate {len(runs)} tasks ({len(models)} models x {len(datasets)} datasets){per_seed}"]
    for m in models:
        r = next(x for x in runs if x["model"] == m)
        if r["engine"] != "vllm":
            lines.append(f"  model {m}: engine {r['engine']} (no local GPU)")
            continue
        share = f", vLLM takes {r['gpu_memory_utilization']:.0%} of each GPU" if r["gpu_memory_utilization"] else ""
        weights = f"weights about {r['weights_gb']:g} GB ({r['dtype']})" if r["weights_gb"] else "weights size unknown"
        lines.append(f"  model {m}: preset {r['preset'] or 'none'}{share}; {r['gpus']} GPU(s); {weights}")
    for d in datasets:
        r = next(x for x in runs if x["dataset"] == d)
        lines.append(f"  dataset {d}: {', '.join(r['task_types'])}; {r['prompts']} prompts, "
                     f"{r['samples_per_seed']} samples per seed per model")
    return lines

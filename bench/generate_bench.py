"""Overhead of coderig's generate stage over a bare ``LLM.generate`` call, on one loaded model.

Three ways to answer the same HumanEval prompts with the same sampling parameters and seed, on the very
same ``vllm.LLM`` object, so that all three generate the same tokens (checked: identical texts):

- ``bare``: ``llm.generate(prompt_texts, SamplingParams(...))``, what a user would write by hand;
- ``engine``: coderig's ``VLLMEngine.generate`` (render and tokenize every prompt with the chat template,
  one batched ``LLM.generate`` with the progress relay, one GenOutput per answer with token counts,
  finish reason and latency share);
- ``run``: the whole ``coderig-generate run`` minus the model load (``run.execute`` with the loaded
  engine): dataset loading and normalization, prompt rendering, the engine, code extraction, Sample
  records, resumable unit files, hashing, manifest and publish, into a fresh run store each round.

The prompts are those ``coderig-generate run`` renders (the packaged prompts file); the first run also
serves as warm-up. Rounds alternate the three sides so that load changes on a shared machine hit them
alike. The overhead is computed from each side's fastest round (as ``timeit`` does: on a shared machine
the slower rounds measure the neighbours) and, for reference, from the medians.

    .venv/bin/python bench/generate_bench.py                       # tiny-random on the CPU
    .venv/bin/python bench/generate_bench.py --model qwen2_5_coder_7b --prompts 164 --max-tokens 512

Prints a table on stderr and one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "HumanEval.jsonl.gz"


class _Shared:
    """The loaded engine, lent to ``run.execute`` without letting the run close it."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.name = engine.name

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine.generate(*args, **kwargs)

    def describe(self) -> Any:
        return self.engine.describe()

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--data-file", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from coderig_generate.config import GenerateConfig
    from coderig_generate.engines.base import GenRequest
    from coderig_generate.engines.vllm_engine import VLLMEngine
    from coderig_generate.run import execute
    from coderig_schemas import RunStore, Sample
    from coderig_schemas.layout import SAMPLES

    seed = 0
    config = GenerateConfig(
        model=args.model, dataset="humaneval", data_file=str(args.data_file), limit=args.prompts, seeds=(seed,),
        n=args.n, temperature=args.temperature, top_p=0.95, top_k=-1, max_tokens=args.max_tokens,
    )
    engine = VLLMEngine(config)
    shared = _Shared(engine)
    scratch = Path(tempfile.mkdtemp(prefix="generate_bench."))
    rounds_done = 0

    def run() -> tuple[float, int, list[list[str]], list[Sample]]:
        nonlocal rounds_done
        rounds_done += 1
        store = RunStore(scratch / f"runs{rounds_done}")
        start = time.perf_counter()
        [result] = execute([config], store, quiet=True, engine_factory=lambda c, p: shared)
        wall = time.perf_counter() - start
        samples = list(result.output.records(SAMPLES, Sample))
        texts = [[s.raw_response for s in samples[i:i + args.n]] for i in range(0, len(samples), args.n)]
        return wall, sum(s.completion_tokens or 0 for s in samples), texts, samples

    _, _, _, samples = run()  # warm-up, and the prompts all three sides use
    firsts = [s for s in samples if s.sample_index == 0]
    prompt_texts = [s.prompt_text or "" for s in firsts]
    requests = [GenRequest(request_id=s.problem_id, messages=list(s.prompt_messages or [])) for s in firsts]
    sampling = firsts[0].sampling.model_copy(update={"seed": None})

    from vllm import SamplingParams as VLLMSamplingParams

    from coderig_generate.engines.base import request_seed

    # The same per-request seeds the engines send (derived from the run seed and the problem id), so the
    # three sides must produce identical texts.
    bare_params = [
        VLLMSamplingParams(n=args.n, temperature=args.temperature, top_p=0.95, top_k=0, max_tokens=args.max_tokens,
                           seed=request_seed(seed, r.request_id))
        for r in requests
    ]

    def bare() -> tuple[float, int, list[list[str]], None]:
        start = time.perf_counter()
        outputs = engine.llm.generate(prompt_texts, bare_params, use_tqdm=False)
        wall = time.perf_counter() - start
        return wall, sum(len(c.token_ids) for o in outputs for c in o.outputs), [[c.text for c in o.outputs] for o in outputs], None

    def coderig_engine() -> tuple[float, int, list[list[str]], None]:
        start = time.perf_counter()
        result = engine.generate(requests, sampling, seed, progress=lambda done, tokens: None)
        wall = time.perf_counter() - start
        return wall, sum(o.completion_tokens or 0 for outs in result for o in outs), [[o.text for o in outs] for outs in result], None

    sides = {"bare": bare, "engine": coderig_engine, "run": run}
    walls: dict[str, list[float]] = {name: [] for name in sides}
    tokens: dict[str, int] = {}
    answers: dict[str, list[list[str]]] = {}
    for _ in range(args.rounds):
        for name, fn in sides.items():
            wall, count, texts, _ = fn()
            walls[name].append(wall)
            tokens[name] = count
            answers[name] = texts
    same = answers["bare"] == answers["engine"] == answers["run"]
    start = time.perf_counter()
    engine.render(requests)
    render_s = time.perf_counter() - start
    info = engine.describe()
    engine.close()
    shutil.rmtree(scratch, ignore_errors=True)

    def overhead(name: str, pick: Any) -> float:
        return float((pick(walls[name]) - pick(walls["bare"])) / pick(walls["bare"]))

    print(f"model {args.model}: {len(requests)} HumanEval prompts x n={args.n}, max_tokens {args.max_tokens}, "
          f"{args.rounds} rounds, {info['hardware']}", file=sys.stderr)
    print(f"{'':8}{'best s':>8}{'median s':>10}  {'rounds s':<36}{'tokens':>8}{'best tok/s':>11}{'overhead':>10}", file=sys.stderr)
    for name in sides:
        runs = " ".join(f"{w:.2f}" for w in walls[name])
        best, median = min(walls[name]), statistics.median(walls[name])
        extra = "" if name == "bare" else f"{overhead(name, min):+.1%}"
        print(f"{name:8}{best:8.2f}{median:10.2f}  {runs:<36}{tokens[name]:8d}{tokens[name] / best:11.0f}{extra:>10}", file=sys.stderr)
    print(f"overhead best-of-{args.rounds}: engine {overhead('engine', min):+.1%}, run {overhead('run', min):+.1%} "
          f"(medians: {overhead('engine', statistics.median):+.1%}, {overhead('run', statistics.median):+.1%}); goal <= 5%; "
          f"identical texts: {same}; rendering + tokenizing the prompts: {render_s * 1000:.1f} ms", file=sys.stderr)
    print(json.dumps({
        "model": args.model, "prompts": len(requests), "n": args.n, "max_tokens": args.max_tokens, "rounds": args.rounds,
        "walls_s": {k: [round(w, 4) for w in v] for k, v in walls.items()}, "tokens": tokens,
        "overhead_best": {k: round(overhead(k, min), 4) for k in ("engine", "run")},
        "overhead_median": {k: round(overhead(k, statistics.median), 4) for k in ("engine", "run")},
        "identical_texts": same, "render_s": round(render_s, 4), "hardware": info["hardware"],
    }))


if __name__ == "__main__":
    main()

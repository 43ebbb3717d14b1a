"""Overhead of coderig's vllm engine over a bare ``LLM.generate`` call, on the same loaded model.

Both sides get the same HumanEval prompts (system prompt + problem, rendered with the model's chat
template), the same sampling parameters and seed, so they generate the same tokens; the script checks
that the texts are identical. coderig's side is ``VLLMEngine.generate`` (render and tokenize every
prompt, one batched ``LLM.generate`` with a progress relay, build one GenOutput per answer with token
counts, finish reason and latency share); the bare side is ``llm.generate(texts, params)`` on the very
same ``LLM`` object. Rounds alternate (bare, coderig, bare, coderig, ...) so that load changes on a
shared machine hit both sides alike. The overhead is computed from the fastest round of each side (as
``timeit`` does: on a shared machine the slower rounds measure the neighbours) and, for reference, from
the medians.

    .venv/bin/python bench/generate_bench.py                       # tiny-random on the CPU
    .venv/bin/python bench/generate_bench.py --model qwen2_5_coder_7b --prompts 164 --max-tokens 512

Prints a table on stderr and one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "HumanEval.jsonl.gz"
SYSTEM = "You are an expert Python programmer. Complete the function; answer with one ```python block."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--data-file", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from coderig_generate.config import GenerateConfig
    from coderig_generate.engines.base import GenRequest
    from coderig_generate.engines.vllm_engine import VLLMEngine
    from coderig_schemas import ChatMessage, SamplingParams

    with gzip.open(args.data_file, "rt", encoding="utf-8") as f:
        problems = [json.loads(line) for line in f][: args.prompts]
    requests = [
        GenRequest(
            request_id=p["task_id"],
            messages=[ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=p["prompt"])],
        )
        for p in problems
    ]
    sampling = SamplingParams(temperature=args.temperature, top_p=0.95, max_tokens=args.max_tokens, n=args.n)
    seed = 0

    engine = VLLMEngine(GenerateConfig(model=args.model, dataset="humaneval"))
    from vllm import SamplingParams as VLLMSamplingParams

    llm = engine.llm
    texts, _ = engine.render(requests)
    bare_params = VLLMSamplingParams(
        n=args.n, temperature=args.temperature, top_p=0.95, max_tokens=args.max_tokens, seed=seed
    )

    def bare() -> tuple[float, int, list[list[str]]]:
        start = time.perf_counter()
        outputs = llm.generate(texts, bare_params, use_tqdm=False)
        wall = time.perf_counter() - start
        return wall, sum(len(c.token_ids) for o in outputs for c in o.outputs), [[c.text for c in o.outputs] for o in outputs]

    def coderig() -> tuple[float, int, list[list[str]]]:
        start = time.perf_counter()
        result = engine.generate(requests, sampling, seed, progress=lambda done, tokens: None)
        wall = time.perf_counter() - start
        return wall, sum(o.completion_tokens or 0 for outs in result for o in outs), [[o.text for o in outs] for outs in result]

    engine.generate(requests[:4], sampling.model_copy(update={"max_tokens": 8}), seed)  # warm-up
    walls: dict[str, list[float]] = {"bare": [], "coderig": []}
    tokens: dict[str, int] = {}
    answers: dict[str, list[list[str]]] = {}
    for _ in range(args.rounds):
        for name, fn in (("bare", bare), ("coderig", coderig)):
            wall, count, texts_out = fn()
            walls[name].append(wall)
            tokens[name] = count
            answers[name] = texts_out
    same = answers["bare"] == answers["coderig"]
    start = time.perf_counter()
    engine.render(requests)
    render_s = time.perf_counter() - start  # the part of coderig's side that happens before vLLM starts
    overhead = (min(walls["coderig"]) - min(walls["bare"])) / min(walls["bare"])
    overhead_median = (statistics.median(walls["coderig"]) - statistics.median(walls["bare"])) / statistics.median(walls["bare"])
    info = engine.describe()
    engine.close()

    print(f"model {args.model}: {len(requests)} prompts x n={args.n}, max_tokens {args.max_tokens}, {args.rounds} rounds, "
          f"hardware {info['hardware']}", file=sys.stderr)
    print(f"{'':10}{'best s':>8}{'median s':>10}  {'rounds s':<36}{'tokens':>8}{'best tok/s':>11}", file=sys.stderr)
    for name in ("bare", "coderig"):
        runs = " ".join(f"{w:.2f}" for w in walls[name])
        best, median = min(walls[name]), statistics.median(walls[name])
        print(f"{name:10}{best:8.2f}{median:10.2f}  {runs:<36}{tokens[name]:8d}{tokens[name] / best:11.0f}", file=sys.stderr)
    print(f"overhead of coderig over bare LLM.generate: {overhead:+.1%} best-of-{args.rounds} "
          f"({overhead_median:+.1%} by medians; goal <= 5%); identical texts: {same}; "
          f"rendering + tokenizing the prompts: {render_s * 1000:.1f} ms", file=sys.stderr)
    print(json.dumps({
        "model": args.model, "prompts": len(requests), "n": args.n, "max_tokens": args.max_tokens, "rounds": args.rounds,
        "bare_s": walls["bare"], "coderig_s": walls["coderig"], "tokens": tokens, "overhead": round(overhead, 4),
        "overhead_median": round(overhead_median, 4),
        "identical_texts": same, "render_s": round(render_s, 4), "hardware": info["hardware"],
    }))


if __name__ == "__main__":
    main()

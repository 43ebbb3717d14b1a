"""Benchmark: coderig's HumanEval+ verdicts against EvalPlus's own evaluator, and their times.

The mixed set of ``score_load_bench.py`` (per problem: the reference, two wrong answers, a runtime
error, a syntax error and an infinite loop), answered against HumanEval+. coderig scores it from the
OriginFmt file (reference timings measured once beforehand); EvalPlus 0.3.1, installed by this
script in a throwaway virtual environment under /tmp, evaluates the same programs with its own
``evalplus.evaluate`` (base and plus inputs, its expected outputs computed from the canonical
solutions of ``HumanEvalPlus.jsonl.gz`` in ../shared/data, its default limits), with as many worker
processes as coderig has workers. A sample passes HumanEval+ when both its base and plus status are
"pass". Prints agreement (disagreements listed with EvalPlus's statuses; EvalPlus 0.3.1's HumanEval/32
check fails every answer, a known defect; its wall-clock limits can fail its own canonical solutions
of the heaviest tasks on a busy machine) and the time ratio.

    .venv/bin/python bench/score_evalplus_bench.py [--workers N] [--data ../shared/data] [--limit N] [--venv DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from score_load_bench import KINDS, mix_sample, score_timed, throwaway_venv

from coderig_generate.datasets import load_problems
from coderig_score.sandbox import SandboxSettings, WorkerPool
from coderig_score.scoring import ScoreConfig, measure_references
from coderig_score.timeouts import TimeoutPolicy, budget_for

EVALPLUS = "evalplus==0.3.1"
#: EvalPlus 0.3.1 defects, where its verdict is not HumanEval+'s (see docs/benchmarks.md)
EVALPLUS_DEFECTS = {"HumanEval/32": "the released find_zero oracle skips recording a pass: every answer fails"}

EVALPLUS_RUNNER = r"""
import json, sys, time
from evalplus.data import get_human_eval_plus, get_human_eval_plus_hash
from evalplus.evaluate import evaluate, get_groundtruth
t0 = time.perf_counter()
get_groundtruth(get_human_eval_plus(), get_human_eval_plus_hash(), [])
t_gt = time.perf_counter() - t0
t0 = time.perf_counter()
evaluate(dataset="humaneval", samples=sys.argv[1], parallel=int(sys.argv[2]), i_just_wanna_run=True)
wall = time.perf_counter() - t0
res = json.load(open(sys.argv[1].replace(".jsonl", "_eval_results.json")))
out = {task: [[r["base_status"], r["plus_status"]] for r in rows] for task, rows in res["eval"].items()}
print(json.dumps({"wall": wall, "groundtruth": t_gt, "passed": out}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CODERIG_SHARED_DATA", "../shared/data")))
    ap.add_argument("--limit", type=int, default=None, help="first N problems (EvalPlus still needs all 164: the rest get references)")
    ap.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "coderig-bench-evalplus")
    args = ap.parse_args()
    problems = load_problems("humaneval_plus", source=args.data / "HumanEvalPlus-OriginFmt.jsonl.gz")
    with gzip.open(args.data / "HumanEvalPlus-OriginFmt.jsonl.gz", "rt") as f:
        raw = {r["task_id"]: r for r in (json.loads(line) for line in f)}
    chosen = problems[: args.limit]
    mix = []
    for p in chosen:
        for j, (kind, body) in enumerate(KINDS.items()):
            code = (p.prompt or "") + (raw[p.problem_id]["canonical_solution"] if body is None else body)
            mix.append((p, mix_sample(p, j, kind, code), kind))
    print(f"HumanEval+ mixed set: {len(mix)} samples, {args.workers} workers", file=sys.stderr)
    with WorkerPool(SandboxSettings(mode="bwrap"), args.workers) as pool:
        t0 = time.perf_counter()
        timings = {t.problem_id: t for t in measure_references(pool, chosen, ScoreConfig())}
        t_ref = time.perf_counter() - t0
        budgets = {p.problem_id: budget_for(p, timings.get(p.problem_id), TimeoutPolicy()) for p in chosen}
        t_c, results = score_timed(pool, [(p, s) for p, s, _ in mix], budgets)

    python = throwaway_venv(args.venv, EVALPLUS)
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        lines = [{"task_id": p.problem_id, "solution": s.extracted_code} for p, s, _ in mix]
        # EvalPlus refuses a sample file that misses problems: the others get their reference, not counted.
        lines += [{"task_id": p.problem_id, "solution": p.reference_solution} for p in problems[len(chosen):]]
        samples.write_text("".join(json.dumps(x) + "\n" for x in lines))
        runner = Path(tmp) / "run.py"
        runner.write_text(EVALPLUS_RUNNER)
        env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str((args.data / "HumanEvalPlus.jsonl.gz").resolve()),
               "XDG_CACHE_HOME": str(Path(tmp) / "cache"), "TQDM_DISABLE": "1"}
        done = subprocess.run([str(python), str(runner), str(samples), str(args.workers)], capture_output=True, text=True,
                              cwd=tmp, env=env)
        if done.returncode != 0:
            sys.exit(f"EvalPlus failed: {done.stderr[-2000:]}")
    ev = json.loads(done.stdout.strip().splitlines()[-1])
    seen: dict[str, int] = {}
    n = len(mix)
    agree = 0
    disagree = []
    for (p, _, kind), r in zip(mix, results, strict=True):
        k = seen.get(p.problem_id, 0)
        seen[p.problem_id] = k + 1
        status = ev["passed"][p.problem_id][k]
        e = status == ["pass", "pass"]
        if r.passed == e:
            agree += 1
        else:
            disagree.append((p.problem_id, kind, r.verdict.value, r.error_message, f"base {status[0]}, plus {status[1]}"))
    explained = [d for d in disagree if d[0] in EVALPLUS_DEFECTS]
    # EvalPlus's limits are wall-clock (max(1 s, 4 x the ground truth's time, measured once)): on a busy
    # machine it can time out its own canonical solutions, a verdict that moves with the load.
    load_timeouts = [d for d in disagree if d[0] not in EVALPLUS_DEFECTS and d[1] == "reference" and "timed out" in d[4]]
    print(f"{'run':44}{'wall s':>9}{'passed':>10}")
    print(f"{'coderig reference timings (once)':44}{t_ref:9.1f}")
    print(f"{'coderig HumanEval+':44}{t_c:9.1f}{sum(r.passed for r in results):>6}/{n}")
    print(f"{'EvalPlus 0.3.1 ground truth (once)':44}{ev['groundtruth']:9.1f}")
    refs_ok = sum(ev["passed"][p.problem_id][0] == ["pass", "pass"] for p in chosen)
    print(f"{'EvalPlus 0.3.1 evaluate':44}{ev['wall']:9.1f}{refs_ok:>6} of {len(chosen)} references")
    print(f"agreement at the HumanEval+ level: {agree}/{n}; {len(explained)} of {len(disagree)} disagreements are "
          f"documented EvalPlus defects ({'; '.join(f'{k}: {v}' for k, v in EVALPLUS_DEFECTS.items())})")
    print(f"  of which EvalPlus wall-clock timeouts of the canonical solution: {len(load_timeouts)}")
    for d in disagree:
        print(f"  disagree: {d[0]} {d[1]}: coderig {d[2]} ({d[3]}), EvalPlus {d[4]}")
    print(f"time ratio: coderig / EvalPlus evaluate = {t_c / ev['wall']:.2f}")


if __name__ == "__main__":
    main()

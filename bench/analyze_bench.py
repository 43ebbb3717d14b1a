"""Benchmark of coderig-analyze on 10k, 100k and 1M schema-valid score records.

    .venv/bin/python bench/analyze_bench.py [--sizes 10000,100000,1000000] [--workdir DIR] [--keep]

For each size it publishes, through the real run store, a sweep of generate + score outputs of
500 problems x 10 samples each (so 10k records are 2 runs and 1M records are 200 runs: 10 models
x 2 datasets x 10 seeds), then runs the whole analysis (``coderig-analyze run``: validated reading
of every score and sample record, pass@k with bootstrap CIs, seeds, configs, matrix, paired
comparisons, difficulty, report, charts) in a fresh Python process, and reports its wall time and
peak resident memory (``ru_maxrss`` from ``wait4``). Growth is shown against the smallest size.
Then, as the baseline, it times reading the smallest size's results line by line with pydantic.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBLEMS, SAMPLES_PER_PROBLEM = 500, 10
VERDICTS = ["passed"] * 9 + ["wrong_answer"] * 6 + ["runtime_error", "runtime_error", "syntax_error", "timeout", "no_code"]
EXCEPTIONS = {"runtime_error": "TypeError", "wrong_answer": "AssertionError", "timeout": "TimeoutError"}


def _problem_line(dataset: str, p: int) -> str:
    from coderig_schemas import Problem

    return Problem(
        dataset=dataset, split="test", problem_id=f"{dataset}/{p}", prompt=f"Write solve(xs) for task {p}.", entry_point="solve",
        reference_solution="def solve(xs):\n    return sum(xs)\n", difficulty=("easy", "medium", "hard")[p % 3],
        difficulty_source="dataset", tags=[("Array", "Math", "String")[p % 3]],
        tests=[{"test_id": f"t{t}", "code": f"assert solve([{t}]) == {t}", "visibility": "visible" if t == 0 else "hidden"}
               for t in range(3)],
    ).model_dump_json()


def _run_files(model: str, dataset: str, seed: int, skill: float) -> tuple[bytes, bytes, bytes]:
    """problems.jsonl, samples.jsonl and results.jsonl of one run, written from templates (fast)."""
    rng = random.Random(f"{model}/{dataset}/{seed}")
    problems = "".join(_problem_line(dataset, p) + "\n" for p in range(PROBLEMS)).encode()
    samples, results = [], []
    for p in range(PROBLEMS):
        easiness = (PROBLEMS - p) / PROBLEMS
        pid = f"{dataset}/{p}"
        for k in range(SAMPLES_PER_PROBLEM):
            sid = f"{pid}#s{seed}#{k}"
            verdict = "passed" if rng.random() < skill * easiness + 0.1 else rng.choice(VERDICTS[9:])
            code = f"def solve(xs):\\n    acc = 0\\n    for x in xs:\\n        acc += x * {k}\\n    return acc\\n"
            tokens = rng.randrange(40, 400)
            samples.append(
                f'{{"schema_version":1,"sample_id":"{sid}","problem_id":"{pid}","dataset":"{dataset}","split":"test",'
                f'"sample_index":{k},"seed":{seed},"model_name":"{model}","model_id":null,"template_id":"default",'
                f'"template_sha256":"{"0" * 64}","prompt_sha256":"{"1" * 64}",'
                f'"prompt_text":"Write solve(xs) for task {p}. Return the weighted sum of the list; handle the empty list.",'
                f'"prompt_messages":null,"raw_response":"```python\\n{code}```","extracted_code":"{code}",'
                f'"extraction_method":"{"fenced" if k % 7 else "heuristic"}","finish_reason":"{"stop" if k % 9 else "length"}",'
                f'"prompt_tokens":{rng.randrange(60, 300)},"completion_tokens":{tokens},"latency_s":{tokens / 2500:.5f},'
                f'"engine":"vllm","sampling":{{"temperature":0.8,"top_p":0.95,"top_k":-1,"max_tokens":512,"stop":[],"n":10,"seed":{seed}}}}}'
            )
            passed = verdict == "passed"
            exc = EXCEPTIONS.get(verdict)
            msg = f'"{exc}: solve failed on test t1"' if exc else "null"
            failing = "null" if passed else '"t1"'
            level = ("easy", "medium", "hard")[p % 3]
            statuses = ["passed", "passed" if passed else "failed", "passed" if passed else "not_run"]
            tests = ",".join(
                f'{{"test_id":"t{t}","visibility":"{"visible" if t == 0 else "hidden"}","status":"{st}","duration_s":0.0012,'
                f'"exception_type":null,"error_message":null,"expected":null,"actual":null}}' for t, st in enumerate(statuses))
            results.append(
                f'{{"schema_version":1,"sample_id":"{sid}","problem_id":"{pid}","dataset":"{dataset}","split":"test",'
                f'"sample_index":{k},"seed":{seed},"model_name":"{model}","verdict":"{verdict}","passed":{"true" if passed else "false"},'
                f'"exception_type":{json.dumps(exc)},"error_message":{msg},"failing_test_id":{failing},'
                f'"tests_passed":{3 if passed else 1},"tests_total":3,"visible_passed":1,"visible_total":1,'
                f'"hidden_passed":{2 if passed else 0},"hidden_total":2,"tests":[{tests}],"difficulty":"{level}",'
                f'"duration_s":0.0051,"stdout":"","stderr":"","attempts":1}}'
            )
    return problems, ("\n".join(samples) + "\n").encode(), ("\n".join(results) + "\n").encode()


def build_store(root: Path, records: int) -> int:
    """Publish records / 5000 runs (generate + score); return the number of runs."""
    from coderig_schemas import RunStore
    from coderig_schemas.layout import PROBLEMS as PROBLEMS_FILE
    from coderig_schemas.layout import RESULTS, SAMPLES, default_name

    store = RunStore(root)
    runs = max(1, records // (PROBLEMS * SAMPLES_PER_PROBLEM))
    models = [f"model-{m}" for m in range(10)]
    for r in range(runs):
        model, dataset, seed = models[r % 10], ("mbpp", "humaneval")[(r // 10) % 2], r // 20
        problems, samples, results = _run_files(model, dataset, seed, skill=0.3 + 0.05 * (r % 10))
        cfg = {"model": model, "dataset": dataset, "seed": seed, "temperature": 0.8, "top_p": 0.95, "max_tokens": 512,
               "template": "default", "preset": "bench"}
        name = default_name(model, dataset, seed)
        with store.begin(stage="generate", name=name, config=cfg, inputs=[], tool="bench", tool_version="0") as b:
            b.write_bytes(PROBLEMS_FILE, problems)
            b.write_bytes(SAMPLES, samples)
            gen = b.publish()
        gen.path_of(PROBLEMS_FILE)
        gen.path_of(SAMPLES)
        with store.begin(stage="score", name=name, config={"scorer": "bench"}, inputs=[gen], tool="bench", tool_version="0") as b:
            b.write_bytes(RESULTS, results)
            b.publish()
    return runs


def measure(root: Path) -> tuple[float, float, float, str]:
    """Run 'coderig-analyze run *' in a fresh process; return (wall s, CPU s, peak RSS MB, output path).

    CPU time (user + system) is reported too because the machine is shared: wall time grows with
    the other processes' load, CPU time much less.
    """
    exe = Path(sys.executable).with_name("coderig-analyze")
    cmd = [str(exe), "run", "*", "--runs", str(root), "--quiet", "--html"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode().strip() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"coderig-analyze failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


BASELINE = """
import sys, time
from pathlib import Path
from coderig_schemas import ScoreResult
from coderig_schemas.io import iter_jsonl
from coderig_analyze.fastread import read_columns
from coderig_analyze.inputs import RESULT_COLUMNS
files = sorted(Path(sys.argv[1]).glob("score/*/*/results.jsonl"))
t, c = time.perf_counter(), time.process_time()
if sys.argv[2] == "pydantic":  # what the contract's reader does: model_validate_json per line, then the columns
    rows = [[(r.problem_id, r.sample_index, r.verdict, r.passed, r.exception_type, r.difficulty) for r in iter_jsonl(p, ScoreResult)]
            for p in files]
else:
    tables = [read_columns(p, ScoreResult, RESULT_COLUMNS) for p in files]
print(time.perf_counter() - t, time.process_time() - c)
"""


def read_baseline(root: Path, how: str) -> tuple[float, float]:
    """(wall s, CPU s) to read and validate every results.jsonl of the store into columns, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", BASELINE, str(root), how], check=True, capture_output=True, text=True).stdout
    wall, cpu = out.split()[:2]
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="Comma-separated record counts.")
    parser.add_argument("--workdir", type=Path, default=None, help="Where to build the stores (default: a temp dir).")
    parser.add_argument("--keep", action="store_true", help="Keep the stores afterwards.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="analyze-bench-"))
    rows = []
    try:
        for size in sizes:
            root = work / f"runs-{size}"
            shutil.rmtree(root, ignore_errors=True)
            t0 = time.perf_counter()
            runs = build_store(root, size)
            built = time.perf_counter() - t0
            wall, cpu, rss, out = measure(root)
            records = runs * PROBLEMS * SAMPLES_PER_PROBLEM
            rows.append((records, runs, wall, cpu, rss))
            print(f"built {records:,} records in {runs} runs in {built:.1f} s; analyzed in {wall:.1f} s "
                  f"({cpu:.1f} s CPU), peak {rss:.0f} MB: {out}", file=sys.stderr)
            if size == sizes[-1]:
                slow, fast = read_baseline(root, "pydantic"), read_baseline(root, "fastread")
            if not args.keep and size != sizes[-1]:
                shutil.rmtree(root, ignore_errors=True)
        base_records, _, base_wall, base_cpu, base_rss = rows[0]
        print(f"{'records':>10} {'runs':>5} {'wall s':>8} {'CPU s':>7} {'records/s':>11} {'peak MB':>8} "
              f"{'x records':>10} {'x wall':>7} {'x CPU':>6} {'x memory':>9}")
        for records, runs, wall, cpu, rss in rows:
            print(f"{records:>10,} {runs:>5} {wall:>8.2f} {cpu:>7.2f} {records / wall:>11,.0f} {rss:>8.0f} "
                  f"{records / base_records:>10.0f} {wall / base_wall:>7.1f} {cpu / base_cpu:>6.1f} {rss / base_rss:>9.2f}")
        records = rows[-1][0]
        print(f"reading and validating the {records:,} results.jsonl records alone (no samples, no statistics):")
        print(f"{'':>44} {'wall s':>8} {'CPU s':>7} {'records/s (CPU)':>16}")
        print(f"{'baseline: model_validate_json per line':>44} {slow[0]:>8.2f} {slow[1]:>7.2f} {records / slow[1]:>16,.0f}")
        print(f"{'coderig: fastread.read_columns':>44} {fast[0]:>8.2f} {fast[1]:>7.2f} {records / fast[1]:>16,.0f}"
              f"   {slow[1] / fast[1]:.1f}x less CPU")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

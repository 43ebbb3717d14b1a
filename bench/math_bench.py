"""Benchmark: 10,000 MATH-500 responses graded by coderig's math grader pool vs math-verify in a plain loop.

Each of the 500 problems gets 20 responses (correct in other forms, wrong, no answer, reasoning-wrapped,
cut inside the reasoning...). Three ways grade them, one after the other in this process:

1. **coderig**: the scorer's grader (``coderig_score.math.grading.grade_items``) with a pool of
   ``--workers`` warm grader processes, each grading under its CPU and memory limits; the pool's
   start-up is included. It grades each distinct (gold, answer) pair once (``--without-dedup``
   also times the pool grading every answer).
2. **loop**: the same grading (think stripping, extraction, math-verify ``parse`` and ``verify``)
   called in a plain loop in this process, with no limits: the baseline. Verdicts must be identical
   to coderig's, record for record (exit 1 otherwise).
3. **math-verify alone**: ``verify(parse("$gold$"), parse(response))`` in a plain loop, for
   information: its agreement with coderig per variant (coderig reads only what follows
   ``</think>`` and takes the last ``\\boxed{}``, by design; see docs/score.md).

    .venv/bin/python bench/math_bench.py [--workers 2] [--data ../shared/data] [--limit 500] [--skip-alone] [--without-dedup]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coderig_schemas import Problem, Sample, ScoreResult
from coderig_score.math.grading import grade_in_process, grade_items, prepare
from coderig_score.math.pool import GraderPool

#: The 20 response variants: name -> (gold answer, solution text, another problem's answer) -> response.
VARIANTS: dict[str, Callable[[str, str, str], str]] = {
    "solution": lambda a, sol, other: sol,
    "boxed": lambda a, sol, other: f"The answer is $\\boxed{{{a}}}$.",
    "think-then-boxed": lambda a, sol, other: f"<think>\nLet me work it out.\n{sol}\n</think>\nSo the answer is $\\boxed{{{a}}}$.",
    "minerva-phrase": lambda a, sol, other: f"Final Answer: The final answer is ${a}$. I hope it is correct.",
    "draft-then-box": lambda a, sol, other: f"At first I got $\\boxed{{{other}}}$, but that is wrong. It is $\\boxed{{{a}}}$.",
    "wrong-other": lambda a, sol, other: f"The answer is $\\boxed{{{other}}}$.",
    "wrong-plus-one": lambda a, sol, other: f"$\\boxed{{{a}+1}}$",
    "no-answer": lambda a, sol, other: "I could not solve this problem.",
    "only-in-think": lambda a, sol, other: f"<think>{sol}</think>\nI am not sure.",
    "cut-in-think": lambda a, sol, other: f"<think>\n{sol}\nWait, let me check",
    "fbox": lambda a, sol, other: f"\\fbox{{{a}}}",
    "displaystyle": lambda a, sol, other: f"$$\\boxed{{\\displaystyle {a}}}$$",
    "display-math": lambda a, sol, other: f"**Final Answer**\n\\[\n\\boxed{{{a}}}\n\\]",
    "spaces": lambda a, sol, other: f"\\boxed{{  {a}  }}",
    "dfrac": lambda a, sol, other: f"\\boxed{{{a.replace(chr(92) + 'frac', chr(92) + 'dfrac')}}}",
    "phrase-plain": lambda a, sol, other: f"The final answer is {a}",
    "template-opened-think": lambda a, sol, other: f"{sol}\n</think>\n\\boxed{{{a}}}",
    "boxed-then-wrong": lambda a, sol, other: f"$\\boxed{{{a}}}$. Hmm, actually $\\boxed{{{other}}}$.",
    "empty": lambda a, sol, other: "",
    "left-right": lambda a, sol, other: f"\\boxed{{\\left({a}\\right)}}" if "," in a else f"$\\boxed{{{a}}}$ units",
}


def load(data: Path, limit: int) -> list[dict[str, Any]]:
    """MATH-500 rows from the shared data copy (see its README)."""
    path = data / "math" / "MATH-500-test.jsonl"
    if not path.is_file():
        sys.exit(f"{path}: not found; pass --data or set CODERIG_DATA_DIR")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows[:limit]


def build(rows: list[dict[str, Any]]) -> list[tuple[int, Problem, Sample]]:
    """(key, problem, sample) for every problem x variant."""
    items = []
    for i, row in enumerate(rows):
        pid = f"math500/{row['unique_id']}"
        problem = Problem.model_validate({
            "dataset": "math500", "split": "test", "problem_id": pid, "task_type": "math", "prompt": row["problem"],
            "reference_solution": row["solution"],
            "tests": [{"test_id": "answer", "code": "", "visibility": "hidden", "expected_repr": row["answer"]}],
            "grading": {"kind": "math", "answer": row["answer"], "answer_format": "latex", "extraction": "boxed"},
        })
        other = rows[(i + 1) % len(rows)]["answer"]
        for j, (name, make) in enumerate(VARIANTS.items()):
            sample = Sample.model_validate({
                "sample_id": f"{pid}#{name}", "problem_id": pid, "dataset": "math500", "split": "test", "sample_index": j,
                "seed": 0, "model_name": "bench", "template_id": "bench", "template_sha256": "0" * 64,
                "prompt_sha256": "0" * 64, "raw_response": make(row["answer"], row["solution"], other), "extracted_code": "",
                "extraction_method": "not_applicable", "finish_reason": "stop", "engine": "replay",
                "sampling": {"temperature": 0.0, "max_tokens": 1},
            })
            items.append((len(items), problem, sample))
    return items


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc (the workers are not this process's children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def verdicts(results: dict[int, ScoreResult]) -> list[tuple[str, str | None]]:
    """What must agree between two gradings: verdict and extracted answer, per response."""
    return [(results[k].verdict.value, results[k].answer.extracted if results[k].answer else None) for k in sorted(results)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CODERIG_DATA_DIR", "../shared/data")))
    ap.add_argument("--limit", type=int, default=500, help="first N problems (x 20 responses)")
    ap.add_argument("--skip-alone", action="store_true", help="skip the math-verify-alone comparison")
    ap.add_argument("--without-dedup", action="store_true",
                    help="also time the pool grading every answer, without the (gold, answer) pair dedup")
    args = ap.parse_args()
    items = build(load(args.data, args.limit))
    print(f"{len(items)} responses ({len(items) // len(VARIANTS)} problems x {len(VARIANTS)} variants), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", file=sys.stderr)

    t0, c0 = time.perf_counter(), time.process_time()
    with GraderPool(args.workers) as pool:
        pooled = {k: r for k, r, _ in grade_items(pool, items)}
        cpu_workers = sum(cpu_seconds(w.process.pid) for w in pool.workers)
    t_pool, cpu_parent = time.perf_counter() - t0, time.process_time() - c0
    print(f"coderig, {args.workers} workers: {t_pool:.2f} s ({len(items) / t_pool:.0f}/s); CPU {cpu_parent + cpu_workers:.1f} s "
          f"(scoring process {cpu_parent:.1f}, workers {cpu_workers:.1f}, fork server not counted)", file=sys.stderr)

    t0, c0 = time.perf_counter(), time.process_time()
    looped = {k: grade_in_process(p, s) for k, p, s in items}
    t_loop, cpu_loop = time.perf_counter() - t0, time.process_time() - c0
    print(f"loop (same grading, one process): {t_loop:.2f} s ({len(items) / t_loop:.0f}/s); CPU {cpu_loop:.1f} s", file=sys.stderr)

    answers = [(prep.gold, prep.extracted.answer) for prep in (prepare(p, s) for _, p, s in items) if prep.extracted.answer]
    print(f"{len(answers)} answers to compare, {len(set(answers))} distinct (gold, answer) pairs: coderig grades each "
          "pair once, the loop every answer", file=sys.stderr)
    if args.without_dedup:
        t0 = time.perf_counter()
        with GraderPool(args.workers) as pool:
            n = sum(1 for _ in pool.run((i, gold, answer) for i, (gold, answer) in enumerate(answers)))
        t_each = time.perf_counter() - t0
        print(f"coderig's pool grading every answer (no pair dedup): {t_each:.2f} s for {n}; "
              f"{t_loop / t_each:.2f}x the loop", file=sys.stderr)

    same = verdicts(pooled) == verdicts(looped)
    counts = Counter(r.verdict.value for r in pooled.values())
    print(f"verdicts: {dict(sorted(counts.items()))}; identical to the loop's: {same}")
    print(f"speed-up: {t_loop / t_pool:.2f}x (goal >= 1.5x)")

    if not args.skip_alone:
        from math_verify import parse, verify

        t0 = time.perf_counter()
        alone = [bool(verify(parse(f"${p.grading.answer}$"), parse(s.raw_response)))  # type: ignore[union-attr]
                 for _, p, s in items]
        t_alone = time.perf_counter() - t0
        names = list(VARIANTS)
        differ: Counter[str] = Counter()
        for (k, _, _), mv in zip(items, alone, strict=True):
            if mv != pooled[k].passed:
                differ[names[k % len(names)]] += 1
        print(f"math-verify alone, plain loop: {t_alone:.2f} s; coderig {t_alone / t_pool:.2f}x faster; "
              f"pass/fail differs on {sum(differ.values())} responses: {dict(differ.most_common())}")
    return 0 if same else 1


if __name__ == "__main__":
    # The grader pool forks from a fork server: keep module-level work out of children.
    sys.exit(main())

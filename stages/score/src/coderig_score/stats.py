"""The numbers of a score output: counts by verdict, pass rate, pass@k (the manifest's stats and PASS_AT_K)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from coderig_schemas import ScoreResult, Verdict, passk


def pass_at_k_report(results: list[ScoreResult]) -> dict[str, Any]:
    """pass@k per problem (every k <= its n) and overall (every k <= the smallest n), for PASS_AT_K.

    Sandbox errors are left out of n and c: they are not the model's answers being wrong.
    """
    counts = passk.counts_from((r.problem_id, r.passed) for r in results if r.verdict != Verdict.SANDBOX_ERROR)
    n_max = max((n for n, _ in counts.values()), default=0)
    per = passk.per_problem(counts, range(1, n_max + 1))
    overall = passk.overall(counts)
    return {
        "k": sorted(overall),
        "overall": {str(k): v for k, v in overall.items()},
        "per_problem": {pid: {"n": counts[pid][0], "c": counts[pid][1], "pass_at_k": {str(k): v for k, v in per[pid].items()}}
                        for pid in counts},
    }


def result_stats(results: list[ScoreResult]) -> dict[str, Any]:
    """Counts by verdict, pass rate and pass@k (every k <= the smallest n)."""
    verdicts = Counter(r.verdict.value for r in results)
    scored = [r for r in results if r.verdict != Verdict.SANDBOX_ERROR]
    counts = passk.counts_from((r.problem_id, r.passed) for r in scored)
    stats: dict[str, Any] = {
        "samples": len(results), "passed": sum(r.passed for r in results),
        "pass_rate": passk.pass_rate(sum(r.passed for r in scored), len(scored)),
        "verdicts": dict(sorted(verdicts.items())), "sandbox_errors": verdicts.get(Verdict.SANDBOX_ERROR.value, 0),
        "pass_at_k": {str(k): v for k, v in passk.overall(counts).items()},
    }
    from .ifeval.metrics import ifeval_metrics  # IFEval's four standard numbers, when there are IFEval samples

    if (ifeval := ifeval_metrics(results)) is not None:
        stats["ifeval"] = ifeval
    return stats

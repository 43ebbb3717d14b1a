"""IFEval's four standard numbers from score results (prompt- and instruction-level, strict and loose)."""

from __future__ import annotations

from collections.abc import Iterable

from coderig_schemas import ScoreResult, TaskType, Verdict
from coderig_schemas.passk import pass_rate


def ifeval_metrics(results: Iterable[ScoreResult]) -> dict[str, float | int] | None:
    """The four IFEval accuracies over instruction-following results; None when there are none.

    Prompt level: share of samples whose instructions were all followed (strict: ``passed``; loose:
    ``loose_passed``). Instruction level: share of all instructions followed (strict: ``tests_passed``;
    loose: ``loose_tests_passed``) over ``tests_total``. Grader failures (sandbox_error) are left out, as
    from every pass rate.
    """
    scored = [r for r in results if r.task_type == TaskType.INSTRUCTION_FOLLOWING and r.verdict != Verdict.SANDBOX_ERROR]
    if not scored:
        return None
    instructions = sum(r.tests_total for r in scored)
    return {
        "samples": len(scored),
        "instructions": instructions,
        "prompt_level_strict_accuracy": pass_rate(sum(r.passed for r in scored), len(scored)) or 0.0,
        "inst_level_strict_accuracy": pass_rate(sum(r.tests_passed for r in scored), instructions) or 0.0,
        "prompt_level_loose_accuracy": pass_rate(sum(bool(r.loose_passed) for r in scored), len(scored)) or 0.0,
        "inst_level_loose_accuracy": pass_rate(sum(r.loose_tests_passed or 0 for r in scored), instructions) or 0.0,
    }

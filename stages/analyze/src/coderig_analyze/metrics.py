"""Each run's metrics as its task type names them, with confidence intervals.

Every task type's primary metric is the share of problems whose first sample passed (the pass rate),
named by coderig_schemas.tasks.PRIMARY_METRIC. Instruction following (IFEval) reports four numbers:
prompt-level accuracy (the prompt passes when every instruction is followed) and instruction-level
accuracy (followed instructions / instructions), each strict and loose (the official loose variants
of the response). They are read from the first sample of each problem: strict from ``passed`` and
``tests_passed``, loose from ``loose_passed`` and ``loose_tests_passed`` (docs/ifeval-bfcl.md).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from coderig_schemas.analysis import Interval
from coderig_schemas.passk import pass_rate
from coderig_schemas.tasks import PRIMARY_METRIC, TaskType

from .intervals import bootstrap_counts, percentile_interval, wilson

PROMPT_STRICT = "prompt_level_strict_accuracy"
PROMPT_LOOSE = "prompt_level_loose_accuracy"
INST_STRICT = "inst_level_strict_accuracy"
INST_LOOSE = "inst_level_loose_accuracy"
#: The four IFEval numbers, in the order the IFEval paper and lm-eval print them.
IFEVAL_METRICS = (PROMPT_STRICT, PROMPT_LOOSE, INST_STRICT, INST_LOOSE)


def task_type_of(value: object) -> TaskType:
    """The TaskType of a runs-table value; code for a missing or unknown one (results without a problems file)."""
    try:
        return TaskType(str(value))
    except ValueError:
        return TaskType.CODE


def primary_metric(task_type: object) -> str:
    """Name of the task type's headline metric."""
    return PRIMARY_METRIC[task_type_of(task_type)]


def _ratio_interval(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64], *, replicates: int, seed: int,
                    level: float) -> Interval:
    """sum(num) / sum(den) with a percentile bootstrap CI resampling problems (prompts), not checks.

    Instructions of one prompt are graded on one response, so they are not independent draws: the
    prompt is the unit resampled (a cluster bootstrap), as for pass@k.
    """
    estimate = float(num.sum() / den.sum())
    counts = bootstrap_counts(len(num), replicates, np.random.default_rng(seed)).astype(np.float64)
    totals = counts @ den
    draws = np.divide(counts @ num, totals, out=np.full(replicates, estimate), where=totals > 0)
    low, high = percentile_interval(draws[:, None], level)
    return Interval(estimate=estimate, low=float(low[0]), high=float(high[0]), level=level, method="bootstrap over prompts")


def _wilson_interval(passed: int, total: int, level: float) -> Interval:
    low, high = wilson(passed, total, level)
    return Interval(estimate=pass_rate(passed, total) or 0.0, low=low, high=high, level=level, method="wilson")


def run_metric_values(outcomes: pd.DataFrame, task_type: object, *, replicates: int, seed: int,
                      level: float) -> dict[str, Interval]:
    """Metric name -> interval for one run's per-problem outcomes (problem_outcomes rows of that run).

    Always the primary metric (Wilson interval, the same number as the run's pass rate). For
    instruction following also the other three IFEval numbers, when the results carry the loose
    verdicts and check counts (every IFEval result of coderig-score does); missing ones are left out.
    """
    total = len(outcomes)
    if total == 0:
        return {}
    passed = int(outcomes["first_passed"].sum())
    values = {primary_metric(task_type): _wilson_interval(passed, total, level)}
    if task_type_of(task_type) != TaskType.INSTRUCTION_FOLLOWING:
        return values

    def column(name: str) -> pd.Series:
        return outcomes[name] if name in outcomes else pd.Series([None] * total, index=outcomes.index)

    loose = column("first_loose_passed")
    if loose.notna().all():
        values[PROMPT_LOOSE] = _wilson_interval(int(loose.astype(bool).sum()), total, level)
    checks = pd.to_numeric(column("first_tests_total"), errors="coerce")
    strict_checks = pd.to_numeric(column("first_tests_passed"), errors="coerce")
    if checks.notna().all() and strict_checks.notna().all() and checks.sum() > 0:
        den = checks.to_numpy(dtype=np.float64)
        values[INST_STRICT] = _ratio_interval(strict_checks.to_numpy(dtype=np.float64), den, replicates=replicates,
                                              seed=seed, level=level)
        loose_checks = pd.to_numeric(column("first_loose_tests_passed"), errors="coerce")
        if loose_checks.notna().all():
            values[INST_LOOSE] = _ratio_interval(loose_checks.to_numpy(dtype=np.float64), den, replicates=replicates,
                                                 seed=seed, level=level)
    return {name: values[name] for name in IFEVAL_METRICS if name in values}

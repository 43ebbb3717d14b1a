"""Per-run analysis: pass rate, pass@k with CIs, breakdowns, verdicts and generation statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from coderig_schemas import passk
from coderig_schemas.analysis import AnalysisSummary, BucketStats, DifficultyBreakdown, Interval, RunAnalysis, RunMetrics

from .difficulty import LEVELS, breakdowns_by_run, bucket, problem_breakdowns, tag_breakdowns
from .inputs import RUN_SCHEMA, RunData
from .intervals import bootstrap_means, percentile_interval, wilson
from .metrics import primary_metric, run_metric_values, task_type_of
from .problems import problem_outcomes
from .verdicts import VERDICTS, counts_by, distribution, exception_counts, throughput, verdict_table

#: Columns of metrics.csv after the run's keys.
METRIC_COLUMNS = ["task_type", "metric", "primary", "estimate", "low", "high", "method"]
METRIC_COLUMNS_WITH_RUN = ["run", *METRIC_COLUMNS]


@dataclass
class RunTables:
    """Everything computed per run, as analysis records and as long tables for the CSVs."""

    analyses: list[RunAnalysis]
    results: pd.DataFrame  # every result row, with 'run'
    outcomes: pd.DataFrame  # per (run, problem): n, c, first_passed, split, difficulty
    runs: pd.DataFrame  # one row per run: config, counts, rates
    pass_at_k: pd.DataFrame  # run, k, estimate, low, high
    verdicts: pd.DataFrame  # run, verdict, count, share
    exceptions: pd.DataFrame  # run, exception_type, count
    generation: pd.DataFrame  # run, kind, value, count, share
    levels: dict[int, dict[str, BucketStats]]  # run -> MATH level ('1'..'5') -> stats; empty for datasets without levels
    metrics: list[RunMetrics]  # per run: its task type's metrics with CIs
    metric_table: pd.DataFrame  # run, task_type, metric, primary, estimate, low, high, method


def to_frame(data: list[RunData]) -> pd.DataFrame:
    """Every run's rows in one DataFrame with a 'run' column; strings become categoricals.

    The runs are concatenated in Arrow and converted once: categoricals make the groupbys over a
    million rows cheap and the frame a fraction of the size of Python strings.
    """
    tables = [d.results.append_column("run", pa.array(np.full(d.results.num_rows, i, dtype=np.int64))) for i, d in enumerate(data)]
    schema = RUN_SCHEMA.append(pa.field("run", pa.int64()))
    table = pa.concat_tables(tables).combine_chunks() if tables else schema.empty_table()
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        columns[name] = pc.dictionary_encode(col) if pa.types.is_string(col.type) else col
    frame: pd.DataFrame = pa.table(columns).to_pandas()
    return frame


def pass_at_k_intervals(n: np.ndarray, c: np.ndarray, *, replicates: int, seed: int, level: float) -> list[Interval]:
    """pass@k for every k <= min(n), each with a percentile bootstrap CI over problems."""
    if len(n) == 0:
        return []
    k_max = int(n.min())
    per_problem = np.array([passk.curve(int(ni), int(ci), k_max) for ni, ci in zip(n, c, strict=True)], dtype=np.float64)
    estimate = per_problem.mean(axis=0)
    low, high = percentile_interval(bootstrap_means(per_problem, replicates, seed), level)
    return [Interval(estimate=float(estimate[i]), low=float(low[i]), high=float(high[i]), level=level, method="bootstrap")
            for i in range(k_max)]


def _mean_of(res: pd.DataFrame, column: str) -> float:
    values = pd.to_numeric(res[column], errors="coerce").dropna() if column in res else pd.Series(dtype=float)
    return float(values.mean()) if len(values) else np.nan


def _truncated_share(res: pd.DataFrame) -> float:
    """Share of the samples whose generation stopped at max_tokens (finish_reason 'length'); NaN when unknown."""
    reasons = res["finish_reason"].dropna().astype(str) if "finish_reason" in res else pd.Series(dtype=str)
    return float((reasons == "length").mean()) if len(reasons) else np.nan


def _share(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total if total else 0.0 for k, v in counts.items()}


def _by_run(frame: pd.DataFrame, key: str) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for run, value, count in frame[["run", key, "count"]].itertuples(index=False):
        out.setdefault(int(run), {})[str(value)] = int(count)
    return out


def dataset_views(data: list[RunData]) -> list[str]:
    """Per run, the name its dataset goes by in tables, charts and the matrix: 'mbpp', or 'mbpp/test' when
    the runs analyzed together cover several splits of it (their problems differ, so they are never pooled,
    ranked or paired as one dataset)."""
    splits: dict[str, set[str | None]] = {}
    for d in data:
        splits.setdefault(d.config.dataset, set()).add(d.config.split)
    return [f"{d.config.dataset}/{d.config.split or 'none'}" if len(splits[d.config.dataset]) > 1 else d.config.dataset
            for d in data]


def analyze_runs(data: list[RunData], *, replicates: int, seed: int, level: float) -> RunTables:
    """Analyze every run; the heavy work is vectorized over all runs at once."""
    views = dataset_views(data)
    results = to_frame(data)
    outcomes = problem_outcomes(results)
    verdicts = verdict_table(results)
    exceptions = exception_counts(results)
    extraction = counts_by(results, "extraction_method")
    finish = counts_by(results, "finish_reason")
    verdict_by_run = _by_run(verdicts, "verdict")
    exceptions_by_run = _by_run(exceptions, "exception_type")
    extraction_by_run = _by_run(extraction, "extraction_method")
    finish_by_run = _by_run(finish, "finish_reason")
    splits = breakdowns_by_run(outcomes, "split")
    difficulties = breakdowns_by_run(outcomes, "difficulty")
    tags = tag_breakdowns(outcomes, [d.problems for d in data])
    levels = problem_breakdowns(outcomes, [d.problems for d in data], "level")
    outcome_groups = dict(tuple(outcomes.groupby("run")))
    result_groups = dict(tuple(results.groupby("run")))
    analyses, run_rows, passk_rows, metrics, metric_rows = [], [], [], [], []
    for i, d in enumerate(data):
        out = outcome_groups.get(i, outcomes.iloc[0:0])
        res = result_groups.get(i, results.iloc[0:0])
        total = len(out)
        passed = int(out["first_passed"].sum())
        rate = passk.pass_rate(passed, total) or 0.0
        low, high = wilson(passed, total, level)
        intervals = pass_at_k_intervals(out["n"].to_numpy(), out["c"].to_numpy(), replicates=replicates, seed=seed, level=level)
        verdict_counts = {v: verdict_by_run.get(i, {}).get(v, 0) for v in VERDICTS}
        summary = AnalysisSummary(
            run_ref=d.score.ref, model_name=d.config.model_name, dataset=d.config.dataset, seed=d.config.seed,
            total_problems=total, passed_problems=passed, pass_rate=rate,
            pass_rate_ci=Interval(estimate=rate, low=low, high=high, level=level, method="wilson"),
            pass_at_k={str(k + 1): iv.estimate for k, iv in enumerate(intervals)},
            difficulty_breakdown=DifficultyBreakdown(**{lv: difficulties.get(i, {}).get(lv, bucket(0, 0)) for lv in LEVELS}),
            verdict_counts=verdict_counts, total_samples=len(res),
        )
        speed = throughput(res) if d.has_samples else {"tokens_per_s": None, "samples_per_s": None}
        analysis = RunAnalysis(
            summary=summary, generate_ref=d.generate.ref if d.generate else None, config=d.config,
            samples_expected=d.samples_expected,
            complete=d.samples_expected is None or len(res) >= d.samples_expected,
            samples_per_problem=int(out["n"].min()) if total else 0,
            pass_at_k_ci={str(k + 1): iv for k, iv in enumerate(intervals)},
            split_breakdown=splits.get(i, {}), tag_breakdown=tags.get(i, {}),
            verdict_shares=_share(verdict_counts), exception_types=exceptions_by_run.get(i, {}),
            extraction_methods=extraction_by_run.get(i, {}), finish_reasons=finish_by_run.get(i, {}),
            prompt_tokens=distribution(res["prompt_tokens"]), completion_tokens=distribution(res["completion_tokens"]),
            latency_s=distribution(res["latency_s"]), **speed,
        )
        analyses.append(analysis)
        run_rows.append({
            "run": i, "run_ref": d.score.ref, "generate_ref": analysis.generate_ref, **d.config.model_dump(),
            "dataset": views[i], "dataset_name": d.config.dataset,
            "samples_expected": d.samples_expected, "samples_scored": len(res), "complete": analysis.complete,
            "total_problems": total, "passed_problems": passed, "pass_rate": summary.pass_rate, "ci_low": low, "ci_high": high,
            "pass_at_1": intervals[0].estimate if intervals else np.nan,
            "prompt_tokens_mean": analysis.prompt_tokens.mean if analysis.prompt_tokens else np.nan,
            "completion_tokens_mean": analysis.completion_tokens.mean if analysis.completion_tokens else np.nan,
            "latency_mean_s": analysis.latency_s.mean if analysis.latency_s else np.nan,
            "latency_p95_s": analysis.latency_s.p95 if analysis.latency_s else np.nan,
            "tokens_per_s": analysis.tokens_per_s, "samples_per_s": analysis.samples_per_s,
            "task_type": d.task_type, "metric": primary_metric(d.task_type),
            "response_chars_mean": _mean_of(res, "response_chars"), "truncated_share": _truncated_share(res),
        })
        values = run_metric_values(out, d.task_type, replicates=replicates, seed=seed, level=level)
        metrics.append(RunMetrics(run_ref=d.score.ref, model_name=d.config.model_name, dataset=d.config.dataset,
                                  seed=d.config.seed, task_type=task_type_of(d.task_type), metric=primary_metric(d.task_type),
                                  values=values))
        metric_rows += [{"run": i, "task_type": str(task_type_of(d.task_type)), "metric": name,
                         "primary": name == primary_metric(d.task_type), "estimate": iv.estimate, "low": iv.low,
                         "high": iv.high, "method": iv.method} for name, iv in values.items()]
        passk_rows += [{"run": i, "k": k + 1, "estimate": iv.estimate, "low": iv.low, "high": iv.high} for k, iv in enumerate(intervals)]
    generation = pd.concat([
        extraction.rename(columns={"extraction_method": "value"}).assign(kind="extraction_method"),
        finish.rename(columns={"finish_reason": "value"}).assign(kind="finish_reason"),
    ], ignore_index=True)
    totals = generation.groupby(["run", "kind"])["count"].transform("sum")
    generation["share"] = generation["count"] / totals
    return RunTables(
        analyses=analyses, results=results, outcomes=outcomes, runs=pd.DataFrame(run_rows), levels=levels, metrics=metrics,
        metric_table=pd.DataFrame(metric_rows, columns=METRIC_COLUMNS_WITH_RUN),
        pass_at_k=pd.DataFrame(passk_rows, columns=["run", "k", "estimate", "low", "high"]),
        verdicts=verdicts, exceptions=exceptions, generation=generation[["run", "kind", "value", "count", "share"]],
    )

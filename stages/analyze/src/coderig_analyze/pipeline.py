"""The analyze stage end to end: select inputs, read them, compute, write and publish one output."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from pydantic import Field

from coderig_schemas import InvalidInputError, PublishedOutput, RunStore, UsageError
from coderig_schemas._base import Record
from coderig_schemas.analysis import Analysis, ConfigEffect, InputIssue, Interval, PairedComparison, ProblemSummary, RunConfig, SeedGroup
from coderig_schemas.cli_support import progress
from coderig_schemas.layout import ANALYSIS, REPORT, SUMMARIES

from . import __version__
from .comparisons import first_outcomes, paired_comparison, pairs_to_compare
from .configs import factor_analysis
from .difficulty import problem_difficulty
from .inputs import Category, RunData, load_run, open_run, read_category, resolve_run, select
from .intervals import wilson
from .matrix import comparison_matrix, matrix_heading, matrix_markdown
from .report import ReportInputs, failure_table, render_html, render_markdown
from .runs import METRIC_COLUMNS, RunTables, analyze_runs
from .seeds import CONFIG_COLUMNS, across_seeds, best_configs, per_seed

log = logging.getLogger("coderig.analyze")

SEED_ANALYSIS = "seed_analysis.csv"  # one row per seed (run)
CONFIG_ANALYSIS = "config_analysis.csv"  # one row per configuration: mean, std, min, max and CI over its seeds
FACTOR_ANALYSIS = "factor_analysis.csv"  # pass rate by one configuration factor at a time
RUNS_CSV = "runs.csv"
PASS_AT_K = "pass_at_k.csv"
BREAKDOWNS = "breakdowns.csv"
VERDICTS_CSV = "verdicts.csv"
EXCEPTIONS = "exceptions.csv"
GENERATION = "generation.csv"
PAIRED = "paired.csv"
PROBLEM_DIFFICULTY = "problem_difficulty.csv"
FAILURES = "failures.csv"
METRICS_CSV = "metrics.csv"  # per run: its task type's metrics (IFEval: four) with CIs
COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"
REPORT_HTML = "report.html"
CHARTS_DIR = "charts"


class AnalyzeConfig(Record):
    """Options of 'coderig-analyze run' (its hash, with the inputs' hashes, is the output's key)."""

    refs: tuple[str, ...] = Field(description="Run references and globs over score output names.")
    category: str | None = Field(default=None, description="Category name (selects its models x datasets).")
    category_label: str | None = Field(default=None, description=(
        "Category the REFS are a run of, named in the outputs without selecting anything (make category)."))
    category_models: tuple[str, ...] = Field(default=(), description="Models of the category (from the categories file).")
    category_datasets: tuple[str, ...] = Field(default=(), description="Datasets of the category.")
    name: str = Field(description="Name of the analysis output.")
    bootstrap: int = Field(default=1000, ge=1, le=100_000, description="Bootstrap replicates.")
    seed: int = Field(default=0, description="Seed of the bootstrap generator.")
    level: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")
    html: bool = Field(default=False, description="Also write a self-contained report.html.")
    charts: bool = Field(default=True, description="Write PNG charts.")


def resolve_category(categories_file: Path | None, name: str | None) -> Category | None:
    """The category's models and datasets, read from the categories file."""
    if name is None:
        return None
    if categories_file is None:
        raise UsageError(f"--category {name} needs --categories-file", hint=(
            "pass the categories YAML file (or set CODERIG_CATEGORIES), e.g. the generate stage's registry/categories.yaml"))
    return read_category(categories_file, name)


@dataclass
class Outcome:
    """What a run of the stage produced."""

    output: PublishedOutput
    reused: bool
    runs: int
    issues: list[InputIssue]
    seconds: float


def _csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return buf.getvalue().encode()


def _with_run(frame: pd.DataFrame, runs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    keys = runs[["run", "run_ref", "model_name", "dataset", "seed"]]
    return keys.merge(frame, on="run")[["run_ref", "model_name", "dataset", "seed", *columns]]


def _nan_none(value: object) -> object:
    return None if isinstance(value, float) and value != value else value


def _run_config(row: pd.Series) -> RunConfig:
    values = {c: _nan_none(row.get(c)) for c in CONFIG_COLUMNS}
    values["dataset"] = _nan_none(row.get("dataset_name")) or values["dataset"]  # the dataset itself, not its view
    for key in ("max_tokens", "n"):
        if values[key] is not None:
            values[key] = int(values[key])  # type: ignore[call-overload]
    if values["chat_template"] is not None:
        values["chat_template"] = bool(values["chat_template"])
    values["label"] = values["label"] or ""
    return RunConfig.model_validate({**values, "seed": None})


def _seed_groups(seeds: pd.DataFrame, level: float) -> list[SeedGroup]:
    out = []
    for _, r in seeds.iterrows():
        ci = None if pd.isna(r["ci_low"]) else Interval(estimate=r["mean"], low=r["ci_low"], high=r["ci_high"], level=level, method="t")
        seed_list = [None if s == "none" else int(s) for s in str(r["seeds"]).split()]
        out.append(SeedGroup(config=_run_config(r), seeds=seed_list, runs=int(r["runs"]), mean=float(r["mean"]),
                             std=_nan_none(float(r["std"])), min=float(r["min"]), max=float(r["max"]), ci=ci))  # type: ignore[arg-type]
    return out


def _problem_summaries(table: pd.DataFrame) -> list[ProblemSummary]:
    out = []
    for dataset, g in table.groupby("dataset", sort=True):
        out.append(ProblemSummary(
            dataset=str(dataset), problems=len(g), models=int(g["models"].max()) if len(g) else 0,
            empirical={k: int(v) for k, v in g["empirical_difficulty"].value_counts().items()},
            never_solved=sorted(map(str, g.loc[g["never_solved"], "problem_id"])),
            always_solved=sorted(map(str, g.loc[g["always_solved"], "problem_id"])),
        ))
    return out


BREAKDOWN_COLUMNS = ["kind", "bucket", "total", "passed", "pass_rate", "ci_low", "ci_high"]


def _breakdowns(t: RunTables, level: float) -> pd.DataFrame:
    """Every bucket of every run, with the Wilson interval of its rate (BucketStats has no room for one)."""
    rows = []
    for i, a in enumerate(t.analyses):
        d = a.summary.difficulty_breakdown
        for kind, buckets in (("difficulty", {"easy": d.easy, "medium": d.medium, "hard": d.hard}), ("split", a.split_breakdown),
                              ("tag", a.tag_breakdown), ("level", t.levels.get(i, {}))):
            for k, b in buckets.items():
                low, high = wilson(b.passed, b.total, level) if b.total else (np.nan, np.nan)
                rows.append({"run": i, "kind": kind, "bucket": k, "total": b.total, "passed": b.passed, "pass_rate": b.pass_rate,
                             "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["run", *BREAKDOWN_COLUMNS])


def compute(
    data: list[RunData], cfg: AnalyzeConfig, issues: list[InputIssue], missing: list[str] | None = None,
) -> tuple[Analysis, dict[str, bytes]]:
    """Every number and file of the analysis, from runs already read (pure: no store access)."""
    t = analyze_runs(data, replicates=cfg.bootstrap, seed=cfg.seed, level=cfg.level)
    runs = t.runs
    # A run with no judged problem (nothing scored yet, or only sandbox errors) has no pass rate:
    # its 0.0 placeholder must not enter the means across seeds, the configurations or the ranks.
    scored = runs[runs["total_problems"] > 0] if len(runs) else runs
    seeds = across_seeds(scored, cfg.level)
    best = best_configs(seeds)
    factors = factor_analysis(scored)
    category = cfg.category or cfg.category_label
    first = first_outcomes(t.outcomes)
    matrix = comparison_matrix(best, scored, category=category, missing=missing or [], level=cfg.level, first=first,
                               replicates=cfg.bootstrap, seed=cfg.seed)
    paired: list[PairedComparison] = []
    for ia, ib in pairs_to_compare(scored, best):
        pc = paired_comparison(first, runs.iloc[ia], runs.iloc[ib], replicates=cfg.bootstrap, seed=cfg.seed, level=cfg.level)
        if pc is not None:
            paired.append(pc)
    difficulty = problem_difficulty(t.outcomes, runs)
    analysis = Analysis(
        name=cfg.name, category=category, level=cfg.level, bootstrap=cfg.bootstrap, seed=cfg.seed, runs=t.analyses,
        metrics=t.metrics,
        seed_analysis=_seed_groups(seeds, cfg.level),
        config_analysis=[ConfigEffect.model_validate({**{k: _nan_none(v) for k, v in r.items()}, "runs": int(r["runs"])})
                         for r in factors.to_dict("records")],
        matrix=matrix, paired=paired, problems=_problem_summaries(difficulty), issues=issues,
    )
    failures = failure_table(t.results, runs)
    breakdowns = _with_run(_breakdowns(t, cfg.level), runs, BREAKDOWN_COLUMNS)
    files: dict[str, bytes] = {
        RUNS_CSV: _csv(runs.drop(columns=["run"])),
        METRICS_CSV: _csv(_with_run(t.metric_table, runs, METRIC_COLUMNS)),
        PASS_AT_K: _csv(_with_run(t.pass_at_k, runs, ["k", "estimate", "low", "high"])),
        BREAKDOWNS: _csv(breakdowns),
        VERDICTS_CSV: _csv(_with_run(t.verdicts, runs, ["verdict", "count", "share"])),
        EXCEPTIONS: _csv(_with_run(t.exceptions, runs, ["exception_type", "count"])),
        GENERATION: _csv(_with_run(t.generation, runs, ["kind", "value", "count", "share"])),
        SEED_ANALYSIS: _csv(per_seed(scored)),
        CONFIG_ANALYSIS: _csv(seeds),
        FACTOR_ANALYSIS: _csv(factors),
        PAIRED: _csv(pd.DataFrame(
            [{"dataset": p.dataset, "a_ref": p.a_ref, "b_ref": p.b_ref, "a_model": p.a_model, "b_model": p.b_model,
              "problems": p.problems, "a_rate": p.a_rate, "b_rate": p.b_rate, "difference": p.difference.estimate,
              "ci_low": p.difference.low, "ci_high": p.difference.high, "both_passed": p.both_passed, "a_only": p.a_only,
              "b_only": p.b_only, "both_failed": p.both_failed, "mcnemar_p": p.mcnemar_p} for p in paired],
            columns=["dataset", "a_ref", "b_ref", "a_model", "b_model", "problems", "a_rate", "b_rate", "difference", "ci_low",
                     "ci_high", "both_passed", "a_only", "b_only", "both_failed", "mcnemar_p"])),
        PROBLEM_DIFFICULTY: _csv(difficulty),
        FAILURES: _csv(failures.drop(columns=["examples"])),
        COMPARISON_JSON: (matrix.model_dump_json(indent=2) + "\n").encode(),
        COMPARISON_MD: (f"# Model × dataset{f' ({category})' if category else ''}\n\n" + matrix_heading(matrix) + "\n"
                        + matrix_markdown(matrix)).encode(),
        ANALYSIS: (analysis.model_dump_json(indent=2) + "\n").encode(),
    }
    charts: dict[str, bytes] = {}
    if cfg.charts and analysis.runs:
        from .charts import all_charts  # matplotlib is imported only when charts are drawn

        charts = all_charts(analysis, scored)
        files.update({f"{CHARTS_DIR}/{name}": png for name, png in charts.items()})
    markdown = render_markdown(ReportInputs(analysis=analysis, seeds=seeds, best=best, failures=failures, charts=list(charts),
                                            breakdowns=breakdowns))
    files[REPORT] = markdown.encode()
    if cfg.html:
        files[REPORT_HTML] = render_html(markdown, {f"{CHARTS_DIR}/{k}": v for k, v in charts.items()}).encode()
    return analysis, files


def run_analysis(store: RunStore, cfg: AnalyzeConfig, quiet: bool) -> Outcome:
    """Select, read, analyze and publish (a no-op returning the existing output when nothing changed)."""
    t0 = time.monotonic()
    category = (cfg.category, Category(models=list(cfg.category_models), datasets=list(cfg.category_datasets))) if cfg.category else None
    selection = select(store, list(cfg.refs), category)
    issues = list(selection.issues)
    opened = []
    for score in selection.scores:
        run, found = open_run(store, score)
        opened.append(run)
        issues += found
    for issue in issues:
        log.warning("%s: %s", issue.kind, issue.message)
    inputs = selection.scores + [r.generate for r in opened if r.generate is not None]
    with store.begin(stage="analyze", name=cfg.name, config=cfg, inputs=inputs, tool="coderig-analyze",
                     tool_version=__version__, packages=["numpy", "pandas", "pyarrow", "scipy", "matplotlib"]) as builder:
        # The key hashes the options and the inputs' manifests, so this is known before reading a record.
        if builder.existing is not None:
            log.info("unchanged inputs and options: %s is already published", builder.existing.ref)
            return Outcome(builder.existing, True, len(selection.scores), issues, time.monotonic() - t0)
        with builder.log_to_file():
            data: list[RunData] = []
            n_records = n_passed = 0
            with progress("reading score outputs", len(selection.scores), quiet) as advance:
                for scored_run in opened:
                    run_data, found = load_run(scored_run)
                    for issue in found:
                        log.warning("%s: %s", issue.kind, issue.message)
                    data.append(run_data)
                    issues += found
                    n_records += len(run_data.results)
                    n_passed += int(pc.sum(run_data.results["passed"]).as_py() or 0)
                    advance(1, records=n_records, pass_rate=f"{n_passed / max(1, n_records):.1%}")
            builder.mark("read")
            analysis, files = compute(data, cfg, issues, selection.missing_pairs)
            builder.mark("compute")
            for rel, content in files.items():
                builder.write_bytes(rel, content)
            builder.write_records(SUMMARIES, [r.summary for r in analysis.runs])
            builder.mark("write")
            records = sum(len(d.results) for d in data)
            out = builder.publish(
                stats={"runs": len(data), "records": records, "issues": len(issues),
                       "records_per_s": round(records / max(1e-9, time.monotonic() - t0), 1)},
                schema_names={ANALYSIS: "analysis", SUMMARIES: "analysis_summary", COMPARISON_JSON: "comparison_matrix"},
            )
            log.info("analyzed %d run(s), %d records, in %.1f s: %s", len(data), records, time.monotonic() - t0, out.ref)
    return Outcome(out, False, len(data), issues, time.monotonic() - t0)


def compare_runs(store: RunStore, a_ref: str, b_ref: str, *, replicates: int, seed: int, level: float) -> PairedComparison:
    """Paired comparison of two score outputs on the problems both scored."""
    loaded = []
    for ref in (a_ref, b_ref):
        score = resolve_run(store, ref)
        scored_run, missing = open_run(store, score)
        run, found = load_run(scored_run)
        for issue in missing + found:
            log.warning("%s: %s", issue.kind, issue.message)
        loaded.append(run)
    if loaded[0].config.dataset != loaded[1].config.dataset:
        # Datasets may share problem ids (humaneval and humaneval_plus) with other tests: pairing
        # them would pass off two different problems as one.
        raise InvalidInputError(
            f"{a_ref} is on dataset {loaded[0].config.dataset!r} but {b_ref} on {loaded[1].config.dataset!r}",
            hint="a paired comparison needs two runs of the same dataset",
        )
    t = analyze_runs(loaded, replicates=1, seed=seed, level=level)
    first = first_outcomes(t.outcomes)
    result = paired_comparison(first, t.runs.iloc[0], t.runs.iloc[1], replicates=replicates, seed=seed, level=level)
    if result is None:
        raise InvalidInputError(f"{a_ref} and {b_ref} share no problem", hint="compare two runs of the same dataset")
    sizes = [len(first.get(i, ())) for i in (0, 1)]
    if sizes != [result.problems] * 2:
        log.warning("paired on the %d problems both scored: %d of A's and %d of B's others are left out",
                    result.problems, sizes[0] - result.problems, sizes[1] - result.problems)
    return result

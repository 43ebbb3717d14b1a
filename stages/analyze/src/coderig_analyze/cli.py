"""Command line of coderig-analyze (thin: options -> frozen config -> one function)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from coderig_schemas import RunStore
from coderig_schemas.cli_support import build_config, console, name_problem, output_name, quiet_option, runs_option
from coderig_schemas.lifecycle import report_output, stage_command

F = TypeVar("F", bound=Callable[..., Any])

# The analysis multiplies many small matrices (bootstrap weights x per-problem values): BLAS
# threads only add contention there, 3-5x slower on a busy 2-core machine. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@click.group()
@click.version_option(package_name="coderig-analyze")
def main() -> None:
    """coderig analyze: pass rates, pass@k, confidence intervals and comparison reports."""


def _stats_options(f: F) -> F:
    f = click.option("--level", type=float, default=0.95, show_default=True, help="Confidence level of every interval.")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap generator.")(f)
    f = click.option("--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap replicates (resampling problems).")(f)
    return f


@main.command()
@stage_command
@click.argument("refs", nargs=-1)
@click.option("--category", help="Analyze every score output of a category's models x datasets.")
@click.option("--categories-file", type=click.Path(dir_okay=False, path_type=Path), envvar="CODERIG_CATEGORIES",
              show_envvar=True, help="YAML file {categories: {NAME: {models: [...], datasets: [...]}}}.")
@click.option("--category-label", metavar="NAME", help=(
    "Name the category these REFS are a run of, in comparison.json, analysis.json and the report, without "
    "selecting anything by it (what `make category` passes)."))
@click.option("--name", callback=output_name, help="Name of the analysis output [default: the category, else 'analysis'].")
@_stats_options
@click.option("--html", is_flag=True, help="Also write a self-contained report.html.")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of the output path.")
@runs_option
@quiet_option
def run(store: RunStore, quiet: bool, refs: tuple[str, ...], category: str | None, categories_file: Path | None,
        category_label: str | None, name: str | None, bootstrap: int, seed: int, level: float, html: bool, no_charts: bool,
        as_json: bool) -> str:
    """Analyze score outputs and publish analysis.json, CSVs, report.md and charts.

    REFS are score outputs ('score/<name>[/<key>]', '<name>' or a directory) or globs over score
    output names ('qwen*__mbpp__*'). Prints the published output's path.
    """
    if not refs and not category:
        raise click.UsageError("name score outputs (REFS or globs) or a --category")
    if name is None and category is not None and name_problem(category) is not None:
        raise click.UsageError(f"--category {category!r} cannot name the output (letters, digits and '._+=-' only); pass --name NAME")
    if category is not None and category_label is not None and category != category_label:
        raise click.UsageError(f"--category {category} and --category-label {category_label} name two categories; pass one")
    from .pipeline import AnalyzeConfig, resolve_category, run_analysis

    cat = resolve_category(categories_file, category)
    cfg = build_config(
        AnalyzeConfig, refs=refs, category=category, category_label=None if category else category_label,
        category_models=tuple(cat.models) if cat else (), category_datasets=tuple(cat.datasets) if cat else (),
        name=name or category or "analysis", bootstrap=bootstrap, seed=seed, level=level, html=html, charts=not no_charts,
    )
    out = run_analysis(store, cfg, quiet)
    # 'existing' as in generate and export; 'reused' kept for consumers written against older versions.
    return report_output(out.output.path, as_json, {
        "ref": out.output.ref, "path": str(out.output.path), "existing": out.reused, "reused": out.reused, "runs": out.runs,
        "issues": [i.model_dump(mode="json") for i in out.issues], "seconds": round(out.seconds, 3)}, sort_keys=False)


@main.command()
@stage_command
@click.argument("a")
@click.argument("b")
@_stats_options
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON (a PairedComparison record).")
@runs_option
@quiet_option
def compare(store: RunStore, quiet: bool, a: str, b: str, bootstrap: int, seed: int, level: float, as_json: bool) -> str:
    """Paired comparison of score outputs A and B on the problems both scored.

    Prints 'difference low high p_value' (A - B pass rate, its paired bootstrap CI, the exact
    McNemar p-value), or the full record with --json; a readable summary goes to stderr.
    """
    from .pipeline import AnalyzeConfig, compare_runs

    # The statistics options obey the bounds of the analysis's (AnalyzeConfig is their one home).
    stats = build_config(AnalyzeConfig, refs=(a, b), name="compare", bootstrap=bootstrap, seed=seed, level=level)
    r = compare_runs(store, a, b, replicates=stats.bootstrap, seed=stats.seed, level=stats.level)
    if not quiet:
        console.print(
            f"{r.a_model} vs {r.b_model} on {r.dataset}: {r.problems} problems, A {r.a_rate:.1%}, B {r.b_rate:.1%}, "
            f"A−B {r.difference.estimate:+.1%} [{r.difference.low:+.1%}, {r.difference.high:+.1%}], "
            f"only A {r.a_only}, only B {r.b_only}, McNemar p={r.mcnemar_p:.4g}", highlight=False, soft_wrap=True,
        )
    if as_json:
        return r.model_dump_json()
    return f"{r.difference.estimate:.6g} {r.difference.low:.6g} {r.difference.high:.6g} {r.mcnemar_p:.6g}"

"""Command line of coderig-export (thin: options -> frozen config -> one function -> the output path on stdout)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from coderig_schemas import PublishedOutput, RunStore
from coderig_schemas.cli_support import bounded, build_config, from_field, output_name, quiet_option, runs_option
from coderig_schemas.lifecycle import report_output, stage_command

from .config import FinetuneConfig, XlsxConfig, finetune_config
from .decontam import DEFAULT_EVAL_SPLITS
from .files import DEFAULT_FORMATS, FORMATS
from .mix import MIXES, describe_mixes, parse_ratios

log = logging.getLogger("coderig.export")


def _ratios(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float, float] | None:
    if value is None:
        return None
    try:
        return parse_ratios(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _formats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    # The names only: which of them are formats is FinetuneConfig's to say.
    return tuple(dict.fromkeys(f.strip() for f in value.split(",") if f.strip()))


def _published(out: PublishedOutput, existing: bool, as_json: bool) -> str:
    if existing:
        log.info("already published with the same inputs and options: %s", out.path)
    return report_output(out.path, as_json, {"path": str(out.path), "ref": out.ref, "existing": existing, "stats": out.manifest.stats})


@click.group()
def main() -> None:
    """coderig export: fine-tuning datasets and XLSX workbooks from scored runs.

    Every command reads published score outputs (and the generate outputs behind them) and
    publishes an export output; stdout carries only its path (or JSON with --json).
    """


@main.command()
@stage_command
@click.argument("refs", nargs=-1)
@click.option("--mix", type=click.Choice(list(MIXES)), default="balanced", show_default=True,
              help="Difficulty mix (easy/medium/hard): " + describe_mixes())
@click.option("--ratios", callback=_ratios, metavar="E,M,H", help="Easy,medium,hard weights replacing the mix's defaults (normalized).")
@click.option("--size", type=bounded(FinetuneConfig, "size"), help="Target number of examples (default: the largest set the ratios allow).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the selection and output order.")
@click.option("--require-hidden/--visible-only", default=True, show_default=True,
              help="Keep samples that passed every test, hidden ones included (default), or only their visible tests.")
@click.option("--include-eval-splits", is_flag=True,
              help="Keep problems of evaluation splits (no --eval-split rule applies); --against outputs are still left out.")
@click.option("--eval-split", "eval_splits", multiple=True, metavar="DATASET[:SPLIT]",
              help=f"Evaluation split to leave out (globs; repeatable). Default: {', '.join(DEFAULT_EVAL_SPLITS)}.")
@click.option("--against", multiple=True, metavar="REF",
              help="A generate or score output whose problems are all evaluation problems (left out with their copies; repeatable).")
@click.option("--formats", callback=_formats, default=",".join(DEFAULT_FORMATS), show_default=True,
              help=f"Comma-separated files to write: {', '.join(FORMATS)}. README.md and datasets_summary.csv are always written.")
@click.option("--instruction", type=click.Choice(["prompt", "statement"]), default="prompt", show_default=True,
              help="Instruction text: the prompt as the model received it (its answer responds to it), or the problem statement.")
@click.option("--system-prompt", help="System turn of every chat example (default: the system message sent with the prompt, if any).")
@click.option("--name", callback=output_name, help="Output name (default 'finetune-<mix>').")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (path, ref, stats) instead of the path.")
@runs_option
@quiet_option
def finetune(store: RunStore, quiet: bool, refs: tuple[str, ...], mix: str, ratios: tuple[float, float, float] | None,
             size: int | None, seed: int, require_hidden: bool, include_eval_splits: bool, eval_splits: tuple[str, ...],
             against: tuple[str, ...], formats: tuple[str, ...], instruction: str, system_prompt: str | None, name: str | None,
             as_json: bool) -> str:
    """Fine-tuning dataset from the passing samples of score outputs REFS (references or name globs; default: all).

    Passing samples are deduplicated (same problem, same normalized code), decontaminated and
    mixed by difficulty; a short bucket is reported on stderr and in the dataset card.
    """
    from .finetune import export_finetune

    if include_eval_splits and eval_splits:
        raise click.UsageError("--include-eval-splits and --eval-split contradict each other; give one")
    config = build_config(FinetuneConfig, **finetune_config(
        mix=mix, ratios=ratios, size=size, seed=seed, require_hidden=require_hidden, include_eval_splits=include_eval_splits,
        eval_splits=eval_splits, against=against, formats=formats, system_prompt=system_prompt, instruction=instruction))
    out, existing = export_finetune(store, refs, config, name or f"finetune-{mix}", quiet, explicit_eval_splits=bool(eval_splits))
    return _published(out, existing, as_json)


@main.command()
@stage_command
@click.argument("refs", nargs=-1)
@click.option("--no-code", is_flag=True, help="Leave out the code, prompt and response columns (smaller workbook).")
@click.option("--max-cell-chars", **from_field(XlsxConfig, "max_cell_chars"),
              help="Cut longer texts with a marker (Excel's own limit is 32,767).")
@click.option("--max-text-chars", **from_field(XlsxConfig, "text_chars"),
              help="Cut prompts and raw responses longer than this with a marker (the run's JSONL keeps them whole).")
@click.option("--name", default="workbook", show_default=True, callback=output_name, help="Output name.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (path, ref, stats) instead of the path.")
@runs_option
@quiet_option
def xlsx(store: RunStore, quiet: bool, refs: tuple[str, ...], no_code: bool, max_cell_chars: int, max_text_chars: int, name: str,
         as_json: bool) -> str:
    """Excel workbook of score outputs REFS (references or name globs; default: all), runs side by side.

    Sheets: Summary (pass rates by model, dataset and difficulty, pooling the runs), Runs (the same
    per run), Compare (per-problem pass rate, one column per run) and Results (one row per sample;
    Results 2, 3... past Excel's row limit). Written in streaming mode.
    """
    from .workbook import export_xlsx

    config = build_config(XlsxConfig, code_column=not no_code, max_cell_chars=max_cell_chars, text_chars=max_text_chars)
    return _published(*export_xlsx(store, refs, config, name, quiet), as_json)


@main.command()
@stage_command
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "to", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True,
              help="Target format (parquet: the same columns, numbers and booleans typed).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write (default: FILE's name with the new suffix, in the current directory).")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@quiet_option
def convert(quiet: bool, file: Path, to: str, output: Path | None, force: bool) -> str:
    """Convert a run's JSONL or parquet record file (results, samples, finetune...) to CSV or parquet.

    A file inside a published output is checked against its manifest's sha256 and validated
    against its contract model. Nested fields become JSON text. Prints the path written.
    """
    from .convert import convert_file

    dest = output or Path.cwd() / (file.stem + "." + to)
    n = convert_file(file.absolute(), dest, force, to)
    log.info("%d rows written to %s", n, dest)
    return str(dest)

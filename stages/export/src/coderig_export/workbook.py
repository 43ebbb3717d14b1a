"""The xlsx export: one workbook over one or many scored runs, published as an export output."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from coderig_schemas import PublishedOutput, RunStore
from coderig_schemas.cli_support import progress
from coderig_schemas.io import atomic_path
from coderig_schemas.layout import RESULTS
from coderig_schemas.store import Builder

from . import __version__
from .config import XlsxConfig
from .load import ScoredRun, open_runs
from .workbook_rates import RunLabel, WorkbookRates, difficulty_of
from .xlsx import WorkbookWriter

log = logging.getLogger("coderig.export")

TOOL = "coderig-export"
WORKBOOK = "results.xlsx"


def run_label(run: ScoredRun, unique_name: bool = True) -> RunLabel:
    """How a run is named in the workbook: its output name, with its key when another run given has the same name."""
    name = run.name if unique_name else f"{run.name}/{run.key}"
    i = run.identity
    return RunLabel(ref=run.ref, name=name, model=i.model, dataset=run.datasets, seed=i.seed, split=i.split, config=i.label(),
                    config_id=i.config_id)


def write_workbook(runs: list[ScoredRun], config: XlsxConfig, path: Path, quiet: bool = True) -> WorkbookWriter:
    """Stream every scored sample of the runs into a workbook at path; return the writer (row and truncation counts)."""
    writer = WorkbookWriter(max_cell_chars=config.max_cell_chars, code_column=config.code_column, text_chars=config.text_chars)
    rates = WorkbookRates()
    total = sum(r.score.entry(RESULTS).records or 0 for r in runs)
    names = Counter(r.name for r in runs)  # two versions of one output (e.g. scored with other options) side by side
    n_rows = n_passed = 0
    with progress("writing workbook rows", total, quiet) as advance:
        for run in runs:
            label = run_label(run, names[run.name] == 1)
            for row in run.rows():
                writer.add(row, label)
                rates.add(label, row.result.dataset, row.result.problem_id, difficulty_of(row), row.result.passed)
                n_rows += 1
                n_passed += row.result.passed
                advance(1, pass_rate=f"{n_passed / n_rows:.1%}")
    writer.save(path, rates)
    return writer


def write_workbook_atomically(builder: Builder, runs: list[ScoredRun], config: XlsxConfig, quiet: bool) -> WorkbookWriter:
    """:func:`write_workbook` into the build's staging directory, and nowhere else.

    openpyxl's write-only sheets stream to temp files until the save: they go to the build's scratch
    directory, not /tmp, so a killed export leaves nothing outside the store (the next run removes them).
    The workbook is saved under a temp name beside its final one and renamed once complete.
    """
    with builder.scratch(), atomic_path(builder.file(WORKBOOK)) as tmp:
        return write_workbook(runs, config, tmp, quiet)


def export_xlsx(store: RunStore, refs: tuple[str, ...], config: XlsxConfig, name: str, quiet: bool) -> tuple[PublishedOutput, bool]:
    """Build and publish the workbook; return the output and whether it already existed."""
    runs = open_runs(store, refs)
    inputs = [o for r in runs for o in r.inputs()]
    with store.begin(stage="export", name=name, config=config, inputs=inputs, tool=TOOL, tool_version=__version__,
                     packages=["openpyxl", "lxml", "coderig-export"]) as builder:
        if builder.existing is not None:
            return builder.existing, True
        with builder.log_to_file():
            log.info("workbook of %d run(s) into %s", len(runs), builder.ref)
            writer = write_workbook_atomically(builder, runs, config, quiet)
            if writer.truncated:
                log.warning("%d cells were truncated with a marker (longer than %d characters, prompts and responses than %d)",
                            writer.truncated, config.max_cell_chars, min(config.text_chars, config.max_cell_chars))
            builder.mark("write")
            return builder.publish(stats={"rows": writer.rows, "runs": len(runs), "truncated_cells": writer.truncated}), False

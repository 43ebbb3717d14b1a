"""Command line of coderig-export (thin: options -> frozen config -> one function)."""

from __future__ import annotations

import click

from coderig_schemas.cli_support import quiet_option, runs_option


@click.group()
def main() -> None:
    """coderig export: fine-tuning datasets and XLSX workbooks from scored runs."""


@main.command()
@runs_option
@quiet_option
def run(runs: str, quiet: bool) -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")

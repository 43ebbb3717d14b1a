"""Command line of coderig-generate (thin: options -> frozen config -> one function)."""

from __future__ import annotations

import click

from coderig_schemas.cli_support import quiet_option, runs_option


@click.group()
def main() -> None:
    """coderig generate: benchmark prompts through vLLM or an OpenAI-compatible server."""


@main.command()
@runs_option
@quiet_option
def run(runs: str, quiet: bool) -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")

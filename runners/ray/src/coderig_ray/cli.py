"""coderig-ray: a sweep of the four stages as Ray tasks (local Ray, or the cluster at RAY_ADDRESS)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import click

from coderig_schemas.errors import CoderigError, ExitCode

from .driver import SweepConfig, run_sweep


@click.group()
def main() -> None:
    """coderig on Ray: generate, score (in shards), merge, analyze and export as Ray tasks."""


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("generate_args", nargs=-1, type=click.UNPROCESSED, required=True)
@click.option("--score-arg", "score_args", multiple=True,
              help="An option of every `coderig-score run` (repeatable), e.g. --score-arg=--no-calibrate.")
@click.option("--extra-generate", multiple=True,
              help="Another sweep (coderig-generate run options, one shell-quoted string) whose score outputs only {extra} takes.")
@click.option("--then", "then", multiple=True,
              help="A follow-up once every score output exists, e.g. 'analyze run {scored} --name NAME' (repeatable; "
                   "{scored}: the sweep's score outputs, {extra}: the extra sweeps').")
@click.option("--shards", type=click.IntRange(1, 4096), default=None,
              help="Score shards per generate output.  [default: the cluster's CPUs, at most the output's samples]")
@click.option("--address", envvar="RAY_ADDRESS", default=None,
              help="The Ray cluster to join.  [default: $RAY_ADDRESS; unset: a local Ray instance]")
@click.option("--num-cpus", type=click.IntRange(1), default=None, help="CPUs of the local Ray instance.  [default: the machine's]")
@click.option("--max-retries", type=click.IntRange(0), default=3, show_default=True, help="Ray retries of a task whose node died.")
@click.option("--progress-interval", type=click.FloatRange(0.1), default=10.0, show_default=True, help="Seconds between progress lines.")
@click.option("--runs", type=click.Path(file_okay=False, path_type=Path), envvar="CODERIG_RUNS", default=Path("runs"), show_default=True,
              help="The run store: a path every node sees.  [env CODERIG_RUNS]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (outputs, and each task's node) instead of paths.")
def run(generate_args: tuple[str, ...], score_args: tuple[str, ...], extra_generate: tuple[str, ...], then: tuple[str, ...],
        shards: int | None, address: str | None, num_cpus: int | None, max_retries: int, progress_interval: float,
        runs: Path, as_json: bool) -> None:
    """Run a sweep: GENERATE_ARGS are `coderig-generate run` options (after `--`), e.g.

    coderig-ray run --then 'analyze run {scored} --name s' -- --model reference --dataset mbpp --seeds 0,1 --engine replay

    Prints the generate outputs, the score outputs, then each follow-up's outputs, one path per line. Exit
    codes: the README's table; a failed stage's own code; 3 when a node cannot see the run store.
    """
    cfg = SweepConfig(
        runs=runs.absolute(), generate_args=list(generate_args), extra_generate=[shlex.split(a) for a in extra_generate],
        score_args=list(score_args), then=[shlex.split(t) for t in then], shards=shards, address=address or None,
        num_cpus=num_cpus, max_retries=max_retries, progress_interval=progress_interval)
    # stdout carries only our paths (or JSON): Ray prints what its nodes report (a raylet's death, a worker's
    # output) on the driver's stdout, so for the run fd 1 is stderr and the paths go to the saved real stdout.
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        result = run_sweep(cfg)
    except CoderigError as e:
        click.echo(f"coderig-ray: {e.one_line()}", err=True)
        sys.exit(int(e.exit_code))
    except KeyboardInterrupt:
        click.echo("coderig-ray: interrupted; the stages keep their completed units: run the same command again to resume", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)
    if as_json:
        click.echo(json.dumps({"generated": result.generated, "scored": result.scored, "extra_scored": result.extra_scored,
                               "followups": result.followups, "tasks": result.tasks}, indent=2))
        return
    for line in [*result.generated, *result.scored, *(p for out in result.followups for p in out)]:
        click.echo(line)

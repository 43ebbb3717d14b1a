"""Command line of coderig-score (thin: options -> frozen config -> one function)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from coderig_schemas import CoderigError, RunStore, UsageError
from coderig_schemas.cli_support import build_config, from_field, progress, quiet_option, runs_option
from coderig_schemas.lifecycle import report_output, stage_command

from .isolation import StoreReachableError
from .math.pool import GraderLimits
from .sandbox import NetworkOpenError, SandboxError
from .scoring import ScoreConfig
from .settings import Limits
from .timeouts import TimeoutPolicy

log = logging.getLogger("coderig.score")


@click.group()
@click.version_option(package_name="coderig-score")
def main() -> None:
    """coderig score: sandboxed, per-test execution of generated code."""


@main.command()
@stage_command
@click.option("--generate", "generate_ref", required=True, help="Generate output to score: 'generate/<name>[/<key>]' or its path.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Warm sandboxed workers.  [default: number of cores]")
@click.option("--shard", default=None, metavar="I/N", help="Score only slice I of N (0-based), e.g. 0/4; merge the slices later.")
@click.option("--timeout-floor", **from_field(TimeoutPolicy, "floor_s"),
              help="Smallest per-test CPU limit, seconds.")
@click.option("--timeout-factor", **from_field(TimeoutPolicy, "factor"),
              help="CPU limit = max(floor, factor x reference CPU time).")
@click.option("--timeout-default", **from_field(TimeoutPolicy, "default_s"),
              help="Per-test CPU limit when the reference was not timed.")
@click.option("--timeout-cap", **from_field(TimeoutPolicy, "sample_cap_s"),
              help="CPU budget per sample, seconds.")
@click.option("--wall-floor", **from_field(TimeoutPolicy, "wall_floor_s"),
              help="Smallest wall-clock bound of a test (stops programs that sleep or block), seconds.")
@click.option("--wall-factor", **from_field(TimeoutPolicy, "wall_factor"),
              help="Wall-clock bound = max(wall floor, factor x CPU limit).")
@click.option("--max-timeouts", **from_field(TimeoutPolicy, "max_timeouts"),
              help="Timed-out tests after which a sample stops.")
@click.option("--memory-mb", **from_field(Limits, "memory_mb"),
              help="Address-space limit per process, MiB.")
@click.option("--output-kb", **from_field(Limits, "output_kb"),
              help="Captured stdout/stderr kept per sample, KiB.")
@click.option("--sandbox", type=click.Choice(["auto", "bwrap", "none"]), default="auto", show_default=True,
              help="bwrap: require bubblewrap; none: fork server only (e.g. inside a locked-down container); auto: bwrap if it starts.")
@click.option("--python", "python", default=None, help="Interpreter of the sandbox workers.  [default: /usr/bin/python3]")
@click.option("--calibrate/--no-calibrate", default=True, show_default=True, help="Calibrate timeouts on reference timings.")
@click.option("--check-references", is_flag=True, help="Score the reference solutions only; report pass rate and failures.")
@click.option("--i-know-the-network-is-open", "network_open", is_flag=True,
              help="DANGEROUS: score even when the start-up check reaches the network from inside the sandbox.")
@click.option("--unit-size", **from_field(ScoreConfig, "unit_size"),
              help="Samples per resumable unit (saved atomically as they complete).")
@click.option("--grader-cpu", **from_field(GraderLimits, "cpu_s"),
              help="Math: CPU seconds one answer's parse and comparison may use (then retried once, then excluded).")
@click.option("--grader-memory-mb", **from_field(GraderLimits, "memory_mb"),
              help="Math: address-space limit of a grader process, MiB.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of the output path.")
@runs_option
@quiet_option
def run(store: RunStore, quiet: bool, generate_ref: str, workers: int | None, shard: str | None, timeout_floor: float,
        timeout_factor: float, timeout_default: float, timeout_cap: float, wall_floor: float, wall_factor: float, max_timeouts: int,
        memory_mb: int, output_kb: int, sandbox: str, python: str | None, calibrate: bool, check_references: bool,
        network_open: bool, unit_size: int, grader_cpu: float, grader_memory_mb: int, as_json: bool) -> str | None:
    """Score every sample of a generate output: code in the sandbox, one test case at a time; math answers
    with math-verify in a pool of limited grader processes.

    Prints the published score output's path (or JSON with --json). Re-running the same command
    is a no-op; an interrupted run resumes where it stopped.
    """
    from .scoring import Runtime, run_score

    cfg = build_config(
        ScoreConfig,
        timeouts={"floor_s": timeout_floor, "factor": timeout_factor, "default_s": timeout_default,
                  "sample_cap_s": timeout_cap, "max_timeouts": max_timeouts, "wall_floor_s": wall_floor, "wall_factor": wall_factor},
        limits={"memory_mb": memory_mb, "output_kb": output_kb},
        sandbox=sandbox, calibrate=calibrate or check_references, shard=shard, allow_open_network=network_open, unit_size=unit_size,
        math={"cpu_s": grader_cpu, "memory_mb": grader_memory_mb},
    )
    rt = Runtime(workers=workers or os.cpu_count() or 1, python=python, quiet=quiet, progress=progress)
    with _sandbox_errors():
        if check_references:
            return _check_references(store, generate_ref, cfg, rt, as_json)
        summary = run_score(store, generate_ref, cfg, rt)
    return report_output(summary.output.path, as_json, {"output": str(summary.output.path), **summary.stats})


@contextmanager
def _sandbox_errors() -> Iterator[None]:
    """The sandbox's refusals as one-line errors of the exit-code table."""
    try:
        yield
    except NetworkOpenError as e:
        raise UsageError(str(e), hint="fix the sandbox, or pass --i-know-the-network-is-open to score anyway") from None
    except StoreReachableError as e:
        # never overridable (a program could rewrite published results): exit 1, one line
        raise CoderigError(f"refusing to score: {e}",
                           hint="run with bubblewrap, or on a kernel with Landlock (Linux 5.13+) whose seccomp profile "
                                "allows it (Docker's and Podman's defaults do)") from None
    except SandboxError as e:
        # the sandbox could not be started at all (nothing was scored): exit 1, one line
        raise CoderigError(f"the sandbox cannot start: {e}",
                           hint="install bubblewrap (apt-get install bubblewrap) and allow user namespaces; inside a "
                                "locked-down container, --sandbox none") from None


def _check_references(store: RunStore, generate_ref: str, cfg: Any, rt: Any, as_json: bool) -> str | None:
    """Score the reference solutions only; the timings output's path (or the JSON summary) to print."""
    from .sandbox import SandboxSettings
    from .scoring import LazyPool, ensure_reference_timings, load_generate

    if cfg.shard is not None:
        raise UsageError("--check-references scores whole datasets", hint="drop --shard")
    gen, problems, _ = load_generate(store, generate_ref)
    settings = SandboxSettings(mode=cfg.sandbox, python=rt.python, limits=cfg.limits, allow_open_network=cfg.allow_open_network,
                               protect=(str(store.root),))
    lazy = LazyPool(settings, rt.workers)
    try:
        info = ensure_reference_timings(store, problems, cfg, lazy, rt, gen)
    finally:
        lazy.close()
    failures = [{"problem_id": t.problem_id, "verdict": t.verdict.value, "failing_test_id": t.failing_test_id,
                 "error": t.error_message} for t in info.failures()]
    rate = info.pass_rate()
    log.info("reference solutions passing on this machine: %s (%d problems)",
             "n/a" if rate is None else f"{rate:.2%}", len(info.timings))
    for f in failures:
        log.warning("reference of %s: %s at %s: %s", f["problem_id"], f["verdict"], f["failing_test_id"], f["error"])
    if as_json:
        return json.dumps({"output": str(info.output.path) if info.output else None, "problems": len(info.timings),
                           "pass_rate": rate, "failures": failures}, sort_keys=True)
    return None if info.output is None else str(info.output.path)


@main.command()
@stage_command
@click.argument("shards", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of the output path.")
@runs_option
@quiet_option
def merge(store: RunStore, quiet: bool, shards: tuple[str, ...], as_json: bool) -> str:
    """Publish the union of the shard outputs SHARDS (all N of one split) as one score output."""
    from .scoring import merge_shards

    summary = merge_shards(store, list(shards))
    return report_output(summary.output.path, as_json, {"output": str(summary.output.path), **summary.stats})


if __name__ == "__main__":
    main()

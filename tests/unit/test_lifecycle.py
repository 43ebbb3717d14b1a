"""The shared command lifecycle: exit codes, the run store, stdout, and a build's log file."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from coderig_schemas import ConflictError, InvalidInputError, RunStore
from coderig_schemas.cli_support import bounded, build_config, quiet_option, runs_option
from coderig_schemas.errors import ExitCode
from coderig_schemas.lifecycle import report_output, stage_command
from coderig_schemas.manifest import Manifest

log = logging.getLogger("coderig.test")

FAILURES: dict[str, BaseException] = {
    "invalid": InvalidInputError("results.jsonl:3: verdict: unknown", hint="re-run the score stage"),
    "conflict": ConflictError("score/x is being built by another process", hint="wait for it"),
    "interrupt": KeyboardInterrupt(),
    "full": OSError(errno.ENOSPC, "No space left on device", "/mnt/runs/.staging/score/x"),
    "bug": ValueError("a bug"),
}


@click.command()
@stage_command
@click.option("--fail", type=click.Choice([*FAILURES, "sigterm", "usage", "none"]), default="none")
@click.option("--lines", type=int, default=1)
@runs_option
@quiet_option
def cmd(store: RunStore, quiet: bool, fail: str, lines: int) -> Iterator[str]:
    """A command whose body fails as asked, after printing some lines."""
    log.info("body runs in %s", store.root)
    for i in range(lines):
        yield f"line {i}"
    if fail == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
    if fail == "usage":
        raise click.UsageError("--fail usage: as asked")
    if fail in FAILURES:
        raise FAILURES[fail]


@pytest.mark.parametrize(("fail", "code", "needle"), [
    ("none", ExitCode.OK, ""),
    ("invalid", ExitCode.INVALID_INPUT, "error: results.jsonl:3: verdict: unknown; re-run the score stage"),
    ("conflict", ExitCode.CONFLICT, "error: score/x is being built by another process; wait for it"),
    ("interrupt", ExitCode.INTERRUPTED, "interrupted: partial work is kept"),
    ("sigterm", ExitCode.INTERRUPTED, "interrupted: partial work is kept"),
    ("full", ExitCode.FAILURE, "error: /mnt/runs/.staging/score/x: No space left on device; free some space"),
    ("bug", ExitCode.FAILURE, "error: unexpected ValueError: a bug"),
    ("usage", ExitCode.USAGE, "Error: --fail usage: as asked"),
])
def test_errors_map_to_the_exit_code_table(fail: str, code: int, needle: str) -> None:
    r = CliRunner().invoke(cmd, ["--fail", fail, "--quiet"])
    assert r.exit_code == code, r.output
    assert r.stdout == "line 0\n"  # what was printed before the error stays; nothing else goes to stdout
    assert needle in r.stderr
    if fail in ("invalid", "conflict", "full", "interrupt", "sigterm"):
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    if fail == "bug":
        assert "Traceback" in r.stderr  # a bug shows where it is


def test_the_sigterm_handler_is_restored_after_the_command() -> None:
    before = signal.getsignal(signal.SIGTERM)
    CliRunner().invoke(cmd, ["--quiet"])
    assert signal.getsignal(signal.SIGTERM) is before


def test_runs_becomes_the_store_and_lines_go_to_stdout(tmp_path: Path) -> None:
    r = CliRunner().invoke(cmd, ["--runs", str(tmp_path / "store"), "--lines", "3"])
    assert r.exit_code == 0
    assert r.stdout == "line 0\nline 1\nline 2\n"
    assert f"body runs in {tmp_path / 'store'}" in r.stderr  # logs on stderr, not stdout
    assert "body runs" not in CliRunner().invoke(cmd, ["--quiet"]).stderr  # --quiet keeps warnings only


def test_a_body_returning_one_line_or_nothing() -> None:
    @click.command()
    @stage_command
    @click.option("--say", default=None)
    def one(say: str | None) -> str | None:
        return say

    assert CliRunner().invoke(one, ["--say", "a b"]).stdout == "a b\n"
    r = CliRunner().invoke(one, [])
    assert r.exit_code == 0 and r.stdout == ""


def test_report_output_is_the_path_or_the_summary_as_json(tmp_path: Path) -> None:
    summary = {"path": str(tmp_path), "b": 1, "a": Path("x")}
    assert report_output(tmp_path, False, summary) == str(tmp_path)
    assert report_output(tmp_path, True, summary) == f'{{"a": "x", "b": 1, "path": "{tmp_path}"}}'
    assert report_output(tmp_path, True, summary, sort_keys=False).startswith('{"path"')


def test_a_closed_stdout_ends_the_command_quietly(tmp_path: Path) -> None:
    # The reader went away before the first line (as `| head -0` does): exit 0, nothing on stderr.
    script = (
        "import click\n"
        "from coderig_schemas.lifecycle import stage_command\n"
        "@click.command()\n@stage_command\ndef c():\n    return [str(i) for i in range(1000)]\n"
        "c()\n"
    )
    read, write = os.pipe()
    os.close(read)
    try:
        r = subprocess.run([sys.executable, "-c", script], stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert r.returncode == 0 and r.stderr == ""


def test_a_builds_log_file_is_attached_only_while_its_block_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    root = logging.getLogger("coderig")
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.INFO)
    try:
        with store.begin(stage="export", name="ok", config={"n": 1}, inputs=[], tool="test", tool_version="0") as b:
            log.info("before the block")
            with b.log_to_file() as path:
                assert len(root.handlers) == len(handlers) + 1
                log.info("inside the block")
                out = b.publish()
                log.info("after the publish")  # the open file followed the rename into the published output
            log.info("after the block")
        assert root.handlers == handlers
        text = (out.path / "logs" / "export.log").read_text()
        assert path.name == "export.log"
        assert "inside the block" in text and "after the publish" in text
        assert "before the block" not in text and "after the block" not in text
        Manifest.model_validate_json((out.path / "manifest.json").read_text())  # the log is kept, not hashed

        # Also on an error: the handler is gone and its file closed (a crash keeps its staging dir and log).
        bad = store.begin(stage="export", name="bad", config={"n": 1}, inputs=[], tool="test", tool_version="0")
        with pytest.raises(RuntimeError), bad, bad.log_to_file() as bad_log:
            log.info("inside the failing block")
            raise RuntimeError("an engine crashed")
        assert root.handlers == handlers
        log.info("after the failure")
        text = bad_log.read_text()
        assert "inside the failing block" in text and "after the failure" not in text
    finally:
        root.setLevel(level)
        root.handlers = handlers


def test_build_config_names_the_option_or_says_the_models_sentence() -> None:
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    class Inner(BaseModel):
        floor_s: float = Field(gt=0)

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        model: str
        size: int = Field(ge=1)
        inner: Inner

        @model_validator(mode="after")
        def _rule(self) -> Config:
            if self.model == "all" and self.size > 1:
                raise ValueError("model 'all' takes every size; drop --size")
            return self

    ok = build_config(Config, model="m", size=2, inner={"floor_s": 1})  # a field named 'model' is an option like any other
    assert ok.size == 2
    with pytest.raises(click.UsageError, match=r"^--size: Input should be greater than or equal to 1$"):
        build_config(Config, model="m", size=0, inner={"floor_s": 1})
    with pytest.raises(click.UsageError, match=r"^--floor-s: Input should be greater than 0$"):
        build_config(Config, model="m", size=1, inner={"floor_s": 0})
    with pytest.raises(click.UsageError, match=r"^model 'all' takes every size; drop --size$"):
        build_config(Config, model="all", size=2, inner={"floor_s": 1})


def test_bounded_options_take_the_models_bounds() -> None:
    from pydantic import BaseModel, Field

    class Config(BaseModel):
        share: float | None = Field(default=None, gt=0, le=1)
        size: int = Field(default=1, gt=0, lt=10)
        seed: int = 0

    share, size, seed = bounded(Config, "share"), bounded(Config, "size"), bounded(Config, "seed")
    assert isinstance(share, click.FloatRange) and (share.min, share.max, share.min_open, share.max_open) == (0, 1, True, False)
    assert isinstance(size, click.IntRange) and (size.min, size.max) == (1, 9)  # whole numbers: 0 < x < 10 is 1..9
    assert isinstance(seed, click.IntRange) and (seed.min, seed.max) == (None, None)
    with pytest.raises(click.BadParameter, match="0<x<=1"):
        share.convert("0", None, None)
    assert size.convert("9", None, None) == 9


def test_options_from_a_field_take_its_default_and_show_it() -> None:
    from click.testing import CliRunner
    from pydantic import BaseModel, Field

    from coderig_schemas.cli_support import from_field

    class Policy(BaseModel):
        floor_s: float = Field(default=0.25, gt=0)
        tries: int = Field(default=3, ge=1)

    @click.command()
    @click.option("--floor", **from_field(Policy, "floor_s"))
    @click.option("--tries", **from_field(Policy, "tries"))
    def cmd(floor: float, tries: int) -> None:
        click.echo(f"{floor} {tries}")

    runner = CliRunner()
    assert runner.invoke(cmd, []).output == "0.25 3\n"  # the model's defaults, not a copy
    help_text = runner.invoke(cmd, ["--help"]).output
    assert "default: 0.25" in help_text and "x>=1" in help_text
    assert runner.invoke(cmd, ["--tries", "0"]).exit_code == 2  # the model's bound

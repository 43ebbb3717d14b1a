"""coderig-schemas: exit codes and stdout/stderr of ls, verify and validate."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from click.testing import CliRunner

from coderig_schemas.cli import main
from coderig_schemas.cli_support import run_main
from coderig_schemas.errors import ExitCode
from coderig_schemas.layout import RESULTS, SAMPLES
from tests.factories import scored_run


def test_ls_and_verify_ok(run_store: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"], "p2": ["wrong_answer"]})
    r = CliRunner().invoke(main, ["ls", "--stage", "score"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(score.ref + "\t")
    r = CliRunner().invoke(main, ["verify", score.ref])
    assert r.exit_code == 0 and r.stdout.strip() == str(score.path)


def test_verify_changed_upstream_exits_invalid_input(run_store: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"]})
    gen_path = run_store / score.manifest.inputs[0].ref
    victim = gen_path / SAMPLES
    victim.write_text(victim.read_text().replace("replay", "replaz"))
    r = CliRunner().invoke(main, ["verify", score.ref])
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert r.stdout == ""
    assert "sha256 changed" in r.stderr and "re-run the chain" in r.stderr


def test_validate_reports_file_line_field(run_store: Path, tmp_path: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"], "p2": ["timeout"]})
    good = score.path / RESULTS
    r = CliRunner().invoke(main, ["validate", str(good), "--schema", "score_result"])
    assert r.exit_code == 0 and r.stdout.strip() == "2"
    bad = tmp_path / "bad.jsonl"
    lines = good.read_text().splitlines()
    bad.write_text(lines[0] + "\n" + lines[1].replace('"verdict":"timeout"', '"verdict":"slow"') + "\n")
    r = CliRunner().invoke(main, ["validate", str(bad), "--schema", "score_result"])
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert f"{bad}:2: verdict: Input should be" in r.stderr
    assert r.stdout == ""


def test_unknown_ref_and_bad_usage(run_store: Path) -> None:
    r = CliRunner().invoke(main, ["verify", "score/nothing"])
    assert r.exit_code == ExitCode.INVALID_INPUT and "no published output score/nothing" in r.stderr
    r = CliRunner().invoke(main, ["verify", "score/nothing/0123456789abcdef"])
    assert r.exit_code == ExitCode.INVALID_INPUT and "list outputs with 'coderig-schemas ls'" in r.stderr, r.stderr
    # a mistyped store path is not an empty store
    r = CliRunner().invoke(main, ["ls", "--runs", str(run_store / "typo")])
    assert r.exit_code == ExitCode.USAGE and r.stdout == "" and f"--runs {run_store / 'typo'}: no such directory" in r.stderr
    r = CliRunner().invoke(main, ["validate", "x.jsonl", "--schema", "nope"])
    assert r.exit_code == ExitCode.USAGE


def test_error_text_with_brackets_is_printed_verbatim(run_store: Path) -> None:
    r = CliRunner().invoke(main, ["verify", "not/a/ref[/x]"])
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert "[/<key>|/latest]" in r.stderr


def test_verify_with_an_upstream_file_deleted_exits_invalid_input(run_store: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"]})
    (run_store / score.manifest.inputs[0].ref / SAMPLES).unlink()
    r = CliRunner().invoke(main, ["verify", score.ref])
    assert r.exit_code == ExitCode.INVALID_INPUT, r.stderr
    assert "samples.jsonl: missing" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_validate_a_json_syntax_error_names_its_own_line(run_store: Path, tmp_path: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"]})
    text = (score.path / "manifest.json").read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if '"stage": "score",' in line)
    lines[at] = lines[at].rstrip(",")  # drop a comma: the error is reported on the next line
    bad = tmp_path / "manifest.json"
    bad.write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(main, ["validate", str(bad), "--schema", "manifest"])
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert f"{bad}:{at + 2}: <record>: Invalid JSON" in r.stderr


def test_a_file_system_error_is_one_line_with_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    # A read-only or full run store is not a bug: one line saying what and where, exit 1, no traceback.
    def body() -> None:
        raise OSError(errno.EROFS, "Read-only file system", "/mnt/runs/.staging/score")

    with pytest.raises(SystemExit) as e:
        run_main(body)
    assert e.value.code == ExitCode.FAILURE
    err = capsys.readouterr().err
    assert "/mnt/runs/.staging/score: Read-only file system" in err and "CODERIG_RUNS" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1

"""coderig-schemas: exit codes and stdout/stderr of ls, verify and validate."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from coderig_schemas.cli import main
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
    r = CliRunner().invoke(main, ["validate", "x.jsonl", "--schema", "nope"])
    assert r.exit_code == ExitCode.USAGE


def test_error_text_with_brackets_is_printed_verbatim(run_store: Path) -> None:
    r = CliRunner().invoke(main, ["verify", "not/a/ref[/x]"])
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert "[/<key>|/latest]" in r.stderr

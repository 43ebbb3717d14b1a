"""Regressions found by running the whole chain (make run) on edge cases."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from coderig_analyze.cli import main as analyze_main
from tests.factories import scored_run


def test_analyze_a_run_where_nothing_passed(run_store: Path) -> None:
    # The tiny random model passes nothing: a 0% pass rate must still chart (CI bars of zero length).
    score = scored_run(run_store, {f"p{i}": ["wrong_answer"] for i in range(5)})
    r = CliRunner().invoke(analyze_main, ["run", score.ref, "--name", "zero"])
    assert r.exit_code == 0, r.stderr
    out = Path(r.stdout.strip())
    assert (out / "analysis.json").is_file()
    pngs = list(out.rglob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)

"""Progress for logs: with stderr a pipe or a file (nohup, Slurm, CI), every long step prints plain progress lines.

CODERIG_PROGRESS_INTERVAL=0 prints a line on every advance, so "lines appear during the work" is checked by
counting lines with increasing done counts, never by timing. A fake clock checks the interval itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coderig_schemas.progress import LineProgress, format_line, parse_interval
from tests.factories import make_problem, make_sample, publish_generate
from tests.fixtures.export import ExportStore

LINE = re.compile(r"(?P<desc>[^:\s][^:]*): (?P<done>[\d,]+)/(?P<total>[\d,]+) \((?P<pct>[\d.]+)%\)")


def progress_lines(stderr: str, description: str) -> list[tuple[int, int, str]]:
    """(done, total, line) of every progress line of the step whose description starts with `description`."""
    out = []
    for line in stderr.splitlines():
        m = LINE.search(line)
        if m and description in m.group("desc"):
            out.append((int(m.group("done").replace(",", "")), int(m.group("total").replace(",", "")), line))
    return out


def assert_reports_during_the_work(stderr: str, description: str, total: int) -> list[tuple[int, int, str]]:
    lines = progress_lines(stderr, description)
    during = [d for d, t, _ in lines if 0 < d < t]
    assert len(during) >= 2, f"no progress lines for {description!r} during the work:\n{stderr}"
    assert during == sorted(during) and len(set(during)) == len(during), during
    assert all(t == total for _, t, _ in lines), lines
    assert lines[-1][0] == total and "done in" in lines[-1][2], lines[-1]
    return lines


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_at_start_every_interval_and_at_the_end() -> None:
    clock, lines = FakeClock(), []
    p = LineProgress("score x", 100, interval=10.0, write=lines.append, clock=clock)
    for _ in range(30):  # 30 items, one per second
        clock.now += 1
        p.advance(1, pass_rate="50.0%")
    p.close()
    # start, t=10, t=20, t=30, end: the interval is honoured, not one line per item
    assert [int(LINE.search(x).group("done")) for x in lines] == [0, 10, 20, 30, 30]  # type: ignore[union-attr]
    assert lines[1] == "score x: 10/100 (10.0%) 1.0/s eta 0:01:30 elapsed 0:00:10 pass_rate=50.0%"
    assert lines[-1] == "score x: 30/100 (30.0%) 1.0/s done in 0:00:30 pass_rate=50.0%"


def test_resumed_work_counts_in_done_but_not_in_the_rate() -> None:
    clock, lines = FakeClock(), []
    p = LineProgress("score", 100, interval=0.0, write=lines.append, completed=50, clock=clock)
    clock.now += 10
    p.advance(10)
    assert lines[0].startswith("score: 50/100 (50.0%) elapsed")  # no rate before anything new was done
    assert lines[1].startswith("score: 60/100 (60.0%) 1.0/s eta 0:00:40")


def test_format_without_a_total_and_the_interval_variable() -> None:
    assert format_line("read", 3, None, 2.0, 1.5, {}) == "read: 3 1.5/s elapsed 0:00:02"
    assert parse_interval(None) == 10.0 and parse_interval("0") == 0.0 and parse_interval(" 2.5 ") == 2.5
    for bad in ("soon", "-1", "nan", "inf"):
        with pytest.raises(ValueError, match="CODERIG_PROGRESS_INTERVAL"):
            parse_interval(bad)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CODERIG_PROGRESS_INTERVAL")}
    return {**env, **extra}


def test_score_in_a_log_reports_progress_and_pass_rate_while_it_works(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    probs = [make_problem(f"p{i}") for i in range(6)]
    samples = [make_sample(p, j, extracted_code="def f(x):\n    return x\n" if j else "def f(x):\n    return 0\n")
               for p in probs for j in range(2)]
    gen = publish_generate(runs, probs, samples)
    r = subprocess.run(
        [sys.executable, "-c", "from coderig_score.cli import main; main()", "run", "--generate", gen.ref, "--runs", str(runs),
         "--workers", "1"],
        env=_env(CODERIG_PROGRESS_INTERVAL="0"), capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    lines = assert_reports_during_the_work(r.stderr, "score ", 12)
    assert "pass_rate=" in lines[-1][2] and "/s" in lines[-1][2]
    assert "pass_rate=50.0%" in lines[-1][2]  # one of two samples per problem passes


def test_generate_in_a_log_never_cuts_a_long_path(tmp_path: Path, shared_data: Path) -> None:
    # stderr is a pipe: rich would render at 80 columns and split the published path over two lines.
    runs = tmp_path / ("a-store-with-a-rather-long-directory-name-" * 3) / "runs"
    r = subprocess.run(
        [sys.executable, "-c", "from coderig_generate.cli import main; main()", "run", "--model", "reference",
         "--dataset", "humaneval", "--limit", "5", "--runs", str(runs)],
        env=_env(CODERIG_PROGRESS_INTERVAL="0", CODERIG_DATA_DIR=str(shared_data)), capture_output=True, text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    path = r.stdout.strip()
    assert len(path) > 160
    published = [line for line in r.stderr.splitlines() if "published" in line]
    assert published and path in published[-1], r.stderr
    assert_reports_during_the_work(r.stderr, "generate reference__humaneval__", 5)


def test_a_bad_interval_is_a_usage_error(tmp_path: Path) -> None:
    from coderig_export.cli import main

    r = CliRunner().invoke(main, ["xlsx", "--runs", str(tmp_path)], env={"CODERIG_PROGRESS_INTERVAL": "soon"})
    assert r.exit_code == 2 and "CODERIG_PROGRESS_INTERVAL='soon'" in r.stderr


def test_analyze_and_export_report_progress_in_logs(export_store: ExportStore) -> None:
    from coderig_analyze.cli import main as analyze
    from coderig_export.cli import main as export

    run_store = export_store.root
    env = {"CODERIG_PROGRESS_INTERVAL": "0"}
    r = CliRunner().invoke(export, ["xlsx", "--runs", str(run_store)], env=env)
    assert r.exit_code == 0, r.stderr
    total = progress_lines(r.stderr, "writing workbook rows")[-1][1]
    assert_reports_during_the_work(r.stderr, "writing workbook rows", total)
    r = CliRunner().invoke(export, ["finetune", "--runs", str(run_store), "--include-eval-splits"], env=env)
    assert r.exit_code == 0, r.stderr
    assert_reports_during_the_work(r.stderr, "reading scored samples", total)
    r = CliRunner().invoke(analyze, ["run", "*", "--runs", str(run_store)], env=env)
    assert r.exit_code == 0, r.stderr
    lines = progress_lines(r.stderr, "reading score outputs")
    assert lines[-1][0] == lines[-1][1] >= 2 and "done in" in lines[-1][2]

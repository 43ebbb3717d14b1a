"""A run store several machines share, through the real commands (issue 15, point 6): shards started together,
runs that need the same reference timings, a read-only store, outputs of another store, corrupt manifests,
globs over several versions, a killed `export xlsx`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from coderig_schemas import PublishedOutput, RunStore
from coderig_schemas.errors import ExitCode
from tests.factories import make_problem, make_sample, publish_generate, results_without_durations, scored_run

ANSWERS = ["def f(x):\n    return x\n", "def f(x):\n    return 5 if x == 1 else x\n", "def f(x):\n    return {}[x]\n"]
SCORE_OPTS = ["--workers", "1", "--timeout-default", "0.5", "--timeout-floor", "0.5"]


def _bin(tool: str) -> str:
    """A console script of the venv running the tests."""
    return str(Path(sys.executable).parent / tool)


def _env() -> dict[str, str]:
    # wide logs: a message is never wrapped in the middle of what a test looks for
    return {**os.environ, "COLUMNS": "1000", "PYTHONUNBUFFERED": "1"}


def _publish(runs: Path, problems: int = 4) -> PublishedOutput:
    probs = [make_problem(f"p{i}") for i in range(problems)]
    samples = [make_sample(p, j, extracted_code=code) for p in probs for j, code in enumerate(ANSWERS)]
    return publish_generate(runs, probs, samples)


def _score_cmd(runs: Path, ref: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "coderig_score.cli", "run", "--generate", ref, *SCORE_OPTS, "--runs", str(runs), *extra]


def test_four_shards_started_together_all_succeed_then_merge_publishes_the_union(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    gen = _publish(runs)
    # All four start before any has measured the reference solutions they all need.
    procs = [subprocess.Popen(_score_cmd(runs, gen.ref, "--shard", f"{i}/4", "--quiet"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env()) for i in range(4)]
    outs = [p.communicate(timeout=900) for p in procs]
    for i, (p, (_, err)) in enumerate(zip(procs, outs, strict=True)):
        assert p.returncode == 0, f"shard {i}/4 exited {p.returncode}: {err}"
    shard_paths = [out.strip() for out, _ in outs]
    assert [len(results_without_durations(Path(p))) for p in shard_paths] == [3, 3, 3, 3]
    store = RunStore(runs)
    assert len(store.versions("score", "reftimes__toy")) == 1  # measured once, by one of them
    merged = subprocess.run([sys.executable, "-m", "coderig_score.cli", "merge", *shard_paths, "--runs", str(runs), "--quiet"],
                            capture_output=True, text=True, timeout=600, env=_env())
    assert merged.returncode == 0, merged.stderr
    out = store.resolve(merged.stdout.strip(), stage="score")
    assert out.ref == store.resolve(f"score/{gen.manifest.name}").ref
    assert [i.ref.split("/")[1] for i in out.manifest.inputs] == [gen.manifest.name] + [
        f"shard{i}of4__{gen.manifest.name}" for i in range(4)]
    whole_runs = tmp_path / "whole"
    whole_gen = _publish(whole_runs)
    whole = subprocess.run(_score_cmd(whole_runs, whole_gen.ref, "--quiet"), capture_output=True, text=True, timeout=600,
                           env=_env())
    assert whole.returncode == 0, whole.stderr
    assert results_without_durations(out.path) == results_without_durations(Path(whole.stdout.strip()))


def test_a_run_waits_for_reference_timings_another_process_is_measuring(tmp_path: Path) -> None:
    # The key of the reference timings depends on the problems and this machine, not on the store: learn it once.
    first = tmp_path / "first"
    done = subprocess.run(_score_cmd(first, _publish(first).ref, "--quiet"), capture_output=True, text=True, timeout=600,
                          env=_env())
    assert done.returncode == 0, done.stderr
    (key,) = [p.name for p in (first / "score" / "reftimes__toy").iterdir() if not p.name.startswith(".")]
    runs = tmp_path / "runs"
    gen = _publish(runs)
    lock = runs / ".staging" / "score" / "reftimes__toy" / f"{key}.lock"
    lock.parent.mkdir(parents=True)
    import fcntl

    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another run is measuring them
    try:
        proc = subprocess.Popen(_score_cmd(runs, gen.ref), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        seen = ""
        assert proc.stderr is not None
        for line in proc.stderr:
            seen += line
            if "another process is building it" in " ".join(seen.split()):
                break
        assert proc.poll() is None, f"exited {proc.returncode} instead of waiting: {seen}"
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, seen + err
    assert Path(out.strip()).parent.name == gen.manifest.name


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


def _on_read_only_store(runs: Path, argv: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    """Run argv with runs bind-mounted read-only over itself, in a private mount namespace (nothing leaks out)."""
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, str(runs), *argv], capture_output=True, text=True,
                          timeout=600, env={**_env(), "CODERIG_DATA_DIR": str(data)})


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm (user and mount namespaces) for a read-only mount")
def test_a_read_only_store_serves_what_is_published(tmp_path: Path, shared_data: Path) -> None:
    runs = tmp_path / "runs"
    gen = _publish(runs, problems=1)
    generate_cmd = [_bin("coderig-generate"), "run", "--model", "reference", "--engine", "replay", "--dataset", "humaneval",
                    "--limit", "2", "--quiet", "--runs", str(runs)]
    score_cmd = _score_cmd(runs, gen.ref, "--quiet")
    analyze_cmd = [_bin("coderig-analyze"), "run", "score/toy*", "--name", "an", "--no-charts",
                   "--quiet", "--runs", str(runs)]
    xlsx_cmd = [_bin("coderig-export"), "xlsx", "score/toy*", "--quiet", "--runs", str(runs)]
    published = []
    commands = (generate_cmd, score_cmd, analyze_cmd, xlsx_cmd)
    for cmd in commands:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**_env(), "CODERIG_DATA_DIR": str(shared_data)})
        assert res.returncode == 0, res.stderr
        published.append(res.stdout.strip())
    probe = _on_read_only_store(runs, ["sh", "-c", f'touch "{runs}/probe"'], shared_data)
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr  # the mount is really read-only
    for cmd, path in zip(commands, published, strict=True):
        res = _on_read_only_store(runs, cmd, shared_data)
        assert res.returncode == 0, (cmd[2], res.stderr)
        assert res.stdout.strip() == path
    # Something not yet published is a one-line file system refusal (exit 1), as before.
    res = _on_read_only_store(runs, [*xlsx_cmd, "--name", "other"], shared_data)
    assert res.returncode == ExitCode.FAILURE and "Read-only file system" in res.stderr and "Traceback" not in res.stderr


def test_an_output_of_another_store_is_refused_with_one_line(tmp_path: Path) -> None:
    from coderig_score.cli import main

    runs, other = tmp_path / "runs", tmp_path / "other"
    _publish(runs, problems=1)
    theirs = _publish(other, problems=1)
    res = CliRunner().invoke(main, ["run", "--generate", str(theirs.path), *SCORE_OPTS, "--quiet", "--runs", str(runs)])
    assert res.exit_code == ExitCode.INVALID_INPUT and res.stdout == ""
    text = " ".join(res.stderr.split())
    assert f"{theirs.path} is an output of another run store ({other.resolve()})" in text
    assert f"--runs {other.resolve()}" in text
    assert not (runs / "score").exists()


def test_ls_and_globs_skip_a_corrupt_manifest_with_a_warning(run_store: Path) -> None:
    from coderig_analyze.cli import main as analyze
    from coderig_export.cli import main as export
    from coderig_schemas.cli import main as schemas

    good = scored_run(run_store, {"p1": ["passed"]}, model="good")
    bad = scored_run(run_store, {"p1": ["passed"]}, model="bad")
    (bad.path / "manifest.json").write_text("{not json")
    ls = CliRunner().invoke(schemas, ["ls", "--stage", "score"])
    assert ls.exit_code == 0, ls.stderr
    assert ls.stdout.split("\t")[0] == good.ref and bad.ref not in ls.stdout
    assert "skipped" in ls.stderr and str(bad.path) in "".join(ls.stderr.split())
    verify = CliRunner().invoke(schemas, ["verify", bad.ref])
    assert verify.exit_code == ExitCode.INVALID_INPUT and "manifest.json:1" in verify.stderr
    analysis = CliRunner().invoke(analyze, ["run", "score/*", "--name", "an", "--no-charts"])
    assert analysis.exit_code == 0, analysis.stderr
    assert "skipped" in analysis.stderr
    inputs = RunStore(run_store).resolve(analysis.stdout.strip()).manifest.inputs
    assert good.ref in {i.ref for i in inputs} and bad.ref not in {i.ref for i in inputs}
    book = CliRunner().invoke(export, ["xlsx", "score/*", "--quiet"])
    assert book.exit_code == 0, book.stderr


def test_a_glob_over_several_versions_of_a_name_says_what_it_took(run_store: Path) -> None:
    from coderig_analyze.cli import main as analyze
    from coderig_export.cli import main as export

    old = scored_run(run_store, {"p1": ["passed"], "p2": ["wrong_answer"]}, config={"temperature": 0.2})
    new = scored_run(run_store, {"p1": ["passed"], "p2": ["passed"]}, config={"temperature": 0.8})
    assert old.manifest.name == new.manifest.name and old.ref != new.ref
    res = CliRunner().invoke(analyze, ["run", "score/toy*", "--name", "newest", "--no-charts"])
    assert res.exit_code == 0, res.stderr
    text = " ".join(res.stderr.split())
    assert f"score/{new.manifest.name}: 2 versions, took 1 ({new.manifest.key}: the last published)" in text
    assert old.manifest.key in text and "'score/toy*/*'" in text
    assert [i.ref for i in RunStore(run_store).resolve(res.stdout.strip()).manifest.inputs if i.ref.startswith("score/")] == [new.ref]
    every = CliRunner().invoke(analyze, ["run", "score/toy*/*", "--name", "every", "--no-charts"])
    assert every.exit_code == 0, every.stderr
    took = {i.ref for i in RunStore(run_store).resolve(every.stdout.strip()).manifest.inputs if i.ref.startswith("score/")}
    assert took == {old.ref, new.ref}
    book = CliRunner().invoke(export, ["xlsx", "score/toy*"])
    assert book.exit_code == 0 and "2 versions, took 1" in " ".join(book.stderr.split()), book.stderr


def test_a_killed_export_xlsx_leaves_no_temp_files_outside_the_store(tmp_path: Path, run_store: Path) -> None:
    # Big enough that the workbook is still being written when its temp files appear.
    scored_run(run_store, {f"p{i}": ["passed", "wrong_answer", "timeout", "passed"] for i in range(1500)})
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    cmd = [_bin("coderig-export"), "xlsx", "score/*", "--quiet", "--runs", str(run_store)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**_env(), "TMPDIR": str(tmp)})
    staging = run_store / ".staging" / "export"

    def temp_files() -> list[Path]:
        """openpyxl's temp files of the write-only sheets, wherever they are: the workbook is being written."""
        return [*tmp.rglob("openpyxl.*"), *(staging.rglob("openpyxl.*") if staging.is_dir() else [])]

    while proc.poll() is None and not temp_files():
        time.sleep(0.005)  # no clock in any assertion: kill as soon as the writer has temp files open
    assert proc.poll() is None, f"the export ended before it could be killed; make the workbook bigger: {proc.communicate()}"
    proc.kill()
    proc.communicate()
    assert list(tmp.iterdir()) == []  # nothing in the temp directory the process was given
    left = [p for p in staging.rglob("*") if p.is_file() and "logs" not in p.parts and p.suffix != ".lock"]
    assert left and all(".scratch" in p.parts or p.name.endswith(".tmp") or p.name.startswith(".") for p in left), left
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**_env(), "TMPDIR": str(tmp)})
    assert again.returncode == 0, again.stderr
    out = Path(again.stdout.strip())
    assert sorted(p.name for p in out.iterdir()) == ["logs", "manifest.json", "results.xlsx"]
    assert list(tmp.iterdir()) == [] and not list(staging.rglob("*.tmp")) and not list(staging.rglob(".scratch"))

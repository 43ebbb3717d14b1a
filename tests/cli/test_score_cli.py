"""coderig-score run / merge through Click: outputs, no-op re-runs, references, workers, shards, kill -9 resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coderig_schemas import PublishedOutput, ReferenceTiming, RunStore, ScoreResult, Verdict
from coderig_schemas.layout import REFERENCE_TIMINGS, RESULTS
from coderig_score.cli import main
from coderig_score.sandbox import NetworkCheck
from tests.factories import make_problem, make_sample, publish_generate, results_without_durations

pytestmark = pytest.mark.sandbox

ANSWERS = {
    "right": "def f(x):\n    return x\n",
    "wrong": "def f(x):\n    return 5 if x == 1 else x\n",
    "error": "def f(x):\n    return {}[x]\n",
    "syntax": "def f(x)\n    return x\n",
    "loop": "def f(x):\n    while x == 2:\n        pass\n    return x\n",
    "exit": "import os\nos._exit(0)\n",
}


def publish_mixed(runs: Path, problems: int = 3, sleep: float = 0.0, dataset: str = "toy") -> PublishedOutput:
    probs = [make_problem(f"p{i}", dataset=dataset) for i in range(problems)]
    samples = []
    for p in probs:
        for j, code in enumerate(ANSWERS.values()):
            if sleep:
                code = f"import time\ntime.sleep({sleep})\n" + code
            samples.append(make_sample(p, j, extracted_code=code))
        samples.append(make_sample(p, len(ANSWERS), extracted_code="", extraction_method="empty"))
    return publish_generate(runs, probs, samples, dataset=dataset)


def invoke(*args: str, runs: Path) -> Any:
    return CliRunner().invoke(main, [*args, "--runs", str(runs), "--quiet", "--timeout-default", "0.5",
                                     "--timeout-floor", "0.5"] if args[0] == "run" else [*args, "--runs", str(runs)])


def test_run_publishes_one_result_per_sample_and_rerun_is_a_no_op(run_store: Path) -> None:
    gen = publish_mixed(run_store)
    res = invoke("run", "--generate", gen.ref, "--workers", "2", runs=run_store)
    assert res.exit_code == 0, res.stderr
    out = Path(res.stdout.strip())
    assert out.is_dir() and res.stdout.count("\n") == 1
    store = RunStore(run_store)
    published = store.resolve(str(out), stage="score")
    results = list(published.records(RESULTS, ScoreResult))
    assert [r.verdict for r in results[:7]] == [
        Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR, Verdict.SYNTAX_ERROR, Verdict.TIMEOUT,
        Verdict.RUNTIME_ERROR, Verdict.NO_CODE]
    assert len(results) == 21
    m = published.manifest
    assert [i.ref.split("/")[0] for i in m.inputs] == ["generate", "score"]  # the samples and the reference timings
    assert m.inputs[1].ref.startswith("score/reftimes__toy/")
    assert m.stats["verdicts"]["passed"] == 3 and abs(m.stats["pass_at_k"]["1"] - 1 / 7) < 1e-12
    pk = json.loads((out / "pass_at_k.json").read_text())
    assert pk["k"] == [1, 2, 3, 4, 5, 6, 7] and abs(pk["overall"]["1"] - 1 / 7) < 1e-12
    assert pk["per_problem"]["p0"]["n"] == 7 and pk["per_problem"]["p0"]["c"] == 1
    assert abs(pk["per_problem"]["p0"]["pass_at_k"]["3"] - 3 / 7) < 1e-12
    assert published.has("pass_at_k.json")
    again = invoke("run", "--generate", gen.ref, "--workers", "1", "--json", runs=run_store)
    assert again.exit_code == 0
    assert json.loads(again.stdout)["output"] == str(out)


def test_one_and_two_workers_give_identical_verdicts(tmp_path: Path) -> None:
    outs = []
    for workers in ("1", "2"):
        runs = tmp_path / f"runs{workers}"
        gen = publish_mixed(runs)
        res = invoke("run", "--generate", gen.ref, "--workers", workers, runs=runs)
        assert res.exit_code == 0, res.stderr
        outs.append(results_without_durations(Path(res.stdout.strip())))
    assert outs[0] == outs[1]


def test_check_references_reports_failures_and_run_warns(run_store: Path) -> None:
    good = [make_problem(f"g{i}") for i in range(3)]
    bad = make_problem("bad", reference_solution="def f(x):\n    return 0\n")
    gen = publish_generate(run_store, [*good, bad], [make_sample(p) for p in good])
    res = invoke("run", "--generate", gen.ref, "--check-references", "--json", runs=run_store)
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["pass_rate"] == 0.75 and report["problems"] == 4
    assert report["failures"] == [{"problem_id": "bad", "verdict": "wrong_answer", "failing_test_id": "t0",
                                   "error": "AssertionError"}]
    timings = list(RunStore(run_store).resolve(report["output"], stage="score").records(REFERENCE_TIMINGS, ReferenceTiming))
    assert [t.problem_id for t in timings] == ["g0", "g1", "g2", "bad"]
    assert all(set(t.test_durations_s) == {"t0", "t1"} for t in timings)
    # A normal run reuses the stored timings and warns loudly (stderr), even with --quiet.
    run = CliRunner().invoke(main, ["run", "--generate", gen.ref, "--runs", str(run_store), "--quiet"])
    assert run.exit_code == 0
    assert "75.0% of the reference solutions pass" in run.stderr
    assert "(1 fail; 1 with 'AssertionError')" in " ".join(run.stderr.split())  # the commonest cause, e.g. a missing module
    assert RunStore(run_store).resolve(run.stdout.strip()).manifest.inputs[1].ref == report["output"].split("runs/")[-1]


def test_shards_merge_into_the_union(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    gen = publish_mixed(runs, problems=2)
    shard_paths = []
    for i in range(3):
        res = invoke("run", "--generate", gen.ref, "--shard", f"{i}/3", runs=runs)
        assert res.exit_code == 0, res.stderr
        shard_paths.append(res.stdout.strip())
    sizes = [len(results_without_durations(Path(p))) for p in shard_paths]
    assert sizes == [5, 5, 4]
    incomplete = invoke("merge", *shard_paths[:2], runs=runs)
    assert incomplete.exit_code == 3 and "missing" in incomplete.stderr
    merged = invoke("merge", *shard_paths, runs=runs)
    assert merged.exit_code == 0, merged.stderr
    out = RunStore(runs).resolve(merged.stdout.strip(), stage="score")
    assert [i.ref.split("/")[1] for i in out.manifest.inputs] == [gen.manifest.name] + [
        f"shard{i}of3__{gen.manifest.name}" for i in range(3)]
    gen2 = publish_mixed(tmp_path / "runs-whole", problems=2)
    whole = invoke("run", "--generate", gen2.ref, runs=tmp_path / "runs-whole")
    assert results_without_durations(out.path) == results_without_durations(Path(whole.stdout.strip()))


def test_bad_input_and_usage_exit_codes(run_store: Path) -> None:
    assert invoke("run", "--generate", "generate/nothing", runs=run_store).exit_code == 3
    gen = publish_mixed(run_store, problems=1)
    for bad in ("3/2", "2/2", "0/0", "x"):  # bad options (docs: exit 2), not bad input
        res = invoke("run", "--generate", gen.ref, "--shard", bad, runs=run_store)
        assert res.exit_code == 2 and "--shard" in res.stderr, (bad, res.stderr)
    assert CliRunner().invoke(main, ["run", "--help"]).exit_code == 0
    # a mistyped interpreter is a bad option: exit 2 naming it, not a sandbox that "cannot start"
    res = invoke("run", "--generate", gen.ref, "--python", "/nonexistent/python3", runs=run_store)
    assert res.exit_code == 2 and "--python /nonexistent/python3: not an executable file" in res.stderr, res.stderr
    assert not (run_store / "score").exists() and not list((run_store / ".staging").glob("score/*/*/"))


def test_network_check_logic() -> None:
    assert NetworkCheck(["lo"], False, False, "").closed
    assert not NetworkCheck(["lo", "eth0"], False, False, "").closed
    assert not NetworkCheck(["lo"], True, False, "").closed
    assert not NetworkCheck(["lo"], False, True, "").closed
    # without bubblewrap the scorer's own loopback is shared: reaching it is a way out too (issue 14)
    assert not NetworkCheck(["lo", "eth0"], False, True, "").closed


def test_kill_9_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    runs_a, runs_b = tmp_path / "a", tmp_path / "b"
    gen_a = publish_mixed(runs_a, problems=4, sleep=0.05)
    gen_b = publish_mixed(runs_b, problems=4, sleep=0.05)
    cmd = [sys.executable, "-m", "coderig_score.cli", "run", "--generate", gen_a.ref, "--workers", "1", "--unit-size", "4",
           "--timeout-default", "0.5", "--timeout-floor", "0.5", "--runs", str(runs_a), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    units = next((runs_a / ".staging" / "score").glob("*/*/units"), None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        units = next((runs_a / ".staging" / "score").glob("*/*/units"), None) if (runs_a / ".staging" / "score").is_dir() else None
        if units is not None and len(list(units.glob("u*.jsonl"))) >= 2:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # in case a sandbox outlived its parent (it should not)
    except ProcessLookupError:
        pass
    assert units is not None
    done_before = len(list(units.glob("u*.jsonl")))
    assert 2 <= done_before < 7, "the run was not interrupted in the middle"
    assert not list((runs_a / "score").glob("toy-model*")) if (runs_a / "score").is_dir() else True
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    uninterrupted = invoke("run", "--generate", gen_b.ref, "--workers", "2", "--unit-size", "4", runs=runs_b)
    assert uninterrupted.exit_code == 0
    a, b = Path(resumed.stdout.strip()), Path(uninterrupted.stdout.strip())
    assert results_without_durations(a) == results_without_durations(b)
    ids = [r["sample_id"] for r in results_without_durations(a)]
    assert len(ids) == len(set(ids)) == 28


def test_reference_timings_of_a_larger_set_are_reused_for_a_subset(run_store: Path) -> None:
    problems = [make_problem(f"p{i}") for i in range(4)]
    full = publish_generate(run_store, problems, [make_sample(p) for p in problems], model="m-full")
    subset = publish_generate(run_store, problems[:2], [make_sample(p) for p in problems[:2]], model="m-sub")
    first = invoke("run", "--generate", full.ref, "--check-references", "--json", runs=run_store)
    assert first.exit_code == 0, first.stderr
    second = invoke("run", "--generate", subset.ref, "--check-references", "--json", runs=run_store)
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)["output"] == json.loads(first.stdout)["output"]  # not measured again
    assert json.loads(second.stdout)["problems"] == 2
    assert len(list((run_store / "score" / "reftimes__toy").iterdir())) == 1

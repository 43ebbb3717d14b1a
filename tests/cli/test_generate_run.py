"""coderig-generate run through Click's CliRunner: replay of reference solutions, no-op re-runs, resume, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coderig_generate import engines
from coderig_generate.cli import main
from coderig_generate.config import GenerateConfig
from coderig_generate.engines.base import Engine, GenOutput, GenRequest, ProgressFn
from coderig_schemas import ExtractionMethod, FinishReason, Problem, RunStore, Sample, SamplingParams
from coderig_schemas.layout import PROBLEMS, SAMPLES


@pytest.fixture(autouse=True)
def data_dir(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Datasets come from ../shared/data (never the hub) in these tests."""
    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    return shared_data


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["run", "--quiet", *args], catch_exceptions=False)


def read_output(run_store: Path, path: str) -> tuple[list[Problem], list[Sample]]:
    out = RunStore(run_store).resolve(path, stage="generate")
    out.verify()
    return list(out.records(PROBLEMS, Problem)), list(out.records(SAMPLES, Sample))


def test_reference_replay_publishes_valid_outputs_and_reruns_are_noops(run_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = invoke("--model", "reference", "--dataset", "humaneval", "--dataset", "mbpp", "--limit", "4", "--seeds", "0,1")
    assert r.exit_code == 0, r.stderr
    paths = r.stdout.splitlines()
    assert len(paths) == 4 and all(Path(p).is_dir() for p in paths)
    names = [Path(p).parent.name for p in paths]
    # '<model>__<dataset>__<split>__<settings>__s<seed>' (coderig_schemas.identity.run_name)
    assert [n.split("__")[:3] + n.split("__")[-1:] for n in names] == [
        ["reference", "humaneval", "test", "s0"], ["reference", "humaneval", "test", "s1"],
        ["reference", "mbpp", "test", "s0"], ["reference", "mbpp", "test", "s1"]]
    assert all(n.split("__")[3].startswith("t0-p1-m1024-chat-") for n in names)
    problems, samples = read_output(run_store, paths[2])
    assert [p.problem_id for p in problems] == ["mbpp/11", "mbpp/12", "mbpp/13", "mbpp/14"]
    assert [s.sample_id for s in samples] == [f"mbpp/{i}#s0#0" for i in range(11, 15)]
    for p, s in zip(problems, samples, strict=True):
        assert s.extracted_code == p.reference_solution and s.extraction_method == ExtractionMethod.VERBATIM
        assert s.finish_reason == FinishReason.REPLAY and s.engine == "replay" and s.seed == 0
        assert s.prompt_messages is not None and "assert" in s.prompt_messages[-1].content  # MBPP shows its tests
    manifest = json.loads((Path(paths[0]) / "manifest.json").read_text())
    assert manifest["stats"]["samples"] == 4 and manifest["stats"]["engine"]["engine"] == "replay"
    assert {e["path"] for e in manifest["outputs"]} == {PROBLEMS, SAMPLES}

    def no_engine(*a: object, **k: object) -> Engine:
        raise AssertionError("a finished run must not create an engine")

    monkeypatch.setattr(engines, "make_engine", no_engine)
    again = invoke("--model", "reference", "--dataset", "humaneval", "--dataset", "mbpp", "--limit", "4", "--seeds", "0,1")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines() == paths


def test_other_config_gets_its_own_output(run_store: Path) -> None:
    a = invoke("--model", "reference", "--dataset", "humaneval", "--limit", "2")
    b = invoke("--model", "reference", "--dataset", "humaneval", "--limit", "3")
    assert a.exit_code == 0 and b.exit_code == 0
    assert a.stdout != b.stdout and Path(a.stdout.strip()).parent == Path(b.stdout.strip()).parent
    everything = invoke("--model", "reference", "--dataset", "humaneval", "--limit", "0", "--dry-run")
    assert json.loads(everything.stdout)["runs"][0]["prompts"] == 164


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_replay_a_previous_run_and_another_tools_records(run_store: Path, tmp_path: Path) -> None:
    first = invoke("--model", "reference", "--dataset", "mbpp", "--limit", "3")
    assert first.exit_code == 0, first.stderr
    _, ref_samples = read_output(run_store, first.stdout.strip())
    again = invoke("--model", "old-run", "--replay-file", str(Path(first.stdout.strip()) / SAMPLES), "--dataset", "mbpp", "--limit", "3")
    assert again.exit_code == 0, again.stderr
    _, replayed = read_output(run_store, again.stdout.strip())
    assert [s.raw_response for s in replayed] == [s.raw_response for s in ref_samples]
    assert all(s.model_name == "old-run" and s.engine == "replay" for s in replayed)
    # another tool's records: MBPP's integer task id and a chat response with prose around the code
    rows = [{"mbpp_id": 11 + i, "response": f"Here:\n```python\n{s.extracted_code}```\nDone."} for i, s in enumerate(ref_samples)]
    other = invoke("--model", "legacy", "--replay-file", str(_write_jsonl(tmp_path / "legacy.jsonl", rows)), "--dataset", "mbpp",
                   "--limit", "3")
    assert other.exit_code == 0, other.stderr
    _, legacy = read_output(run_store, other.stdout.strip())
    # extraction turns CRLF into LF (MBPP's reference code has CRLF line ends)
    assert [s.extracted_code.strip() for s in legacy] == [s.extracted_code.replace("\r\n", "\n").strip() for s in ref_samples]
    assert {s.extraction_method for s in legacy} == {ExtractionMethod.FENCED}


def test_replaying_a_completion_mode_run_extracts_against_its_plain_prompt(run_store: Path, tmp_path: Path) -> None:
    # a base-model run (chat template off): the answers are continuations of the plain prompt
    rows = [{"task_id": "HumanEval/0", "response": "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)"
             " for b in numbers[i + 1:])\n"},
            {"task_id": "HumanEval/1", "response": "    return []\n"}]
    first = invoke("--model", "base", "--replay-file", str(_write_jsonl(tmp_path / "base.jsonl", rows)), "--dataset", "humaneval",
                   "--limit", "2", "--no-chat-template")
    assert first.exit_code == 0, first.stderr
    _, base = read_output(run_store, first.stdout.strip())
    assert {s.extraction_method for s in base} == {ExtractionMethod.VERBATIM} and all(s.prompt_messages is None for s in base)
    # replayed (e.g. to re-extract) by a run with the default chat setting: same programs, not 'empty'
    again = invoke("--model", "base-again", "--replay-file", str(Path(first.stdout.strip()) / SAMPLES), "--dataset", "humaneval",
                   "--limit", "2")
    assert again.exit_code == 0, again.stderr
    _, replayed = read_output(run_store, again.stdout.strip())
    assert [(s.extraction_method, s.extracted_code) for s in replayed] == [(s.extraction_method, s.extracted_code) for s in base]


@pytest.mark.parametrize(("line", "message"), [
    ('{"task_id": "HumanEval/0", "completion": "    return True\\n"}\n{"task_id": "HumanEval/1", "response": 5}\n',
     ":2: response: expected a string"),
    ('{"task_id": "HumanEval/0", "completion": "x"}\n{"task_id": "HumanEval/1", "completion": \n', ":2: not JSON"),
    ('{"completion": "x"}\n', ":1: no problem id"),
])
def test_corrupt_replay_file_exits_3_with_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    bad = tmp_path / "answers.jsonl"
    bad.write_text(line)
    r = invoke("--model", "x", "--replay-file", str(bad), "--dataset", "humaneval", "--limit", "2")
    assert r.exit_code == 3
    assert r.stdout == ""
    assert f"{bad}{message}" in r.stderr.replace("\n", "")


def test_replay_file_missing_answers_exits_3(tmp_path: Path) -> None:
    f = _write_jsonl(tmp_path / "a.jsonl", [{"task_id": "HumanEval/0", "completion": "    return True\n"}])
    r = invoke("--model", "x", "--replay-file", str(f), "--dataset", "humaneval", "--limit", "2")
    assert r.exit_code == 3 and "HumanEval/1" in r.stderr


class Crashing:
    """Wraps a real engine and raises after `after` successful calls (a crash mid-run)."""

    def __init__(self, inner: Engine, after: int) -> None:
        self.inner, self.after, self.name, self.calls = inner, after, inner.name, 0

    def generate(self, requests: list[GenRequest], sampling: SamplingParams, seed: int | None,
                 progress: ProgressFn | None = None) -> list[list[GenOutput]]:
        if self.calls >= self.after:
            raise RuntimeError("simulated crash")
        self.calls += 1
        return self.inner.generate(requests, sampling, seed, progress)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()


def test_crash_then_rerun_equals_an_uninterrupted_run(run_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = _write_jsonl(tmp_path / "answers.jsonl", [
        {"task_id": f"HumanEval/{i}", "sample_index": k, "response": f"```python\ndef f():\n    return {i * 10 + k}\n```"}
        for i in range(9) for k in range(2)
    ])
    args = ["--model", "m", "--replay-file", str(answers), "--dataset", "humaneval", "--limit", "9", "--n", "2", "--seeds", "0,1",
            "--chunk-size", "2", "--batch-prompts", "2"]
    real = engines.make_engine
    made: list[Crashing] = []

    def crashing(config: GenerateConfig, problems: list[Problem] | None = None) -> Engine:
        made.append(Crashing(real(config, problems), after=3))
        return made[-1]

    monkeypatch.setattr(engines, "make_engine", crashing)
    crashed = CliRunner().invoke(main, ["run", "--quiet", *args])
    assert crashed.exit_code == 1 and "simulated crash" in crashed.stderr and crashed.stdout == ""
    staging = list((run_store / ".staging" / "generate").glob("m__humaneval__*__s0/*/units/*.jsonl"))
    assert len(staging) == 3  # three chunks of seed 0 were saved before the crash
    monkeypatch.setattr(engines, "make_engine", real)
    resumed = invoke(*args)
    assert resumed.exit_code == 0, resumed.stderr
    paths = resumed.stdout.splitlines()
    manifest = json.loads((Path(paths[0]) / "manifest.json").read_text())
    assert manifest["stats"]["units_resumed"] == 3 and manifest["stats"]["units"] == 5
    # an uninterrupted run in another store gives byte-identical samples
    other = tmp_path / "other-runs"
    clean = CliRunner().invoke(main, ["run", "--quiet", "--runs", str(other), *args], catch_exceptions=False)
    assert clean.exit_code == 0, clean.stderr
    for p, q in zip(paths, clean.stdout.splitlines(), strict=True):
        assert (Path(p) / SAMPLES).read_bytes() == (Path(q) / SAMPLES).read_bytes()
        assert (Path(p) / PROBLEMS).read_bytes() == (Path(q) / PROBLEMS).read_bytes()
    _, samples = read_output(run_store, paths[0])
    assert len(samples) == 18 and len({s.sample_id for s in samples}) == 18
    assert [s.extracted_code for s in samples[:2]] == ["def f():\n    return 0\n", "def f():\n    return 1\n"]


def test_dry_run_prints_the_plan_and_publishes_nothing(run_store: Path) -> None:
    r = invoke("--model", "reference", "--model", "tiny-random", "--dataset", "humaneval,mbpp", "--seeds", "0,1", "--n", "3",
               "--limit", "10", "--dry-run")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    assert [(x["model"], x["dataset"]) for x in plan["runs"]] == [
        ("reference", "humaneval"), ("reference", "mbpp"), ("tiny-random", "humaneval"), ("tiny-random", "mbpp")]
    assert all(x["prompts"] == 10 and x["samples"] == 60 for x in plan["runs"])
    assert plan["totals"] == {"runs": 4, "outputs": 8, "prompts": 80, "samples": 240}
    assert not (run_store / "generate").exists()


def test_dry_run_names_every_split_of_a_mixed_custom_file(run_store: Path, tmp_path: Path) -> None:
    rows = [{"problem_id": "a", "prompt": "p", "tests": ["assert 1"], "split": "train"},
            {"problem_id": "b", "prompt": "p", "tests": ["assert 1"]}]
    data = tmp_path / "mixed.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = invoke("--model", "reference", "--dataset", "custom", "--data-file", str(data), "--dry-run")
    assert r.exit_code == 0, r.stderr
    [run] = json.loads(r.stdout)["runs"]
    assert (run["split"], run["prompts"]) == ("test,train", 2)  # as the run's identity (and name) spell it: sorted
    assert "__test+train__" in run["outputs"][0]["name"]


def test_a_model_only_the_server_knows_is_planned_for_openai_and_refused_for_vllm(run_store: Path) -> None:
    # A hosted name ('gpt-4o') is neither in the registry nor a hub id: the OpenAI engine asks the server,
    # the local vLLM engine cannot load it (exit 2, as an unknown dataset).
    r = invoke("--model", "gpt-4o", "--engine", "openai", "--base-url", "http://127.0.0.1:9/v1", "--dataset", "humaneval",
               "--limit", "2", "--dry-run")
    assert r.exit_code == 0, r.stderr
    [run] = json.loads(r.stdout)["runs"]
    assert (run["model"], run["engine"]) == ("gpt-4o", "openai")
    assert run["outputs"][0]["name"].startswith("gpt-4o__humaneval__test__") and run["outputs"][0]["name"].endswith("__s0")
    r = invoke("--model", "gpt-4o", "--dataset", "humaneval", "--limit", "2", "--dry-run")
    assert r.exit_code == 2 and "unknown model 'gpt-4o'" in r.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--model", "reference", "--engine", "vllm", "--dataset", "humaneval"], "replay"),
    (["--model", "x", "--engine", "replay", "--dataset", "humaneval"], "--replay-file"),
    (["--model", "reference", "--dataset", "humaneval", "--seeds", "0,x"], "--seeds"),
    (["--model", "reference", "--dataset", "humaneval", "--seeds", "1,1"], "distinct"),
    (["--model", "reference", "--dataset", "nope"], "unknown dataset"),
    (["--model", "tiny-random", "--dataset", "humaneval", "--n", "2", "--temperature", "0"], "--n 2 with temperature 0"),
    (["--model", "reference", "--dataset", "humaneval", "--template", "nope"], "no template"),
    (["--model", "reference", "--dataset", "mbpp,humaneval", "--data-file", "x.jsonl"], "single --dataset"),
])
def test_usage_errors_exit_2(args: list[str], needle: str) -> None:
    r = invoke(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert needle in r.stderr


def test_datasets_command_lists_the_registry() -> None:
    r = CliRunner().invoke(main, ["datasets", "--json"])
    assert r.exit_code == 0
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert set(rows) == {"humaneval", "humaneval_plus", "mbpp", "mbpp_sanitized", "leetcode", "leetcode_hard", "custom",
                         "math500", "gsm8k", "aime24", "aime25", "amc23", "ifeval", "bfcl_simple", "bfcl_multiple",
                         "bfcl_parallel"}
    assert rows["mbpp"]["hub"] == "google-research-datasets/mbpp:full" and rows["mbpp"]["env"] == "CODERIG_DATA_MBPP"
    text = CliRunner().invoke(main, ["datasets"])
    assert text.exit_code == 0 and "leetcode" in text.stdout


HEAVY_PROBE = """
import sys
from click.testing import CliRunner
from coderig_generate.cli import main
for args in (["--help"], ["run", "--help"], ["datasets", "--help"], ["run", "--quiet", "--model", "reference,tiny-random",
             "--dataset", "humaneval", "--limit", "3", "--dry-run"]):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, (args, r.output)
print(",".join(sorted(k for k in sys.modules if k.split(".")[0] in ("vllm", "torch", "transformers", "datasets"))))
"""


def test_help_and_dry_run_import_no_ml_stack(shared_data: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CODERIG_DATA_DIR": str(shared_data), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", HEAVY_PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_offline_hub_via_cli_exits_3_with_the_fix(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "CODERIG_RUNS": str(tmp_path / "runs")}
    out = subprocess.run([sys.executable, "-m", "coderig_generate.cli", "run", "--model", "reference", "--dataset", "leetcode"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 3, out.stderr
    assert out.stdout == ""
    err = " ".join(out.stderr.split())
    assert "newfacade/LeetCodeDataset" in err and "--data-file" in err and "CODERIG_DATA_LEETCODE" in err


def test_kill_9_then_rerun_loses_and_duplicates_nothing(run_store: Path, shared_data: Path, tmp_path: Path) -> None:
    import os
    import signal
    import time

    env = {**os.environ, "CODERIG_RUNS": str(run_store), "CODERIG_DATA_DIR": str(shared_data)}
    cmd = [sys.executable, "-m", "coderig_generate.cli", "run", "--quiet", "--model", "reference", "--dataset", "mbpp",
           "--split", "all", "--chunk-size", "1", "--batch-prompts", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    staging = run_store / ".staging" / "generate"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(staging.glob("reference__mbpp__*__s0/*/units/*.jsonl"))) >= 20:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    saved = len(list(staging.glob("reference__mbpp__*__s0/*/units/*.jsonl")))
    assert 20 <= saved < 974
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    path = Path(resumed.stdout.strip())
    stats = json.loads((path / "manifest.json").read_text())["stats"]
    assert stats["units_resumed"] == saved and stats["samples"] == 974
    clean = subprocess.run(cmd, env={**env, "CODERIG_RUNS": str(tmp_path / "clean")}, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    assert (path / SAMPLES).read_bytes() == (Path(clean.stdout.strip()) / SAMPLES).read_bytes()


class Counting(Crashing):
    """Records the size of every engine call."""

    def __init__(self, inner: Engine) -> None:
        super().__init__(inner, after=10**9)
        self.sizes: list[int] = []

    def generate(self, requests: list[GenRequest], sampling: SamplingParams, seed: int | None,
                 progress: ProgressFn | None = None) -> list[list[GenOutput]]:
        self.sizes.append(len(requests))
        return super().generate(requests, sampling, seed, progress)


@pytest.mark.parametrize(("batch", "calls"), [(None, [20, 20]), ("8", [8, 8, 4, 8, 8, 4])])
def test_one_engine_call_per_group_of_units_and_one_engine_for_all_seeds(
        monkeypatch: pytest.MonkeyPatch, batch: str | None, calls: list[int]) -> None:
    real = engines.make_engine
    made: list[Counting] = []

    def counting(config: GenerateConfig, problems: list[Problem] | None = None) -> Engine:
        made.append(Counting(real(config, problems)))
        return made[-1]

    monkeypatch.setattr(engines, "make_engine", counting)
    args = ["--model", "reference", "--dataset", "humaneval", "--limit", "20", "--seeds", "0,1", "--chunk-size", "4"]
    r = invoke(*args, *(["--batch-prompts", batch] if batch else []))
    assert r.exit_code == 0, r.stderr
    assert len(made) == 1 and made[0].sizes == calls
    for path in r.stdout.splitlines():
        assert json.loads((Path(path) / "manifest.json").read_text())["stats"]["units"] == 5

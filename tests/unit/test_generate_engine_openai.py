"""The openai engine's pure helpers; against a real vLLM server: tests/integration/test_generate_engine_openai.py."""

from __future__ import annotations

import random

import httpx
import pytest

from coderig_generate.config import EngineConfig, GenerateConfig
from coderig_generate.engines.base import GenRequest, request_seed
from coderig_generate.engines.openai_engine import OpenAIEngine, ServerError, backoff_seconds, finish_reason, parse_answer
from coderig_schemas import ChatMessage, FinishReason, SamplingParams, UsageError

# ---------------------------------------------------------------- pure


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(0)
    waits = [backoff_seconds(a, rng=rng) for a in range(7)]
    for attempt, wait in enumerate(waits):
        base = min(2.0**attempt, 30.0)
        assert base <= wait <= base * 1.25
    assert backoff_seconds(3, "2") == 2.0
    assert backoff_seconds(0, "999") == 30.0
    assert 1.0 <= backoff_seconds(0, "Wed, 21 Oct 2015 07:28:00 GMT") <= 1.25


def test_finish_reasons() -> None:
    assert [finish_reason(r) for r in ("stop", "length", "tool_calls", "content_filter", None)] == [
        FinishReason.STOP, FinishReason.LENGTH, FinishReason.STOP, FinishReason.ERROR, FinishReason.ERROR,
    ]


def _request(i: int = 0, *, chat: bool = True) -> GenRequest:
    return GenRequest(
        request_id=f"P/{i}",
        messages=[ChatMessage(role="system", content="Answer in Python."), ChatMessage(role="user", content=f"def g{i}(x):")],
        use_chat_template=chat,
    )


def test_parse_answer_of_a_plain_openai_server() -> None:
    answer = {
        "choices": [
            {"index": 1, "message": {"role": "assistant", "content": "b"}, "finish_reason": "length"},
            {"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 9},
    }
    outs = parse_answer(answer, _request(), 2, 0.5, chat=True)
    assert [(o.text, o.finish_reason) for o in outs] == [("a", FinishReason.STOP), ("b", FinishReason.LENGTH)]
    # usage counts both answers together: no per-answer count is invented; no rendered prompt is known
    assert [(o.prompt_tokens, o.completion_tokens, o.prompt_text, o.latency_s) for o in outs] == [(11, None, None, 0.5)] * 2
    with pytest.raises(ServerError, match="returned 2 choices, expected n=3"):
        parse_answer(answer, _request(), 3, 0.5, chat=True)
    completion = {"choices": [{"index": 0, "text": "x", "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    [out] = parse_answer(completion, _request(chat=False), 1, 0.1, chat=False)
    assert (out.text, out.completion_tokens, out.prompt_text) == ("x", 1, "Answer in Python.\n\ndef g0(x):")


def test_parse_answer_keeps_a_servers_separate_reasoning() -> None:
    # servers that split thinking out of the content (reasoning_content): kept on the answer, not in its text
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "42", "reasoning_content": "think"},
                           "finish_reason": "stop"}]}
    [out] = parse_answer(answer, _request(), 1, 0.1, chat=True)
    assert (out.text, out.reasoning, out.replayed, out.stop_reason) == ("42", "think", None, None)
    [plain] = parse_answer({"choices": [{"index": 0, "message": {"content": "42"}, "finish_reason": "stop"}]}, _request(), 1, 0.1,
                           chat=True)
    assert plain.reasoning is None


def test_base_url_is_required() -> None:
    with pytest.raises(UsageError, match="needs --base-url"):
        OpenAIEngine(GenerateConfig(model="m", dataset="humaneval", engine=EngineConfig(name="openai")))


def test_unreachable_server_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = GenerateConfig(model="m", dataset="humaneval", engine=EngineConfig(name="openai", base_url=f"http://127.0.0.1:{port}/v1"))
    with pytest.raises(ServerError, match=f"cannot reach http://127.0.0.1:{port}/v1"):
        OpenAIEngine(config)


def test_each_request_carries_the_seed_its_problem_gets() -> None:
    # a vLLM server, like the offline engine, samples answer i with seed + i: the run seed itself is not sent
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": "m", "owned_by": "vllm"}]})

    config = GenerateConfig(model="m", dataset="humaneval", engine=EngineConfig(name="openai", base_url="http://server/v1"))
    engine = OpenAIEngine(config, transport=httpx.MockTransport(handler))
    sampling = SamplingParams(temperature=0.8, max_tokens=2, n=3)
    _, body = engine.payload(_request(0), sampling, 1)
    assert body["seed"] == request_seed(1, _request(0).request_id) != request_seed(1, _request(1).request_id)
    assert "seed" not in engine.payload(_request(0), sampling, None)[1]


def test_timeouts_are_retried_then_name_the_limit() -> None:
    posts = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"data": [{"id": "m", "owned_by": "vllm"}]})
        posts.append(request)
        raise httpx.ReadTimeout("", request=request)  # what httpx raises when the server never answers

    engine_config = EngineConfig(name="openai", base_url="http://server/v1", retries=1, request_timeout_s=2.5)
    engine = OpenAIEngine(GenerateConfig(model="m", dataset="humaneval", engine=engine_config), transport=httpx.MockTransport(handler))
    with pytest.raises(ServerError, match=r"failed after 2 attempts: ReadTimeout: no answer within 2.5 s \(--request-timeout\)"):
        engine.generate([_request(0)], SamplingParams(temperature=0, max_tokens=2), 0)
    assert len(posts) == 2

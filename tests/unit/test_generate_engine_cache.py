"""One engine alive at a time: a category of large models never holds two in (GPU) memory."""

from __future__ import annotations

from typing import Any, ClassVar

from coderig_generate.config import GenerateConfig
from coderig_generate.run import EngineCache


class _Tracked:
    alive: ClassVar[set[str]] = set()

    def __init__(self, name: str) -> None:
        self.name = name
        _Tracked.alive.add(name)

    def close(self) -> None:
        _Tracked.alive.discard(self.name)


def test_each_model_loaded_once_and_closed_before_the_next() -> None:
    peak: list[int] = []

    def factory(config: GenerateConfig, problems: Any = None) -> Any:
        engine = _Tracked(config.model)
        peak.append(len(_Tracked.alive))
        return engine

    cache = EngineCache(factory)
    configs = [GenerateConfig(model=m, dataset=d) for m in ("m1", "m2") for d in ("humaneval", "mbpp")]
    seen = [cache.get(c, []).name for c in configs]  # type: ignore[attr-defined]
    assert seen == ["m1", "m1", "m2", "m2"]
    assert cache.loads == 2
    assert max(peak) == 1 and _Tracked.alive == {"m2"}
    cache.close()
    assert _Tracked.alive == set()

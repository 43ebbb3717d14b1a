"""A run's identity: what distinguishes one generate output (and everything computed from it) from another.

Generate publishes a :class:`RunIdentity` in its manifest (``Manifest.identity``, version 2). Later stages
never guess a run's model, seed or sampling settings from generate's untyped config: they read the
identity, or, for an output published before identities existed, :func:`derive_identity` builds it once
here from that config (and the first sample), with ``derived`` set.

Three views of one identity, each defined once:

- ``config_id``: 8 hex characters hashing every field except the seed. Runs sharing it differ only by
  seed; they are the seeds of one configuration.
- ``label()``: what a person reads in tables and charts, e.g. ``T=0.8 top_p=0.95 max=1024 tpl=chat``.
- ``slug()``: the same settings inside an output name (letters, digits, ``.-`` only), e.g.
  ``t0.8-p0.95-m1024-chat-1a2b3c``; :func:`run_name` puts model, dataset, split, slug and seed together.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Literal

from pydantic import Field

from ._base import Record
from .io import hash_json

#: Fields that are not part of a configuration (the seed varies within one; the others are bookkeeping).
_NOT_CONFIG = frozenset({"schema_version", "seed", "derived"})


class RunIdentity(Record):
    """Model, dataset, split, seed, sampling and prompt settings and engine of one generate output."""

    schema_version: Literal[1] = Field(default=1, description="Version of this record's shape.")
    model: str = Field(description="Model name as given to generate (registry name, path or hub id).")
    model_id: str | None = Field(default=None, description="What the name resolved to (hub id or path); null when unknown.")
    dataset: str = Field(description="Dataset name.")
    split: str | None = Field(default=None, description=(
        "Split of the problems (several joined by ','); null when unknown."))
    seed: int | None = Field(default=None, description="Seed of the run; null when the generator used none.")
    temperature: float | None = Field(default=None, ge=0, description="Sampling temperature (0: greedy); null when unknown.")
    top_p: float | None = Field(default=None, description="Nucleus sampling mass; null when unknown.")
    top_k: int | None = Field(default=None, description="Top-k cut-off (-1: off); null when unknown.")
    max_tokens: int | None = Field(default=None, description="Maximum generated tokens per answer; null when unknown.")
    n: int = Field(default=1, ge=1, description="Samples drawn per prompt.")
    template_id: str | None = Field(default=None, description="Prompt template id; null when unknown.")
    system_prompt_sha256: str | None = Field(default=None, description=(
        "sha256 of the system prompt given in place of the template's ('' hashes too: no system message); "
        "null when the template's own was used."))
    chat_template: bool | None = Field(default=None, description=(
        "Whether the model's chat template was applied (false: plain completion text); null when unknown."))
    enable_thinking: bool | None = Field(default=None, description="Thinking mode, for models that have one; null: the model's default.")
    engine: str | None = Field(default=None, description="Inference engine (vllm, openai, replay); null when unknown.")
    preset: str | None = Field(default=None, description="GPU-memory preset, if one was named.")
    derived: bool = Field(default=False, description=(
        "True when this identity was derived from an older output's config, not published by generate."))

    @property
    def config_id(self) -> str:
        """8 hex characters hashing every field but the seed: the runs sharing it are seeds of one configuration.

        A ``model_id`` that is a local path is left out too: where a checkout or a container mounts the
        model says nothing about the configuration, and the same run on two machines (or natively and in
        the generate container) must get the same id and name.
        """
        exclude = set(_NOT_CONFIG)
        if self.model_id is not None and self.model_id.startswith("/"):
            exclude.add("model_id")
        return hash_json(self.model_dump(mode="json", exclude=exclude))[:8]

    def label(self) -> str:
        """The sampling and prompt settings for a person: ``T=0.8 top_p=0.95 max=1024 tpl=chat``.

        Model, dataset, split and seed are shown in their own columns, so they are not repeated; settings
        at their usual value (n=1, top_k off, the template's system prompt, default thinking) are left out.
        An unknown value reads '?'.
        """
        parts = [f"T={_num(self.temperature)}", f"top_p={_num(self.top_p)}", f"max={_num(self.max_tokens)}",
                 "tpl=" + ("?" if self.chat_template is None else "chat" if self.chat_template else "plain")]
        if self.n != 1:
            parts.append(f"n={self.n}")
        if self.top_k is not None and self.top_k > 0:
            parts.append(f"top_k={self.top_k}")
        if self.system_prompt_sha256 is not None:
            parts.append(f"sys={self.system_prompt_sha256[:6]}")
        if self.enable_thinking is not None:
            parts.append("think=" + ("on" if self.enable_thinking else "off"))
        return " ".join(parts)

    def slug(self) -> str:
        """The label's settings as an output-name part, plus 6 hex of the config: ``t0.8-p0.95-m1024-chat-1a2b3c``.

        The hash makes two configurations that differ only where the label is silent (template id, engine,
        model revision) distinct names too; the readable part lets a person (or a glob) pick a setting.
        """
        parts = [f"t{_num(self.temperature, '')}", f"p{_num(self.top_p, '')}", f"m{_num(self.max_tokens, '')}",
                 "x" if self.chat_template is None else "chat" if self.chat_template else "plain"]
        if self.n != 1:
            parts.append(f"n{self.n}")
        if self.top_k is not None and self.top_k > 0:
            parts.append(f"k{self.top_k}")
        if self.enable_thinking is not None:
            parts.append("think" if self.enable_thinking else "nothink")
        return "-".join([*parts, self.config_id[:6]])

    def name(self) -> str:
        """The output name of this run (see :func:`run_name`)."""
        return run_name(self)


def _num(value: float | int | None, unknown: str = "?") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return unknown
    return f"{value:g}"


def safe_part(text: str) -> str:
    """text with every character an output name may not hold replaced by '-' (ASCII letters, digits, '._+=-')."""
    # ASCII only: the run store's names are (str.isalnum() is also true of letters such as 'è').
    return "".join(c if (c.isascii() and c.isalnum()) or c in "._+=-" else "-" for c in text).strip("-.")


def run_name(identity: RunIdentity) -> str:
    """'<model>__<dataset>__<split>__<slug>__s<seed>', e.g. 'qwen3_8b__mbpp__test__t0.8-p0.95-m1024-chat-1a2b3c__s0'.

    Every field a sweep varies is in the name, so the runs of a sweep (splits, temperatures, top_p,
    seeds) are distinct names, never versions of one name that a reference or glob would take the
    newest of. Several splits are joined by '+'.
    """
    split = safe_part((identity.split or "none").replace(",", "+")) or "none"
    seed = "none" if identity.seed is None else str(identity.seed)
    return f"{safe_part(identity.model) or 'model'}__{safe_part(identity.dataset) or 'dataset'}__{split}__{identity.slug()}__s{seed}"


def system_prompt_sha256(system_prompt: str | None) -> str | None:
    """The identity's hash of a system prompt override (None: the template's own)."""
    return None if system_prompt is None else hashlib.sha256(system_prompt.encode()).hexdigest()


def _first(config: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any, kind: type) -> Any:
    if value is None or isinstance(value, bool):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def derive_identity(config: dict[str, Any], *, name: str, first_sample: dict[str, Any] | None = None,
                    splits: list[str] | None = None) -> RunIdentity:
    """The identity of a generate output published without one, from its config (and first sample).

    The one place that reads generate's untyped config: coderig-generate's keys ('model', 'dataset',
    'split', 'seed', 'n', 'engine': {'name', 'preset'}, 'resolved': {'sampling', 'chat_template',
    'template_id', 'model_id'}) first, then what other generators commonly write at the top level
    ('temperature', 'template', 'preset'...), then the first sample's own fields, then the output name
    ('<model>__<dataset>__s<seed>'). ``splits``: the splits of its problems, when the config names none.
    """
    sample = first_sample or {}
    resolved = _mapping(config.get("resolved"))
    sampling = _mapping(resolved.get("sampling"))
    sample_sampling = _mapping(sample.get("sampling"))
    engine = config.get("engine")
    engine_name = engine.get("name") if isinstance(engine, dict) else engine if isinstance(engine, str) else None
    preset = engine.get("preset") if isinstance(engine, dict) else None
    model = config.get("model")
    if isinstance(model, dict):
        model = model.get("name") or model.get("model")
    parts = name.split("__")

    def setting(key: str, *aliases: str) -> Any:
        return _first({**sample_sampling, **sampling, **{k: v for k, v in config.items() if v is not None}}, key, *aliases)

    seed = _first(config, "seed")
    if seed is None:
        seed = sample.get("seed")
    if seed is None and parts[-1].startswith("s") and parts[-1][1:].isdigit():
        seed = int(parts[-1][1:])
    split = _first(config, "split") or sample.get("split") or (",".join(sorted(set(splits))) if splits else None)
    system = config.get("system_prompt")
    chat = _first(resolved, "chat_template")
    if chat is None:
        chat = config.get("chat_template")
    return RunIdentity(
        model=str(model or sample.get("model_name") or parts[0]),
        model_id=_first(resolved, "model_id") or sample.get("model_id"),
        dataset=str(config.get("dataset") or sample.get("dataset") or (parts[1] if len(parts) > 1 else "unknown")),
        split=str(split) if split is not None else None,
        seed=_number(seed, int),
        temperature=_number(setting("temperature"), float),
        top_p=_number(setting("top_p"), float),
        top_k=_number(setting("top_k"), int),
        max_tokens=_number(setting("max_tokens"), int),
        n=_number(setting("n"), int) or 1,
        template_id=_first(resolved, "template_id") or _first(config, "template", "template_id", "prompt_template")
        or sample.get("template_id"),
        system_prompt_sha256=system_prompt_sha256(system) if isinstance(system, str) else None,
        chat_template=chat if isinstance(chat, bool) else None,
        enable_thinking=config.get("enable_thinking") if isinstance(config.get("enable_thinking"), bool) else None,
        engine=str(engine_name or sample.get("engine")) if (engine_name or sample.get("engine")) else None,
        preset=str(preset or config.get("preset")) if (preset or config.get("preset")) else None,
        derived=True,
    )

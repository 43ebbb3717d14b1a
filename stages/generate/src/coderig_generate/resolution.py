"""What a ``coderig-generate run`` configuration means once read: its problems, prompt template, sampling,
the model's registry defaults, and from those the name, identity and key of each seed's output.

Resolution is cheap (no engine is created, no ML stack imported): the dry-run plan and the run itself
both start here, so they can never disagree about a name or a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coderig_schemas import Problem, PublishedOutput, RunStore, SamplingParams, UsageError
from coderig_schemas.identity import RunIdentity, run_name, system_prompt_sha256
from coderig_schemas.io import hash_json, sha256_bytes, sha256_file
from coderig_schemas.layout import default_name
from coderig_schemas.problem import stable_json
from coderig_schemas.store import output_key

from .config import GenerateConfig
from .datasets import load_problems
from .engines.base import SEED_RULE
from .prompts import Template, load_prompts, with_system_prompt

if TYPE_CHECKING:
    from .models import ModelSpec

#: datasets already loaded in one invocation, by (dataset, data file, split, difficulty map)
ProblemCache = dict[tuple[str, str | None, str | None, str | None], list[Problem]]


@dataclass(frozen=True)
class ModelDefaults:
    """What the model side adds to a configuration: the id sent to the engine, the registry entry whose
    defaults were applied, and the provenance hashed into each output key."""

    model_id: str | None
    #: the registry's entry (None: replay, or a name only an OpenAI-compatible server knows)
    spec: ModelSpec | None = None
    #: how a run seed becomes request seeds (engines that sample; None for replay): outputs sampled under an
    #: earlier rule are not reused
    seed_rule: str | None = None
    #: replay: the answers file's sha256 (None when it is missing); only when a file is replayed
    replay_sha256: str | None = None
    replays_file: bool = False

    def key_fields(self) -> dict[str, Any]:
        """The fields hashed into the output key, spelt as they always were (present only when they apply,
        so earlier outputs keep their keys)."""
        out: dict[str, Any] = {}
        if self.replays_file:
            out["replay_sha256"] = self.replay_sha256
        if self.seed_rule is not None:
            out["seed_rule"] = self.seed_rule
        if self.spec is not None:
            out["model_spec"] = self.spec.model_dump(mode="json", exclude={"hf_id"})
        return out


@dataclass(frozen=True)
class Resolved:
    """What a configuration means once the dataset, prompts and model defaults are read (no model loaded)."""

    config: GenerateConfig
    problems: list[Problem]
    template: Template
    chat: bool
    sampling: SamplingParams  # seed is set per output
    model: ModelDefaults
    problems_sha256: str

    @property
    def model_id(self) -> str | None:
        """The model id the engine loads (None: replayed answers of no named model)."""
        return self.model.model_id

    def output_config(self, seed: int) -> dict[str, Any]:
        """The configuration hashed into one seed's output key."""
        cfg = self.config.model_dump(mode="json")
        cfg.pop("seeds")
        if cfg.get("system_prompt") is None:
            # an option added with task types: unset, it is left out so earlier outputs keep their keys
            cfg.pop("system_prompt", None)
        cfg["seed"] = seed
        cfg["resolved"] = {
            "sampling": self.sampling.model_dump(mode="json"), "chat_template": self.chat, "template_id": self.template.id,
            "template_sha256": self.template.sha256, "problems_sha256": self.problems_sha256, "problems": len(self.problems),
            "model_id": self.model_id, **self.model.key_fields(),
        }
        return cfg

    @property
    def split(self) -> str | None:
        """The requested split, else every split the problems come from, sorted and joined by ','
        (a custom file may mix them)."""
        return self.config.split or ",".join(sorted({p.split for p in self.problems if p.split})) or None

    def identity(self, seed: int) -> RunIdentity:
        """The typed identity of one seed's output (published in its manifest; names it)."""
        c = self.config
        return RunIdentity(
            model=c.model, model_id=self.model_id, dataset=c.dataset,
            split=self.split, seed=seed,
            temperature=self.sampling.temperature, top_p=self.sampling.top_p, top_k=self.sampling.top_k,
            max_tokens=self.sampling.max_tokens, n=self.sampling.n, template_id=self.template.id,
            system_prompt_sha256=system_prompt_sha256(c.system_prompt), chat_template=self.chat,
            enable_thinking=c.enable_thinking, engine=c.engine.name, preset=c.engine.preset,
        )

    def name(self, seed: int) -> str:
        """Output name of one seed: model, dataset, split, sampling and prompt settings and seed (identity.run_name)."""
        return run_name(self.identity(seed))

    def key(self, seed: int) -> str:
        """Output key of one seed (the same as before run identities: names changed, keys did not)."""
        return output_key("generate", hash_json(self.output_config(seed)), [])

    def legacy(self, store: RunStore, seed: int) -> PublishedOutput | None:
        """This exact output (same key) published under the name generate used before run identities, if any.

        A re-run of an unchanged configuration stays a no-op on a store made by an earlier version: it
        prints that output instead of generating everything again under the new name.
        """
        return store.published("generate", default_name(self.config.model, self.config.dataset, seed), self.key(seed))


def _problems(config: GenerateConfig, cache: ProblemCache | None) -> list[Problem]:
    key = (config.dataset, config.data_file, config.split, config.difficulty_map)
    if cache is None or key not in cache:
        loaded = load_problems(
            config.dataset, source=Path(config.data_file) if config.data_file else None, split=config.split,
            difficulty_map=Path(config.difficulty_map) if config.difficulty_map else None,
        )
        if cache is None:
            return loaded[: config.limit] if config.limit is not None else loaded
        cache[key] = loaded
    problems = cache[key]
    return problems[: config.limit] if config.limit is not None else problems


def _template(config: GenerateConfig, problems: list[Problem]) -> Template:
    task_type = problems[0].task_type.value if problems else None
    template = load_prompts(Path(config.prompts_file) if config.prompts_file else None).for_dataset(
        config.dataset, config.template, task_type)
    return with_system_prompt(template, config.system_prompt) if config.system_prompt is not None else template


def model_defaults(config: GenerateConfig) -> ModelDefaults:
    """The model side of a configuration: the registry entry (read from YAML; no ML stack imported), or
    what a replay or a server-only model name stands for."""
    if config.engine.name == "replay":
        replay = Path(config.engine.replay_file) if config.engine.replay_file else None
        return ModelDefaults(
            model_id="reference" if config.model == "reference" else None, replays_file=replay is not None,
            replay_sha256=sha256_file(replay) if replay is not None and replay.is_file() else None,
        )
    from .models import resolve_model

    try:
        spec = resolve_model(config.model, materialize=False)
    except UsageError:
        if config.engine.name != "openai":
            raise
        # A name only the server knows (a hosted model): the engine checks it against the server's
        # model list; sampling starts from the generic defaults.
        return ModelDefaults(model_id=config.model, seed_rule=SEED_RULE)
    return ModelDefaults(model_id=spec.hf_id, spec=spec, seed_rule=SEED_RULE)


def sampling_params(config: GenerateConfig, model: ModelDefaults) -> SamplingParams:
    """The sampling of a configuration: each option given, else the model's default, else the generic one
    (greedy, 1024 tokens); the seed is set per output."""
    d = model.spec.sampling if model.spec is not None else None
    sampling = SamplingParams(
        temperature=config.temperature if config.temperature is not None else (d.temperature if d else 0.0),
        top_p=config.top_p if config.top_p is not None else (d.top_p if d else 1.0),
        top_k=config.top_k if config.top_k is not None else (d.top_k if d else -1),
        max_tokens=config.max_tokens if config.max_tokens is not None else (d.max_tokens if d else 1024),
        stop=list(config.stop), n=config.n, seed=None,
    )
    if sampling.n > 1 and sampling.temperature == 0 and config.engine.name != "replay":
        # vLLM refuses it only after the model is loaded (and a server answers 400): say so before
        raise UsageError(f"--n {sampling.n} with temperature 0 would sample the same greedy answer {sampling.n} times",
                         hint="give --temperature > 0 (e.g. 0.8) for pass@k, or --n 1")
    return sampling


def resolve(config: GenerateConfig, cache: ProblemCache | None = None) -> Resolved:
    """Read the dataset, prompts and model defaults of a configuration (cheap: no engine is created).

    ``cache`` shares loaded datasets between the configurations of one invocation (several models on
    the same dataset read it once).
    """
    problems = _problems(config, cache)
    template = _template(config, problems)
    model = model_defaults(config)
    sampling = sampling_params(config, model)
    chat_default = model.spec.use_chat_template if model.spec is not None else True
    chat = config.chat_template if config.chat_template is not None else chat_default
    return Resolved(config=config, problems=problems, template=template, chat=chat, sampling=sampling, model=model,
                    problems_sha256=problems_digest(problems))


def problems_digest(problems: list[Problem]) -> str:
    """sha256 of the problems as hashed into the output key (code problems in their version 1 form,
    so a code configuration published before task types existed is found again: see stable_json)."""
    return sha256_bytes(b"".join(stable_json(p).encode() + b"\n" for p in problems))

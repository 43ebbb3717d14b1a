"""The model registry: named models, GPU-memory presets and model categories, read from YAML data.

``registry/models.yaml`` and ``registry/categories.yaml`` ship with the package. A model argument is a
registry name (``qwen2_5_coder_7b``), a local model directory, or any Hugging Face id (``org/name``);
:func:`resolve_model` turns each into a :class:`ModelSpec`. Importing this module does not import torch.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coderig_schemas import InvalidInputError, UsageError

from .config import PRESET_NAMES

Dtype = Literal["auto", "bfloat16", "float16", "float32"]

#: a Hugging Face id: 'org/name', letters, digits, '-', '_', '.'
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

TINY_RANDOM = "tiny-random"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingDefaults(_Frozen):
    """A model's default sampling parameters (command-line flags override each)."""

    temperature: float = Field(default=0.0, ge=0, description="Softmax temperature; 0 is greedy.")
    top_p: float = Field(default=1.0, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(default=-1, ge=-1, description="Top-k cut-off; -1 disables it.")
    max_tokens: int = Field(default=1024, gt=0, description="Maximum number of generated tokens.")


class ModelSpec(_Frozen):
    """Everything needed to load one model and prompt it the way it expects."""

    name: str = Field(description="Registry name, or the path / hub id the user gave.")
    hf_id: str = Field(description="Hugging Face id or local directory that is loaded.")
    revision: str | None = Field(default=None, description="Hub branch, tag or commit; null for local models.")
    source: Literal["registry", "local", "hub"] = Field(description="Where the name was resolved: registry entry, directory, hub id.")
    description: str = Field(default="", description="One line about the model.")
    dtype: Dtype = Field(default="auto", description="Weights and activation dtype.")
    max_model_len: int | None = Field(default=None, gt=0, description="Context length (prompt + answer); null: the model's own.")
    use_chat_template: bool = Field(default=True, description="Render prompts with the tokenizer's chat template.")
    thinking: bool | None = Field(default=None, description="Qwen3 enable_thinking chat-template switch; null: the model has none.")
    sampling: SamplingDefaults = Field(default_factory=SamplingDefaults, description="Default sampling parameters.")
    tensor_parallel_size: int = Field(default=1, ge=1, description="GPUs the weights are split over.")
    trust_remote_code: bool = Field(default=False, description="Run the hub repo's own model code.")
    build: Literal["tiny-random"] | None = Field(default=None, description="Built locally on first use instead of downloaded.")

    @property
    def is_local(self) -> bool:
        """True when hf_id is a directory on this machine."""
        return Path(self.hf_id).is_dir()

    def chat_template_kwargs(self) -> dict[str, Any]:
        """Extra variables for the chat template (Qwen3's enable_thinking when the model has the switch)."""
        return {} if self.thinking is None else {"enable_thinking": self.thinking}


class Preset(_Frozen):
    """A named share of GPU memory for vLLM."""

    description: str = Field(default="", description="When to use it.")
    gpu_memory_utilization: float = Field(gt=0, le=1, description="Share of GPU memory vLLM may take.")


class Category(_Frozen):
    """A named group of models with the datasets they are usually run on."""

    description: str = Field(default="", description="What the group is for.")
    models: list[str] = Field(min_length=1, description="Registry model names.")
    datasets: list[str] = Field(min_length=1, description="Dataset registry names.")


class _ModelsFile(_Frozen):
    models: dict[str, dict[str, Any]]
    presets: dict[str, Preset]

    @field_validator("presets")
    @classmethod
    def _known_names(cls, v: dict[str, Preset]) -> dict[str, Preset]:
        # --preset's choices are config.Preset: a registry gives some or all of them their share, and no other
        unknown = sorted(set(v) - set(PRESET_NAMES))
        if unknown:
            raise ValueError(f"unknown preset(s) {', '.join(unknown)}: presets are some of {', '.join(PRESET_NAMES)} (config.Preset)")
        return v


class _CategoriesFile(_Frozen):
    categories: dict[str, Category]


# ---------------------------------------------------------------- locations


def repo_root() -> Path | None:
    """The source checkout this package is installed from (editable installs), if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "schemas").is_dir() and (parent / "stages").is_dir():
            return parent
    return None


def cache_dir() -> Path:
    """coderig's cache: ``$CODERIG_CACHE``, else ``<repo>/.cache``, else ``~/.cache/coderig``."""
    env = os.environ.get("CODERIG_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    root = repo_root()
    return root / ".cache" if root is not None else Path.home() / ".cache" / "coderig"


def tiny_model_path() -> Path:
    """Where the tiny random-weight model is built (``<cache>/models/tiny-random``)."""
    return cache_dir() / "models" / TINY_RANDOM


# ---------------------------------------------------------------- YAML with line numbers


def _registry_text(filename: str, path: Path | None) -> tuple[str, str]:
    if path is not None:
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except OSError as e:
            raise InvalidInputError(f"{path}: cannot read: {e.strerror}") from e
    ref = resources.files("coderig_generate") / "registry" / filename
    return ref.read_text(encoding="utf-8"), str(ref)


def _compose(text: str, where: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML, keeping the node tree to point errors at their line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInputError(f"{where}{line}: invalid YAML: {getattr(e, 'problem', None) or e}") from e
    return data, node


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node reachable along loc (a pydantic error location)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _invalid(where: str, node: yaml.Node | None, error: ValidationError, prefix: tuple[Any, ...] = ()) -> InvalidInputError:
    first = error.errors()[0]
    loc = (*prefix, *first["loc"])
    line = _line_of(node, loc)
    field = ".".join(str(p) for p in loc)
    return InvalidInputError(f"{where}:{line}: {field}: {first['msg']}", hint="fix the registry file")


@cache
def _load_models(path: Path | None = None) -> tuple[dict[str, ModelSpec], dict[str, Preset]]:
    text, where = _registry_text("models.yaml", path)
    data, node = _compose(text, where)
    try:
        parsed = _ModelsFile.model_validate(data)
    except ValidationError as e:
        raise _invalid(where, node, e) from e
    specs: dict[str, ModelSpec] = {}
    for name, entry in parsed.models.items():
        try:
            specs[name] = ModelSpec.model_validate({"name": name, "source": "registry", **entry})
        except ValidationError as e:
            raise _invalid(where, node, e, prefix=("models", name)) from e
    return specs, dict(parsed.presets)


def load_models(path: Path | None = None) -> dict[str, ModelSpec]:
    """Every model of the registry (the packaged ``models.yaml``, or ``path``), by name."""
    return dict(_load_models(path)[0])


def load_presets(path: Path | None = None) -> dict[str, Preset]:
    """The GPU-memory presets (balanced, performance, memory_optimized), by name."""
    return dict(_load_models(path)[1])


def get_preset(name: str, path: Path | None = None) -> Preset:
    """One preset by name; an unknown name is an :class:`InvalidInputError` listing the known ones."""
    presets = load_presets(path)
    if name not in presets:
        raise InvalidInputError(f"unknown preset '{name}'", hint=f"use one of: {', '.join(sorted(presets))}")
    return presets[name]


@cache
def _load_categories(path: Path | None, models_path: Path | None) -> dict[str, Category]:
    text, where = _registry_text("categories.yaml", path)
    data, node = _compose(text, where)
    try:
        parsed = _CategoriesFile.model_validate(data)
    except ValidationError as e:
        raise _invalid(where, node, e) from e
    known = load_models(models_path)
    for cat_name, category in parsed.categories.items():
        for i, model in enumerate(category.models):
            if model not in known:
                line = _line_of(node, ("categories", cat_name, "models", i))
                raise InvalidInputError(
                    f"{where}:{line}: categories.{cat_name}.models: unknown model '{model}'",
                    hint="use a name from models.yaml",
                )
    return dict(parsed.categories)


def load_categories(path: Path | None = None, models_path: Path | None = None) -> dict[str, Category]:
    """The model categories (``categories.yaml``), each model checked against the model registry."""
    return dict(_load_categories(path, models_path))


# ---------------------------------------------------------------- resolution


def resolve_model(name: str, *, materialize: bool = True, registry: Path | None = None) -> ModelSpec:
    """Turn a model argument into a :class:`ModelSpec`.

    ``name`` is, in this order: a registry name; an existing local model directory; a Hugging Face id
    ``org/name`` (downloaded by the engine, with the registry's defaults). ``tiny-random`` points at
    the locally built model and, when ``materialize`` is true, builds it on first use (imports torch);
    ``materialize=False`` only names the path (for ``--dry-run``).
    """
    specs = load_models(registry)
    if name in specs:
        spec = specs[name]
        if spec.build == TINY_RANDOM:
            path = tiny_model_path()
            if materialize:
                from .tiny_model import ensure_tiny_model

                path = ensure_tiny_model(path)
            spec = spec.model_copy(update={"hf_id": str(path)})
        return spec
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InvalidInputError(f"{path}: not a model directory (no config.json)", hint="give a Hugging Face model folder")
        return ModelSpec(name=name, hf_id=str(path.resolve()), source="local", dtype="auto")
    if _HF_ID.match(name) and not name.startswith((".", "/")):
        return ModelSpec(name=name, hf_id=name, revision=None, source="hub", dtype="auto")
    # a name that is neither registered, a folder nor a hub id is a mistyped option, like an unknown dataset
    raise UsageError(
        f"unknown model '{name}'",
        hint=f"use a registry name ({', '.join(sorted(specs))}), a local model directory, or a Hugging Face id org/name",
    )

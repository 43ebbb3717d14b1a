"""The model registry (models.yaml, categories.yaml) and model resolution (the tiny model builder: tests/integration)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from coderig_generate import models
from coderig_generate.models import ModelSpec, get_preset, load_categories, load_models, load_presets, resolve_model
from coderig_schemas import InvalidInputError, UsageError


def fails(pattern: str):  # type: ignore[no-untyped-def]
    """pytest.raises(InvalidInputError) matching the one-line message as printed (message; hint)."""
    return pytest.RaisesExc(InvalidInputError, check=lambda e: re.search(pattern, e.one_line()) is not None)


REQUIRED = {
    "qwen3_8b": "Qwen/Qwen3-8B",
    "qwen3_14b": "Qwen/Qwen3-14B",
    "qwen3_32b": "Qwen/Qwen3-32B",
    "qwen2_5_coder_7b": "Qwen/Qwen2.5-Coder-7B-Instruct",
    "qwen2_5_coder_14b": "Qwen/Qwen2.5-Coder-14B-Instruct",
    "qwen2_5_1_5b_instruct": "Qwen/Qwen2.5-1.5B-Instruct",
    "qwen2_5_coder_0_5b": "Qwen/Qwen2.5-Coder-0.5B-Instruct",
    "qwen2_5_coder_1_5b": "Qwen/Qwen2.5-Coder-1.5B-Instruct",
}


def test_registry_has_every_required_model_with_its_hub_id() -> None:
    specs = load_models()
    for name, hf_id in REQUIRED.items():
        assert specs[name].hf_id == hf_id
        assert specs[name].source == "registry"
        assert specs[name].use_chat_template
    assert specs["tiny-random"].build == "tiny-random"


def test_qwen3_models_have_the_thinking_switch_and_coders_do_not() -> None:
    specs = load_models()
    for name in ("qwen3_8b", "qwen3_14b", "qwen3_32b"):
        assert specs[name].thinking is False
        assert specs[name].chat_template_kwargs() == {"enable_thinking": False}
    assert specs["qwen2_5_coder_7b"].thinking is None
    assert specs["qwen2_5_coder_7b"].chat_template_kwargs() == {}
    assert specs["qwen3_32b"].tensor_parallel_size == 2


def test_presets() -> None:
    assert {k: p.gpu_memory_utilization for k, p in load_presets().items()} == {
        "balanced": 0.85, "performance": 0.95, "memory_optimized": 0.75,
    }
    with fails("unknown preset 'fast'.*balanced"):
        get_preset("fast")


def test_coding_specialists_category() -> None:
    cats = load_categories()
    assert cats["coding_specialists"].models == ["qwen3_8b", "qwen3_14b", "qwen3_32b", "qwen2_5_coder_7b", "qwen2_5_coder_14b"]
    assert {"humaneval", "mbpp"} <= set(cats["coding_specialists"].datasets)
    known = set(load_models())
    for category in cats.values():
        assert set(category.models) <= known


def test_model_spec_is_frozen_and_strict() -> None:
    spec = load_models()["qwen3_8b"]
    with pytest.raises(Exception, match="frozen"):
        spec.dtype = "float32"  # type: ignore[misc]
    with pytest.raises(Exception, match="Extra inputs"):
        ModelSpec(name="x", hf_id="x", source="hub", colour="red")  # type: ignore[call-arg]


def test_resolve_registry_name_hub_id_and_local_dir(tmp_path: Path) -> None:
    assert resolve_model("qwen2_5_coder_7b").hf_id == "Qwen/Qwen2.5-Coder-7B-Instruct"
    hub = resolve_model("deepseek-ai/deepseek-coder-1.3b-instruct")
    assert (hub.source, hub.hf_id, hub.name, hub.revision) == ("hub", "deepseek-ai/deepseek-coder-1.3b-instruct", hub.hf_id, None)
    (tmp_path / "config.json").write_text("{}")
    local = resolve_model(str(tmp_path))
    assert (local.source, local.hf_id) == ("local", str(tmp_path.resolve()))


def test_resolve_unknown_and_not_a_model_dir(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown model 'gpt5'") as e:  # exit 2, as an unknown dataset
        resolve_model("gpt5")
    assert re.search("qwen3_8b.*Hugging Face id", e.value.one_line()) and e.value.exit_code == 2
    with fails("not a model directory"):
        resolve_model(str(tmp_path))


def test_tiny_random_without_materialize_only_names_the_cache_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODERIG_CACHE", str(tmp_path))
    spec = resolve_model("tiny-random", materialize=False)
    assert spec.hf_id == str(tmp_path / "models" / "tiny-random")
    assert not (tmp_path / "models").exists()


def _registry(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    return path


GOOD = """\
models:
  m1:
    hf_id: org/m1
    sampling: {temperature: 0.2, max_tokens: 64}
presets:
  balanced: {gpu_memory_utilization: 0.85}
"""


def test_custom_registry_file(tmp_path: Path) -> None:
    path = _registry(tmp_path, GOOD)
    spec = resolve_model("m1", registry=path)
    assert (spec.hf_id, spec.sampling.temperature, spec.sampling.max_tokens, spec.sampling.top_p) == ("org/m1", 0.2, 64, 1.0)


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _registry(tmp_path, "models:\n  m1:\n    hf_id: [unclosed\n")
    with fails(rf"{path}:\d+: invalid YAML"):
        load_models(path)


def test_invalid_field_names_file_line_and_field(tmp_path: Path) -> None:
    bad = GOOD.replace("temperature: 0.2", "temperature: -1")
    path = _registry(tmp_path, bad)
    with fails(rf"{path}:4: models.m1.sampling.temperature: .*greater than or equal to 0"):
        load_models(path)
    typo = GOOD.replace("    hf_id: org/m1\n", "    hf_id: org/m1\n    dtpye: float16\n")
    path = _registry(tmp_path, typo)
    with fails(rf"{path}:4: models.m1.dtpye: Extra inputs"):
        load_models(path)


def test_category_with_unknown_model_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "categories.yaml"
    path.write_text("categories:\n  c:\n    models:\n      - qwen3_8b\n      - qwen9_1t\n    datasets: [humaneval]\n")
    with fails(rf"{path}:5: categories.c.models: unknown model 'qwen9_1t'"):
        load_categories(path)


def test_importing_models_does_not_import_torch() -> None:
    code = "import sys, coderig_generate.models; print('torch' in sys.modules, 'vllm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_registry_files_ship_as_package_data() -> None:
    from importlib import resources

    registry = resources.files("coderig_generate") / "registry"
    assert (registry / "models.yaml").is_file() and (registry / "categories.yaml").is_file()
    pyproject = Path(models.__file__).parents[2] / "pyproject.toml"
    assert 'coderig_generate = ["registry/*.yaml"]' in pyproject.read_text()


def test_presets_have_one_home(tmp_path: Path) -> None:
    # --preset's names are config.Preset; their shares live only in the registry, and the config reads them there
    from coderig_generate.config import PRESET_NAMES, EngineConfig

    assert sorted(load_presets()) == sorted(PRESET_NAMES)
    for name, preset in load_presets().items():
        assert EngineConfig(preset=name).effective_gpu_memory_utilization() == preset.gpu_memory_utilization
    assert EngineConfig(preset="performance", gpu_memory_utilization=0.5).effective_gpu_memory_utilization() == 0.5
    path = _registry(tmp_path, GOOD.replace("  balanced:", "  turbo:"))
    with fails(rf"{path}:\d+: presets: .*unknown preset\(s\) turbo"):
        load_presets(path)

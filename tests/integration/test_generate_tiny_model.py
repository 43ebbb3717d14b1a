"""The tiny random-weight model builder (torch and transformers; the registry and resolution are tested in
tests/unit/test_generate_engine_models.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coderig_schemas.io import sha256_file

# torch and transformers come with vLLM (make setup): `-m "not vllm"` leaves these out where it is missing.
pytestmark = [pytest.mark.torch, pytest.mark.vllm, pytest.mark.slow]


def test_tiny_model_build_is_deterministic_and_atomic(tmp_path: Path) -> None:
    from coderig_generate.tiny_model import BUILD_INFO, build_tiny_model, ensure_tiny_model

    first = ensure_tiny_model(tmp_path / "a" / "tiny-random")
    second = build_tiny_model(tmp_path / "b")
    names = sorted(p.name for p in first.iterdir())
    assert {"config.json", "model.safetensors", "tokenizer.json", BUILD_INFO} <= set(names)
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert sha256_file(first / name) == sha256_file(second / name), name
    # nothing left from the temporary build directory; a second ensure is a no-op
    assert [p.name for p in first.parent.iterdir()] == ["tiny-random"]
    mtime = (first / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model(first) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == mtime


def test_tiny_model_of_an_older_recipe_is_rebuilt(tmp_path: Path) -> None:
    import json

    from coderig_generate.tiny_model import BUILD_INFO, RECIPE, ensure_tiny_model, is_built

    target = tmp_path / "tiny-random"
    target.mkdir()
    (target / BUILD_INFO).write_text(json.dumps({"recipe": RECIPE - 1}))
    (target / "model.safetensors").write_bytes(b"old")
    assert not is_built(target)
    assert ensure_tiny_model(target) == target and is_built(target)
    assert (target / "model.safetensors").read_bytes() != b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-random"]  # the stale copy and the build dir are gone


def test_tiny_model_shape_and_chat_template(tmp_path: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    from coderig_generate.tiny_model import build_tiny_model

    out = build_tiny_model(tmp_path / "m")
    config = AutoConfig.from_pretrained(out)
    assert (config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.num_hidden_layers) == (128, 4, 2, 2)
    assert config.max_position_embeddings == 8192
    assert config.hidden_size // config.num_attention_heads == 32
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert 1900 <= len(tokenizer) <= 2048
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "def f():"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\ndef f():<|im_end|>\n<|im_start|>assistant\n"
    no_think = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert no_think.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    ids = tokenizer("def add(a, b):\n    return a + b\n")["input_ids"]
    assert 3 <= len(ids) <= 20  # a trained BPE, not bytes

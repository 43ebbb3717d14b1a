"""Build ``tiny-random``: a tiny random-weight Qwen2 model, made locally so that CI and CPU runs need no download.

The model answers gibberish, but it goes through exactly the same path as a real one (tokenizer, chat
template, vLLM, sampling with seeds), about 2,500 tokens/s on two CPU cores. Its shape is the smallest
vLLM's CPU attention accepts (head_dim 32). The tokenizer is a byte-level BPE trained on the Python
standard library's sources, so code prompts tokenize to plausible lengths.

Building is deterministic (fixed seeds, sorted inputs, no timestamps): two builds on one machine give
byte-identical files. It is atomic: built in a temporary sibling directory, then renamed into place.
torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

VOCAB_SIZE = 2048
HIDDEN_SIZE = 128
INTERMEDIATE_SIZE = 256
NUM_LAYERS = 2
NUM_HEADS = 4  # head_dim = 128 / 4 = 32: vLLM's CPU attention rejects head_dim 16
NUM_KV_HEADS = 2
MAX_POSITIONS = 8192  # the longest benchmark prompt (an MBPP problem) is about 3,900 of its tokens
CORPUS_BYTES = 2_000_000  # enough text for 2,048 merges, small enough to train in a few seconds
SEED = 0

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

#: ChatML, as Qwen's instruct models use it; enable_thinking=false adds Qwen3's empty think block.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}{{ '<think>\\n\\n</think>\\n\\n' }}{%- endif -%}"
    "{%- endif -%}"
)

BUILD_INFO = "coderig_tiny_model.json"
#: bump when the recipe changes: a cached build of another recipe is rebuilt
RECIPE = 2


def corpus_files() -> list[Path]:
    """The training text: the standard library's top-level modules, sorted, up to CORPUS_BYTES."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files: list[Path] = []
    total = 0
    for path in sorted(stdlib.glob("*.py")):
        if total >= CORPUS_BYTES:
            break
        files.append(path)
        total += path.stat().st_size
    return files


def _train_tokenizer(texts: list[str]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITIONS,
    )


def build_tiny_model(out: Path) -> Path:
    """Build the model into ``out`` (a new or empty directory) and return it."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    files = corpus_files()
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    corpus_sha = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    tokenizer = _train_tokenizer(texts)

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_KV_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    torch.manual_seed(SEED)
    model: Any = Qwen2ForCausalLM(config)  # type: ignore[no-untyped-call]
    model = model.to(torch.float32).eval()

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    info = {
        "what": "tiny random-weight Qwen2 built by coderig_generate.tiny_model",
        "recipe": RECIPE,
        "max_positions": MAX_POSITIONS,
        "seed": SEED,
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN_SIZE,
        "num_layers": NUM_LAYERS,
        "num_heads": NUM_HEADS,
        "num_kv_heads": NUM_KV_HEADS,
        "corpus": "python stdlib top-level modules",
        "corpus_files": len(files),
        "corpus_sha256": corpus_sha,
    }
    (out / BUILD_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def is_built(target: Path) -> bool:
    """True when ``target`` holds a complete build of the current recipe."""
    try:
        return bool(json.loads((target / BUILD_INFO).read_text(encoding="utf-8")).get("recipe") == RECIPE)
    except (OSError, ValueError):
        return False


def ensure_tiny_model(target: Path) -> Path:
    """Return ``target``, building the model there first if it is not built (or built by an older recipe).

    The build happens in a temporary sibling directory that is renamed into place, so an interrupted
    build leaves nothing behind and a concurrent build by another process is harmless (the loser's copy
    is discarded: both are identical by construction). A stale build is moved aside, then deleted.
    """
    if is_built(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    stale = target.parent / f".{target.name}.stale-{os.getpid()}"
    try:
        build_tiny_model(tmp)
        if target.exists() and not is_built(target):
            os.rename(target, stale)
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_built(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)
    return target

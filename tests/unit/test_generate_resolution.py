"""What resolution adds to an output's key (coderig_generate.resolution): typed, and spelt as before, so
outputs published by earlier versions keep their keys."""

from __future__ import annotations

from pathlib import Path

from coderig_generate.config import GenerateConfig
from coderig_generate.engines.base import SEED_RULE
from coderig_generate.resolution import ModelDefaults, model_defaults, sampling_params
from coderig_schemas.io import sha256_file


def test_key_fields_are_present_only_where_they_apply(tmp_path: Path) -> None:
    assert ModelDefaults(model_id="reference").key_fields() == {}
    answers = tmp_path / "a.jsonl"
    answers.write_text('{"task_id": "HumanEval/0", "code": "x"}\n')
    replay = model_defaults(GenerateConfig(model="m", dataset="humaneval", engine={"name": "replay", "replay_file": str(answers)}))
    assert (replay.model_id, replay.key_fields()) == (None, {"replay_sha256": sha256_file(answers)})
    gone = model_defaults(GenerateConfig(model="m", dataset="humaneval", engine={"name": "replay", "replay_file": str(tmp_path / "no")}))
    assert gone.key_fields() == {"replay_sha256": None}  # a missing file is still part of the identity (the engine says it is missing)


def test_registry_and_server_only_models() -> None:
    tiny = model_defaults(GenerateConfig(model="tiny-random", dataset="gsm8k"))
    assert tiny.spec is not None and tiny.model_id == tiny.spec.hf_id
    fields = tiny.key_fields()
    assert fields["seed_rule"] == SEED_RULE and "hf_id" not in fields["model_spec"]
    hosted = model_defaults(GenerateConfig(model="some-hosted-model", dataset="gsm8k", engine={"name": "openai", "base_url": "http://x"}))
    assert (hosted.model_id, hosted.spec, hosted.key_fields()) == ("some-hosted-model", None, {"seed_rule": SEED_RULE})
    # without a registry entry, sampling starts from the generic defaults; options win
    s = sampling_params(GenerateConfig(model="some-hosted-model", dataset="gsm8k", engine={"name": "openai", "base_url": "http://x"},
                                       top_p=0.5), hosted)
    assert (s.temperature, s.top_p, s.top_k, s.max_tokens) == (0.0, 0.5, -1, 1024)

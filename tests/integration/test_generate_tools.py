"""Function calling through the real vLLM engine: a chat template that takes tools gets them.

Prompt-mode function calling and the tool conversion are tested in tests/unit/test_generate_tools.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coderig_generate.datasets import load_problems
from coderig_generate.prompts import load_prompts
from coderig_generate.tools import as_tools
from coderig_schemas import FunctionCallingGrading

pytestmark = pytest.mark.vllm


TOOLS_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\nTOOLS {{ tools | tojson }}<|im_end|>\n{%- endif %}"
    "{%- for message in messages -%}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


PROBE = """
import json, sys
from coderig_generate.config import GenerateConfig
from coderig_generate.engines.base import GenRequest
from coderig_generate.engines.vllm_engine import VLLMEngine
from coderig_generate.resolution import resolve
from coderig_generate.run import function_calling_tools
from coderig_generate.prompts import render
r = resolve(GenerateConfig(model=sys.argv[1], dataset="bfcl_parallel", limit=1))
engine = VLLMEngine(r.config)
messages = {p.problem_id: render(r.template, p, chat=r.chat) for p in r.problems}
tools = function_calling_tools(r, engine, messages)
p = r.problems[0]
[text], _ = engine.render([GenRequest(request_id=p.problem_id, messages=messages[p.problem_id], tools=tools.get(p.problem_id))])
print(json.dumps({"takes": engine.takes_tools(), "tools": tools.get(p.problem_id), "system": messages[p.problem_id][0].content,
                  "text": text}))
engine.close()
"""


def test_a_template_that_takes_tools_gets_them(tiny_model_dir: Path, engine_env: dict[str, str], shared_data: Path,
                                               tmp_path: Path) -> None:
    # The real engine on a copy of tiny-random whose chat template renders tools (as Qwen's does). In a
    # subprocess: vLLM keeps the template it loaded, and one test process holds one engine at a time.
    model = tmp_path / "tiny-tools"
    shutil.copytree(tiny_model_dir, model)
    (model / "chat_template.jinja").write_text(TOOLS_TEMPLATE)
    env = {**engine_env, "CODERIG_DATA_DIR": str(shared_data)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(model)], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    p = load_problems("bfcl_parallel", source=shared_data / "bfcl" / "BFCL_v4_parallel.json")[0]
    assert isinstance(p.grading, FunctionCallingGrading)
    assert got["takes"] and got["tools"] == as_tools(p.grading.functions)
    assert got["system"] == load_prompts().for_dataset("bfcl_parallel").tools_system
    assert got["text"].startswith("<|im_start|>system\nTOOLS [") and '"type": "object"' in got["text"]
    assert got["text"].endswith("<|im_start|>assistant\n")

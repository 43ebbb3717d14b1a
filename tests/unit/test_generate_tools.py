"""Function calling in generate: BFCL functions as chat-template tools, or written into the prompt."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coderig_generate.config import GenerateConfig
from coderig_generate.datasets import load_problems
from coderig_generate.engines.replay import ReplayEngine
from coderig_generate.prompts import load_prompts, render, with_system_prompt
from coderig_generate.run import function_calling_tools, resolve
from coderig_generate.tools import as_tools, template_takes_tools
from coderig_schemas import FunctionCallingGrading

GORILLA = {
    "name": "geo.distance", "description": "Distance between two points.",
    "parameters": {"type": "dict", "required": ["a", "b"], "properties": {
        "a": {"type": "tuple", "items": {"type": "float"}, "description": "first point"},
        "b": {"type": "dict", "properties": {"x": {"type": "float"}, "y": {"type": "any"}}},
        "unit": {"type": "string", "enum": ["km", "mi"], "default": "km"},
        "hops": {"type": "array", "items": {"type": "integer"}},
    }},
}


def test_gorilla_types_become_json_schema_types() -> None:
    original = copy.deepcopy(GORILLA)
    [tool] = as_tools([GORILLA])
    assert original == GORILLA  # the problem's functions are never modified
    assert tool["type"] == "function" and tool["function"]["name"] == "geo.distance"
    params = tool["function"]["parameters"]
    assert params["type"] == "object" and params["required"] == ["a", "b"]
    props = params["properties"]
    assert (props["a"]["type"], props["a"]["items"]["type"]) == ("array", "number")
    assert (props["b"]["type"], props["b"]["properties"]["x"]["type"], props["b"]["properties"]["y"]["type"]) == (
        "object", "number", "string")
    assert props["unit"] == {"type": "string", "enum": ["km", "mi"], "default": "km"}
    assert props["hops"]["items"]["type"] == "integer"


def test_which_templates_take_tools() -> None:
    assert template_takes_tools("{%- if tools %}{{ tools | tojson }}{% endif %}")
    assert not template_takes_tools("{% for m in messages %}{{ m.content }}{% endfor %}")
    assert not template_takes_tools(None)


@pytest.fixture(scope="module")
def bfcl(shared_data: Path) -> Any:
    return load_problems("bfcl_parallel", source=shared_data / "bfcl" / "BFCL_v4_parallel.json")[:2]


def test_prompt_mode_writes_the_functions_into_the_system_message(bfcl: Any) -> None:
    t = load_prompts().for_dataset("bfcl_parallel")
    system, user = render(t, bfcl[0])
    assert isinstance(bfcl[0].grading, FunctionCallingGrading)
    assert json.loads(system.content.split("Functions (JSON):\n", 1)[1]) == bfcl[0].grading.functions
    assert user.content == bfcl[0].prompt
    tools_system, _ = render(t, bfcl[0], tools=True)
    assert "Functions (JSON)" not in tools_system.content and tools_system.content == t.tools_system
    # --system-prompt replaces both system messages
    own = with_system_prompt(t, "Call {tools}.")
    assert render(own, bfcl[0])[0].content == render(own, bfcl[0], tools=True)[0].content == "Call {tools}."


def test_engines_without_tools_keep_the_prompt_mode(bfcl: Any, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    r = resolve(GenerateConfig(model="reference", dataset="bfcl_parallel", limit=2, engine={"name": "replay"}))
    messages = {p.problem_id: render(r.template, p) for p in r.problems}
    before = copy.deepcopy(messages)
    assert function_calling_tools(r, ReplayEngine(r.config, r.problems), messages) == {}
    assert messages == before


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
from coderig_generate.run import function_calling_tools, resolve
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


@pytest.mark.vllm
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

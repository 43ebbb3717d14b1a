"""Function calling in generate: BFCL functions as chat-template tools, or written into the prompt."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from coderig_generate.config import GenerateConfig
from coderig_generate.datasets import load_problems
from coderig_generate.engines.replay import ReplayEngine
from coderig_generate.prompts import load_prompts, render, with_system_prompt
from coderig_generate.resolution import resolve
from coderig_generate.run import function_calling_tools
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

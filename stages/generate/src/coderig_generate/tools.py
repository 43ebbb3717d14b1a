"""Function calling: the offered functions as chat-template ``tools``, and when a template can take them.

BFCL writes parameter types in Gorilla's names (``dict``, ``float``, ``tuple``, ``any``). A chat template's
``tools`` argument (and the OpenAI API) expects JSON Schema / OpenAPI types, so the functions are converted
the way BFCL converts them for function-calling models (its ``GORILLA_TO_OPENAPI``): dict -> object,
float -> number, tuple -> array, any -> string, recursively through ``properties`` and ``items``. Pure
functions: the problem's own ``grading.functions`` is never modified.
"""

from __future__ import annotations

import copy
from typing import Any

#: Gorilla type name -> JSON Schema type (others, e.g. string, integer, boolean, array, are the same).
GORILLA_TO_JSON_SCHEMA = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}


def _convert(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_convert(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = GORILLA_TO_JSON_SCHEMA.get(value, value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _convert(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf"):
            out[key] = _convert(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def as_tools(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The functions in the OpenAI ``tools`` form: ``[{"type": "function", "function": {name, description, parameters}}]``."""
    tools = []
    for fn in functions:
        body = {k: copy.deepcopy(v) for k, v in fn.items() if k != "parameters"}
        if "parameters" in fn:
            body["parameters"] = _convert(fn["parameters"])
        tools.append({"type": "function", "function": body})
    return tools


def template_takes_tools(chat_template: str | None) -> bool:
    """Whether a (Jinja) chat template renders a ``tools`` argument (Qwen2.5/Qwen3, Llama 3.1+... do).

    A template that never mentions ``tools`` would silently drop them: the model would be asked to call
    functions it was never shown, so such models get the functions in the prompt instead.
    """
    return bool(chat_template) and "tools" in str(chat_template)

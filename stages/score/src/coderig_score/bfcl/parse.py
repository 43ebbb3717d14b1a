"""Reading the function calls out of a model's answer, without executing any of it.

Accepted forms (the whole answer, surrounding whitespace aside, must be one of them; prose around a call
makes it unreadable, as in BFCL, whose decoder wraps the text in ``[...]`` and parses it as Python):

- JSON: ``{"name": ..., "arguments": {...}}``, a list of those, OpenAI-style ``{"tool_calls": [{"type":
  "function", "function": {"name": ..., "arguments": "<JSON text>"}}]}`` (or the bare list of such items),
  ``"parameters"`` accepted for ``"arguments"``;
- Hermes/Qwen tool-call blocks: one or more ``<tool_call>{JSON}</tool_call>``; BFCL's ``<TOOLCALL>...</TOOLCALL>``;
- Python call syntax: ``f(a=1)``, ``pkg.f(a=1)``, ``[f(a=1), g(b="x")]``, parsed with :mod:`ast`.

A leading ``<think>...</think>`` block and one enclosing markdown code fence are removed first. Python
argument values are read from the syntax tree only: literals (``ast.literal_eval`` of the node), names and
dotted names as their text (BFCL's reading of a variable), arithmetic on number literals computed by a small
interpreter with size limits, and nested calls as their source text. ``eval`` is never used (BFCL evaluates
``BinOp`` and ``lambda`` nodes with ``eval``); positional arguments are refused (BFCL silently drops them).
"""

from __future__ import annotations

import ast
import json
import operator
import re
from dataclasses import dataclass, field
from typing import Any


class CallParseError(ValueError):
    """The answer holds no readable function call; the message says why (it becomes the verdict's detail)."""


@dataclass(frozen=True)
class Call:
    """One function call: its name and keyword arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


_THINK = re.compile(r"\A\s*<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"\A```[A-Za-z_]*[ \t]*\n?(.*?)\n?```\Z", re.DOTALL)
_HERMES = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_BFCL_TAG = re.compile(r"\A<TOOLCALL>(.*)</TOOLCALL>\Z", re.DOTALL)
JSON = "json"
PYTHON_CALL = "python_call"
MAX_INT_DIGITS = 100
MAX_EXPONENT = 100


def parse_calls(answer: str) -> list[Call]:
    """All calls in ``answer``, in order. Raises :class:`CallParseError` when it is not a call."""
    return parse_answer(answer)[0]


def parse_answer(answer: str) -> tuple[list[Call], str]:
    """All calls in ``answer`` and how they were written: ``"json"`` or ``"python_call"``.

    Raises :class:`CallParseError` when the answer is not a call.
    """
    text = _THINK.sub("", answer, count=1).strip()
    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1).strip()
    if not text:
        raise CallParseError("empty answer: no function call")
    if "<tool_call>" in text:
        blocks = _HERMES.findall(text)
        rest = _HERMES.sub("", text).strip()
        if not blocks or rest:
            raise CallParseError("text outside the <tool_call>...</tool_call> blocks" if blocks
                                 else "unclosed <tool_call> block")
        calls: list[Call] = []
        for block in blocks:
            calls.extend(_from_json_text(block.strip()))
        return calls, JSON
    tagged = _BFCL_TAG.match(text)
    if tagged:
        text = tagged.group(1).strip()
    if text[:1] in "{[":
        try:
            data = json.loads(text)
        except ValueError:
            data = None  # e.g. "[f(a=1)]": Python syntax below
        else:
            return _from_json(data), JSON
    return _from_python(text), PYTHON_CALL


def _from_json_text(text: str) -> list[Call]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CallParseError(f"tool call is not valid JSON: {exc}") from None
    return _from_json(data)


def _from_json(data: Any) -> list[Call]:
    if isinstance(data, dict) and "tool_calls" in data:
        data = data["tool_calls"]
    items = data if isinstance(data, list) else [data]
    if not items:
        raise CallParseError("empty list: no function call")
    return [_json_call(item) for item in items]


def _json_call(item: Any) -> Call:
    if not isinstance(item, dict):
        raise CallParseError(f"JSON item is not a call object: {str(item)[:80]!r}")
    if isinstance(item.get("function"), dict):  # OpenAI tool_calls item
        item = item["function"]
    name = item.get("name")
    if name is None and isinstance(item.get("function"), str):  # BFCL's JSON prompt format
        name = item["function"]
    if not isinstance(name, str) or not name:
        raise CallParseError("JSON call without a 'name'")
    args = item.get("arguments", item.get("parameters", {}))
    if isinstance(args, str):  # OpenAI sends the arguments as JSON text
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            raise CallParseError(f"{name}: arguments are not valid JSON: {exc}") from None
    if not isinstance(args, dict):
        raise CallParseError(f"{name}: arguments must be an object, got {type(args).__name__}")
    return Call(name, dict(args))


def _from_python(text: str) -> list[Call]:
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise CallParseError("not a function call: neither JSON nor Python call syntax") from None
    body = tree.body
    if isinstance(body, ast.Call):
        nodes: list[ast.expr] = [body]
    elif isinstance(body, (ast.List, ast.Tuple)) and body.elts:
        nodes = list(body.elts)
    else:
        raise CallParseError(f"not a function call: a Python {type(body).__name__} expression")
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            raise CallParseError(f"list item is not a call: {_source(node)!r}")
        calls.append(_python_call(node))
    return calls


def _python_call(node: ast.Call) -> Call:
    name = _dotted(node.func)
    if name is None:
        raise CallParseError(f"cannot read the function name of {_source(node)!r}")
    if node.args:
        raise CallParseError(f"{name}: positional arguments; BFCL calls take keyword arguments only")
    args: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise CallParseError(f"{name}: **kwargs is not a literal argument")
        if kw.arg in args:
            raise CallParseError(f"{name}: argument {kw.arg!r} given twice")
        args[kw.arg] = _value(kw.value)
    return Call(name, args)


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def _value(node: ast.expr) -> Any:
    """The Python value an argument node denotes, read without executing anything."""
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return "..."
    if isinstance(node, ast.Constant):
        return _checked(ast.literal_eval(node))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand)
        if not isinstance(operand, (int, float)) or isinstance(operand, bool):
            raise CallParseError(f"sign on a non-number: {_source(node)!r}")
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(e) for e in node.elts)
    if isinstance(node, ast.Set):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise CallParseError("**mapping inside a dict argument is not a literal")
        keys = [_value(k) for k in node.keys if k is not None]
        if not all(isinstance(k, (str, int, float, bool)) or k is None for k in keys):
            raise CallParseError("dict argument with a non-literal key")
        return dict(zip(keys, (_value(v) for v in node.values), strict=True))
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        return _arith(node)
    if isinstance(node, (ast.Name, ast.Attribute)):
        dotted = _dotted(node)
        if dotted is not None:
            return dotted  # BFCL reads a variable as its name (the checker's "is_variable" case)
    if isinstance(node, ast.Call):
        return _source(node)  # a nested call is kept as text, never called
    raise CallParseError(f"argument {_source(node)!r} is not a literal value")


def _checked(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
        raise CallParseError("integer argument too large")
    if isinstance(value, complex):
        raise CallParseError("complex numbers are not a BFCL type")
    return value


def _arith(node: ast.BinOp) -> int | float:
    left, right = _value(node.left), _value(node.right)
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (left, right)):
        raise CallParseError(f"arithmetic on non-numbers: {_source(node)!r}")
    if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT or abs(left) > 10**6):
        raise CallParseError(f"power too large: {_source(node)!r}")
    try:
        result = _ARITH[type(node.op)](left, right)
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        raise CallParseError(f"{_source(node)!r}: {exc}") from None
    if isinstance(result, complex):
        raise CallParseError(f"{_source(node)!r} is not a real number")
    return _checked(result)  # type: ignore[no-any-return]


def _source(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:200]
    except (ValueError, RecursionError):
        return type(node).__name__


def render_call(call: Call) -> str:
    """Python call syntax for ``call`` (keyword arguments, literal values), parseable by :func:`parse_calls`."""
    return f"{call.name}(" + ", ".join(f"{k}={v!r}" for k, v in call.arguments.items()) + ")"


def render_calls(calls: list[Call]) -> str:
    """One call as ``f(...)``, several as the list ``[f(...), g(...)]`` (BFCL's prompt format)."""
    if len(calls) == 1:
        return render_call(calls[0])
    return "[" + ", ".join(render_call(c) for c in calls) + "]"

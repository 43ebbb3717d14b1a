"""BFCL's AST rules: do the calls a model made match the possible answers?

The rules are those of ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (gorilla, Python language),
written anew: for each call, the function name; every ``required`` parameter present; no parameter outside
both the schema and the possible answer; the declared type, strictly (``int`` accepted for ``float``, a
tuple for a list; ``True`` is not an integer), array items checked one level deep; a value of the possible
answer's type instead of the declared one is a "variable" and compared as such; strings compared after
BFCL's standardization (spaces and ``, . / - _ * ^`` removed, lower case, ``'`` read as ``"``); lists element
by element in order; dicts key by key; other values with ``==``; a possible-answer parameter left out only
when ``""`` is among its values. Categories: ``simple`` and ``multiple`` expect exactly one call (checked
against the expected function), ``parallel`` and ``parallel_multiple`` as many calls as expected, matched
in any order (each expected call takes the first unmatched call that passes, as BFCL does).

The result has one :class:`CallCheck` per expected call; the answer passes when all pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from .parse import Call, CallParseError, parse_answer

Category = Literal["simple", "multiple", "parallel", "parallel_multiple"]
CATEGORIES: tuple[str, ...] = ("simple", "multiple", "parallel", "parallel_multiple")

PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}
NESTED_TYPES = ("array", "tuple")


@dataclass(frozen=True)
class CallCheck:
    """The verdict for one expected call: passed, or why not (BFCL's error type and a message)."""

    expected: str
    passed: bool
    error_type: str = ""
    detail: str = ""


@dataclass(frozen=True)
class CallsVerdict:
    """All checks of one answer; ``parse_error`` is set when no call could be read from it."""

    checks: tuple[CallCheck, ...]
    calls: tuple[Call, ...] = ()
    parse_error: str | None = None
    method: str | None = None  # how the calls were written: "json" or "python_call" (None: unreadable)

    @property
    def passed(self) -> bool:
        """The answer passes when every expected call was matched."""
        return bool(self.checks) and all(c.passed for c in self.checks)


class _Fail(Exception):
    def __init__(self, error_type: str, detail: str) -> None:
        super().__init__(detail)
        self.error_type = error_type
        self.detail = detail


def standardize(text: str) -> str:
    """BFCL's string standardization: drop spaces and ``,./-_*^``, lower-case, single quotes to double."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _answer_type(possible: Sequence[Any]) -> type | None:
    for answer in possible:
        if answer != "":
            return type(answer)
    return None


def _type_ok(param: str, value: Any, possible: Sequence[Any], declared: str, expected: type,
             nested: type | None) -> bool:
    """BFCL's type_checker. Returns is_variable; raises _Fail on a type error."""
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return is_variable
        for item in possible:
            # Each item of the value must have the inner type of one possible answer (one level deep);
            # a possible answer that is not a list (the "" of an optional parameter) constrains nothing.
            items = cast(list[Any], value)  # expected is list here (array and tuple are the nested types)
            if type(item) is not list or all(_inner_ok(v, item, nested) for v in items):
                return is_variable
        raise _Fail("type_error:nested",
                    f"{param!r}: expected {declared} of {nested.__name__}, got {value!r}")
    if answer_type is not None and type(value) is answer_type:
        return True
    raise _Fail("type_error:simple", f"{param!r}: expected type {declared}, got {type(value).__name__} ({value!r})")


def _inner_ok(value: Any, possible: Sequence[Any], expected: type) -> bool:
    try:
        _type_ok("", value, possible, expected.__name__, expected, None)
    except _Fail:
        return False
    return True


def _std(value: Any) -> Any:
    return standardize(value) if type(value) is str else value


def _check_string(param: str, value: str, possible: Sequence[Any]) -> None:
    if standardize(value) not in [standardize(p) for p in possible if type(p) is str]:
        raise _Fail("value_error:string", f"{param!r}: {value!r} is not one of {list(possible)!r} (case-insensitive)")


def _check_list(param: str, value: list[Any], possible: Sequence[Any]) -> None:
    mine = [_std(v) for v in value]
    # "" (an optional parameter's marker) becomes [], so an empty list matches it: BFCL's behaviour, kept.
    options = [[_std(x) for x in p] for p in possible if isinstance(p, (list, str))]
    if mine not in options:
        raise _Fail("value_error:list/tuple", f"{param!r}: {value!r} is not one of {list(possible)!r}")


def _dict_matches(value: Mapping[str, Any], answer: Any) -> str | None:
    if not isinstance(answer, dict):
        return f"possible value {answer!r} is not a dict"
    for key, item in value.items():
        if key not in answer:
            return f"unexpected dict key {key!r}"
        options = answer[key] if isinstance(answer[key], list) else [answer[key]]
        if _std(item) not in [_std(p) for p in options]:
            return f"dict value {key!r}: {item!r} is not one of {answer[key]!r}"
    for key, accepted in answer.items():
        if key not in value and "" not in (accepted if isinstance(accepted, list) else [accepted]):
            return f"missing dict key {key!r}"
    return None


def _check_dict(param: str, value: Mapping[str, Any], possible: Sequence[Any]) -> None:
    reason = "no possible value"
    for answer in possible:
        if answer == "":
            continue
        found = _dict_matches(value, answer)
        if found is None:
            return
        reason = found
    raise _Fail("value_error:dict", f"{param!r}: {reason}")


def _check_list_of_dicts(param: str, value: list[Any], possible: Sequence[Any]) -> None:
    reason = "no possible value"
    for answer in possible:
        if not isinstance(answer, (list, str)) or len(value) != len(answer):  # "" matches [], as in BFCL
            reason = "wrong number of dicts in the list"
            continue
        found = next((r for v, a in zip(value, answer, strict=True)
                      if (r := _dict_matches(v, a) if isinstance(v, dict) else "not a dict") is not None), None)
        if found is None:
            return
        reason = found
    raise _Fail("value_error:list_dict", f"{param!r}: {reason}")


def check_call(function: Mapping[str, Any], call: Call, expected: Mapping[str, Sequence[Any]]) -> None:
    """BFCL's simple_function_checker for one call. Raises _Fail with the first broken rule."""
    name = function["name"]
    schema = function.get("parameters") or {}
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if call.name != name:
        raise _Fail("wrong_func_name", f"expected a call to {name!r}, got {call.name!r}")
    for param in schema.get("required") or []:
        if param not in call.arguments:
            raise _Fail("missing_required", f"missing required parameter {param!r}")
    for param, value in call.arguments.items():
        if param not in properties or param not in expected:
            raise _Fail("unexpected_param", f"unexpected parameter {param!r}")
        declared = properties[param].get("type")
        if declared not in PYTHON_TYPES:
            raise _Fail("type_error:schema", f"{param!r}: the schema's type {declared!r} is not a BFCL type")
        expected_type = PYTHON_TYPES[declared]
        nested = None
        if declared in NESTED_TYPES:
            inner = (properties[param].get("items") or {}).get("type")
            nested = PYTHON_TYPES.get(inner) if isinstance(inner, str) else None
        if declared == "tuple" and type(value) is tuple:
            value = list(value)
        if declared == "float" and type(value) is int:
            value = float(value)  # Python promotes int to float; so does BFCL
        possible = expected[param]
        is_variable = _type_ok(param, value, possible, declared, expected_type, nested)
        if not is_variable:
            if expected_type is dict:
                _check_dict(param, value, possible)
                continue
            if expected_type is list and nested is dict:
                _check_list_of_dicts(param, value, possible)
                continue
            if expected_type is str:
                _check_string(param, value, possible)
                continue
            if expected_type is list:
                _check_list(param, value, possible)
                continue
        if value not in possible:
            raise _Fail("value_error:others", f"{param!r}: {value!r} is not one of {list(possible)!r}")
    for param, options in expected.items():
        if param not in call.arguments and "" not in options:
            raise _Fail("missing_optional", f"parameter {param!r} left out but not optional")


def _find(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    for function in functions:
        if function.get("name") == name:
            return function
    raise ValueError(f"the possible answer names {name!r}, which is not among the question's functions")


def _split(ground_truth: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]]) -> list[tuple[str, Mapping[str, Sequence[Any]]]]:
    out = []
    for entry in ground_truth:
        if len(entry) != 1:
            raise ValueError(f"a possible-answer entry must name one function, got {sorted(entry)}")
        (name, params), = entry.items()
        out.append((name, params))
    return out


def check_calls(calls: Sequence[Call], functions: Sequence[Mapping[str, Any]],
                ground_truth: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]], category: Category) -> CallsVerdict:
    """Check parsed calls against a question's functions and possible answers (one check per expected call).

    Raises ValueError when the question itself is inconsistent (a possible answer naming an unknown function).
    """
    expected = _split(ground_truth)
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; expected one of {CATEGORIES}")
    parallel = category.startswith("parallel")  # BFCL: any category named parallel matches in any order
    if not parallel and len(expected) != 1:
        raise ValueError(f"a {category} question expects one call, its possible answer has {len(expected)}")
    if len(calls) != len(expected):
        detail = f"{len(calls)} call(s) made, {len(expected)} expected"
        return CallsVerdict(tuple(CallCheck(name, False, "wrong_count", detail) for name, _ in expected), tuple(calls))
    checks = []
    used: set[int] = set()
    for name, params in expected:
        function = _find(functions, name)
        failure: _Fail | None = _Fail("cannot_find_match", "no call left to match")
        for index, call in enumerate(calls):
            if index in used:
                continue
            try:
                check_call(function, call, params)
            except _Fail as fail:
                if failure is None or failure.error_type == "cannot_find_match":
                    failure = fail
                continue
            used.add(index)
            failure = None
            break
        if failure is None:
            checks.append(CallCheck(name, True))
        else:
            checks.append(CallCheck(name, False, failure.error_type, failure.detail))
    return CallsVerdict(tuple(checks), tuple(calls))


def check_answer(answer: str, functions: Sequence[Mapping[str, Any]],
                 ground_truth: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]], category: Category) -> CallsVerdict:
    """Parse a model's answer and check its calls; an unreadable answer fails every expected call."""
    try:
        calls, method = parse_answer(answer)
    except CallParseError as exc:
        names = [name for name, _ in _split(ground_truth)]
        return CallsVerdict(tuple(CallCheck(n, False, "parse_error", str(exc)) for n in names), (), str(exc))
    verdict = check_calls(calls, functions, ground_truth, category)
    return CallsVerdict(verdict.checks, verdict.calls, None, method)

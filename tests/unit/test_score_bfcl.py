"""BFCL checking: every AST rule with a passing and a failing call, the answer forms, malformed answers, and
that nothing in an answer is ever executed."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest

from coderig_score import bfcl
from coderig_score.bfcl import parse as bfcl_parse

AREA = {
    "name": "geo.area",
    "description": "Area of a shape.",
    "parameters": {
        "type": "dict",
        "properties": {
            "radius": {"type": "float"},
            "unit": {"type": "string"},
            "precise": {"type": "boolean"},
            "count": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "pts": {"type": "tuple", "items": {"type": "integer"}},
            "opts": {"type": "dict"},
            "rows": {"type": "array", "items": {"type": "dict"}},
            "shape": {"type": "string"},
            "note": {"type": "any"},
        },
        "required": ["radius"],
    },
}
AREA_TRUTH: dict[str, list[Any]] = {
    "radius": [5.0],
    "unit": ["cm", "centimeters", ""],
    "precise": [True, ""],
    "count": [2, ""],
    "tags": [["red", "big"], ""],
    "pts": [[1, 2], ""],
    "opts": [{"mode": ["fast"], "level": [1, ""]}, ""],
    "rows": [[{"k": ["a"]}, {"k": ["b"]}], ""],
    "shape": ["circle", ""],
}
VOLUME = {"name": "geo.volume", "parameters": {"type": "dict", "properties": {"side": {"type": "integer"}},
                                              "required": ["side"]}}


def simple(answer: str, truth: dict[str, list[Any]] | None = None) -> bfcl.CallsVerdict:
    return bfcl.check_answer(answer, [AREA], [{"geo.area": truth or AREA_TRUTH}], "simple")


def passes(answer: str) -> bool:
    return simple(answer).passed


def failure(answer: str) -> str:
    verdict = simple(answer)
    assert not verdict.passed
    return verdict.checks[0].error_type


# ---- the AST rules, each with a passing and a failing call -----------------------------------------------

def test_function_name() -> None:
    assert passes("geo.area(radius=5.0)")
    assert failure("geo.volume(radius=5.0)") == "wrong_func_name"


def test_required_parameters_present() -> None:
    assert passes("geo.area(radius=5.0, unit='cm')")
    assert failure("geo.area(unit='cm')") == "missing_required"


def test_no_unknown_parameters() -> None:
    assert passes("geo.area(radius=5.0, count=2)")
    assert failure("geo.area(radius=5.0, color='red')") == "unexpected_param"
    # in the schema but not in the possible answer: unexpected too
    assert failure("geo.area(radius=5.0, note='x')") == "unexpected_param"


def test_int_accepted_for_float() -> None:
    assert passes("geo.area(radius=5)")
    assert failure("geo.area(radius='5')") == "type_error:simple"


def test_strict_types() -> None:
    assert passes("geo.area(radius=5.0, count=2, precise=True)")
    assert failure("geo.area(radius=5.0, count=True)") == "type_error:simple"   # a bool is not an integer
    assert failure("geo.area(radius=5.0, count=2.0)") == "type_error:simple"    # no float for an integer
    assert failure("geo.area(radius=5.0, precise=1)") == "type_error:simple"    # no 1 for true
    assert failure("geo.area(radius=5.0, unit=5)") == "type_error:simple"


def test_array_items_are_typed_one_level_deep() -> None:
    truth = {**AREA_TRUTH, "tags": [["red", "big"]]}
    assert simple("geo.area(radius=5.0, tags=['red', 'big'])", truth).passed
    assert simple("geo.area(radius=5.0, tags=['red', 7])", truth).checks[0].error_type == "type_error:nested"
    # BFCL's quirk, kept: a "" among the possible values satisfies the item check, so the value check fails
    assert failure("geo.area(radius=5.0, tags=['red', 7])") == "value_error:list/tuple"


def test_tuple_accepts_a_tuple_or_a_list() -> None:
    assert passes("geo.area(radius=5.0, pts=(1, 2))")
    assert passes("geo.area(radius=5.0, pts=[1, 2])")
    assert failure("geo.area(radius=5.0, pts=(2, 1))") == "value_error:list/tuple"


def test_strings_compared_after_standardization() -> None:
    assert passes("geo.area(radius=5.0, unit='CM')")
    assert passes("geo.area(radius=5.0, unit=' c-m.')")
    assert passes("geo.area(radius=5.0, unit='Centi_meters')")
    assert failure("geo.area(radius=5.0, unit='mm')") == "value_error:string"
    assert bfcl.standardize("April 1, 2024") == bfcl.standardize("april 1 2024") == "april12024"
    assert bfcl.standardize("it's") == 'it"s'


def test_lists_compared_in_order_with_standardized_strings() -> None:
    assert passes("geo.area(radius=5.0, tags=['Red', 'BIG'])")
    assert failure("geo.area(radius=5.0, tags=['big', 'red'])") == "value_error:list/tuple"


def test_possible_values_and_empty_string_means_may_be_omitted() -> None:
    assert passes("geo.area(radius=5.0, unit='centimeters')")          # the second possible value
    assert passes("geo.area(radius=5.0)")                              # every optional one left out
    truth = {**AREA_TRUTH, "shape": ["circle"]}                        # shape: no "" among its values
    assert simple("geo.area(radius=5.0, shape='circle')", truth).passed
    verdict = simple("geo.area(radius=5.0)", truth)
    assert not verdict.passed and verdict.checks[0].error_type == "missing_optional"


def test_other_values_compared_with_equality() -> None:
    assert passes("geo.area(radius=5.0, count=2)")
    assert failure("geo.area(radius=5.5)") == "value_error:others"
    assert failure("geo.area(radius=5.0, count=3)") == "value_error:others"


def test_dicts_key_by_key() -> None:
    assert passes("geo.area(radius=5.0, opts={'mode': 'FAST'})")                 # level may be left out
    assert passes("geo.area(radius=5.0, opts={'mode': 'fast', 'level': 1})")
    assert failure("geo.area(radius=5.0, opts={'mode': 'slow'})") == "value_error:dict"
    assert failure("geo.area(radius=5.0, opts={'mode': 'fast', 'extra': 1})") == "value_error:dict"
    assert failure("geo.area(radius=5.0, opts={'level': 1})") == "value_error:dict"  # mode missing


def test_lists_of_dicts_same_length_and_order() -> None:
    assert passes("geo.area(radius=5.0, rows=[{'k': 'a'}, {'k': 'B'}])")
    assert failure("geo.area(radius=5.0, rows=[{'k': 'b'}, {'k': 'a'}])") == "value_error:list_dict"
    assert failure("geo.area(radius=5.0, rows=[{'k': 'a'}])") == "value_error:list_dict"


PAR_TRUTH = [{"geo.volume": {"side": [1]}}, {"geo.volume": {"side": [2]}}, {"geo.volume": {"side": [3]}}]


def test_parallel_calls_match_in_any_order_one_check_per_expected_call() -> None:
    verdict = bfcl.check_answer("[geo.volume(side=3), geo.volume(side=1), geo.volume(side=2)]", [VOLUME],
                                PAR_TRUTH, "parallel")
    assert verdict.passed and len(verdict.checks) == 3
    verdict = bfcl.check_answer("[geo.volume(side=3), geo.volume(side=1), geo.volume(side=1)]", [VOLUME],
                                PAR_TRUTH, "parallel")
    assert [c.passed for c in verdict.checks] == [True, False, True] and not verdict.passed
    verdict = bfcl.check_answer("[geo.volume(side=1), geo.volume(side=2)]", [VOLUME], PAR_TRUTH, "parallel")
    assert not verdict.passed and {c.error_type for c in verdict.checks} == {"wrong_count"}
    assert len(verdict.checks) == 3


def test_multiple_checks_the_expected_function_among_several() -> None:
    truth = [{"geo.volume": {"side": [4]}}]
    assert bfcl.check_answer("geo.volume(side=4)", [AREA, VOLUME], truth, "multiple").passed
    verdict = bfcl.check_answer("geo.area(radius=5.0)", [AREA, VOLUME], truth, "multiple")
    assert not verdict.passed and verdict.checks[0].error_type == "wrong_func_name"
    verdict = bfcl.check_answer("[geo.volume(side=4), geo.volume(side=4)]", [AREA, VOLUME], truth, "multiple")
    assert not verdict.passed and verdict.checks[0].error_type == "wrong_count"


def test_simple_wants_exactly_one_call() -> None:
    assert failure("[geo.area(radius=5.0), geo.area(radius=5.0)]") == "wrong_count"


# ---- answer forms ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    "geo.area(radius=5.0, unit='cm')",
    "[geo.area(radius=5.0, unit='cm')]",
    "```python\ngeo.area(radius=5.0, unit='cm')\n```",
    "<think>The user wants an area.</think>\ngeo.area(radius=5.0, unit='cm')",
    '{"name": "geo.area", "arguments": {"radius": 5.0, "unit": "cm"}}',
    '[{"name": "geo.area", "parameters": {"radius": 5, "unit": "cm"}}]',
    '{"tool_calls": [{"type": "function", "function": {"name": "geo.area", '
    '"arguments": "{\\"radius\\": 5.0, \\"unit\\": \\"cm\\"}"}}]}',
    '<tool_call>\n{"name": "geo.area", "arguments": {"radius": 5.0, "unit": "cm"}}\n</tool_call>',
    "<TOOLCALL>[geo.area(radius=5.0, unit='cm')]</TOOLCALL>",
    "```json\n{\"name\": \"geo.area\", \"arguments\": {\"radius\": 5.0, \"unit\": \"cm\"}}\n```",
])
def test_accepted_answer_forms(answer: str) -> None:
    assert passes(answer), answer


def test_several_tool_call_blocks_make_parallel_calls() -> None:
    answer = "\n".join(f'<tool_call>{{"name": "geo.volume", "arguments": {{"side": {n}}}}}</tool_call>' for n in (2, 3, 1))
    assert bfcl.check_answer(answer, [VOLUME], PAR_TRUTH, "parallel").passed


# ---- malformed answers -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "reason"), [
    ("", "empty answer"),
    ("The area is 78.5 square centimeters.", "not a function call"),
    ("1 + 2", "not a function call"),
    ("[1, 2]", "not a call"),
    ("Sure! geo.area(radius=5.0)", "not a function call"),
    ("geo.area(radius=5.0) Hope this helps.", "not a function call"),
    ('Here you go: {"name": "geo.area", "arguments": {"radius": 5.0}}', "not a function call"),
    ('{"name": "geo.area", "arguments": {"radius": 5.0}', "not a function call"),    # truncated JSON
    ('{"answer": 42}', "without a 'name'"),
    ('{"name": "geo.area", "arguments": "{radius: 5}"}', "not valid JSON"),
    ("<tool_call>{\"name\": \"geo.area\"}</tool_call> and more text", "outside the <tool_call>"),
    ("<tool_call>{\"name\": \"geo.area\"", "unclosed"),
    ("geo.area(5.0)", "positional"),
    ("geo.area(radius=5.0, radius=6.0)", "given twice"),
    ("geo.area(**{'radius': 5.0})", "**kwargs"),
    ("geo.area(radius=lambda: 5)", "not a literal"),
    ("geo.area(radius=f'{5}')", "not a literal"),
])
def test_malformed_answers_fail_every_expected_call(answer: str, reason: str) -> None:
    verdict = simple(answer)
    assert not verdict.passed
    assert verdict.parse_error is not None and reason in verdict.parse_error
    assert [c.error_type for c in verdict.checks] == ["parse_error"]


def test_wrong_function_is_read_but_fails() -> None:
    verdict = simple("print(radius=5.0)")
    assert verdict.parse_error is None and verdict.checks[0].error_type == "wrong_func_name"


# ---- nothing is executed ------------------------------------------------------------------------------------

def test_argument_code_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    answer = f"geo.area(radius=__import__('pathlib').Path({str(marker)!r}).touch())"
    verdict = simple(answer)
    assert not marker.exists()
    assert not verdict.passed and verdict.checks[0].error_type == "type_error:simple"
    # the nested call is kept as its text, never called
    assert "touch()" in verdict.calls[0].arguments["radius"]


def test_arithmetic_is_interpreted_with_limits() -> None:
    assert passes("geo.area(radius=10/2)")
    assert passes("geo.area(radius=-(-5.0))")
    verdict = simple("geo.area(radius=10**10**10)")
    assert verdict.parse_error is not None and "too large" in verdict.parse_error
    verdict = simple("geo.area(radius='a' * 10)")
    assert verdict.parse_error is not None and "non-numbers" in verdict.parse_error


def test_names_are_read_as_variables_not_looked_up() -> None:
    [call] = bfcl.parse_calls("geo.area(radius=math.pi, unit=cm)")
    assert call.arguments == {"radius": "math.pi", "unit": "cm"}


def test_parse_module_never_calls_eval_or_exec() -> None:
    tree = ast.parse(inspect.getsource(bfcl_parse))
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_render_round_trips() -> None:
    call = bfcl.Call("geo.area", {"radius": 5.0, "tags": ["a", "b"], "opts": {"mode": "fast"}, "ok": True, "n": None})
    assert bfcl.parse_calls(bfcl.render_call(call)) == [call]
    assert bfcl.parse_calls(bfcl.render_calls([call, call])) == [call, call]

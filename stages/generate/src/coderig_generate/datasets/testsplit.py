"""Split a HumanEval-style ``check(candidate)`` function into separately runnable test cases.

Rule (documented in docs/generate.md):

* module-level statements of the test code other than ``def check`` (imports, ``METADATA``, helper
  functions) go into the problem's ``test_preamble``, followed by ``candidate = <entry point>``;
* inside ``check``, every top-level statement that contains an ``assert`` (or, for loops and bare
  expressions, that calls ``candidate``) becomes one test case; a loop holding asserts is one test;
* the other statements (``x = candidate(...)``, ``import random``, seeded RNGs) are *context*: they
  are copied, in order, in front of every later test case, so each test sees the state the original
  ``check`` would have shown it;
* ``assert True`` style lines (a constant condition, HumanEval's debugging markers) are dropped.
"""

from __future__ import annotations

import ast
import textwrap

from coderig_schemas import TestCase, Visibility


class SplitError(ValueError):
    """The test code has no usable ``check`` function."""


class Source:
    """A parsed source text with its lines indexed once, so that cutting many statements out stays linear."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)

    def cut(self, node: ast.expr | ast.stmt, padded: bool = False) -> str:
        """Exact source of a node (``ast`` offsets are UTF-8 byte columns); padded keeps the first line's indent."""
        assert node.end_lineno is not None and node.end_col_offset is not None
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            b = self.lines[first].encode()
            head = b[node.col_offset:node.end_col_offset].decode()
            return (" " * node.col_offset if padded else "") + head
        start = self.lines[first].encode()[node.col_offset:].decode()
        end = self.lines[last].encode()[:node.end_col_offset].decode()
        return (" " * node.col_offset if padded else "") + start + "".join(self.lines[first + 1:last]) + end

    def statement(self, node: ast.stmt) -> str:
        """Source text of one statement, dedented; ``ast.unparse`` if the text will not parse alone."""
        text = textwrap.dedent(self.cut(node, padded=True)).strip("\n")
        if len(text) > 20_000 and "\t" not in text[:200]:
            return text  # huge literals (HumanEval+ inputs): re-parsing them only costs time
        try:
            ast.parse(text)
            return text
        except SyntaxError:
            return ast.unparse(node)


def segment(source: str | Source, node: ast.stmt) -> str:
    """Source text of one statement, dedented (see :meth:`Source.statement`)."""
    return (source if isinstance(source, Source) else Source(source)).statement(node)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _has_assert(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(node))


def _is_test(stmt: ast.stmt, param: str) -> bool:
    if isinstance(stmt, ast.Assert):
        return not isinstance(stmt.test, ast.Constant)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
        return False
    return _has_assert(stmt) or param in _names(stmt)


def describe_assert(source: str | Source, stmt: ast.stmt) -> tuple[str | None, str | None]:
    """(input_repr, expected_repr) of ``assert <call> == <expected>``; (None, None) for other shapes."""
    if (isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Compare) and len(stmt.test.ops) == 1
            and isinstance(stmt.test.ops[0], ast.Eq)):
        src = source if isinstance(source, Source) else Source(source)
        return src.cut(stmt.test.left), src.cut(stmt.test.comparators[0])
    return None, None


def split_check(test_code: str, entry_point_expr: str, visibility: Visibility = Visibility.HIDDEN) -> tuple[str, list[TestCase]]:
    """Return (test_preamble, test cases) of a HumanEval-style test; raise SplitError if it has no check."""
    try:
        tree = ast.parse(test_code)
    except SyntaxError as e:
        raise SplitError(f"test code does not parse: line {e.lineno}: {e.msg}") from None
    src = Source(test_code)
    preamble: list[str] = []
    check: ast.FunctionDef | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            check = node
        else:
            preamble.append(src.statement(node))
    if check is None or not check.args.args:
        raise SplitError("test code has no 'def check(candidate):'")
    param = check.args.args[0].arg
    preamble.append(f"{param} = {entry_point_expr}")
    context: list[str] = []
    tests: list[TestCase] = []
    for i, stmt in enumerate(check.body):
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue  # docstring
        if isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Constant):
            continue  # 'assert True, "debugging marker"'
        text = src.statement(stmt)
        if _is_test(stmt, param):
            inp, exp = describe_assert(src, stmt)
            tests.append(TestCase(
                test_id=f"t{len(tests)}", code="\n".join([*context, text]), visibility=visibility,
                input_repr=inp, expected_repr=exp,
            ))
        else:
            context.append(text)
    if not tests:
        raise SplitError("check(candidate) holds no assertion")
    return "\n\n".join(preamble) + "\n", tests


def assert_case(test_id: str, code: str, visibility: Visibility) -> TestCase:
    """A test case from one assert statement (MBPP's test_list items), with input/expected when recognisable."""
    code = code.strip()
    inp = exp = None
    try:
        tree = ast.parse(code)
        if len(tree.body) == 1:
            inp, exp = describe_assert(code, tree.body[0])
    except SyntaxError:
        pass
    return TestCase(test_id=test_id, code=code, visibility=visibility, input_repr=inp, expected_repr=exp)

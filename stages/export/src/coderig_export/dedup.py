"""Duplicate detection: two passing samples of the same problem with the same code after normalization."""

from __future__ import annotations

import ast
import hashlib
import re
import warnings

_WS = re.compile(r"\s+")


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                # Keep a body non-empty: 'def f(): "doc"' becomes 'def f(): pass'.
                node.body = body[1:] or [ast.Pass()]


def _strip_comments(code: str) -> str:
    """Drop '#' comments of code that may not parse, leaving '#' inside string literals alone.

    A small scanner rather than ``tokenize``: the tokenizer gives up on the unbalanced brackets
    and unterminated strings that broken code is made of.
    """
    out: list[str] = []
    i, n = 0, len(code)
    quote: str | None = None  # the delimiter of the string being read: one or three quote characters
    while i < n:
        ch = code[i]
        if quote is None:
            if ch == "#":
                while i < n and code[i] != "\n":
                    i += 1
                continue
            if ch in "'\"":
                quote = ch * 3 if code.startswith(ch * 3, i) else ch
                out.append(quote)
                i += len(quote)
                continue
        elif ch == "\\":
            out.append(code[i : i + 2])
            i += 2
            continue
        elif code.startswith(quote, i):
            out.append(quote)
            i += len(quote)
            quote = None
            continue
        elif ch == "\n" and len(quote) == 1:
            quote = None  # an unterminated one-line string ends at the line's end
        out.append(ch)
        i += 1
    return "".join(out)


def normalize_code(code: str) -> str:
    """A canonical form of Python source: no comments, no docstrings, one layout.

    Parseable code is parsed and unparsed with ``ast`` (which drops comments and formatting);
    docstrings are removed. Code that does not parse loses its comments and has every run of
    whitespace collapsed to one space.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # invalid escapes in model code are not our concern
            tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _WS.sub(" ", _strip_comments(code)).strip()
    _strip_docstrings(tree)
    return ast.unparse(tree).strip()


def code_fingerprint(code: str) -> str:
    """sha256 of the normalized code."""
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


class Deduplicator:
    """Remembers (dataset, problem, normalized code); the first occurrence wins."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str, str]] = set()

    def is_duplicate(self, dataset: str, problem_id: str, code: str) -> bool:
        """True when the same problem already has this code (after normalization); records it otherwise."""
        key = (dataset, problem_id, code_fingerprint(code))
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

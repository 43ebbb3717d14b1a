"""Duplicate detection: two passing samples of the same problem with the same code after normalization."""

from __future__ import annotations

import ast
import hashlib
import io
import re
import tokenize
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
    """Drop '#' comments with the tokenizer, so a '#' inside a string survives."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(line.split("#", 1)[0] for line in code.splitlines())


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

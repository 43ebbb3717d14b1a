"""Duplicate detection: two passing samples of the same problem with the same code (or text) after normalization."""

from __future__ import annotations

import ast
import hashlib
import re
import types
import unicodedata
import warnings

_WS = re.compile(r"\s+")


_SCOPES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _strip_docstrings(tree: ast.Module) -> None:
    """Remove the docstring of the module and of every class and function, nested ones included.

    Docstrings can only open a statement body, so only statements are visited (walking every
    expression node with ``ast.walk`` costs several times more).
    """
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                # Keep a body non-empty: 'def f(): "doc"' becomes 'def f(): pass'.
                node.body = body[1:] or [ast.copy_location(ast.Pass(), body[0])]
        for name in _BLOCK_FIELDS:
            stack.extend(getattr(node, name, None) or ())


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


def _const_shape(value: object) -> tuple[str, str]:
    # Type and repr: 1 and 1.0 and True are equal in Python but are different programs. A set literal's
    # frozenset is sorted, as its iteration order may differ between equal sets.
    text = repr(sorted(value, key=repr)) if isinstance(value, frozenset) else repr(value)
    return (type(value).__name__, text)


def _code_shape(code: types.CodeType) -> tuple[object, ...]:
    """What a code object does, without where its lines were: instructions, names and constants (nested code included)."""
    consts = tuple(_code_shape(c) if isinstance(c, types.CodeType) else _const_shape(c) for c in code.co_consts)
    return (code.co_name, code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
            code.co_argcount, code.co_kwonlyargcount, code.co_flags, code.co_exceptiontable, consts)


def normalize_code(code: str) -> str:
    """A canonical key of Python source that ignores comments, docstrings and layout.

    Parseable code is parsed with ``ast``, its docstrings are removed, and the tree is compiled:
    two programs get the same key when they compile to the same instructions, names and constants
    (line numbers are left out). This runs in C, several times faster than ``ast.unparse`` or
    ``ast.dump``, which matters at 100k samples. Code that does not parse loses its comments and
    has every run of whitespace collapsed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # invalid escapes in model code are not our concern
            tree = ast.parse(code)
            _strip_docstrings(tree)
            compiled = compile(tree, "<sample>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "text:" + _WS.sub(" ", _strip_comments(code)).strip()
    return "code:" + hashlib.sha256(repr(_code_shape(compiled)).encode()).hexdigest()


def normalize_text(text: str) -> str:
    """A canonical key of prose (a worked math solution): Unicode NFKC, whitespace runs collapsed, ends stripped.

    The AST normalization of code does not apply to prose; case and punctuation are kept, since in
    mathematics ``x`` and ``X`` differ.
    """
    return "prose:" + _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def code_fingerprint(code: str) -> str:
    """sha256 of the normalized code."""
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


class Deduplicator:
    """Remembers each problem's normalized codes; the first occurrence wins.

    Normalizing means parsing and compiling, the costly part of an export, so it is done only when
    it can matter: a problem's first code is kept raw until a second one arrives, and an exact
    repeat of a code already seen (greedy decoding, several seeds) is recognized by its hash.
    """

    def __init__(self) -> None:
        self._first: dict[tuple[str, str], str] = {}  # problem -> its only code so far, not yet normalized
        self._fingerprints: dict[tuple[str, str], set[str]] = {}  # problem -> normalized codes, once it has two
        self._cache: dict[str, str] = {}  # sha256 of raw code -> fingerprint

    def _fingerprint(self, code: str, is_code: bool) -> str:
        raw = hashlib.sha256(code.encode()).hexdigest() + ("" if is_code else ":prose")
        fingerprint = self._cache.get(raw)
        if fingerprint is None:
            fingerprint = self._cache[raw] = (code_fingerprint(code) if is_code else
                                              hashlib.sha256(normalize_text(code).encode()).hexdigest())
        return fingerprint

    def is_duplicate(self, dataset: str, problem_id: str, code: str, is_code: bool = True) -> bool:
        """True when the same problem already has this code (after normalization); records it otherwise.

        ``is_code=False``: the answer is prose (a math solution), compared by :func:`normalize_text`.
        """
        key = (dataset, problem_id)
        seen = self._fingerprints.get(key)
        if seen is None:
            first = self._first.get(key)
            if first is None:
                self._first[key] = code
                return False
            seen = self._fingerprints[key] = {self._fingerprint(first, is_code)}
            del self._first[key]
        fingerprint = self._fingerprint(code, is_code)
        if fingerprint in seen:
            return True
        seen.add(fingerprint)
        return False

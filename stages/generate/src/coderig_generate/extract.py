"""Take the code out of a chat response (pure functions; the raw response is always kept beside it).

Order (documented in docs/generate.md):

1. strip ``<think>...</think>`` blocks, a dangling ``</think>`` (everything before it is thinking), and
   an unclosed ``<think>`` (everything after it);
2. closed fenced blocks: the last Python block (tagged python/py/python3, any case, or untagged) that
   defines the entry point; else the last Python block; else the last block of any language -> ``fenced``;
3. an opening fence that never closes (a truncated answer): the text after it -> ``unclosed_fence``;
4. no fence: from the first code-looking line, the longest stretch that parses -> ``heuristic``;
5. in completion mode (chat template off), an answer without a fence is appended to the plain prompt;
   an answer that restates the entry point and parses alone is kept whole, after the prompt's imports
   and the definitions it does not redefine -> ``verbatim``;
6. otherwise nothing -> ``empty``.

``keep_reachable`` then optionally keeps only the imports and the top-level definitions reachable from
the entry point (drops example calls, prints, ``if __name__ == "__main__":`` blocks and tests).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

from coderig_schemas import ExtractionMethod
from coderig_schemas.reasoning import strip_think

_FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+.#-]*)[^\n]*$", re.MULTILINE)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "python2", "ipython", "pycon", "sage"}
_CODE_START = re.compile(r"^(?:async\s+def|def|class|import|from\s+[\w.]+\s+import|@[\w.]+|if\s+__name__)\b")


@dataclass(frozen=True)
class Extraction:
    """The code found in a response and how it was found."""

    code: str
    method: ExtractionMethod


@dataclass(frozen=True)
class Block:
    """One fenced block."""

    lang: str
    code: str
    closed: bool


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block in order; a last opening fence without a close gives one unclosed block."""
    blocks: list[Block] = []
    pos = 0
    while True:
        m = _FENCE_OPEN.search(text, pos)
        if m is None:
            return blocks
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        body_start = m.end() + 1
        # the closing fence ends a line; code may precede it on that line ("    return x```")
        close = re.compile(rf"^(?P<pre>[^\n]*?){re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        c = close.search(text, body_start)
        if c is None:
            body = text[body_start:] if body_start <= len(text) else ""
            blocks.append(Block(lang, _dedent(body, indent), closed=False))
            return blocks
        pre = c.group("pre")
        body = text[body_start:c.start()] + (pre if pre.strip() else "")
        blocks.append(Block(lang, _dedent(body, indent), closed=True))
        pos = c.end()


def _dedent(body: str, indent: str) -> str:
    if indent:
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in body.split("\n"))
    return textwrap.dedent(body).strip("\n") + "\n" if body.strip() else ""


def entry_names(entry_point: str | None) -> set[str]:
    """Names whose definition counts as defining the entry point ('Solution().twoSum' -> Solution, twoSum)."""
    if not entry_point:
        return set()
    parts = [p.strip("()") for p in re.split(r"[.]", entry_point) if p.strip("()")]
    return set(parts)


def defines(code: str, names: set[str]) -> bool:
    """Whether code defines one of names (def, class or assignment at any level)."""
    if not names:
        return False
    try:
        tree = ast.parse(code)
    except SyntaxError:
        pattern = "|".join(re.escape(n) for n in names)
        return re.search(rf"^\s*(?:async\s+def|def|class)\s+(?:{pattern})\b", code, re.MULTILINE) is not None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in node.targets):
            return True
    return False


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except SyntaxError:
        return False


#: how many trailing lines the heuristic tries to drop (bounded so long garbage answers stay cheap)
_MAX_TRAILING_TRIES = 60


def heuristic(text: str) -> str:
    """Code in an answer without fences: from the first code-looking line, the longest stretch that parses.

    At most 5 starting lines and, from each, at most ``_MAX_TRAILING_TRIES`` end lines are tried;
    then the contiguous run of code-looking lines (indented, blank or starting like code) from the start.
    """
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    for start in starts[:5]:
        for end in range(len(lines), max(start, len(lines) - _MAX_TRAILING_TRIES), -1):
            chunk = "\n".join(lines[start:end]).strip("\n")
            if chunk and _parses(chunk):
                return chunk + "\n"
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][:1] in " \t" or _CODE_START.match(lines[end])):
            end += 1
        chunk = "\n".join(lines[start:end]).strip("\n")
        if chunk and _parses(chunk):
            return chunk + "\n"
    return ""


def extract_code(response: str, entry_point: str | None = None, *, completion_prefix: str | None = None) -> Extraction:
    """Find the code of a response (see the module docstring for the order of the rules)."""
    # CRLF (or lone CR) line ends, as some servers and Windows-trained models emit: the fence and
    # line rules below work on "\n" only (a closing "```\r" would otherwise never close the block)
    # the reasoning rule is the contract's, shared with the score stage's graders
    text = strip_think(response.replace("\r\n", "\n").replace("\r", "\n")).text
    names = entry_names(entry_point)
    blocks = fenced_blocks(text)
    closed = [b for b in blocks if b.closed and b.code.strip()]
    python = [b for b in closed if b.lang in _PYTHON_TAGS]
    for pool in ([b for b in python if defines(b.code, names)], python, closed):
        if pool:
            return Extraction(pool[-1].code, ExtractionMethod.FENCED)
    open_blocks = [b for b in blocks if not b.closed and b.code.strip()]
    if open_blocks:
        return Extraction(open_blocks[-1].code, ExtractionMethod.UNCLOSED_FENCE)
    if completion_prefix is not None and text.strip():
        if defines(text, names) and _parses(text):
            return Extraction(prompt_context(completion_prefix, text) + text.strip("\n") + "\n", ExtractionMethod.VERBATIM)
        return Extraction(completion_prefix + text, ExtractionMethod.VERBATIM)
    code = heuristic(text)
    if code:
        return Extraction(code, ExtractionMethod.HEURISTIC)
    return Extraction("", ExtractionMethod.EMPTY)


def prompt_context(prompt: str, code: str) -> str:
    """The prompt's imports and top-level definitions that ``code`` does not redefine, as source text.

    A completion-mode answer that restates the whole function replaces the prompt's stub, but it still
    needs what the prompt set up around it (HumanEval's ``from typing import List``, helper functions
    such as ``is_palindrome``). Empty when the prompt is not Python or adds nothing.
    """
    try:
        tree = ast.parse(prompt)
        mine = {name for node in ast.parse(code).body for name in _defined_names(node)}
    except SyntaxError:
        return ""
    lines = prompt.split("\n")
    parts = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (_defined_names(node) and not set(_defined_names(node)) & mine):
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
            parts.append("\n".join(lines[start:node.end_lineno]))
    return "\n\n".join(parts) + "\n\n\n" if parts else ""


def keep_reachable(code: str, entry_point: str | None) -> str:
    """Keep imports and the top-level definitions the entry point reaches; unchanged if code does not parse."""
    names = entry_names(entry_point)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    defs: dict[str, list[int]] = {}
    for i, node in enumerate(tree.body):
        for name in _defined_names(node):
            defs.setdefault(name, []).append(i)
    if not names & set(defs):
        return code
    keep = {i for i, node in enumerate(tree.body) if isinstance(node, (ast.Import, ast.ImportFrom))}
    todo = [n for n in names if n in defs]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for i in defs.get(name, []):
            keep.add(i)
            todo += [n for n in _used_names(tree.body[i]) if n in defs and n not in seen]
    lines = code.split("\n")
    parts = []
    for i, node in enumerate(tree.body):
        if i in keep:
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
            parts.append("\n".join(lines[start:node.end_lineno]))
    return "\n\n".join(parts) + "\n"


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


def _used_names(node: ast.stmt) -> set[str]:
    found = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    found |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    return found

"""Duplicate detection: normalized code (comments, docstrings, layout) per problem."""

from __future__ import annotations

import pytest

from coderig_export.dedup import Deduplicator, normalize_code


def test_comments_docstrings_and_layout_do_not_matter() -> None:
    a = "def f(x):\n    return x + 1\n"
    b = 'def f(x):\n    """Add one."""\n    # a comment\n    return x+1   # trailing\n\n\n'
    assert normalize_code(a) == normalize_code(b)


def test_a_real_change_matters() -> None:
    assert normalize_code("def f(x):\n    return x + 1\n") != normalize_code("def f(x):\n    return x + 2\n")


def test_a_hash_inside_a_string_is_not_a_comment() -> None:
    assert normalize_code("s = '#a'\n") != normalize_code("s = '#b'\n")
    # Unparseable code keeps its strings too: only the tokenizer's comments go.
    assert normalize_code("def f(:\n    s = '#a'  # c\n") != normalize_code("def f(:\n    s = '#b'  # c\n")


def test_unparseable_code_is_compared_without_comments_and_whitespace_runs() -> None:
    assert normalize_code("def f(:\n    return   1  # why\n") == normalize_code("def f(:\n  return 1\n")


def test_a_docstring_only_body_stays_valid() -> None:
    assert normalize_code('def f():\n    """only a docstring"""\n') == normalize_code("def f():\n    pass\n")


def test_nested_docstrings_go_but_other_strings_stay() -> None:
    a = ('class A:\n    """A."""\n    def m(self):\n        """M."""\n'
         '        if True:\n            def g():\n                """G."""\n                return "s"\n')
    b = "class A:\n    def m(self):\n        if True:\n            def g():\n                return 's'\n"
    assert normalize_code(a) == normalize_code(b)
    assert normalize_code("def g():\n    return 'a'\n") != normalize_code("def g():\n    return 'b'\n")


def test_names_constants_and_structure_matter() -> None:
    base = normalize_code("def f(xs):\n    return [x * 2 for x in xs if x in {1, 2}]\n")
    assert base == normalize_code("def f(xs):\n    return [x*2 for x in xs if x in {2, 1}]  # same\n")
    for other in ("def f(ys):\n    return [y * 2 for y in ys if y in {1, 2}]\n",  # renamed
                  "def f(xs):\n    return [x * 3 for x in xs if x in {1, 2}]\n",  # another constant
                  "def f(xs):\n    return [x * 2 for x in xs if x in {1, 3}]\n",
                  "def f(xs):\n    return list(x * 2 for x in xs if x in {1, 2})\n"):
        assert normalize_code(other) != base


def test_deduplicator_is_per_problem_and_first_wins() -> None:
    d = Deduplicator()
    assert not d.is_duplicate("toy", "p1", "x = 1\n")
    assert d.is_duplicate("toy", "p1", "x = 1  # same\n")
    assert not d.is_duplicate("toy", "p2", "x = 1\n")  # same code, another problem
    assert not d.is_duplicate("other", "p1", "x = 1\n")  # same id, another dataset
    assert not d.is_duplicate("toy", "p1", "x = 2\n")


def test_a_lone_code_is_never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    import coderig_export.dedup as dedup

    calls: list[str] = []
    real = dedup.code_fingerprint
    monkeypatch.setattr(dedup, "code_fingerprint", lambda code: calls.append(code) or real(code))
    d = Deduplicator()
    assert not d.is_duplicate("toy", "p1", "x = 1\n")
    assert not d.is_duplicate("toy", "p2", "x = 1\n")
    assert calls == []  # one code per problem: nothing to compare
    assert d.is_duplicate("toy", "p1", "x = 1  # again\n")
    assert calls == ["x = 1\n", "x = 1  # again\n"]
    assert d.is_duplicate("toy", "p1", "x = 1\n")  # an exact repeat: its fingerprint is cached
    assert len(calls) == 2

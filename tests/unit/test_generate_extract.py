"""Code extraction on a corpus of realistic chat responses."""

from __future__ import annotations

import ast

import pytest

from coderig_generate.extract import extract_code, fenced_blocks, keep_reachable
from coderig_schemas import ExtractionMethod as M

F = "`" * 3  # a fence, kept out of this file's own text

CORPUS: list[tuple[str, str, str | None, M, str]] = [
    # (id, response, entry point, expected method, a line the code must contain ('' for empty code))
    ("prose_around_code",
     f"Sure! Here is the solution:\n\n{F}python\ndef add(a, b):\n    return a + b\n{F}\n\nThis runs in O(1).",
     "add", M.FENCED, "return a + b"),
    ("several_blocks_last_defining_entry",
     f"First a helper:\n{F}python\ndef helper(x):\n    return x * 2\n{F}\nThen the answer:\n"
     f"{F}python\ndef solve(x):\n    return helper(x) + 1\n{F}\nExample:\n{F}python\nprint(solve(3))\n{F}\n",
     "solve", M.FENCED, "def solve(x):"),
    ("two_versions_take_the_last",
     f"{F}python\ndef f(n):\n    return n\n{F}\nWait, that is wrong. Fixed:\n{F}python\ndef f(n):\n    return n + 1\n{F}",
     "f", M.FENCED, "return n + 1"),
    ("think_tags_removed",
     f"<think>\nMaybe {F}python\ndef f(): return 0\n{F} would do... no.\n</think>\n{F}python\ndef f():\n    return 42\n{F}",
     "f", M.FENCED, "return 42"),
    ("dangling_close_think",
     f"Let me think about edge cases, e.g. def f(): pass\n</think>\n\n{F}python\ndef f():\n    return 'ok'\n{F}",
     "f", M.FENCED, "return 'ok'"),
    ("unclosed_think_drops_reasoning",
     f"{F}python\ndef g(x):\n    return x\n{F}\n<think>I should double check {F}python\ndef g(x): return -x",
     "g", M.FENCED, "return x"),
    ("unclosed_fence_truncated",
     f"Here you go:\n{F}python\ndef long(n):\n    total = 0\n    for i in range(n):\n        total += i",
     "long", M.UNCLOSED_FENCE, "total += i"),
    ("no_code_at_all",
     "I'm sorry, but I can't help with that request.",
     "f", M.EMPTY, ""),
    ("py_tag", f"{F}py\ndef h():\n    return 1\n{F}", "h", M.FENCED, "def h():"),
    ("Python_capitalised_tag", f"{F}Python\ndef h():\n    return 2\n{F}", "h", M.FENCED, "return 2"),
    ("untagged_fence", f"Answer:\n{F}\ndef h():\n    return 3\n{F}\n", "h", M.FENCED, "return 3"),
    ("python3_tag_and_bash_block",
     f"Install nothing:\n{F}bash\npip install nothing\n{F}\n{F}python3\nimport math\n\ndef area(r):\n    return math.pi * r * r\n{F}",
     "area", M.FENCED, "import math"),
    ("indented_fence_in_list_item",
     f"1. Define the function:\n\n   {F}python\n   def sq(x):\n       return x * x\n   {F}\n2. Done.",
     "sq", M.FENCED, "def sq(x):"),
    ("no_fence_heuristic",
     "The function is:\n\ndef cube(x):\n    return x ** 3\n\nIt cubes x.",
     "cube", M.HEURISTIC, "return x ** 3"),
    ("heuristic_with_imports",
     "Use this code:\nfrom typing import List\n\ndef total(xs: List[int]) -> int:\n    return sum(xs)\nHope it helps!",
     "total", M.HEURISTIC, "from typing import List"),
    ("leetcode_class_solution",
     f"Approach: two pointers.\n{F}python\nclass Solution:\n    def twoSum(self, nums, target):\n        seen = {{}}\n"
     f"        for i, x in enumerate(nums):\n            if target - x in seen:\n                return [seen[target - x], i]\n"
     f"            seen[x] = i\n{F}\nComplexity: O(n).",
     "Solution().twoSum", M.FENCED, "class Solution:"),
    ("entry_block_before_test_block",
     f"{F}python\ndef is_even(n):\n    return n % 2 == 0\n{F}\nTests:\n{F}python\nassert is_even(2)\nassert not is_even(3)\n{F}",
     "is_even", M.FENCED, "return n % 2 == 0"),
    ("only_non_python_block",
     f"{F}text\nno code here\n{F}", "f", M.FENCED, "no code here"),
    ("closing_fence_glued_to_code",
     f"{F}python\ndef glued():\n    return 5{F}\nDone.", "glued", M.FENCED, "return 5"),
    ("tilde_fence", "~~~python\ndef t():\n    return 't'\n~~~", "t", M.FENCED, "return 't'"),
    ("crlf_line_ends",
     f"Sure!\r\n{F}py\r\ndef crlf(x):\r\n    return x\r\n{F}\r\nDone.\r\n", "crlf", M.FENCED, "def crlf(x):\n    return x\n"),
]


@pytest.mark.parametrize(("response", "entry", "method", "needle"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_corpus(response: str, entry: str | None, method: M, needle: str) -> None:
    got = extract_code(response, entry)
    assert got.method == method, got
    if needle:
        assert needle in got.code
        if method != M.UNCLOSED_FENCE and needle != "no code here":
            ast.parse(got.code)
    else:
        assert got.code == ""


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 15


def test_fenced_code_is_exact_and_dedented() -> None:
    got = extract_code(f"x\n  {F}python\n  def f():\n      return 1\n  {F}\n", "f")
    assert got.code == "def f():\n    return 1\n"


def test_completion_mode_appends_to_the_prompt() -> None:
    prefix = "def inc(x):\n    \"\"\"Add one.\"\"\"\n"
    got = extract_code("    return x + 1\n", "inc", completion_prefix=prefix)
    assert got.method == M.VERBATIM and got.code == prefix + "    return x + 1\n"
    whole = extract_code("def inc(x):\n    return x + 1\n", "inc", completion_prefix=prefix)
    assert whole.code == "def inc(x):\n    return x + 1\n"


def test_completion_mode_whole_function_keeps_the_prompts_imports_and_helpers() -> None:
    # HumanEval/10-style prompt: an import, a helper, then the stub; the answer restates only the stub
    prefix = ("from typing import List\n\n\ndef is_pal(s: str) -> bool:\n    return s == s[::-1]\n\n\n"
              "def make(xs: List[str]) -> bool:\n    \"\"\"Doc.\"\"\"\n")
    answer = "def make(xs: List[str]) -> bool:\n    return all(is_pal(x) for x in xs)\n\nprint(make(['a']))\n"
    got = extract_code(answer, "make", completion_prefix=prefix)
    assert got.method == M.VERBATIM
    assert got.code.startswith("from typing import List\n") and "def is_pal" in got.code
    assert got.code.count("def make") == 1 and got.code.endswith(answer)
    ns: dict[str, object] = {}
    exec(got.code, ns)  # NameError on List or is_pal before the fix
    assert ns["make"](["aba", "cc"]) is True  # type: ignore[operator]
    # a helper the answer redefines is not duplicated; a prose prefix adds nothing
    own = "def is_pal(s):\n    return True\n\ndef make(xs):\n    return is_pal(xs)\n"
    assert extract_code(own, "make", completion_prefix=prefix).code == "from typing import List\n\n\n" + own
    assert extract_code(own, "make", completion_prefix="Write make().\n").code == own


def test_reasoning_is_not_extracted() -> None:
    # generate applies the contract's reasoning rule (coderig_schemas.reasoning) before it looks for code
    assert extract_code("<think>```python\ndef f():\n    return 1\n```</think>```python\ndef f():\n    return 2\n```", "f").code \
        == "def f():\n    return 2\n"
    assert extract_code("```python\ndef f():\n    return 1\n```\n</think>no code after the reasoning", "f").code == ""


def test_fenced_blocks_reports_unclosed_last_block() -> None:
    blocks = fenced_blocks(f"{F}python\na = 1\n{F}\n{F}python\nb = 2")
    assert [(b.code, b.closed) for b in blocks] == [("a = 1\n", True), ("b = 2\n", False)]


def test_keep_reachable_drops_examples_and_main() -> None:
    code = (
        "import math\nfrom typing import List\n\nCONST = 3\nUNUSED = 4\n\n"
        "def helper(x):\n    return x * CONST\n\n"
        "def unused():\n    return 0\n\n"
        "@staticmethod\ndef decorated():\n    return 1\n\n"
        "def solve(xs: List[int]) -> float:\n    return math.sqrt(sum(helper(x) for x in xs))\n\n"
        "print(solve([1, 2]))\nassert solve([0]) == 0\n\n"
        "if __name__ == '__main__':\n    solve([3])\n"
    )
    kept = keep_reachable(code, "solve")
    assert "def helper" in kept and "CONST = 3" in kept and "import math" in kept and "def solve" in kept
    assert "UNUSED" not in kept and "def unused" not in kept and "print(" not in kept and "__main__" not in kept
    ns: dict[str, object] = {}
    exec(kept, ns)
    assert ns["solve"]([1]) == pytest.approx(3 ** 0.5)  # type: ignore[operator]


def test_keep_reachable_class_entry_and_unparsable_code() -> None:
    code = "class Solution:\n    def f(self):\n        return g()\n\ndef g():\n    return 1\n\nprint(Solution().f())\n"
    kept = keep_reachable(code, "Solution().f")
    assert "def g" in kept and "print" not in kept
    assert keep_reachable("def f(:\n", "f") == "def f(:\n"
    assert keep_reachable("def other():\n    pass\n", "f") == "def other():\n    pass\n"


def test_heuristic_tries_a_bounded_number_of_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    from coderig_generate import extract

    calls = []
    real = extract._parses
    monkeypatch.setattr(extract, "_parses", lambda code: calls.append(1) or real(code))
    garbage = "\n".join(["def f(x):", "    return x", "", "That is all."] + [f"def broken{i}(:" for i in range(3000)])
    got = extract.extract_code(garbage, "f")
    assert got.method == M.HEURISTIC and got.code == "def f(x):\n    return x\n"
    assert len(calls) <= 5 * (extract._MAX_TRAILING_TRIES + 2)  # not one parse per line pair (quadratic)

"""Whatever a wrong program does to builtins, modules, sys.modules or trace hooks, the checks run as written.

Each program below returns a wrong answer and then tries to make the check pass anyway; each must end
non-passing. The same program without the cheat is wrong too, so a pass could only come from the cheat.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coderig_schemas import Problem, ScoreResult, Verdict
from tests.factories import make_problem

pytestmark = pytest.mark.sandbox

Score = Callable[..., ScoreResult]


def _problem(test: str, imports: tuple[str, ...] = ()) -> Problem:
    return make_problem("cheat", test_imports=list(imports),
                        tests=[{"test_id": "t0", "code": test, "visibility": "hidden"}])


CHEATS = {
    # name: (program, test, test_imports)
    "abs": ("import builtins\nbuiltins.abs = lambda x: 0\ndef f(x):\n    return x + 1\n",
            "assert abs(f(2) - 2) < 1e-6", ()),
    "abs_global": ("def abs(x):\n    return 0\ndef f(x):\n    return x + 1\n", "assert abs(f(2) - 2) < 1e-6", ()),
    "round": ("import builtins\nclass R:\n    def __round__(self, n=None):\n        return 0\n"
              "builtins.round = lambda *a: 0\ndef f(x):\n    return x + 1.5\n",
              "assert round(f(2), 2) == round(2.0, 2)", ()),
    "len": ("import builtins\nbuiltins.len = lambda x: 3\ndef f(x):\n    return [x]\n", "assert len(f(2)) == 3", ()),
    "isinstance": ("import builtins\nbuiltins.isinstance = lambda *a: True\ndef f(x):\n    return x\n",
                   "assert isinstance(f(2), list)", ()),
    "all": ("import builtins\nbuiltins.all = lambda it: True\ndef f(x):\n    return [x, x]\n",
            "assert all(a == b for a, b in zip(f(2), [1, 1]))", ()),
    "all_during_call": ("import builtins\ndef f(x):\n    builtins.all = lambda it: True\n    return [x, x]\n",
                        "assert f(2) and all(a == b for a, b in zip(f(2), [1, 1]))", ()),
    "math_isclose": ("import math\nmath.isclose = lambda *a, **k: True\ndef f(x):\n    return x + 1.0\n",
                     "assert math.isclose(f(2), 2.0)", ("import math",)),
    "math_rebound": ("import math\nclass M:\n    isclose = staticmethod(lambda *a, **k: True)\nmath = M()\n"
                     "def f(x):\n    return x + 1.0\n", "assert math.isclose(f(2), 2.0)", ("import math",)),
    "sys_modules": ("import sys, types\nfake = types.ModuleType('math')\nfake.isclose = lambda *a, **k: True\n"
                    "sys.modules['math'] = fake\ndef f(x):\n    return x + 1.0\n",
                    "import math\nassert math.isclose(f(2), 2.0)", ()),
    "numpy_allclose": ("import numpy\nnumpy.allclose = lambda *a, **k: True\nnumpy.core.numeric.isclose = lambda *a, **k: True\n"
                       "def f(x):\n    return [x + 1.0]\n", "import numpy as np\nassert np.allclose(f(2), [2.0])", ()),
    "settrace": ("import sys\ndef tracer(frame, event, arg):\n    if frame.f_code.co_filename == '<test>' and event == 'line':\n"
                 "        frame.f_globals['f'] = lambda x: x\n    return tracer\nsys.settrace(tracer)\n"
                 "def f(x):\n    return x + 1\n", "y = f(2)\nassert y == 2", ()),
    "setprofile": ("import sys\ndef prof(frame, event, arg):\n    if frame.f_code.co_filename == '<test>':\n"
                   "        frame.f_globals['f'] = lambda x: x\n"
                   "sys.setprofile(prof)\ndef f(x):\n    return x + 1\n", "y = f(2)\nassert y == 2", ()),
    "assertion_error": ("import builtins\nclass Quiet(Exception):\n    pass\nbuiltins.AssertionError = Quiet\n"
                        "def f(x):\n    return x + 1\n", "if f(2) != 2:\n    raise AssertionError('wrong')", ()),
}


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheat_does_not_pass(score_code: Score, name: str) -> None:
    program, test, imports = CHEATS[name]
    r = score_code(program, problem=_problem(test, imports))
    assert r.verdict != Verdict.PASSED, (name, r.verdict, r.error_message)


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_the_check_itself_is_sound(score_code: Score, name: str) -> None:
    # Without the cheat the program fails the same check: so the cheat alone could have made it pass.
    program, test, imports = CHEATS[name]
    body = program[program.index("def f(x):"):]
    r = score_code(body, problem=_problem(test, imports))
    assert r.verdict != Verdict.PASSED, (name, r.verdict)


def test_assertion_error_replaced_is_still_a_wrong_answer(score_code: Score) -> None:
    program, test, imports = CHEATS["assertion_error"]
    r = score_code(program, problem=_problem(test, imports))
    assert r.verdict == Verdict.WRONG_ANSWER and r.exception_type == "AssertionError"


def test_entry_point_may_shadow_a_builtin(score_code: Score) -> None:
    # MBPP/126 names its function 'sum': the tests mean the program's function, not the builtin.
    problem = make_problem("sum", entry_point="sum", tests=[{"test_id": "t0", "code": "assert sum(10, 15) == 6",
                                                              "visibility": "hidden"}])
    r = score_code("def sum(a, b):\n    return 6\n", problem=problem)
    assert r.verdict == Verdict.PASSED, r.error_message


def test_an_object_equal_to_everything_is_the_residual_risk(score_code: Score) -> None:
    # Documented in docs/score.md: 'assert f(x) == y' is decided by the program's own __eq__.
    r = score_code("class Any:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Any()\n")
    assert r.verdict == Verdict.PASSED

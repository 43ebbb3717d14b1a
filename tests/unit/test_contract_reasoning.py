"""The contract's reasoning rule, which generate (code extraction) and score (text answers) both apply."""

from __future__ import annotations

import pytest

from coderig_schemas.reasoning import Visible, strip_think


@pytest.mark.parametrize(("response", "visible"), [
    ("no reasoning", Visible("no reasoning", False, False)),
    ("<think>a</think>b<THINK>c</THINK>d", Visible("bd", True, False)),
    ("reasoning only</think>answer", Visible("answer", True, False)),
    ("answer<think>cut here", Visible("answer", True, True)),
    ("<think>a</think>x<Think>never closed", Visible("x", True, True)),
])
def test_strip_think(response: str, visible: Visible) -> None:
    assert strip_think(response) == visible

"""Prompt templates: the packaged file, rendering, hashes, and errors in a user's prompts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from coderig_generate.prompts import load_prompts, render
from coderig_schemas import InvalidInputError, UsageError
from tests.factories import make_problem


def test_packaged_prompts_cover_every_dataset() -> None:
    from coderig_generate.datasets import DATASETS

    pf = load_prompts()
    for name in DATASETS:
        t = pf.for_dataset(name)
        assert t.user and len(t.sha256) == 64


def test_render_is_pure_and_shows_only_visible_tests() -> None:
    p = make_problem("toy/1", prompt="Write f.\n")
    t = load_prompts().for_dataset("mbpp")
    first, again = render(t, p), render(t, p)
    assert first == again
    assert [m.role for m in first] == ["system", "user"]
    assert "assert f(1) == 1" in first[1].content and "assert f(2) == 2" not in first[1].content
    plain = render(t, p, chat=False)
    assert len(plain) == 1 and plain[0].role == "user" and plain[0].content.startswith('"""\nWrite f.')


def test_other_prompts_file_template_choice_and_hash(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("templates:\n  mine:\n    datasets: [toy]\n    user: 'Solve {problem_id}: {prompt} (call {entry_point}) {{braces}}'\n")
    pf = load_prompts(f)
    t = pf.for_dataset("toy")
    msgs = render(t, make_problem("toy/2", prompt="Do it."))
    assert [m.model_dump() for m in msgs] == [{"role": "user", "content": "Solve toy/2: Do it. (call f) {braces}"}]
    f.write_text(f.read_text().replace("Solve", "Please solve"))
    assert load_prompts(f).for_dataset("toy").sha256 != t.sha256
    with pytest.raises(UsageError, match="no template 'x'"):
        pf.for_dataset("toy", "x")
    assert pf.for_dataset("humaneval") == t  # the only template of the file
    f.write_text(f.read_text() + "  other:\n    user: '{prompt}'\n")
    with pytest.raises(UsageError, match="is for dataset 'humaneval'") as e:
        load_prompts(f).for_dataset("humaneval")
    assert "--template" in e.value.one_line()


@pytest.mark.parametrize(("text", "needle"), [
    ("templates:\n  a:\n    user: '{nope}'\n", "unknown field {nope}"),
    ("templates:\n  a:\n    user: 'x {'\n", "templates.a.user"),
    ("templates:\n  a:\n    system: x\n", "templates.a.user: Field required"),
    ("templates: [\n", ":2: invalid YAML"),
    ("other: 1\n", "expected a mapping with 'templates'"),
])
def test_bad_prompts_file(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(InvalidInputError) as e:
        load_prompts(f)
    assert str(f) in e.value.message and needle in e.value.message

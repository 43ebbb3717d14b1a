"""Math datasets (MATH-500, GSM8K, AIME 2024/2025, AMC 2023), the math prompt template and math samples."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from coderig_generate.cli import main
from coderig_generate.datasets import DATASETS, load_problems
from coderig_generate.datasets.math import MATH_LEVEL_RULE, gsm8k, math500, row_position
from coderig_generate.datasets.sources import RawRecord
from coderig_generate.prompts import load_prompts, render, with_system_prompt
from coderig_schemas import (
    AnswerExtraction,
    AnswerFormat,
    Difficulty,
    ExtractionMethod,
    InvalidInputError,
    MathGrading,
    Problem,
    RunStore,
    Sample,
    TaskType,
)
from coderig_schemas.layout import PROBLEMS, SAMPLES

MATH = ("math500", "gsm8k", "aime24", "aime25", "amc23")


@pytest.fixture(scope="module")
def loaded(shared_data: Path) -> dict[str, list[Problem]]:
    return {name: load_problems(name, source=shared_data / str(DATASETS[name].standard_file)) for name in MATH}


def _gold(p: Problem) -> MathGrading:
    assert isinstance(p.grading, MathGrading)
    return p.grading


def test_counts_ids_and_one_check_each(loaded: dict[str, list[Problem]]) -> None:
    assert {k: len(v) for k, v in loaded.items()} == {"math500": 500, "gsm8k": 1319, "aime24": 30, "aime25": 30, "amc23": 40}
    for problems in loaded.values():
        assert len({p.problem_id for p in problems}) == len(problems)
        for p in problems:
            assert p.task_type == TaskType.MATH and p.split == "test"
            assert [(t.test_id, t.code, t.visibility.value) for t in p.tests] == [("answer", "", "hidden")]
            assert p.reference_solution and p.entry_point is None
    assert loaded["math500"][0].problem_id == "math500/precalculus/807"
    assert [p.problem_id for p in loaded["gsm8k"][:2]] == ["gsm8k/0", "gsm8k/1"]
    assert loaded["aime25"][0].problem_id == "aime25/0"


def test_math500_levels_map_to_difficulty_and_subjects_are_kept(loaded: dict[str, list[Problem]]) -> None:
    problems = loaded["math500"]
    by_level = Counter((p.source["level"], p.difficulty) for p in problems)
    assert by_level == {(1, Difficulty.EASY): 43, (2, Difficulty.EASY): 90, (3, Difficulty.MEDIUM): 105,
                        (4, Difficulty.MEDIUM): 128, (5, Difficulty.HARD): 134}
    assert {p.difficulty_rule for p in problems} == {MATH_LEVEL_RULE}
    assert Counter(p.tags[0] for p in problems) == {"Algebra": 124, "Intermediate Algebra": 97, "Prealgebra": 82,
                                                   "Number Theory": 62, "Precalculus": 56, "Geometry": 41,
                                                   "Counting & Probability": 38}
    assert all(p.source["subject"] == p.tags[0] for p in problems)
    first = problems[0]
    assert _gold(first).answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert (_gold(first).answer_format, _gold(first).extraction) == (AnswerFormat.LATEX, AnswerExtraction.BOXED)
    assert all("\\boxed" in (p.reference_solution or "") for p in problems)  # the worked solution is the reference
    for name in ("gsm8k", "aime24", "aime25", "amc23"):
        assert {p.difficulty for p in loaded[name]} == {None}


def test_gsm8k_gold_is_the_number_after_hashes(loaded: dict[str, list[Problem]]) -> None:
    problems = loaded["gsm8k"]
    assert all(_gold(p).extraction == AnswerExtraction.LAST_NUMBER and _gold(p).answer_format == AnswerFormat.NUMBER
               for p in problems)
    odd = [_gold(p).answer for p in problems if not _gold(p).answer.isdigit()]
    assert len(odd) == 16 and sum(a.startswith("-") for a in odd) == 2 and "1,450,000" in odd  # as the README counts
    p = problems[0]
    assert p.reference_solution is not None and p.reference_solution.rstrip().endswith(f"#### {_gold(p).answer}")


def test_competition_answers_and_exams(loaded: dict[str, list[Problem]]) -> None:
    aime24 = loaded["aime24"]
    assert any(_gold(p).answer.startswith("0") for p in aime24)  # zero-padded answers are kept as given ('025')
    assert aime24[0].source["exam"] == "2024 AIME I"
    aime25 = loaded["aime25"]
    assert [(p.source["exam"], p.source["number"]) for p in (aime25[0], aime25[14], aime25[15], aime25[29])] == [
        ("2025 AIME I", 1), ("2025 AIME I", 15), ("2025 AIME II", 1), ("2025 AIME II", 15)]
    amc = loaded["amc23"]
    assert all(not _gold(p).answer.endswith(".0") for p in amc)  # 27.0 -> 27
    assert "-1" in {_gold(p).answer for p in amc}
    assert amc[0].source["exam"].startswith("2023 AMC 12")  # type: ignore[union-attr]
    for p in aime24 + aime25 + amc:
        assert p.reference_solution == f"The final answer is $\\boxed{{{_gold(p).answer}}}$."


def test_hub_rows_load_like_file_rows() -> None:
    # the hub copies name fields as these files do; a hub row's position is its index
    row = {"problem": "1+1?", "solution": "$\\boxed{2}$", "answer": "2", "subject": "Algebra", "level": 1,
           "unique_id": "test/algebra/1.json"}
    p = math500(RawRecord("HuggingFaceH4/MATH-500[test] row 0", row), "test")
    assert p.problem_id == "math500/algebra/1" and p.difficulty == Difficulty.EASY
    g = gsm8k(RawRecord("openai/gsm8k[test] row 7", {"question": "q", "answer": "a <<1+1=2>>2\n#### 2"}), "test")
    assert g.problem_id == "gsm8k/7" and _gold(g).answer == "2"
    assert row_position(RawRecord("/x/gsm8k-test.jsonl:12", {})) == 11
    with pytest.raises(InvalidInputError, match="level: 7 is not 1-5"):
        math500(RawRecord("f:1", {**row, "level": 7}), "test")
    with pytest.raises(InvalidInputError, match="no '#### <number>'"):
        gsm8k(RawRecord("f:1", {"question": "q", "answer": "no final line"}), "test")


def test_math_template_is_the_default_and_records_its_text(loaded: dict[str, list[Problem]]) -> None:
    prompts = load_prompts()
    p = loaded["math500"][1]
    for name in MATH:
        assert prompts.for_dataset(name).id == "math_chat"
    # a dataset no template lists gets its task type's template
    assert prompts.for_dataset("my_math_set", task_type="math").id == "math_chat"
    t = prompts.for_dataset("math500")
    [user] = render(t, p)
    assert user.role == "user" and user.content.startswith(p.prompt.strip())
    assert user.content.endswith("put your final answer within \\boxed{}.")
    sys_t = with_system_prompt(t, "Think in {curly} braces.")
    system, user2 = render(sys_t, p)
    assert (system.role, system.content) == ("system", "Think in {curly} braces.") and user2 == user
    assert sys_t.sha256 != t.sha256
    [plain] = render(t, p, chat=False)
    assert plain.content.startswith("Problem: ") and plain.content.endswith("Solution:")


def test_reference_replay_of_math_stores_the_raw_response(run_store: Path, shared_data: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    r = CliRunner().invoke(main, ["run", "--quiet", "--model", "reference", "--dataset", "math500,gsm8k", "--limit", "3",
                                  "--system-prompt", "Be brief."], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    paths = r.stdout.splitlines()
    assert len(paths) == 2
    out = RunStore(run_store).resolve(paths[0], stage="generate")
    problems, samples = list(out.records(PROBLEMS, Problem)), list(out.records(SAMPLES, Sample))
    for p, s in zip(problems, samples, strict=True):
        assert s.raw_response == p.reference_solution
        assert (s.extracted_code, s.extraction_method) == ("", ExtractionMethod.NOT_APPLICABLE)
        assert s.prompt_messages is not None and s.prompt_messages[0].content == "Be brief."
        assert s.template_id == "math_chat"
    stats = out.manifest.stats
    assert stats["template"]["system"] == "Be brief." and "{Question}" in stats["template"]["user"]
    assert stats["extraction"] == {"not_applicable": 3} and stats["empty_code"] == 0
    assert stats["task_types"] == {"math": 3}
    plan = CliRunner().invoke(main, ["run", "--quiet", "--model", "reference", "--dataset", "aime25", "--dry-run"])
    [row] = json.loads(plan.stdout)["runs"]
    assert (row["prompts"], row["template_id"], row["task_types"]) == (30, "math_chat", ["math"])


def test_code_outputs_keep_the_keys_they_had_before_task_types(shared_data: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 run_store: Path) -> None:
    # Keys computed by the last version without task types (commit ed899d3): a re-run of an unchanged code
    # configuration must find its earlier output (a no-op), not generate everything again.
    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    r = CliRunner().invoke(main, ["run", "--quiet", "--model", "reference", "--dataset", "humaneval,mbpp", "--limit", "3",
                                  "--dry-run"])
    refs = [o["ref"] for run in json.loads(r.stdout)["runs"] for o in run["outputs"]]
    # names carry split and settings since run identities; the keys did not change
    assert refs == ["generate/reference__humaneval__test__t0-p1-m1024-chat-a5d6d8__s0/61f055b0efd2aba3",
                    "generate/reference__mbpp__test__t0-p1-m1024-chat-be0216__s0/29d34f048d9c047c"]


def test_an_output_published_under_its_pre_identity_name_is_found_again(shared_data: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         run_store: Path) -> None:
    # A store made before run identities holds 'generate/<model>__<dataset>__s<seed>/<key>': re-running the
    # same configuration prints that output (same key) instead of generating it again under the new name.
    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    args = ["run", "--quiet", "--model", "reference", "--dataset", "humaneval", "--limit", "2"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.stderr
    new = Path(first.stdout.strip())
    old = run_store / "generate" / "reference__humaneval__s0" / new.name
    old.parent.mkdir(parents=True)
    new.rename(old)
    new.parent.rmdir()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.strip() == str(old) and not new.parent.exists()
    plan = CliRunner().invoke(main, [*args, "--dry-run"])
    assert json.loads(plan.stdout)["runs"][0]["outputs"][0]["published"] == str(old)


def test_stable_json_of_a_code_problem_is_its_version_1_form(shared_data: Path) -> None:
    from coderig_schemas.problem import stable_json

    p = load_problems("humaneval", source=shared_data / "HumanEval.jsonl.gz")[0]
    v1 = json.loads(stable_json(p))
    assert v1["schema_version"] == 1 and "task_type" not in v1 and "grading" not in v1
    assert Problem.model_validate(v1) == p  # and it reads back as the same (current) problem
    m = load_problems("aime25", source=shared_data / "math" / "aime-2025.jsonl")[0]
    assert stable_json(m) == m.model_dump_json()

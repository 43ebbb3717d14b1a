"""Dataset loaders on the public files of ../shared/data: counts, splits, test splitting, difficulty, sources."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from coderig_generate.datasets import DATASETS, load_problems
from coderig_generate.datasets.difficulty import DERIVED_RULE
from coderig_generate.datasets.sources import HubSource, RawRecord
from coderig_schemas import Difficulty, DifficultySource, InvalidInputError, Problem, UsageError, Visibility

pytestmark = [pytest.mark.data, pytest.mark.slow]

FILES = {name: spec.standard_file for name, spec in DATASETS.items() if spec.standard_file}


@pytest.fixture(scope="module")
def loaded(shared_data: Path) -> dict[str, list[Problem]]:
    """Every dataset loaded once (split 'all') for the module's tests."""
    return {name: load_problems(name, source=shared_data / f, split="all") for name, f in FILES.items()}


def test_counts_and_splits(loaded: dict[str, list[Problem]]) -> None:
    assert len(loaded["humaneval"]) == 164
    assert len(loaded["humaneval_plus"]) == 164
    assert len(loaded["mbpp"]) == 974
    assert Counter(p.split for p in loaded["mbpp"]) == {"prompt": 10, "test": 500, "validation": 90, "train": 374}
    assert len(loaded["mbpp_sanitized"]) == 427
    assert len(loaded["leetcode"]) == 228
    assert Counter(p.difficulty for p in loaded["leetcode"]) == {Difficulty.EASY: 48, Difficulty.MEDIUM: 101, Difficulty.HARD: 79}
    assert {p.difficulty_source for p in loaded["leetcode"]} == {DifficultySource.DATASET}
    for problems in loaded.values():
        assert len({p.problem_id for p in problems}) == len(problems)
        assert all(p.tests for p in problems)


def test_default_and_named_splits(shared_data: Path) -> None:
    assert len(load_problems("mbpp", source=shared_data / "mbpp.jsonl")) == 500
    val = load_problems("mbpp", source=shared_data / "mbpp.jsonl", split="validation")
    assert len(val) == 90 and val[0].problem_id == "mbpp/511" and val[-1].problem_id == "mbpp/600"
    prompt = load_problems("mbpp", source=shared_data / "mbpp.jsonl", split="prompt")
    assert [p.problem_id for p in prompt] == [f"mbpp/{i}" for i in range(1, 11)]
    with pytest.raises(UsageError, match="no split 'dev'"):
        load_problems("mbpp", source=shared_data / "mbpp.jsonl", split="dev")
    with pytest.raises(UsageError, match="unknown dataset"):
        load_problems("nope")


def test_humaneval_check_split_per_assert(loaded: dict[str, list[Problem]]) -> None:
    p = loaded["humaneval"][0]
    assert p.problem_id == "HumanEval/0" and p.entry_point == "has_close_elements"
    assert len(p.tests) == 7 and all(t.visibility == Visibility.HIDDEN for t in p.tests)
    assert p.tests[0].code == "assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True"
    assert p.tests[0].input_repr == "candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3)" and p.tests[0].expected_repr == "True"
    assert "METADATA = {" in p.test_preamble and p.test_preamble.rstrip().endswith("candidate = has_close_elements")
    assert p.reference_solution is not None and p.reference_solution.startswith(p.prompt)
    # no 'assert True' debugging markers survive as tests
    assert not any(t.code.startswith("assert True") for q in loaded["humaneval"] for t in q.tests)


def test_humaneval_context_statements_precede_later_tests(loaded: dict[str, list[Problem]]) -> None:
    # HumanEval/32 draws random polynomials in a loop: the imports and the RNG are context of its test.
    p = next(q for q in loaded["humaneval"] if q.problem_id == "HumanEval/32")
    assert any("import random" in t.code and t.code.rstrip().splitlines()[-1].strip().startswith("assert") for t in p.tests)


def test_humaneval_plus_chunks(loaded: dict[str, list[Problem]]) -> None:
    plus = loaded["humaneval_plus"]
    assert max(len(p.tests) for p in plus) <= 10
    p = plus[0]
    assert p.tests[0].code.startswith("for ") and "inputs[0:" in p.tests[0].code
    assert "inputs = [" in p.test_preamble and "def assertion(" in p.test_preamble


@pytest.mark.parametrize("release_file", ["HumanEvalPlus.jsonl.gz", "HumanEvalPlus-Mini.jsonl.gz"])
def test_humaneval_plus_release_files_are_refused(shared_data: Path, release_file: str) -> None:
    # HumanEvalPlus.jsonl.gz has a 'test' field, but it is HumanEval's original check: loading it would
    # silently score the base tests under the HumanEval+ name.
    with pytest.raises(InvalidInputError, match=r"\.jsonl\.gz:1: plus_input: this is the EvalPlus release format") as e:
        load_problems("humaneval_plus", source=shared_data / release_file)
    assert "HumanEvalPlus-OriginFmt.jsonl.gz" in e.value.one_line()


def test_mbpp_visible_and_challenge_hidden(loaded: dict[str, list[Problem]]) -> None:
    by_id = {p.problem_id: p for p in loaded["mbpp"]}
    p = by_id["mbpp/11"]
    assert p.entry_point == "remove_Occ"
    v, h = Visibility.VISIBLE, Visibility.HIDDEN
    assert [(t.test_id, t.visibility) for t in p.tests] == [("t0", v), ("t1", v), ("t2", v), ("c0", h), ("c1", h)]
    with_challenge = [q for q in loaded["mbpp"] if any(t.visibility == Visibility.HIDDEN for t in q.tests)]
    assert len(with_challenge) == 11
    assert sum(1 for q in loaded["mbpp"] if q.setup_code) > 0
    san = {q.problem_id: q for q in loaded["mbpp_sanitized"]}
    assert any(q.test_imports for q in san.values())


def test_leetcode_solution_class_and_prelude(loaded: dict[str, list[Problem]]) -> None:
    p = loaded["leetcode"][0]
    assert p.entry_point is not None and p.entry_point.startswith("Solution().")
    assert p.test_preamble.rstrip().endswith(f"candidate = {p.entry_point}")
    assert "class ListNode" in p.test_imports[0] and p.date and p.tags
    assert str(p.source["starter_code"]).startswith("class Solution")


def test_derived_difficulty_is_deterministic_terciles(loaded: dict[str, list[Problem]], shared_data: Path) -> None:
    he = loaded["humaneval"]
    assert {p.difficulty_source for p in he} == {DifficultySource.DERIVED}
    assert {p.difficulty_rule for p in he} == {DERIVED_RULE}
    assert Counter(p.difficulty for p in he) == {Difficulty.EASY: 54, Difficulty.MEDIUM: 54, Difficulty.HARD: 56}
    # the split does not change a problem's difficulty
    test_only = {p.problem_id: p.difficulty for p in load_problems("mbpp", source=shared_data / "mbpp.jsonl")}
    everything = {p.problem_id: p.difficulty for p in loaded["mbpp"]}
    assert all(everything[k] == v for k, v in test_only.items())


def test_difficulty_mapping_json_and_csv(shared_data: Path, tmp_path: Path) -> None:
    j = tmp_path / "map.json"
    j.write_text(json.dumps({"HumanEval/0": "Hard", "HumanEval/1": "easy"}))
    he = load_problems("humaneval", source=shared_data / "HumanEval.jsonl.gz", difficulty_map=j)
    first = (he[0].difficulty, he[0].difficulty_source, he[0].difficulty_rule)
    assert first == (Difficulty.HARD, DifficultySource.MAPPING, "mapping:map.json")
    assert he[2].difficulty_source == DifficultySource.DERIVED
    c = tmp_path / "map.csv"
    c.write_text("problem_id,difficulty\nleetcode/two-sum,easy\nmbpp/11,hard\n")
    mb = load_problems("mbpp", source=shared_data / "mbpp.jsonl", difficulty_map=c)
    assert mb[0].difficulty == Difficulty.HARD and mb[0].difficulty_source == DifficultySource.MAPPING


@pytest.mark.parametrize(("name", "text", "where"), [
    ("bad.csv", "problem_id,difficulty\nHumanEval/0,easy\nHumanEval/1,impossible\n", "bad.csv:3"),
    ("bad2.csv", "HumanEval/0,easy,extra\n", "bad2.csv:1"),
    ("bad.json", '{\n  "HumanEval/0": "easy",\n  "HumanEval/1": 7\n}\n', "bad.json:3"),
    ("broken.json", '{\n  "HumanEval/0": "easy",\n  oops\n}\n', "broken.json:3"),
])
def test_bad_mapping_names_file_and_line(shared_data: Path, tmp_path: Path, name: str, text: str, where: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(InvalidInputError) as e:
        load_problems("humaneval", source=shared_data / "HumanEval.jsonl.gz", difficulty_map=f)
    assert f"{tmp_path / where}:" in e.value.message or e.value.message.startswith(f"{tmp_path / where}")


def test_sources_env_var_and_data_dir(shared_data: Path, tmp_path: Path) -> None:
    env = {"CODERIG_DATA_HUMANEVAL": str(shared_data / "HumanEval.jsonl.gz")}
    assert len(load_problems("humaneval", env=env)) == 164
    assert len(load_problems("mbpp_sanitized", split="all", env={"CODERIG_DATA_DIR": str(shared_data)})) == 427
    with pytest.raises(InvalidInputError, match="file not found"):
        load_problems("humaneval", env={"CODERIG_DATA_HUMANEVAL": str(tmp_path / "missing.jsonl")})


def test_data_dir_gives_only_the_requested_splits_file(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # LeetCode's standard file is its test split: --split train must not relabel those 228 problems 'train'
    import coderig_generate.datasets as ds

    asked: list[HubSource] = []

    def fake_hub(name: str, hub: HubSource) -> list[RawRecord]:
        asked.append(hub)
        raise InvalidInputError("offline")

    monkeypatch.setattr(ds, "read_hub", fake_hub)
    data_dir = {"CODERIG_DATA_DIR": str(shared_data)}
    with pytest.raises(InvalidInputError, match="offline"):
        load_problems("leetcode", split="train", env=data_dir)
    assert asked == [HubSource("newfacade/LeetCodeDataset", None, "train")]
    # with the train file beside the test file, each split reads its own file
    with gzip.open(shared_data / "LeetCodeDataset-v0.3.1-test.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    (tmp_path / "LeetCodeDataset-v0.3.1-test.jsonl.gz").symlink_to(shared_data / "LeetCodeDataset-v0.3.1-test.jsonl.gz")
    with gzip.open(tmp_path / "LeetCodeDataset-v0.3.1-train.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines[:3]) + "\n")
    train = load_problems("leetcode", split="train", env={"CODERIG_DATA_DIR": str(tmp_path)})
    assert len(train) == 3 and {p.split for p in train} == {"train"}
    assert len(load_problems("leetcode", split="test", env={"CODERIG_DATA_DIR": str(tmp_path)})) == 228
    # 'all' of a hub dataset without task-id splits is its default split, never a hub split named 'all'
    asked.clear()
    with pytest.raises(InvalidInputError):
        load_problems("humaneval", split="all", env={})
    assert asked == [HubSource("openai/openai_humaneval", None, "test")]


def test_corrupt_file_names_file_and_line(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / "mbpp.jsonl").read_text().splitlines()[:5]
    bad = tmp_path / "mbpp.jsonl"
    bad.write_text("\n".join([*lines[:3], '{"task_id": 4, "text": "x"', *lines[4:]]) + "\n")
    with pytest.raises(InvalidInputError, match=r"mbpp\.jsonl:4: not JSON"):
        load_problems("mbpp", source=bad, split="all")
    row = json.loads(lines[0])
    del row["test_list"]
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(InvalidInputError, match=r"mbpp\.jsonl:1: test_list: field missing"):
        load_problems("mbpp", source=bad, split="all")


HUB_PROBE = textwrap.dedent("""
    import sys
    from coderig_generate.datasets import load_problems
    from coderig_schemas import CoderigError
    for name in sys.argv[1:]:
        try:
            load_problems(name, env={})
            print(name, "LOADED")
        except CoderigError as e:
            print(name, type(e).__name__, e.one_line())
""")


def test_hub_paths_fail_offline_with_a_clear_message(tmp_path: Path) -> None:
    names = [n for n, s in DATASETS.items() if s.hub is not None]
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", HUB_PROBE, *names, "custom"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    for name in names:
        msg = lines[name]
        assert msg.startswith("InvalidInputError cannot load dataset"), msg
        assert DATASETS[name].hub.repo in msg and "--data-file" in msg and f"CODERIG_DATA_{name.upper()}" in msg  # type: ignore[union-attr]
        assert "\n" not in msg
    assert lines["custom"].startswith("UsageError dataset 'custom' has no public hub copy") and "--data-file" in lines["custom"]


def test_an_unreachable_hub_fails_at_once_without_retries(tmp_path: Path) -> None:
    # Not in offline mode, but nothing listens at the endpoint: one connect decides, instead of the hub
    # client's retries (about 30 s and a warning per attempt) before the same error.
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", HUB_PROBE, "humaneval"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    msg = out.stdout.strip()
    assert msg.startswith("humaneval InvalidInputError cannot load dataset 'humaneval' from the hub openai/openai_humaneval: "
                          "127.0.0.1:9 is unreachable (Connection refused) and it is not in the local cache; pass --data-file")
    assert "requesting" not in out.stderr  # no retry warnings


RUNNER = textwrap.dedent("""
    import json, sys
    problem = json.loads(sys.stdin.read())
    failures = []
    for test in problem["tests"]:
        ns = {"__name__": "__main__"}
        try:
            for code in problem["test_imports"]:
                exec(code, ns)
            exec(problem["reference_solution"], ns)
            exec(problem["setup_code"], ns)
            exec(problem["test_preamble"], ns)
            exec(test["code"], ns)
        except BaseException as e:
            failures.append(f"{test['test_id']}: {type(e).__name__}: {e}")
    print(json.dumps(failures))
""")

#: a handful of problems per dataset (HumanEval+'s HumanEval/32 passes through the loader's patch of its upstream bug)
SAMPLES = {
    "humaneval": ["HumanEval/0", "HumanEval/32", "HumanEval/53", "HumanEval/163"],
    "humaneval_plus": ["HumanEval/0", "HumanEval/2", "HumanEval/32", "HumanEval/53"],
    "mbpp": ["mbpp/1", "mbpp/11", "mbpp/17", "mbpp/974"],
    "mbpp_sanitized": ["mbpp/2", "mbpp/11", "mbpp/809"],
    "leetcode": [],  # first three problems, plus a linked-list one
}


def test_reference_solutions_pass_their_split_tests(loaded: dict[str, list[Problem]]) -> None:
    chosen: list[Problem] = []
    for name, ids in SAMPLES.items():
        by_id = {p.problem_id: p for p in loaded[name]}
        picked = [by_id[i] for i in ids] if ids else loaded[name][:3]
        if name == "mbpp":
            picked += [p for p in loaded[name] if p.setup_code][:1] + [p for p in loaded[name] if p.tests[-1].test_id.startswith("c")][:1]
        if name == "leetcode":
            picked += [p for p in loaded[name] if "list_node(" in p.tests[0].code][:1]
        chosen += picked
    failures = {}
    for p in chosen:
        r = subprocess.run([sys.executable, "-c", RUNNER], input=p.model_dump_json(), capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or json.loads(r.stdout) != []:
            failures[f"{p.dataset}:{p.problem_id}"] = r.stdout[:300] or r.stderr[-300:]
    assert len(chosen) >= 18
    assert failures == {}


def test_humaneval_plus_32_is_checked_as_evalplus_does(loaded: dict[str, list[Problem]]) -> None:
    # The upstream OriginFmt check raises TypeError for every answer; the patched one accepts a true root of
    # the polynomial and rejects anything else.
    p = next(q for q in loaded["humaneval_plus"] if q.problem_id == "HumanEval/32")
    assert p.source["test_patched"] and "abs(_poly(*inp, candidate(*inp)))" in p.tests[0].code
    wrong = p.model_copy(update={"reference_solution": p.prompt + "    return 0.0\n"})
    r = subprocess.run([sys.executable, "-c", RUNNER], input=wrong.model_dump_json(), capture_output=True, text=True, timeout=120)
    failures = json.loads(r.stdout)
    assert len(failures) == len(p.tests) and all(": AssertionError" in f for f in failures)


def test_publish_reference_fixture(publish_reference: Any) -> None:
    from coderig_schemas import Sample
    from coderig_schemas.layout import SAMPLES

    (out,) = publish_reference("leetcode", limit=2)
    samples = list(out.records(SAMPLES, Sample))
    assert [s.sample_id.split("#")[0] for s in samples] == [p.problem_id for p in out.records("problems.jsonl", Problem)]

"""coderig-export finetune: the command's contract, what it keeps and leaves out, and its files read back."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coderig_export.cli import main
from coderig_schemas import ChatExample, FineTuneExample, RunStore
from coderig_schemas.finetune import DatasetSummaryRow
from coderig_schemas.io import read_jsonl
from coderig_schemas.layout import CHAT_JSONL, FINETUNE_JSONL, RESULTS
from tests.fixtures.export import TOY_AVAILABLE, ExportStore

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "export"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def finetune(*args: str) -> tuple[Result, Path]:
    result = invoke("finetune", "--quiet", *args)
    assert result.exit_code == 0, result.stderr
    return result, Path(result.stdout.strip())


def ids(out: Path) -> set[str]:
    """'<problem_id>#<sample_index>' of every exported example."""
    return {e.id.split("#s0#")[0] + "#" + e.id.split("#s0#")[1].split("@")[0] for e in read_jsonl(out / FINETUNE_JSONL, FineTuneExample)}


def summary(out: Path) -> dict[str, DatasetSummaryRow]:
    rows = list(csv.DictReader(io.StringIO((out / "datasets_summary.csv").read_text())))
    return {r["dataset"]: DatasetSummaryRow.model_validate({k: (None if v == "" else v) for k, v in r.items()}, strict=False) for r in rows}


def test_stdout_is_the_path_and_a_second_call_is_a_no_op(export_store: ExportStore) -> None:
    first = invoke("finetune", export_store.toy.ref)
    assert first.exit_code == 0
    out = Path(first.stdout.strip())
    assert first.stdout == f"{out}\n" and (out / "manifest.json").is_file()
    assert "finetune export" in first.stderr  # logs go to stderr...
    assert "finetune export" in (out / "logs" / "export.log").read_text()  # ...and to the output's log file
    mtime = (out / "manifest.json").stat().st_mtime_ns
    second = invoke("finetune", export_store.toy.ref)
    assert second.exit_code == 0 and second.stdout == first.stdout
    assert "already published" in second.stderr
    assert (out / "manifest.json").stat().st_mtime_ns == mtime
    assert len(list((export_store.root / "export").glob("*/*"))) == 1


def test_a_no_op_re_run_reads_no_input_file(export_store: ExportStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from coderig_schemas import PublishedOutput

    _, out = finetune("--mix", "all", "--against", export_store.mbpp.ref)
    generate_input = next(i for i in RunStore(export_store.root).resolve(str(out)).manifest.inputs
                          if i.ref == export_store.toy.manifest.inputs[0].ref)
    assert {f.path for f in generate_input.files} == {"problems.jsonl", "samples.jsonl"}  # problems still listed as read
    read: list[str] = []
    real_path_of = PublishedOutput.path_of

    def spy(self: PublishedOutput, rel: str) -> Path:
        read.append(f"{self.ref}/{rel}")
        return real_path_of(self, rel)

    monkeypatch.setattr(PublishedOutput, "path_of", spy)
    again = invoke("finetune", "--mix", "all", "--against", export_store.mbpp.ref)
    assert again.exit_code == 0 and again.stdout == f"{out}\n"
    assert read == []  # the output key hashes the manifests only: nothing else is read to find it exists


def test_globs_skip_score_outputs_without_results(export_store: ExportStore) -> None:
    from coderig_schemas.layout import REFERENCE_TIMINGS

    store = RunStore(export_store.root)
    with store.begin(stage="score", name="reftimes__toy", config={"x": 1}, inputs=[], tool="t", tool_version="0") as b:
        b.write_bytes(REFERENCE_TIMINGS, b"")
        b.publish()
    _, out = finetune()
    assert "reftimes" not in json.dumps(store.resolve(str(out)).manifest.model_dump(mode="json")["inputs"])
    # Named explicitly, reference timings are refused for what they are (not 'made by another version').
    for command in ("finetune", "xlsx"):
        result = invoke(command, "score/reftimes__toy")
        text = " ".join(result.stderr.split())
        assert result.exit_code == 3 and result.stdout == ""
        assert "holds the scorer's reference timings (reference_timings.jsonl), not results" in text, command
        assert "another version" not in text


def test_manifest_lists_every_input_read(export_store: ExportStore) -> None:
    _, out = finetune("*")
    manifest = RunStore(export_store.root).resolve(str(out)).manifest
    refs = {i.ref for i in manifest.inputs}
    for s in (export_store.toy, export_store.mbpp, export_store.humaneval, export_store.copycat):
        assert s.ref in refs and s.manifest.inputs[0].ref in refs
    score_input = next(i for i in manifest.inputs if i.ref == export_store.toy.ref)
    assert [f.path for f in score_input.files] == [RESULTS]
    assert {e.path for e in manifest.outputs} >= {FINETUNE_JSONL, CHAT_JSONL, "finetune.csv", "datasets_summary.csv", "README.md"}


def test_decontamination_removes_eval_splits_and_copies(export_store: ExportStore) -> None:
    _, out = finetune("--mix", "all")
    got = ids(out)
    assert "mbpp/601#0" in got and "c1#0" in got  # train split, genuine custom problem
    assert not {"mbpp/11#0", "HumanEval/0#0", "c0#0"} & got  # test split, HumanEval, a copy of HumanEval/0
    rows = summary(out)
    assert (rows["mbpp"].contaminated_removed, rows["humaneval"].contaminated_removed, rows["custom"].contaminated_removed) == (1, 1, 1)
    assert rows["ALL"].contaminated_removed == 3
    card = (out / "README.md").read_text()
    assert "`mbpp:test`" in card and "`humaneval:*`" in card


def test_include_eval_splits_keeps_them(export_store: ExportStore) -> None:
    _, out = finetune("--mix", "all", "--include-eval-splits")
    assert {"mbpp/11#0", "HumanEval/0#0", "c0#0"} <= ids(out)
    assert summary(out)["ALL"].contaminated_removed == 0


def test_custom_eval_split_and_against(export_store: ExportStore) -> None:
    _, out = finetune("--mix", "all", "--eval-split", "custom")
    got = ids(out)
    assert not any(i.startswith("c") for i in got) and "mbpp/11#0" in got  # only the named split is evaluation data...
    assert "HumanEval/0#0" not in got  # ...with its copies: HumanEval/0 has c0's statement
    # --against: every problem of the toy run is an evaluation problem.
    _, out = finetune("--mix", "all", "--against", export_store.toy.ref, "--name", "against")
    got = ids(out)
    assert got == {"mbpp/601#0", "c1#0"}


def test_an_eval_split_naming_no_input_dataset_is_refused(export_store: ExportStore) -> None:
    # 'mbbp' (a typo of mbpp) would remove nothing and keep mbpp's test problems: exit 2, nothing published.
    result = invoke("finetune", "--mix", "all", "--eval-split", "mbbp:test")
    text = " ".join(result.stderr.split())
    assert result.exit_code == 2 and result.stdout == ""
    assert "--eval-split mbbp:test: no input has that dataset" in text and "custom, humaneval, mbpp, toy" in text
    assert not list((export_store.root / "export").glob("*/*/manifest.json"))
    # A dataset that is there but a split that is not: removes nothing, said loudly, not refused.
    result = invoke("finetune", "--mix", "all", "--eval-split", "mbpp:tset", "--eval-split", "humaneval")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "--eval-split mbpp:tset removes nothing: the inputs' mbpp problems are in split(s) test, train" in text


def test_duplicates_are_removed_and_counted(export_store: ExportStore) -> None:
    _, out = finetune(export_store.toy.ref, "--mix", "all")
    got = ids(out)
    assert {"e0#0", "e0#1"} <= got and "e0#2" not in got  # e0#2 is e0#0 with another comment and a docstring
    assert summary(out)["toy"].duplicates_removed == 1
    assert len(got) == sum(TOY_AVAILABLE.values())


def test_only_passing_samples_and_visible_only(export_store: ExportStore) -> None:
    _, out = finetune(export_store.toy.ref, "--mix", "all")
    assert not {"e1#2", "e4#1", "m1#1", "m2#0", "h0#1", "h1#0", "u1#0"} & ids(out)
    _, vis = finetune(export_store.toy.ref, "--mix", "all", "--visible-only")
    assert ids(vis) - ids(out) == {"h1#0"}  # visible test passed, hidden failed
    rows = list(csv.DictReader(io.StringIO((vis / "finetune.csv").read_text())))
    assert {r["passed"] for r in rows if r["problem_id"] == "h1"} == {"False"}


def test_mix_shortfall_is_said_and_reported(export_store: ExportStore) -> None:
    # Clean pool: easy 9, medium 3+1 (mbpp/601), hard 1+1 (c1), unknown 1. Balanced 9 wants 3/3/3: hard is short by 1.
    result = invoke("finetune", "--size", "9", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)["stats"]["mix"]
    buckets = {b["difficulty"]: b for b in report["buckets"]}
    assert (buckets["easy"]["taken"], buckets["medium"]["taken"], buckets["hard"]["taken"]) == (3, 3, 2)
    assert buckets["hard"]["short"] == 1 and report["taken"] == 8
    assert report["achieved"] == pytest.approx({"easy": 3 / 8, "medium": 3 / 8, "hard": 2 / 8}, abs=1e-6)
    assert "bucket hard is short: 2 of 3 wanted" in " ".join(result.stderr.split())  # rich wraps log lines
    out = Path(json.loads(result.stdout)["path"])
    assert "**Short:** hard short by 1" in (out / "README.md").read_text()
    assert len(read_jsonl(out / FINETUNE_JSONL, FineTuneExample)) == 8


def test_without_size_the_scarcest_bucket_limits_and_is_named(export_store: ExportStore) -> None:
    # Clean pool: easy 9, medium 4, hard 2: balanced takes 2 of each and says hard is the limit.
    result = invoke("finetune")
    assert result.exit_code == 0
    out = Path(result.stdout.strip())
    examples = read_jsonl(out / FINETUNE_JSONL, FineTuneExample)
    assert [sum(1 for e in examples if e.difficulty == d) for d in ("easy", "medium", "hard")] == [2, 2, 2]
    assert "bucket hard (2 available) limits the exact ratios" in " ".join(result.stderr.split())
    assert "**Limited:** the scarcest bucket, hard (2 available)" in (out / "README.md").read_text()


def test_mix_hits_ratios_and_custom_ratios(export_store: ExportStore) -> None:
    _, out = finetune("--mix", "easy_heavy", "--size", "6")
    examples = read_jsonl(out / FINETUNE_JSONL, FineTuneExample)
    assert [sum(1 for e in examples if e.difficulty == d) for d in ("easy", "medium", "hard")] == [4, 1, 1]
    _, out = finetune("--ratios", "1,0,0", "--size", "5", "--name", "easy-only")
    assert {e.difficulty for e in read_jsonl(out / FINETUNE_JSONL, FineTuneExample)} == {"easy"}


def test_seed_changes_selection_and_order(export_store: ExportStore) -> None:
    _, a = finetune("--size", "6", "--seed", "1", "--name", "a")
    _, b = finetune("--size", "6", "--seed", "1", "--name", "b")
    _, c = finetune("--size", "6", "--seed", "2", "--name", "c")
    assert (a / FINETUNE_JSONL).read_bytes() == (b / FINETUNE_JSONL).read_bytes()
    assert (a / FINETUNE_JSONL).read_bytes() != (c / FINETUNE_JSONL).read_bytes()


def test_chat_and_instruction_files_agree_and_csv_has_the_columns(export_store: ExportStore) -> None:
    _, out = finetune("--mix", "all", "--system-prompt", "You write Python.")
    inst = read_jsonl(out / FINETUNE_JSONL, FineTuneExample)
    chat = read_jsonl(out / CHAT_JSONL, ChatExample)
    assert [e.id for e in inst] == [c.id for c in chat]
    for e, c in zip(inst, chat, strict=True):
        assert [m.role for m in c.messages] == ["system", "user", "assistant"]
        assert c.messages[1].content == e.instruction
        assert c.messages[2].content == f"```python\n{e.output.rstrip()}\n```"
    rows = list(csv.DictReader(io.StringIO((out / "finetune.csv").read_text())))
    assert list(rows[0]) == ["problem_id", "prompt", "response", "difficulty", "passed", "run_id"]
    assert [r["response"] for r in rows] == [e.output for e in inst]


def test_instruction_is_the_prompt_as_sent_or_the_statement(run_store: Path) -> None:
    from tests.factories import make_problem, make_result, make_sample, publish_generate, publish_score

    p = make_problem("q1", dataset="custom", difficulty="easy", prompt="Add one to x.")
    messages = [{"role": "system", "content": "Answer in one python block."},
                {"role": "user", "content": "Add one to x.\nYour code should pass:\nassert f(1) == 2"}]
    s = make_sample(p, prompt_text=None, prompt_messages=messages, extracted_code="def f(x):\r\n    return x + 1\r\n")
    score = publish_score(run_store, publish_generate(run_store, [p], [s], dataset="custom"), [make_result(s, "passed", "easy")])
    _, out = finetune(score.ref, "--mix", "all")
    [e] = read_jsonl(out / FINETUNE_JSONL, FineTuneExample)
    [c] = read_jsonl(out / CHAT_JSONL, ChatExample)
    assert e.instruction == messages[1]["content"]
    assert e.output == "def f(x):\n    return x + 1\n"  # line ends normalized
    assert [(m.role, m.content) for m in c.messages[:2]] == [("system", messages[0]["content"]), ("user", messages[1]["content"])]
    _, out = finetune(score.ref, "--mix", "all", "--instruction", "statement", "--name", "st")
    [e] = read_jsonl(out / FINETUNE_JSONL, FineTuneExample)
    [c] = read_jsonl(out / CHAT_JSONL, ChatExample)
    assert e.instruction == "Add one to x." and [m.role for m in c.messages] == ["user", "assistant"]
    _, out = finetune(score.ref, "--mix", "all", "--system-prompt", "Be brief.", "--name", "sys")
    [c] = read_jsonl(out / CHAT_JSONL, ChatExample)
    assert c.messages[0].content == "Be brief."


def test_load_dataset_reads_both_jsonl_files_as_is(export_store: ExportStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    _, out = finetune("--mix", "all")
    inst = datasets.load_dataset("json", data_files=str(out / FINETUNE_JSONL), split="train", cache_dir=str(tmp_path / "hf"))
    want = [e.model_dump(mode="json") for e in read_jsonl(out / FINETUNE_JSONL, FineTuneExample)]
    assert {"instruction", "input", "output", "difficulty", "id", "run_id"} <= set(inst.column_names)
    assert inst.to_list() == want
    chat = datasets.load_dataset("json", data_files=str(out / CHAT_JSONL), split="train", cache_dir=str(tmp_path / "hf"))
    assert chat.to_list() == [c.model_dump(mode="json") for c in read_jsonl(out / CHAT_JSONL, ChatExample)]
    assert chat[0]["messages"][0].keys() == {"role", "content"}


def test_parquet_on_request_matches_jsonl(export_store: ExportStore) -> None:
    import pyarrow.parquet as pq

    _, out = finetune("--mix", "all", "--formats", "jsonl,parquet")
    assert not (out / CHAT_JSONL).exists() and (out / "chat.parquet").is_file()
    want = [e.model_dump(mode="json") for e in read_jsonl(out / FINETUNE_JSONL, FineTuneExample)]
    assert pq.read_table(out / "finetune.parquet").to_pylist() == want
    chat = pq.read_table(out / "chat.parquet").to_pylist()
    assert [c["id"] for c in chat] == [w["id"] for w in want] and chat[0]["messages"][0]["role"] == "user"


def test_parquet_columns_are_typed_even_when_empty_or_all_unknown(export_store: ExportStore) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.factories import scored_run

    _, empty = finetune(export_store.humaneval.ref, "--formats", "parquet")  # HumanEval is left out: no example
    no_difficulty = scored_run(export_store.root, {"p0": ["passed"], "p1": ["passed"]}, dataset="custom")
    _, unknown = finetune(no_difficulty.ref, "--mix", "all", "--formats", "parquet")
    assert pq.read_table(unknown / "finetune.parquet").column("difficulty").to_pylist() == [None, None]
    for out in (unknown,):
        table = pq.read_table(out / "finetune.parquet")
        assert table.schema.names == ["schema_version", "instruction", "input", "output", "difficulty", "id", "run_id",
                                      "dataset", "problem_id", "task_id"]
        assert table.schema.field("difficulty").type == pa.string() and table.schema.field("output").type == pa.string()
        chat = pq.read_table(out / "chat.parquet").schema
        assert chat.names == ["schema_version", "messages", "difficulty", "id", "run_id", "dataset", "problem_id", "task_id"]
        assert chat.field("messages").type == pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    # An empty export writes no data file a loader could choke on: only the card and the summary.
    assert sorted(p.name for p in empty.iterdir() if p.is_file()) == ["README.md", "datasets_summary.csv", "manifest.json"]


def test_the_card_front_matter_names_the_files_written(export_store: ExportStore) -> None:
    import yaml

    def front_matter(out: Path) -> dict[str, object]:
        card = (out / "README.md").read_text()
        meta = yaml.safe_load(card.split("---\n")[1])
        assert isinstance(meta, dict)
        return meta

    _, out = finetune(export_store.toy.ref, "--mix", "all", "--formats", "parquet")
    assert front_matter(out)["configs"] == [
        {"config_name": "instruction", "data_files": "finetune.parquet", "default": True},
        {"config_name": "chat", "data_files": "chat.parquet"},
    ]
    assert 'load_dataset("parquet", data_files="chat.parquet"' in (out / "README.md").read_text()
    _, out = finetune(export_store.toy.ref, "--mix", "all", "--formats", "csv", "--name", "csv-only")
    assert "configs" not in front_matter(out)  # never 'configs: null'


def test_summary_counts(export_store: ExportStore) -> None:
    _, out = finetune(export_store.toy.ref, "--mix", "all")
    toy = summary(out)["toy"]
    assert (toy.examples, toy.easy, toy.medium, toy.hard, toy.unknown_difficulty) == (14, 9, 3, 1, 1)
    assert (toy.scored_samples, toy.passing_samples) == (22, 15)
    assert toy.success_rate_easy == pytest.approx(10 / 12, abs=1e-6)
    assert toy.success_rate_medium == pytest.approx(3 / 5, abs=1e-6)
    assert toy.success_rate_hard == pytest.approx(1 / 3, abs=1e-6)
    examples = read_jsonl(out / FINETUNE_JSONL, FineTuneExample)
    assert toy.avg_problem_chars == pytest.approx(15.0)  # 'Write f for e0.'
    assert toy.avg_solution_chars == pytest.approx(sum(len(e.output) for e in examples) / 14, abs=0.01)


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["score/nope"], 3, "no published output score/nope"),
    (["nothing-matches-*"], 3, "no score output matches"),
    (["--mix", "all", "--ratios", "1,1,1"], 2, "--ratios"),
    (["--ratios", "1,1"], 2, "three weights"),
    (["--formats", "jsonl,xml"], 2, "xml"),
    (["--include-eval-splits", "--eval-split", "mbpp:test"], 2, "contradict"),
    (["--eval-split", "a:b:c"], 2, "dataset[:split]"),
    (["--name", "a b"], 2, "Invalid value for '--name': invalid output name 'a b'"),
    (["--name", "x/y"], 2, "no '/' or spaces"),
])
def test_errors_have_codes_and_say_what(export_store: ExportStore, args: list[str], code: int, needle: str) -> None:
    result = invoke("finetune", *args)
    assert result.exit_code == code
    assert result.stdout == ""
    assert needle in " ".join(result.stderr.split())


def test_against_must_name_problems(export_store: ExportStore) -> None:
    _, out = finetune(export_store.toy.ref)
    result = invoke("finetune", export_store.toy.ref, "--against", str(out))
    assert result.exit_code == 3 and "holds no problems" in " ".join(result.stderr.split())
    generate_ref = export_store.humaneval.manifest.inputs[0].ref
    _, out = finetune("--mix", "all", "--include-eval-splits", "--against", generate_ref, "--name", "g")
    assert "HumanEval/0#0" not in ids(out) and "c0#0" not in ids(out) and "mbpp/11#0" in ids(out)


def test_a_tampered_input_is_refused(export_store: ExportStore) -> None:
    results = export_store.toy.path / RESULTS
    results.write_bytes(results.read_bytes().replace(b'"passed"', b'"passed" ', 1))
    result = invoke("finetune", export_store.toy.ref)
    assert result.exit_code == 3 and result.stdout == ""
    assert "does not match the manifest" in result.stderr


GOLDEN_FILES = (FINETUNE_JSONL, CHAT_JSONL, "finetune.csv", "datasets_summary.csv", "README.md", "dataset_info.json")


def test_golden_files(export_store: ExportStore) -> None:
    """Exports of the fixture runs, byte for byte (refresh: CODERIG_UPDATE_GOLDEN=1)."""
    _, out = finetune(export_store.toy.ref, export_store.mbpp.ref, "--size", "8", "--name", "golden", "--formats", "jsonl,chat,csv")
    # Output keys hash the inputs' manifests (timestamps included): replace them with stable names.
    keys = {s.manifest.key: f"KEY-{s.manifest.name}" for s in (export_store.toy, export_store.mbpp)}
    for name in GOLDEN_FILES:
        text = (out / name).read_text()
        for key, stable in keys.items():
            text = text.replace(key, stable)
        golden = GOLDEN / name
        if os.environ.get("CODERIG_UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert golden.is_file(), f"{golden} missing: run with CODERIG_UPDATE_GOLDEN=1"
        assert text == golden.read_text(), f"{name} differs from {golden}; if intended, refresh with CODERIG_UPDATE_GOLDEN=1"


def test_an_empty_mix_says_how_many_clean_samples_it_left_out(export_store: ExportStore) -> None:
    result = invoke("finetune", export_store.mbpp.ref, "--ratios", "0,0,1")  # mbpp/601 (medium) is clean, no hard
    assert result.exit_code == 0 and not (Path(result.stdout.strip()) / FINETUNE_JSONL).exists()
    assert "1 clean ones not taken by the balanced mix" in " ".join(result.stderr.split())


def test_an_empty_dataset_is_published_and_said(export_store: ExportStore) -> None:
    result = invoke("finetune", export_store.humaneval.ref)
    assert result.exit_code == 0
    out = Path(result.stdout.strip())
    assert not (out / FINETUNE_JSONL).exists() and not (out / "chat.jsonl").exists()
    warning = [line for line in result.stderr.splitlines() if "the dataset is empty" in line]
    assert len(warning) == 1 and "1 passing samples, 1 from evaluation splits" in warning[0]  # one line, never wrapped
    assert warning[0].endswith("; no data files written")
    assert json.loads((out / "manifest.json").read_text())["stats"]["examples"] == 0


def test_include_eval_splits_keeps_splits_but_not_against_and_hints_only_what_was_not_given(export_store: ExportStore) -> None:
    generate_ref = export_store.humaneval.manifest.inputs[0].ref
    result = invoke("finetune", export_store.humaneval.ref, "--include-eval-splits", "--against", generate_ref, "--mix", "all")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "the dataset is empty: 1 passing samples, 1 from --against outputs, 0 duplicates" in text
    assert "--include-eval-splits keeps" not in text and "--mix all takes" not in text  # both were given
    card = (Path(result.stdout.strip()) / "README.md").read_text()
    assert f"evaluation splits kept (`--include-eval-splits`); every problem of `{generate_ref}` left out" in card
    assert "**not** decontaminated" not in card
    # Without them, the hints name both options.
    result = invoke("finetune", export_store.humaneval.ref, "--against", generate_ref)
    text = " ".join(result.stderr.split())
    assert "1 from evaluation splits or --against outputs (--include-eval-splits keeps those of evaluation splits)" in text
    assert "(--mix all takes them)" in text
    help_text = " ".join(invoke("finetune", "--help").stdout.split())
    assert "--against outputs are still left out" in help_text

"""coderig-export on math runs: fine-tuning sets of full responses, text dedup, decontamination, details as CSV/parquet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner, Result

from coderig_export.cli import main as export_main
from coderig_schemas import ChatExample, FineTuneExample, RunStore, ScoreResult
from coderig_schemas.io import read_jsonl
from coderig_schemas.layout import CHAT_JSONL, FINETUNE_JSONL, RESULTS
from coderig_score.cli import main as score_main
from tests.factories import make_math_problem, make_sample, publish_generate

TEXT = {"extracted_code": "", "extraction_method": "not_applicable"}
SOLUTION = "<think>\nHalf of one is one half.\n</think>\nSo the answer is $\\boxed{\\frac{1}{2}}$."


def scored_math_run(runs: Path, dataset: str = "toymath") -> str:
    """Score a small math generate output with the real scorer; return the score output's reference."""
    p0 = make_math_problem("p0", dataset=dataset, difficulty="easy", difficulty_source="dataset")
    p1 = make_math_problem("p1", dataset=dataset, answer="7", difficulty="hard", difficulty_source="dataset")
    samples = [
        make_sample(p0, 0, raw_response=SOLUTION, **TEXT),
        make_sample(p0, 1, raw_response=SOLUTION.replace("\n", "\n\n  ").replace(" is ", "  is "), **TEXT),  # whitespace only
        make_sample(p0, 2, raw_response="It is $\\boxed{0.5}$.", **TEXT),  # another passing text
        make_sample(p0, 3, raw_response="\\boxed{3}", **TEXT),  # wrong
        make_sample(p1, 0, raw_response="Seven: \\boxed{7}", **TEXT),
        make_sample(p1, 1, raw_response="seven: \\boxed{7}", **TEXT),  # case differs: not a duplicate
        make_sample(p1, 2, raw_response="no idea", **TEXT),  # no_answer
    ]
    gen = publish_generate(runs, [p0, p1], samples, dataset=dataset)
    r = CliRunner().invoke(score_main, ["run", "--generate", gen.ref, "--quiet", "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    return str(RunStore(runs).resolve(json.loads(r.stdout)["output"]).ref)


def export(*args: str) -> Result:
    return CliRunner().invoke(export_main, list(args), catch_exceptions=False)


def test_finetune_keeps_full_passing_responses_once(run_store: Path) -> None:
    ref = scored_math_run(run_store)
    r = export("finetune", ref, "--quiet", "--mix", "all", "--formats", "jsonl,chat,csv,parquet", "--json")
    assert r.exit_code == 0, r.output
    out = Path(json.loads(r.stdout)["path"])
    examples = read_jsonl(out / FINETUNE_JSONL, FineTuneExample)
    outputs = sorted(e.output for e in examples)
    assert outputs == sorted([SOLUTION, "It is $\\boxed{0.5}$.", "Seven: \\boxed{7}", "seven: \\boxed{7}"])
    chats = read_jsonl(out / CHAT_JSONL, ChatExample)
    assert sorted(c.messages[-1].content for c in chats) == outputs  # the response verbatim, no code fence
    assert {c.messages[-2].content for c in chats} == {"Compute p0.", "Compute p1."}
    summary = {row["dataset"]: row for row in csv.DictReader(io.StringIO((out / "datasets_summary.csv").read_text()))}
    assert summary["toymath"]["duplicates_removed"] == "1" and summary["toymath"]["passing_samples"] == "5"
    assert pq.read_table(out / "finetune.parquet").num_rows == 4


def test_math_evaluation_sets_are_left_out_by_default(run_store: Path) -> None:
    ref = scored_math_run(run_store, dataset="math500")
    r = export("finetune", ref, "--quiet", "--mix", "all", "--json")
    assert r.exit_code == 0, r.output
    stats = json.loads(r.stdout)["stats"]
    assert stats["examples"] == 0 and stats["contamination"] == {"eval split math500:*": 5}
    kept = export("finetune", ref, "--quiet", "--mix", "all", "--include-eval-splits", "--json")
    assert json.loads(kept.stdout)["stats"]["examples"] == 4


def test_per_sample_details_convert_to_csv_and_parquet(run_store: Path, tmp_path: Path) -> None:
    ref = scored_math_run(run_store)
    results = RunStore(run_store).resolve(ref).path / RESULTS
    to_csv = export("convert", str(results), "-o", str(tmp_path / "details.csv"))
    to_parquet = export("convert", str(results), "--to", "parquet", "-o", str(tmp_path / "details.parquet"))
    assert to_csv.exit_code == 0 and to_parquet.exit_code == 0, to_csv.output + to_parquet.output
    assert to_parquet.stdout == f"{tmp_path / 'details.parquet'}\n"
    rows = list(csv.DictReader(io.StringIO((tmp_path / "details.csv").read_text())))
    table = pq.read_table(tmp_path / "details.parquet")
    assert table.column_names == list(rows[0]) == list(ScoreResult.model_fields)
    assert table.schema.field("tests_passed").type == "int64" and table.schema.field("passed").type == "bool"
    parquet_rows = table.to_pylist()
    assert [json.loads(r["answer"]) for r in parquet_rows] == [json.loads(r["answer"]) for r in rows]
    wrong = next(r for r in parquet_rows if r["verdict"] == "wrong_answer")
    assert json.loads(wrong["answer"]) == {"extracted": "3", "method": "boxed", "gold": "\\frac{1}{2}"}
    assert [r["passed"] for r in parquet_rows] == [r["passed"] == "True" for r in rows]


def test_workbook_of_a_math_run_shows_responses_and_every_verdict(run_store: Path) -> None:
    from openpyxl import load_workbook

    ref = scored_math_run(run_store)
    r = export("xlsx", ref, "--quiet")
    assert r.exit_code == 0, r.output
    ws = load_workbook(Path(r.stdout.strip()) / "results.xlsx", read_only=True)["Results"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    verdicts = {row[header.index("verdict")] for row in rows[1:]}
    assert verdicts == {"passed", "wrong_answer", "no_answer"}
    assert SOLUTION in {row[header.index("code")] for row in rows[1:]}

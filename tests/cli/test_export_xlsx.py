"""coderig-export xlsx: the workbook read back with openpyxl and pandas gives the values of the runs."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from coderig_export.cli import main
from coderig_export.xlsx import EXCEL_CELL_LIMIT, RESULT_HEADERS, VERDICT_FILLS, WorkbookWriter, excel_text
from coderig_schemas import ScoreResult, Verdict
from coderig_schemas.io import read_jsonl
from coderig_schemas.layout import RESULTS
from tests.fixtures.export import ExportStore, ProblemSpec, publish_run, toy_specs


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def workbook(*args: str) -> Path:
    result = invoke("xlsx", "--quiet", *args)
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip()) / "results.xlsx"


def test_excel_text_truncates_with_a_marker_and_cleans_control_characters() -> None:
    assert excel_text("short") == "short"
    assert excel_text(None) is None
    assert excel_text("a\x00b\x1fc") == "a\ufffdb\ufffdc"
    long = "x" * 100_000
    cut = excel_text(long)
    assert cut is not None and len(cut) <= EXCEL_CELL_LIMIT
    assert cut.endswith("characters cut; the full text is in the run's JSONL]")
    assert f"of {len(long)} characters" in cut
    dropped = int(cut.rsplit("truncated by coderig: ", 1)[1].split(" ")[0])
    kept = cut.split("\n…[truncated", 1)[0]
    assert kept == "x" * (len(long) - dropped)
    exact = "y" * EXCEL_CELL_LIMIT
    assert excel_text(exact) == exact


def test_excel_text_counts_as_excel_does_and_drops_what_xml_cannot_hold() -> None:
    assert excel_text("a\ufffeb\uffffc") == "a\ufffdb\ufffdc"  # lxml refuses these non-characters
    emoji = "\U0001F600" * 20_000  # 20,000 characters but 40,000 UTF-16 units: too long for Excel
    cut = excel_text(emoji)
    assert cut is not None and len(cut.encode("utf-16-le")) // 2 <= EXCEL_CELL_LIMIT
    kept = cut.split("\n…[truncated", 1)[0]
    assert kept == "\U0001F600" * len(kept)  # never half a surrogate pair
    assert f"{20_000 - len(kept)} of 20000 characters cut" in cut
    fits = "\U0001F600" * (EXCEL_CELL_LIMIT // 2)
    assert excel_text(fits) == fits


def test_the_writer_streams() -> None:
    assert WorkbookWriter().wb.write_only


def test_sheets_frames_and_styles(export_store: ExportStore) -> None:
    path = workbook(export_store.toy.ref, export_store.humaneval.ref)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Runs", "Compare", "Results"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:")
        assert all(c.font.bold for c in ws[1])
    res = wb["Results"]
    assert [c.value for c in res[1]] == [h for h, _ in RESULT_HEADERS]
    assert res.auto_filter.ref == f"A1:AC{res.max_row}"
    assert res.column_dimensions["AA"].width == 90 and res.column_dimensions["A"].width == 36
    headers = [c.value for c in res[1]]
    vcol, ccol = headers.index("verdict"), headers.index("code")
    for row in res.iter_rows(min_row=2):
        assert row[vcol].fill.fgColor.rgb == "00" + VERDICT_FILLS[row[vcol].value]
        assert row[ccol].alignment.wrap_text
    for name in ("Summary", "Runs"):
        sheet = wb[name]
        rate = [c.value for c in sheet[1]].index("pass_rate")
        # A rate of exactly 1 reads back as the int 1: still a number, never text.
        assert all(r[rate].number_format == "0.0%" and isinstance(r[rate].value, int | float) for r in sheet.iter_rows(min_row=2))


def test_results_sheet_holds_every_sample_with_numbers_as_numbers(export_store: ExportStore) -> None:
    path = workbook(export_store.toy.ref, export_store.humaneval.ref)
    runs = sorted([export_store.humaneval, export_store.toy], key=lambda o: o.ref)  # the workbook orders runs by reference
    want = [r for run in runs for r in read_jsonl(run.path / RESULTS, ScoreResult)]
    ws = openpyxl.load_workbook(path)["Results"]
    headers = [c.value for c in ws[1]]
    rows = [dict(zip(headers, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    assert len(rows) == len(want) == 23
    for row, r in zip(rows, want, strict=True):
        assert (row["sample_id"], row["verdict"], row["passed"]) == (r.sample_id, str(r.verdict), r.passed)
        assert (row["tests_passed"], row["tests_total"], row["hidden_passed"], row["hidden_total"]) == (
            r.tests_passed, r.tests_total, r.hidden_passed, r.hidden_total)
        assert isinstance(row["tests_passed"], int) and isinstance(row["duration_s"], float) and isinstance(row["passed"], bool)
        assert row["difficulty"] == (str(r.difficulty) if r.difficulty else None)
        assert row["error_message"] == r.error_message
    # pandas reads the same values as openpyxl.
    df = pd.read_excel(path, sheet_name="Results")
    assert list(df.columns) == headers
    frame = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    assert frame == rows


def test_summary_pools_runs_by_model_dataset_and_difficulty(export_store: ExportStore) -> None:
    seed1 = publish_run(export_store.root, toy_specs(), model="alpha", dataset="toy", seed=1)
    path = workbook(export_store.toy.ref, seed1.ref, export_store.humaneval.ref)
    summary = pd.read_excel(path, sheet_name="Summary")
    pairs = list(summary[["model", "dataset"]].drop_duplicates().itertuples(index=False, name=None))
    assert pairs == [("alpha", "toy"), ("beta", "humaneval")]
    toy = summary[summary["model"] == "alpha"].set_index("difficulty")
    assert list(toy.index) == ["all", "easy", "medium", "hard", "unknown"]
    assert (toy.loc["all", "runs"], toy.loc["all", "samples"], toy.loc["all", "passed"]) == (2, 44, 30)
    assert toy.loc["easy", "pass_rate"] == pytest.approx(20 / 24)
    assert (toy.loc["hard", "problems"], toy.loc["hard", "problems_solved"]) == (2, 1)
    runs = pd.read_excel(path, sheet_name="Runs")
    assert sorted(set(runs["run"])) == sorted({export_store.toy.manifest.name, seed1.manifest.name, export_store.humaneval.manifest.name})


def test_runs_and_compare_give_pass_rates_side_by_side(export_store: ExportStore) -> None:
    path = workbook(export_store.toy.ref, export_store.humaneval.ref)
    summary = pd.read_excel(path, sheet_name="Runs")
    toy = summary[summary["run"] == export_store.toy.manifest.name].set_index("difficulty")
    assert list(toy.index) == ["all", "easy", "medium", "hard", "unknown"]
    assert (toy.loc["all", "samples"], toy.loc["all", "passed"], toy.loc["all", "seed"]) == (22, 15, 0)
    assert toy.loc["easy", "pass_rate"] == pytest.approx(10 / 12)
    assert (toy.loc["hard", "problems"], toy.loc["hard", "problems_solved"]) == (2, 1)
    assert set(summary["model"]) == {"alpha", "beta"}
    compare = pd.read_excel(path, sheet_name="Compare")
    toy_name, he_name = export_store.toy.manifest.name, export_store.humaneval.manifest.name
    assert list(compare.columns) == ["dataset", "problem_id", "difficulty", toy_name, he_name]
    e1 = compare[compare["problem_id"] == "e1"].iloc[0]
    assert e1[toy_name] == pytest.approx(2 / 3) and pd.isna(e1[he_name])


def test_two_versions_of_one_run_are_told_apart(export_store: ExportStore) -> None:
    from coderig_schemas import RunStore

    generate = RunStore(export_store.root).resolve(export_store.humaneval.manifest.inputs[0].ref)
    results = read_jsonl(export_store.humaneval.path / RESULTS, ScoreResult)
    with RunStore(export_store.root).begin(stage="score", name=export_store.humaneval.manifest.name, config={"scorer": "v2"},
                                           inputs=[generate], tool="t", tool_version="0") as b:
        b.write_records(RESULTS, [r.model_copy(update={"verdict": Verdict.TIMEOUT, "passed": False}) for r in results])
        rescored = b.publish()
    path = workbook(export_store.humaneval.ref, rescored.ref, export_store.toy.ref)
    name = export_store.humaneval.manifest.name
    both = {f"{name}/{export_store.humaneval.manifest.key}", f"{name}/{rescored.manifest.key}"}
    compare = pd.read_excel(path, sheet_name="Compare")
    assert set(compare.columns[3:]) == both | {export_store.toy.manifest.name}  # a name alone stays as it is
    runs = pd.read_excel(path, sheet_name="Runs")
    assert set(runs["run"]) == both | {export_store.toy.manifest.name}
    assert len(runs[runs["run"].isin(both) & (runs["difficulty"] == "all")]) == 2


def test_long_code_is_truncated_and_the_file_still_opens(run_store: Path) -> None:
    code = "def f(x):\n    return x\n# " + "z" * 40_000 + "\x07\n"
    score = publish_run(run_store, [ProblemSpec("big", "hard", [("passed", code)])], model="gamma", dataset="toy")
    result = invoke("xlsx", "--json", score.ref)
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["stats"]["truncated_cells"] == 2  # the code past Excel's limit, the raw response past --max-text-chars
    assert "truncated with a marker" in result.stderr
    ws = openpyxl.load_workbook(Path(info["path"]) / "results.xlsx")["Results"]
    cell = ws.cell(row=2, column=[h for h, _ in RESULT_HEADERS].index("code") + 1).value
    assert isinstance(cell, str) and len(cell) <= EXCEL_CELL_LIMIT and "truncated by coderig" in cell
    assert cell.startswith("def f(x):\n    return x\n# zzz")


def test_hostile_texts_stay_text_and_the_workbook_opens(run_store: Path) -> None:
    """Ids, exception names and messages come from datasets and from untrusted code: none may become a formula,
    an error value or a character the file cannot hold."""
    from tests.factories import make_problem, make_result, make_sample, publish_generate, publish_score

    texts = {"=cmd|' /C calc'!A0": "=2+3", "ctl\x01id": "#N/A", "bom\ufffe": "=HYPERLINK(\"http://x\",\"y\")"}
    problems = [make_problem(pid, dataset="custom", difficulty="easy") for pid in texts]
    samples = [make_sample(p, extracted_code="=1+1\ndef f(x):\n    return '\x0b\uffff'\n") for p in problems]
    results = [make_result(s, "runtime_error", "easy", exception_type=msg, error_message=msg)
               for s, msg in zip(samples, texts.values(), strict=True)]
    score = publish_score(run_store, publish_generate(run_store, problems, samples, dataset="custom"), results)
    result = invoke("xlsx", "--quiet", score.ref)
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip()) / "results.xlsx"
    wb = openpyxl.load_workbook(path)
    assert all(c.data_type in ("s", "n", "b") for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None)
    ws = wb["Results"]
    headers = [c.value for c in ws[1]]
    rows = [dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    want = {pid.replace("\x01", "\ufffd").replace("\ufffe", "\ufffd"): msg for pid, msg in texts.items()}
    assert {r["problem_id"]: r["error_message"] for r in rows} == want
    assert {r["problem_id"]: r["exception_type"] for r in rows} == want
    assert {r["code"] for r in rows} == {"=1+1\ndef f(x):\n    return '\ufffd\ufffd'\n"}
    df = pd.read_excel(path, sheet_name="Results", keep_default_na=False)
    assert dict(zip(df["problem_id"], df["error_message"], strict=True)) == want
    compare = pd.read_excel(path, sheet_name="Compare", keep_default_na=False)
    assert set(compare["problem_id"]) == set(want)


def test_rows_past_the_sheet_limit_continue_on_another_sheet(export_store: ExportStore, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from coderig_export.config import XlsxConfig
    from coderig_export.load import open_runs
    from coderig_export.workbook import write_workbook
    from coderig_schemas import RunStore

    monkeypatch.setattr(WorkbookWriter, "max_sheet_rows", 11)  # header + 10 rows per sheet
    runs = open_runs(RunStore(export_store.root), [export_store.toy.ref])
    writer = write_workbook(runs, XlsxConfig(), tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    assert wb.sheetnames == ["Summary", "Runs", "Compare", "Results", "Results 2", "Results 3"]
    counts = [wb[s].max_row - 1 for s in ("Results", "Results 2", "Results 3")]
    assert counts == [10, 10, 2] and writer.rows == 22
    assert wb["Results 3"].auto_filter.ref == "A1:AC3" and wb["Results 2"].freeze_panes == "A2"


def test_no_code_and_no_op(export_store: ExportStore) -> None:
    first = invoke("xlsx", "--no-code", export_store.toy.ref)
    second = invoke("xlsx", "--no-code", export_store.toy.ref)
    assert first.exit_code == second.exit_code == 0 and first.stdout == second.stdout
    ws = openpyxl.load_workbook(Path(first.stdout.strip()) / "results.xlsx")["Results"]
    assert not {"code", "prompt", "response"} & {c.value for c in ws[1]}


def test_errors(export_store: ExportStore) -> None:
    missing = invoke("xlsx", "score/absent")
    assert missing.exit_code == 3 and missing.stdout == "" and "no published output score/absent" in missing.stderr
    generate_ref = export_store.toy.manifest.inputs[0].ref
    wrong_stage = invoke("xlsx", generate_ref)
    assert wrong_stage.exit_code == 3 and "not a score output" in wrong_stage.stderr
    bad = invoke("xlsx", "--max-cell-chars", "50")
    assert bad.exit_code == 2
    bad_name = invoke("xlsx", export_store.toy.ref, "--name", "my book")
    assert bad_name.exit_code == 2 and bad_name.stdout == ""
    assert "Invalid value for '--name': invalid output name 'my book'" in " ".join(bad_name.stderr.split())


def test_golden_workbook_values(export_store: ExportStore) -> None:
    """Every cell value and number format of the fixture workbook (refresh: CODERIG_UPDATE_GOLDEN=1)."""
    import os

    path = workbook(export_store.toy.ref, export_store.humaneval.ref, "--name", "golden")
    wb = openpyxl.load_workbook(path)
    # One line per row: each cell's value, with its number format when it has one.
    text = "".join(
        f"{ws.title}\t{json.dumps([[c.value, c.number_format] if c.number_format != 'General' else c.value for c in row])}\n"
        for ws in wb.worksheets for row in ws.iter_rows()
    )
    golden = Path(__file__).resolve().parent.parent / "golden" / "export" / "workbook.json"
    if os.environ.get("CODERIG_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.is_file(), f"{golden} missing: run with CODERIG_UPDATE_GOLDEN=1"
    assert text == golden.read_text(), f"the workbook differs from {golden}; if intended, refresh with CODERIG_UPDATE_GOLDEN=1"


def test_help_lists_every_sheet_the_workbook_has(export_store: ExportStore) -> None:
    help_text = " ".join(invoke("xlsx", "--help").stdout.split())
    path = Path(invoke("xlsx", export_store.toy.ref).stdout.strip()) / "results.xlsx"
    sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
    assert sheets == ["Summary", "Runs", "Compare", "Results"]
    for sheet in sheets:
        assert f"{sheet} (" in help_text, sheet

"""A workbook that reads well: the layout properties read back with openpyxl, and one colour per verdict everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner, Result
from openpyxl.utils import get_column_letter

from coderig_export.cli import main
from coderig_export.xlsx import LINE_POINTS, MAX_ROW_LINES, text_lines
from coderig_schemas import ChatMessage, Verdict
from coderig_schemas.verdict_colors import VERDICT_COLORS, VERDICT_TEXT_COLORS, verdict_color
from tests.factories import make_problem, make_result, make_sample, publish_generate, publish_score
from tests.fixtures.export import ExportStore


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def workbook(*args: str) -> openpyxl.Workbook:
    result = invoke("xlsx", "--quiet", *args)
    assert result.exit_code == 0, result.stderr
    return openpyxl.load_workbook(Path(result.stdout.strip()) / "results.xlsx")


def rows_of(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[dict[str, object]]:
    headers = [c.value for c in ws[1]]
    return [dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]


def publish_texts(runs: Path) -> str:
    """One run whose samples have a one-line, a three-line and a 300-line program, and a very long prompt and response."""
    problems = [make_problem(pid, dataset="mbpp") for pid in ("one", "three", "long")]
    codes = {"one": "f = 1", "three": "def f(x):\n    y = x\n    return y", "long": "\n".join(f"x{i} = {i}" for i in range(300))}
    samples = []
    for p in problems:
        s = make_sample(p, extracted_code=codes[p.problem_id])
        messages = [ChatMessage(role="system", content="be brief"),
                    ChatMessage(role="user", content=f"Solve {p.problem_id}. " + "q" * 9000)]
        samples.append(s.model_copy(update={"prompt_messages": messages, "raw_response": "thinking " * 2000 + codes[p.problem_id]}))
    verdicts = {"one": "passed", "three": "wrong_answer", "long": "sandbox_error"}
    results = [make_result(s, verdicts[s.problem_id], None, error_message=f"{s.problem_id}: " + "assert f(1) == 2 " * 20)
               for s in samples]
    return publish_score(runs, publish_generate(runs, problems, samples, dataset="mbpp"), results).ref


def test_prompt_and_raw_response_columns_are_capped_and_wrapped(run_store: Path) -> None:
    ws = workbook(publish_texts(run_store), "--max-text-chars", "1000")["Results"]
    headers = [c.value for c in ws[1]]
    assert headers[-3:] == ["code", "prompt", "response"]
    rows = rows_of(ws)
    one = next(r for r in rows if r["problem_id"] == "one")
    prompt, response = str(one["prompt"]), str(one["response"])
    assert prompt.startswith("Solve one. qqq") and "be brief" not in prompt  # the user turn as sent
    assert response.startswith("thinking thinking")
    for text, total in ((prompt, len("Solve one. ") + 9000), (response, len("thinking " * 2000) + len("f = 1"))):
        assert len(text) <= 1000 and text.endswith("the full text is in the run's JSONL]") and f"of {total} characters" in text
    for name in ("code", "prompt", "response", "error_message"):
        col = headers.index(name)
        assert all(r[col].alignment.wrap_text for r in ws.iter_rows(min_row=2)), name


def test_rows_are_as_tall_as_their_text_up_to_a_cap(run_store: Path) -> None:
    ref = publish_texts(run_store)
    ws = workbook(ref, "--no-code")["Results"]
    err = [c.value for c in ws[1]].index("error_message")
    for r in ws.iter_rows(min_row=2):  # without the text columns, the error message alone sets the height
        lines = text_lines(r[err].value, ws.column_dimensions[get_column_letter(err + 1)].width)
        assert 1 < lines < MAX_ROW_LINES and ws.row_dimensions[r[0].row].height == lines * LINE_POINTS
    ws = workbook(ref)["Results"]
    heights = {r[[c.value for c in ws[1]].index("problem_id")].value: ws.row_dimensions[r[0].row].height
               for r in ws.iter_rows(min_row=2)}
    # every row has a long wrapped prompt, so each is capped; code alone decides with the prompt column left short
    assert set(heights.values()) == {LINE_POINTS * MAX_ROW_LINES}
    problems = [make_problem(pid, dataset="toy") for pid in ("one", "three", "long")]
    codes = {"one": "f = 1", "three": "a = 1\nb = 2\nc = 3", "long": "\n".join(f"x{i} = {i}" for i in range(300))}
    samples = [make_sample(p, extracted_code=codes[p.problem_id]).model_copy(update={"raw_response": "", "prompt_messages": None,
                                                                                   "prompt_text": "p"}) for p in problems]
    ref = publish_score(run_store, publish_generate(run_store, problems, samples, dataset="toy"),
                        [make_result(s, "passed", None) for s in samples]).ref
    ws = workbook(ref, "--name", "short-texts")["Results"]
    pid = [c.value for c in ws[1]].index("problem_id")
    heights = {r[pid].value: ws.row_dimensions[r[0].row].height for r in ws.iter_rows(min_row=2)}
    assert heights == {"one": None, "three": 3 * LINE_POINTS, "long": MAX_ROW_LINES * LINE_POINTS}
    tall = next(r for r in ws.iter_rows(min_row=2) if r[pid].value == "long")
    assert tall[pid].alignment.vertical == "top"  # a tall row reads from the top
    code = [c.value for c in ws[1]].index("code")
    assert tall[code].font.name == "Consolas"  # indentation is syntax: a monospaced font


def test_every_header_is_fully_visible(export_store: ExportStore) -> None:
    wb = workbook(export_store.toy.ref, export_store.humaneval.ref)
    for ws in wb.worksheets:
        header_height = ws.row_dimensions[1].height
        for cell in ws[1]:
            width = ws.column_dimensions[get_column_letter(cell.column)].width
            text = str(cell.value)
            assert cell.font.bold and cell.alignment.wrap_text
            # the text and the filter button fit on one line, or the header row is tall enough for the wrapped lines
            fits = width >= len(text) + 2
            lines = -(-len(text) // max(1, int(width) - 3))
            assert fits or (header_height is not None and header_height >= lines * LINE_POINTS), (ws.title, text, width)


def test_a_long_run_name_wraps_in_a_taller_header(run_store: Path) -> None:
    problems = [make_problem("p1", dataset="toy")]
    samples = [make_sample(problems[0])]
    gen = publish_generate(run_store, problems, samples, dataset="toy", model="a-model-with-a-very-long-name-t0.8-top_p0.95")
    ref = publish_score(run_store, gen, [make_result(samples[0], "passed", None)]).ref
    ws = workbook(ref)["Compare"]
    assert ws.row_dimensions[1].height is not None and ws.row_dimensions[1].height >= 2 * LINE_POINTS


def test_freeze_filter_and_print_setup_on_every_sheet(export_store: ExportStore) -> None:
    wb = workbook(export_store.toy.ref, export_store.humaneval.ref)
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{get_column_letter(ws.max_column)}{ws.max_row}"
        assert ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert (int(ws.page_setup.fitToWidth), int(ws.page_setup.fitToHeight)) == (1, 0)  # one page wide, any number tall
        assert ws.print_title_rows == "$1:$1"  # the header repeats on every printed page
        assert ws.print_options.gridLines is True  # printed, tall wrapped rows stay apart
        for cell in ws[1]:  # a header sits over its values: right-aligned over numbers, left over text
            if cell.value in ("tests_total", "pass_rate", "samples") or (ws.title == "Compare" and cell.column > 3):
                assert cell.alignment.horizontal == "right", (ws.title, cell.value)
            elif cell.value in ("model", "problem_id", "verdict", "code"):
                assert cell.alignment.horizontal is None, (ws.title, cell.value)


def test_verdict_colours_are_the_charts_colours(export_store: ExportStore) -> None:
    from coderig_analyze.cli import main as analyze

    wb = workbook(export_store.toy.ref, export_store.humaneval.ref)
    ws = wb["Results"]
    vcol = [c.value for c in ws[1]].index("verdict")
    seen = set()
    for row in ws.iter_rows(min_row=2):
        v = Verdict(row[vcol].value)
        seen.add(v)
        assert row[vcol].fill.fgColor.rgb == "00" + VERDICT_COLORS[v]
        assert row[vcol].font.color.rgb == "00" + VERDICT_TEXT_COLORS[v]
    assert len(seen) >= 3
    # The verdict chart paints its bars with the same colours: each verdict of the data appears in the PNG, pixel-exact.
    r = CliRunner().invoke(analyze, ["run", export_store.toy.ref, export_store.humaneval.ref, "--quiet"])
    assert r.exit_code == 0, r.stderr
    png = matplotlib.image.imread(Path(r.stdout.strip()) / "charts" / "verdict_distribution.png")
    pixels = {tuple(round(float(c) * 255) for c in px[:3]) for px in np.asarray(png).reshape(-1, png.shape[-1])}
    for v in seen:
        hexa = verdict_color(v)
        assert tuple(int(hexa[i:i + 2], 16) for i in (1, 3, 5)) in pixels, v


def test_finetune_records_keep_the_datasets_own_id(run_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datasets import load_dataset

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    he = make_problem("HumanEval/7", dataset="humaneval", source={"task_id": "HumanEval/7"})
    mb = make_problem("mbpp/611", dataset="mbpp", split="train", source={"task_id": 611})
    refs = []
    for p in (he, mb):
        s = make_sample(p)
        refs.append(publish_score(run_store, publish_generate(run_store, [p], [s], dataset=p.dataset),
                                  [make_result(s, "passed", None)]).ref)
    r = invoke("finetune", *refs, "--mix", "all", "--include-eval-splits", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    out = Path(json.loads(r.stdout)["path"])
    for name in ("finetune.jsonl", "chat.jsonl"):
        records = {rec["problem_id"]: rec for rec in map(json.loads, (out / name).read_text().splitlines())}
        assert {k: (v["dataset"], v["task_id"]) for k, v in records.items()} == {
            "HumanEval/7": ("humaneval", "HumanEval/7"), "mbpp/611": ("mbpp", "611")}
        assert all(v["schema_version"] == 2 for v in records.values())
        # text ids of both datasets in one column: Arrow would refuse a column mixing 611 and "HumanEval/7"
        ds = load_dataset("json", data_files=str(out / name), split="train", cache_dir=str(tmp_path / "hf"))
        assert sorted(ds["task_id"]) == ["611", "HumanEval/7"]

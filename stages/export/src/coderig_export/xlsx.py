"""The evaluation workbook: Summary, Runs, Compare (runs side by side) and Results sheets, streamed with openpyxl's write-only mode.

Write-only mode keeps memory flat whatever the number of rows (each sheet streams to its own
temporary file until save), so the same code path serves 100 rows and 100k rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from coderig_schemas import ScoreResult, TaskType, Verdict

from .load import ScoredRow

#: Excel refuses cells longer than this many characters.
EXCEL_CELL_LIMIT = 32767
#: Excel's rows per sheet.
EXCEL_MAX_ROWS = 1_048_576
TRUNCATION_MARKER = "\n…[truncated by coderig: {dropped} of {total} characters cut; the full text is in the run's JSONL]"

#: Fill colour (RGB hex) of the verdict cell.
VERDICT_FILLS: dict[str, str] = {
    Verdict.PASSED: "C6EFCE",  # green
    Verdict.WRONG_ANSWER: "FFC7CE",  # red
    Verdict.RUNTIME_ERROR: "F8CBAD",  # orange
    Verdict.SYNTAX_ERROR: "FFE699",  # yellow
    Verdict.TIMEOUT: "BDD7EE",  # blue
    Verdict.MEMORY_EXCEEDED: "D9D2E9",  # purple
    Verdict.NO_CODE: "D9D9D9",  # grey
    Verdict.NO_ANSWER: "D9D9D9",  # grey, as no_code: nothing gradable in the response (non-code task types)
    Verdict.TRUNCATED_GENERATION: "EDEDED",  # light grey
    Verdict.SANDBOX_ERROR: "000000",  # black: the harness failed, not the model
}

RESULT_HEADERS: tuple[tuple[str, float], ...] = (
    ("run", 36), ("model", 22), ("dataset", 14), ("split", 10), ("problem_id", 22), ("sample_id", 26), ("sample_index", 8),
    ("seed", 8), ("difficulty", 10), ("verdict", 20), ("passed", 8), ("tests_passed", 8), ("tests_total", 8),
    ("visible_passed", 8), ("visible_total", 8), ("hidden_passed", 8), ("hidden_total", 8), ("exception_type", 20),
    ("error_message", 50), ("failing_test_id", 12), ("duration_s", 10), ("task_type", 14), ("answer", 30), ("gold", 30),
    ("loose_passed", 8), ("loose_tests_passed", 8), ("code", 90),
)
SUMMARY_HEADERS: tuple[tuple[str, float], ...] = (
    ("model", 22), ("dataset", 14), ("split", 10), ("config", 36), ("config_id", 10),
    ("difficulty", 10), ("runs", 8), ("samples", 10), ("passed", 10), ("pass_rate", 10),
    ("problems", 10), ("problems_solved", 14), ("problem_solve_rate", 16),
)
RUN_HEADERS: tuple[tuple[str, float], ...] = (
    ("run", 36), ("model", 22), ("dataset", 14), ("split", 10), ("config", 36), ("config_id", 10),
    ("seed", 8), ("difficulty", 10), ("samples", 10), ("passed", 10),
    ("pass_rate", 10), ("problems", 10), ("problems_solved", 14), ("problem_solve_rate", 16),
)

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="top")
_PERCENT = "0.0%"
_BUCKET_ORDER = {"all": 0, "easy": 1, "medium": 2, "hard": 3, "unknown": 4}
_FILLS = {v: PatternFill("solid", fgColor=c) for v, c in VERDICT_FILLS.items()}
_WHITE = Font(color="FFFFFF")


#: Characters XML 1.0 (the xlsx format) cannot hold: openpyxl refuses the control characters
#: (IllegalCharacterError) and lxml the non-characters U+FFFE and U+FFFF (ValueError).
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _gold(r: ScoreResult) -> str | None:
    """What a non-code sample was judged against: the gold answer, or IFEval's instruction ids (one per check)."""
    if r.answer is not None:
        return r.answer.gold
    if r.task_type == TaskType.INSTRUCTION_FOLLOWING:
        return ", ".join(t.expected or t.test_id for t in r.tests)
    return None


def _utf16_len(text: str) -> int:
    # Excel counts a cell's characters in UTF-16 code units: a character outside the BMP (an emoji) counts twice.
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _too_long(text: str, limit: int) -> bool:
    return len(text) * 2 > limit and _utf16_len(text) > limit


def excel_text(text: str | None, limit: int = EXCEL_CELL_LIMIT) -> str | None:
    """Text an Excel cell accepts: characters XML cannot hold replaced by U+FFFD, and cut with a marker past
    ``limit`` characters as Excel counts them (UTF-16 code units); the marker counts code points, as the JSONL does."""
    if text is None:
        return None
    clean: str = _XML_ILLEGAL_RE.sub("\N{REPLACEMENT CHARACTER}", text)
    if not _too_long(clean, limit):
        return clean
    marker = TRUNCATION_MARKER.format(dropped="{dropped}", total=len(clean))
    # The marker's own length depends on the number it states; reserve room for the widest number.
    room = limit - len(marker.format(dropped=len(clean)))  # the marker is in the BMP: one unit per character
    # The longest prefix within room units; 'ignore' drops half a surrogate pair cut at the end.
    kept = clean.encode("utf-16-le")[: 2 * room].decode("utf-16-le", errors="ignore")
    return kept + marker.format(dropped=len(clean) - len(kept))


@dataclass
class _Tally:
    samples: int = 0
    passed: int = 0
    problems: dict[str, bool] = field(default_factory=dict)  # problem_id -> any sample passed

    def add(self, problem_id: str, passed: bool) -> None:
        self.samples += 1
        self.passed += passed
        self.problems[problem_id] = self.problems.get(problem_id, False) or passed


@dataclass(frozen=True)
class RunLabel:
    """How one run is named in the workbook, with its identity's configuration (coderig_schemas.identity)."""

    ref: str
    name: str
    model: str
    dataset: str
    seed: int | None
    split: str | None = None
    config: str = ""  # RunIdentity.label(), e.g. 'T=0.8 top_p=0.95 max=1024 tpl=chat'
    config_id: str = ""  # RunIdentity.config_id: runs sharing it differ only by seed

    @property
    def config_key(self) -> tuple[str, str, str, str, str]:
        """What the Summary sheet groups by: one configuration (its seeds together, never two configurations)."""
        return (self.model, self.dataset, self.split or "", self.config_id, self.config)


class WorkbookWriter:
    """Streams result rows into a workbook and adds the summary sheets at the end.

    Use :meth:`add` for every scored row, then :meth:`save`.
    """

    #: Rows of a sheet, header included (Excel's limit).
    max_sheet_rows = EXCEL_MAX_ROWS

    def __init__(self, *, max_cell_chars: int = EXCEL_CELL_LIMIT, code_column: bool = True) -> None:
        self.max_cell_chars = max_cell_chars
        self.code_column = code_column
        self.wb = Workbook(write_only=True)
        # Sheets are saved in creation order, and a write-only sheet may be appended to in any order.
        self.summary = self._sheet("Summary", SUMMARY_HEADERS)
        self.runs = self._sheet("Runs", RUN_HEADERS)
        self.compare: WriteOnlyWorksheet | None = None  # created once the runs are known (its columns are the runs)
        self._compare_index = len(self.wb.worksheets)
        self._result_headers = RESULT_HEADERS if code_column else RESULT_HEADERS[:-1]
        self.results = self._sheet("Results", self._result_headers)
        self.result_sheets = [self.results]
        self._sheet_rows = 0  # data rows in the current Results sheet
        self.rows = 0
        self.truncated = 0
        self._labels: dict[str, RunLabel] = {}
        self._tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)  # (run ref, difficulty or 'all')
        # (model, dataset, split, config_id, config label, difficulty or 'all'): per configuration, never pooled across them
        self._model_tallies: dict[tuple[str, str, str, str, str, str], _Tally] = defaultdict(_Tally)
        self._model_runs: dict[tuple[str, str, str, str, str], set[str]] = defaultdict(set)  # configuration -> run refs
        self._per_problem: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)  # (dataset, problem) -> run -> [passed, n]
        self._difficulty: dict[tuple[str, str], str] = {}

    def _sheet(self, title: str, headers: tuple[tuple[str, float], ...]) -> WriteOnlyWorksheet:
        ws = self.wb.create_sheet(title)
        self._frame(ws, [h for h, _ in headers], [w for _, w in headers])
        return ws

    def _frame(self, ws: WriteOnlyWorksheet, headers: list[str], widths: list[float]) -> None:
        # Frozen header, column widths and the header row must be set before the first data row is streamed.
        ws.freeze_panes = "A2"
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.append([self._styled(ws, h, font=_HEADER_FONT, fill=_HEADER_FILL) for h in headers])

    @staticmethod
    def _styled(ws: WriteOnlyWorksheet, value: object, *, font: Font | None = None, fill: PatternFill | None = None,
                alignment: Alignment | None = None, number_format: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if alignment is not None:
            cell.alignment = alignment
        if number_format is not None:
            cell.number_format = number_format
        return cell

    def _text(self, text: str | None) -> str | None:
        if text is not None and _too_long(text, self.max_cell_chars):
            self.truncated += 1
        return excel_text(text, self.max_cell_chars)

    def _value(self, ws: WriteOnlyWorksheet, value: object, alignment: Alignment | None = None) -> object:
        """A cell value as Excel must see it: text cleaned and cut (see excel_text) and kept as text.

        openpyxl turns a string that starts with '=' into a formula and '#N/A' or '#DIV/0!' into an
        error value: texts from models and datasets (an exception message, an id) would then be
        evaluated by Excel, or read back as empty by pandas. Such texts get a cell typed as a string.
        """
        if not isinstance(value, str):
            return value if alignment is None else self._styled(ws, value, alignment=alignment)
        text = value
        if len(text) * 2 > self.max_cell_chars or _XML_ILLEGAL_RE.search(text):  # the common short, clean text skips the work
            text = self._text(value) or ""
        literal = text[:1] in ("=", "#") and ((text[0] == "=" and len(text) > 1) or text in ERROR_CODES)
        if not literal and alignment is None:
            return text
        cell = self._styled(ws, text, alignment=alignment)
        if literal:
            cell.data_type = "s"
        return cell

    def _next_results_sheet(self) -> None:
        self._close_results_sheet()
        self.results = self._sheet(f"Results {len(self.result_sheets) + 1}", self._result_headers)
        self.result_sheets.append(self.results)
        self._sheet_rows = 0

    def _close_results_sheet(self) -> None:
        self.results.auto_filter.ref = f"A1:{get_column_letter(len(self._result_headers))}{self._sheet_rows + 1}"

    def add(self, row: ScoredRow, label: RunLabel) -> None:
        """Append one scored sample to the Results sheet and count it for the summaries.

        Past Excel's row limit the rows continue on 'Results 2', 'Results 3'...
        """
        if self._sheet_rows >= self.max_sheet_rows - 1:
            self._next_results_sheet()
        r = row.result
        self._labels.setdefault(label.ref, label)
        difficulty = str(r.difficulty or row.problem.difficulty or "") or None
        verdict = self._styled(self.results, str(r.verdict), fill=_FILLS[r.verdict],
                               font=_WHITE if r.verdict is Verdict.SANDBOX_ERROR else None)
        values: list[object] = [
            label.name, r.model_name, r.dataset, r.split, r.problem_id, r.sample_id, r.sample_index, r.seed, difficulty, verdict,
            r.passed, r.tests_passed, r.tests_total, r.visible_passed, r.visible_total, r.hidden_passed, r.hidden_total,
            r.exception_type, r.error_message, r.failing_test_id, r.duration_s,
            # Non-code task types: the extracted answer and the gold (math: the final answer; BFCL: the decoded
            # calls and the possible answers, as JSON; IFEval: the instructions) and IFEval's loose verdicts.
            r.task_type.value, None if r.answer is None else r.answer.extracted, _gold(r), r.loose_passed, r.loose_tests_passed,
        ]
        ws = self.results
        cells = [self._value(ws, v) for v in values]
        if self.code_column:
            # A non-code sample (a math answer) has no extracted code: its response is what to read.
            answer = row.sample.extracted_code if row.problem.task_type == TaskType.CODE else row.sample.raw_response
            cells.append(self._value(ws, answer, alignment=_WRAP))
        ws.append(cells)
        self._sheet_rows += 1
        self.rows += 1
        for bucket in ("all", difficulty or "unknown"):
            self._tallies[(label.ref, bucket)].add(r.problem_id, r.passed)
            self._model_tallies[(*label.config_key, bucket)].add(r.problem_id, r.passed)
        self._model_runs[label.config_key].add(label.ref)
        counts = self._per_problem[(r.dataset, r.problem_id)].setdefault(label.ref, [0, 0])
        counts[0] += r.passed
        counts[1] += 1
        self._difficulty.setdefault((r.dataset, r.problem_id), difficulty or "")

    def _rates(self, ws: WriteOnlyWorksheet, t: _Tally) -> list[object]:
        solved = sum(t.problems.values())
        return [
            t.samples, t.passed, self._styled(ws, t.passed / t.samples if t.samples else 0.0, number_format=_PERCENT),
            len(t.problems), solved, self._styled(ws, solved / len(t.problems) if t.problems else 0.0, number_format=_PERCENT),
        ]

    def _write_summaries(self) -> None:
        # Summary: pass rates per configuration (model, dataset, split, settings) and difficulty over its runs (seeds);
        # Runs: the same per run.
        for (*key, bucket), t in sorted(self._model_tallies.items(), key=lambda kv: (*kv[0][:5], _BUCKET_ORDER.get(kv[0][5], 9))):
            ws = self.summary
            model, dataset, split, config_id, config = key
            runs = len(self._model_runs[(model, dataset, split, config_id, config)])
            ws.append([self._value(ws, model), self._value(ws, dataset), split or None, self._value(ws, config), config_id,
                       bucket, runs, *self._rates(ws, t)])
        self.summary.auto_filter.ref = f"A1:{get_column_letter(len(SUMMARY_HEADERS))}{len(self._model_tallies) + 1}"
        for (ref, bucket), t in sorted(self._tallies.items(), key=lambda kv: (kv[0][0], _BUCKET_ORDER.get(kv[0][1], 9))):
            lab = self._labels[ref]
            ws = self.runs
            ws.append([lab.name, self._value(ws, lab.model), self._value(ws, lab.dataset), lab.split, self._value(ws, lab.config),
                       lab.config_id, lab.seed, bucket, *self._rates(ws, t)])
        self.runs.auto_filter.ref = f"A1:{get_column_letter(len(RUN_HEADERS))}{len(self._tallies) + 1}"

    def _write_compare(self) -> None:
        refs = sorted(self._labels)
        ws = self.wb.create_sheet("Compare", self._compare_index)
        headers = ["dataset", "problem_id", "difficulty", *(self._labels[r].name for r in refs)]
        self._frame(ws, headers, [14, 22, 10, *(max(12.0, min(36.0, len(self._labels[r].name) + 2.0)) for r in refs)])
        for (dataset, problem), per_run in sorted(self._per_problem.items()):
            rates: list[object] = []
            for ref in refs:
                c = per_run.get(ref)
                rates.append(None if c is None else self._styled(ws, c[0] / c[1], number_format=_PERCENT))
            ws.append([self._value(ws, dataset), self._value(ws, problem), self._difficulty[(dataset, problem)] or None, *rates])
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(self._per_problem) + 1}"
        self.compare = ws

    def save(self, path: Path) -> None:
        """Write the summary sheets and save the workbook to path (the caller makes it atomic)."""
        self._close_results_sheet()
        self._write_summaries()
        self._write_compare()
        self.wb.save(path)

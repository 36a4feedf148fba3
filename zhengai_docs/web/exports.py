"""Tables as downloads: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from urllib.parse import quote

from flask import Response, abort
from openpyxl import Workbook
from openpyxl.styles import Font


def table_response(title: str, header: Sequence[str], rows: Sequence[Sequence[object]], fmt: str, scope: str | None = None) -> Response:
    name = f"{title}{'-' + scope if scope else ''}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        return _download(("\ufeff" + buffer.getvalue()).encode("utf-8"), f"{name}.csv", "text/csv; charset=utf-8")
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = title[:31]
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([str(v) if v is not None else "" for v in row])
        out = io.BytesIO()
        book.save(out)
        return _download(out.getvalue(), f"{name}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    abort(400, description="导出格式只能是 csv 或 xlsx。")


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    """RFC 5987 file name, so Chinese names survive every browser."""
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})

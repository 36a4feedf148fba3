"""Tables as downloads: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and XLSX.

Both are written by `zhengai_docs.spreadsheets`, which keeps text from user data (titles, item
and department names) from running as a formula. The XLSX carries the college and the title,
the 统计日期 and the scope above the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Response, abort

from zhengai_docs.cycles import rules
from zhengai_docs.spreadsheets import CSV_MIMETYPE, XLSX_MIMETYPE, CellValue, csv_bytes, xlsx_bytes
from zhengai_docs.web.app import services
from zhengai_docs.web.lookups import download


def table_response(title: str, header: Sequence[str], rows: Sequence[Sequence[CellValue]], fmt: str, scope: str | None = None) -> Response:
    name = f"{title}{'-' + scope if scope else ''}"
    if fmt == "csv":
        return download(csv_bytes(header=header, rows=rows), filename=f"{name}.csv", mimetype=CSV_MIMETYPE)
    if fmt == "xlsx":
        heading = f"{services().settings['COLLEGE_NAME']}{title}"
        data = xlsx_bytes(title=title, header=header, rows=rows, as_of=rules.today(), scope=scope, heading=heading)
        return download(data, filename=f"{name}.xlsx", mimetype=XLSX_MIMETYPE)
    abort(400, description="导出格式只能是 csv 或 xlsx。")

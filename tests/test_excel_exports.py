"""Excel exports read like reports: a title and a 统计日期 row, a frozen and filtered header,
columns as wide as their text, and every column the page shows."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from flask.testing import FlaskClient
from openpyxl.worksheet.worksheet import Worksheet

from tests.conftest import login
from tests.html_reader import visible_text
from zhengai_docs.cycles import rules
from zhengai_docs.spreadsheets import HEADER_ROW, xlsx_bytes

EXPORTS = {  # page -> (sheet title, a header the page shows)
    "/audit/coverage": ("诊断点覆盖", "质控指标"),
    "/audit/gaps": ("诊断点缺口", "影响因素"),
    "/audit/matrix": ("诊断点与目录条目矩阵", "条目"),
    "/audit/completeness": ("目录完整性", "牵头部门"),
    "/audit/flags": ("关联完整性与待复核", "详情"),
    "/indicators/": ("质控指标", "预警值"),
    "/indicators/points": ("预警诊断点", "预警值"),
}


def _sheet(client: FlaskClient, url: str, **query: str) -> Worksheet:
    response = client.get(url, query_string={"format": "xlsx", **query})
    assert response.status_code == 200, url
    return openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]


@pytest.mark.parametrize("url", sorted(EXPORTS))
def test_every_export_has_title_date_frozen_filtered_header_and_widths(client: FlaskClient, url: str) -> None:
    login(client, "zhiliang")
    title, shown = EXPORTS[url]
    sheet = _sheet(client, url)
    assert sheet["A1"].value == client.application.extensions["zhengai"].settings["COLLEGE_NAME"] + title
    assert sheet["A1"].font.bold and "A1" in {str(r).split(":")[0] for r in sheet.merged_cells.ranges}
    assert sheet["A2"].value == f"统计日期：{rules.today().isoformat()}"
    header = [c.value for c in sheet[HEADER_ROW]]
    assert shown in header and all(sheet.cell(row=HEADER_ROW, column=i).font.bold for i in range(1, len(header) + 1))
    assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"
    assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith(f"A{HEADER_ROW}:")
    widths = [sheet.column_dimensions[c.column_letter].width for c in sheet[HEADER_ROW]]
    assert all(w is not None and w >= 6 for w in widths)
    assert sheet.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}" and int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)


def test_the_gap_sheet_has_the_influence_factors_the_page_shows(client: FlaskClient) -> None:
    login(client, "zhiliang")
    page = visible_text(client.get("/audit/gaps?dept=教务处").get_data(as_text=True))
    sheet = _sheet(client, "/audit/gaps", dept="教务处")
    assert sheet["A2"].value.endswith("范围：教务处")
    header = [c.value for c in sheet[HEADER_ROW]]
    assert header == ["诊断点", "名称", "缺口原因", "影响因素", "现有关联文档"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=HEADER_ROW + 1)]
    factors = [r[3] for r in rows if r[3]]
    assert rows and factors and all(f in page for f in factors)
    assert all(" ".join((r[0], r[1])) in page for r in rows)


def test_widths_follow_the_text_chinese_counting_double() -> None:
    data = xlsx_bytes(
        title="表",
        header=["代码", "标题", "日期"],
        rows=[["A101Z", "包头职业技术学院专业设置与调整管理办法", dt.date(2026, 11, 23)], ["A101L", "短", None]],
        as_of=dt.date(2026, 12, 1),
        scope="教务处",
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    widths = {c: sheet.column_dimensions[c].width for c in "ABC"}
    assert widths["A"] < widths["C"] < widths["B"]
    assert widths["B"] >= 2 * len("包头职业技术学院专业设置与调整管理办法")  # a Chinese character takes two columns
    assert sheet["A2"].value == "统计日期：2026-12-01　范围：教务处"
    long = xlsx_bytes(title="表", header=["说明"], rows=[["很长的说明" * 40]], as_of=dt.date(2026, 12, 1))
    wrapped = openpyxl.load_workbook(io.BytesIO(long)).worksheets[0]
    assert wrapped.column_dimensions["A"].width == 60 and wrapped["A4"].alignment.wrap_text  # capped, and the text wraps

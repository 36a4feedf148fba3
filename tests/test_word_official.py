"""Word that looks official and leaves nothing as code: flowcharts as pictures, tables sized to
their content, reports in A4 with the house title, a handbook whose 目录 has codes, levels and
page numbers.

What a reader sees is checked where a reader sees it: the .docx is laid out by LibreOffice, printed
to PDF and read back with pdftotext (tests/document_tools.py; skipped without them unless
ZHENGAI_REQUIRE_DOCUMENT_TOOLS=1, as in CI).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from docx import Document
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from tests.conftest import OpenApp, login, make_app
from tests.databases import clone_instance
from tests.document_tools import pdf_page_sizes, pdf_pages, require, to_pdf
from zhengai_docs.bootstrap import bundled
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.publishing.handbook import HandbookFilter, select_documents
from zhengai_docs.render.docx_export import export_markdown
from zhengai_docs.render.docx_import import import_docx
from zhengai_docs.render.docx_tables import column_widths, text_em
from zhengai_docs.render.flowcharts import FlowchartRenderer, flowchart_sources

pytestmark = pytest.mark.xdist_group("word_official")  # --dist loadgroup: LibreOffice lays out the handbook once

TEMPLATE = bundled("templates") / "reference.docx"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
A4 = (595.3, 841.9)
FOOTER = re.compile(r"—\s*(\d+)\s*—\s*$")
Handbook = tuple[Path, list[tuple[str, str]]]  # the PDF, and (code, title) of every document in it
TOC_ENTRY = re.compile(r"^\s*([A-Z]\d{3}[ZLB])\s+(.+?)[\s.]*?(\d+)\s*$")  # code, title, dot leader (maybe none), page


def _body(data: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return etree.fromstring(package.read("word/document.xml"))


def _texts(data: bytes) -> str:
    return "\n".join(t.text or "" for t in _body(data).iter(f"{W}t"))


def _pictures(data: bytes) -> list[etree._Element]:
    return list(_body(data).iter(f"{WP}docPr"))


# -- flowcharts -------------------------------------------------------------------------------


def test_an_exported_process_has_its_flowchart_as_a_picture_and_no_mermaid_source(app: Flask, client: FlaskClient) -> None:
    require("dot")
    login(client, "duzhe")
    response = client.get("/documents/A101L/export.docx")
    assert response.status_code == 200
    text = _texts(response.data)
    assert "flowchart" not in text and "-->" not in text and "A[" not in text
    pictures = _pictures(response.data)
    assert len(pictures) == 1 and (pictures[0].get("descr") or "").startswith("flowchart TD\n  A[系（部）开展人才需求调研]")
    with zipfile.ZipFile(io.BytesIO(response.data)) as package:
        media = [n for n in package.namelist() if n.startswith("word/media/")]
        assert len(media) == 1 and package.read(media[0]).startswith(b"\x89PNG")
    back = import_docx(response.data).markdown
    assert "```mermaid\nflowchart TD\n  A[系（部）开展人才需求调研] --> B[系（部）提出专业设置或调整申请]" in back
    assert not import_docx(response.data).warnings  # the picture is the flowchart, not an image left behind
    cached = list((Path(app.instance_path) / "flowchart-cache").rglob("*.png"))
    assert len(cached) == 1  # drawn once, kept by content hash


def test_without_graphviz_the_export_says_so_and_keeps_the_source(instance: Path, open_app: OpenApp, tmp_path: Path) -> None:
    app = open_app(instance, GRAPHVIZ_DOT=str(tmp_path / "no-graphviz" / "dot"))
    client = app.test_client()
    login(client, "duzhe")
    data = client.get("/documents/A101L/export.docx").data
    document = Document(io.BytesIO(data))
    notes = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Flowchart Note"]
    assert len(notes) == 1 and "服务器未安装 Graphviz" in notes[0] and "以下为流程图源码" in notes[0]
    sources = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Mermaid"]
    assert len(sources) == 1 and sources[0].startswith("flowchart TD\n  A[系（部）开展人才需求调研] --> B[")
    assert _pictures(data) == []
    assert "```mermaid\nflowchart TD" in import_docx(data).markdown  # the note is not imported, the source is
    assert client.get("/documents/A101L/flowcharts/1.svg").status_code == 503


def test_the_print_view_gets_each_flowchart_as_a_picture(client: FlaskClient, app: Flask) -> None:
    require("dot")
    login(client, "duzhe")
    svg = client.get("/documents/A101L/flowcharts/1.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "default-src 'none'" in svg.headers["Content-Security-Policy"] and svg.headers["X-Content-Type-Options"] == "nosniff"
    labels = "".join(t.text or "" for t in etree.fromstring(svg.data).iter("{http://www.w3.org/2000/svg}text"))
    assert "专业建设指导委员会论证" in labels and "材料不全" in labels and "<script" not in svg.get_data(as_text=True)
    png = client.get("/documents/A101L/flowcharts/1.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    first = app.extensions["zhengai"].library.repo.history("regulations/A/A1/A101L.md")[-1].commit
    assert client.get(f"/documents/A101L/flowcharts/1.svg?rev={first}").status_code == 200
    assert client.get("/documents/A101L/flowcharts/2.svg").status_code == 404  # A101L has one flowchart
    assert client.get("/documents/A101Z/flowcharts/1.svg").status_code == 404  # a 制度 has none
    assert client.get("/documents/A101L/flowcharts/1.gif").status_code == 404


def test_the_handbook_has_every_flowchart_as_a_picture(client: FlaskClient, app: Flask) -> None:
    require("dot")
    login(client, "duzhe")
    data = client.get("/handbook.docx").data
    entries = select_documents(app.extensions["zhengai"].db, HandbookFilter())
    library = app.extensions["zhengai"].library
    expected = sum(len(flowchart_sources(library.repo.read(document_code(e.code).path).text)) for e in entries)
    assert expected == 8  # the demo's 流程 in force
    assert len(_pictures(data)) == expected
    assert "flowchart TD" not in _texts(data) and "-->" not in _texts(data)


# -- tables -----------------------------------------------------------------------------------


def test_columns_are_sized_to_their_content() -> None:
    header = ["代码", "标题", "类型", "牵头部门", "周期状态", "起算日期", "起算依据", "周期（年）", "到期日", "剩余天数"]
    row = ["A105Z", "包头职业技术学院课程标准制定与修订管理办法", "制度", "教务处", "已逾期"]
    row += ["2018-09-05", "发布日期", "3", "2021-09-05", "逾期 1905 天"]
    total, font = 13776, 14.0  # A4 landscape text width in twips, 四号
    widths = column_widths([header, row], header_rows=1, total=total, font_pt=font, padding=170)
    assert sum(widths) == total and len(set(widths)) > 3
    em = font * 20
    assert widths[1] == max(widths) and widths[1] >= 10 * em  # the title is not wrapped 4–5 characters wide
    for column in (5, 8):
        assert widths[column] - 170 >= text_em("2018-09-05") * em  # dates are never broken
    assert widths[0] < 4 * em and widths[2] < 4 * em  # short columns stay short
    crowded = column_widths([["说明"] * 12, ["2026-11-23"] * 12], header_rows=1, total=9000, font_pt=14, padding=200)
    assert sum(crowded) == 9000  # too many columns: squeezed evenly rather than overflowing


def test_exported_tables_are_padded_kept_together_and_repeat_their_header() -> None:
    body = (bundled("standards") / "A" / "A1" / "A101B.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    data = export_markdown(body, template=TEMPLATE, flowcharts=FlowchartRenderer())
    table = next(_body(data).iter(f"{W}tbl"))
    widths = [int(c.get(f"{W}w")) for c in table.iter(f"{W}gridCol")]
    assert len(set(widths)) > 1  # not equal-width columns
    assert table.find(f"{W}tblPr/{W}tblLayout").get(f"{W}type") == "fixed"
    assert int(table.find(f"{W}tblPr/{W}tblCellMar/{W}left").get(f"{W}w")) >= 80  # 4 pt and more
    rows = table.findall(f"{W}tr")
    assert rows[0].find(f"{W}trPr/{W}tblHeader") is not None
    assert all(r.find(f"{W}trPr/{W}cantSplit") is not None for r in rows)
    styles = Document(io.BytesIO(data)).styles
    assert styles["Table Text"].font.size.pt == 14  # 四号, the house table size
    assert import_docx(data).markdown == body  # and it still imports back to the same Markdown


# -- LibreOffice: the handbook, the reports -----------------------------------------------------


@pytest.fixture(scope="module")
def handbook_pdf(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Handbook:
    """The demo's whole handbook, laid out by LibreOffice once for the tests below."""
    require("soffice")
    folder = tmp_path_factory.mktemp("handbook")
    app = make_app(clone_instance(demo_template, folder / "instance"))
    client = app.test_client()
    login(client, "duzhe")
    data = client.get("/handbook.docx").data
    entries = [(e.code, e.title) for e in select_documents(app.extensions["zhengai"].db, HandbookFilter())]
    app.extensions["zhengai"].close()
    return to_pdf(data, folder / "pdf"), entries


def _footer(page: str) -> int | None:
    lines = [line for line in page.splitlines() if line.strip()]
    found = FOOTER.search(lines[-1]) if lines else None
    return int(found.group(1)) if found else None


def _contents(pages: list[str]) -> dict[str, int]:
    """目录 entries (code -> page number), long titles joined across their lines."""
    entries: dict[str, int] = {}
    pending = ""
    for page in pages:
        for line in page.splitlines():
            pending = f"{pending} {line.strip()}" if pending else line.strip()
            found = TOC_ENTRY.match(pending)
            if found:
                entries[found.group(1)] = int(found.group(3))
                pending = ""
            elif not re.match(r"[A-Z]\d{3}[ZLB]\s", pending):
                pending = ""
    return entries


def test_the_handbook_contents_have_codes_levels_and_the_pages_the_documents_are_on(handbook_pdf: Handbook) -> None:
    pdf, entries = handbook_pdf
    pages = pdf_pages(pdf)
    front = next(i for i, page in enumerate(pages) if _footer(page) is not None)
    assert front >= 2 and "目" in pages[1] and "录" in pages[1]
    assert all(_footer(page) is None for page in pages[:front])  # cover and 目录 unnumbered
    assert [_footer(page) for page in pages[front:]] == list(range(1, len(pages) - front + 1))  # then 1, 2, 3 …
    contents = _contents(pages[:front])
    assert list(contents) == [code for code, _title in entries]  # every document, in catalogue order, with its code
    flat = "".join("".join(pages[:front]).split())
    assert "A办学活动" in flat and "A1人才培养" in flat  # level-1 and level-2 headings of the catalogue
    for code, title in entries:
        page = pages[front + contents[code] - 1]
        assert "".join(title.split()) in "".join(page.split()), (code, contents[code])
    assert len(pages) == front + (_footer(pages[-1]) or 0)
    assert len(pages) >= 2 + len({c[0] for c, _t in entries}) + len(entries)  # cover, 目录, dividers, a page per document


def test_the_handbook_prints_on_a4(handbook_pdf: Handbook) -> None:
    sizes = pdf_page_sizes(handbook_pdf[0])
    assert sizes and all(abs(w - A4[0]) < 1 and abs(h - A4[1]) < 1 for w, h in sizes)


def test_the_cycles_report_is_a4_with_the_house_title_and_readable_columns(client: FlaskClient, tmp_path: Path) -> None:
    require("soffice")
    login(client, "zhiliang")
    data = client.get("/cycles/export.docx").data
    document = Document(io.BytesIO(data))
    assert document.paragraphs[0].style.name == "Title" and "修订周期报告" in document.paragraphs[0].text
    rows = [[c.text for c in r.cells] for r in document.tables[0].rows]
    assert any(r[9].startswith("逾期 ") and r[9].endswith(" 天") for r in rows[1:])
    assert not any(re.fullmatch(r"-\d+", r[9]) for r in rows[1:])
    pdf = to_pdf(data, tmp_path / "pdf")
    sizes = pdf_page_sizes(pdf)
    assert sizes and all(sorted((round(w), round(h))) == [595, 842] for w, h in sizes)  # A4 (landscape: ten columns)
    text = "\n".join(pdf_pages(pdf))
    assert len(re.findall(r"\d{4}-\d{2}-\d{2}", text)) >= 2 * (len(rows) - 1)  # start and due dates, none broken
    assert "逾期" in text and not re.search(r"(?<![\d-])-\d{3,}", text)
    for row in rows[1:]:
        assert row[1][:8] in text  # titles read on, not wrapped four characters wide


def test_the_self_diagnosis_report_is_a4_portrait(client: FlaskClient, tmp_path: Path) -> None:
    require("soffice")
    login(client, "zhiliang")
    data = client.get("/reports/self-diagnosis/2026.docx").data
    assert Document(io.BytesIO(data)).paragraphs[0].style.name == "Title"
    pdf = to_pdf(data, tmp_path / "pdf")
    sizes = pdf_page_sizes(pdf)
    assert sizes and all(abs(w - A4[0]) < 1 and abs(h - A4[1]) < 1 for w, h in sizes)
    assert "内部质量保证体系自我诊改报告" in "".join(pdf_pages(pdf)[0].split())

"""Text of attachments for search (issue 19): real .docx, .xlsx and .pdf files, read as the reader
sees them (no XML, no formulas, no deleted revisions), bounded in size and time."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
from docx import Document

from tests import document_tools
from zhengai_docs.attachments.extract import extract_text


def _docx() -> bytes:
    document = Document()
    document.add_paragraph("附件1 专业设置申报表")
    document.add_paragraph("申报专业须有行业调研报告。")
    table = document.add_table(rows=2, cols=3)
    for column, text in enumerate(("专业名称", "申报部门", "备注")):
        table.cell(0, column).text = text
    table.cell(1, 0).text = "工业机器人技术"
    table.cell(1, 1).text = "机电工程系"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_text_has_paragraphs_and_table_cells_in_order_without_xml() -> None:
    text = extract_text(_docx(), suffix=".docx")
    lines = text.splitlines()
    assert lines[:2] == ["附件1 专业设置申报表", "申报专业须有行业调研报告。"]
    assert lines.index("工业机器人技术") < lines.index("机电工程系")
    assert "<w:" not in text and "xml" not in text


def test_deleted_revisions_and_field_codes_are_not_text() -> None:
    data = _docx()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        document = source.read("word/document.xml").decode()
    tracked = document.replace(
        "<w:t>申报专业须有行业调研报告。</w:t>",
        "<w:t>申报专业须有行业调研报告。</w:t></w:r>"
        '<w:del w:id="1" w:author="x" w:date="2026-01-01T00:00:00Z"><w:r><w:delText>已删除的旧条款</w:delText></w:r></w:del>'
        '<w:r><w:instrText xml:space="preserve"> HYPERLINK "http://x" </w:instrText>',
    )
    assert tracked != document
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, tracked.encode() if info.filename == "word/document.xml" else source.read(info))
    text = extract_text(out.getvalue(), suffix=".docx")
    assert "申报专业须有行业调研报告。" in text
    assert "已删除的旧条款" not in text and "HYPERLINK" not in text


def test_xlsx_text_has_each_sheet_and_the_values_it_shows() -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "评分细则"
    first.append(["指标", "分值", "说明"])
    first.append(["双师型教师比例", 30.0, None])
    second = workbook.create_sheet("汇总")
    second.append(["合计", 100])
    out = io.BytesIO()
    workbook.save(out)
    text = extract_text(out.getvalue(), suffix=".xlsx")
    assert text.splitlines() == ["【评分细则】", "指标\t分值\t说明", "双师型教师比例\t30", "【汇总】", "合计\t100"]


def test_pdf_text_in_chinese(tmp_path: Path) -> None:
    pdf = document_tools.to_pdf(_docx(), tmp_path)  # a real PDF as LibreOffice writes it, fonts embedded
    text = extract_text(pdf.read_bytes(), suffix=".pdf")
    assert "专业设置申报表" in text
    assert "工业机器人技术" in text


def test_output_is_bounded_and_bad_files_have_no_text() -> None:
    document = Document()
    for index in range(2_000):
        document.add_paragraph(f"第{index}段 " + "制度" * 50)
    out = io.BytesIO()
    document.save(out)
    assert len(extract_text(out.getvalue(), suffix=".docx", max_chars=5_000)) == 5_000
    assert extract_text(b"PK\x03\x04 not really a zip", suffix=".docx") == ""
    assert extract_text(b"%PDF-1.4 broken", suffix=".pdf") == ""
    assert extract_text(b"\x89PNG\r\n\x1a\n", suffix=".png") == ""


def test_a_file_that_takes_too_long_is_stopped() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in range(60_000):  # 2 million characters, ~2.3 s of reading on this machine
        sheet.append([f"行{row}", row, "说明文字" * 5])
    out = io.BytesIO()
    workbook.save(out)
    # Every character asked for: at the default cap (1 million) reading ends after ~1.1 s, which
    # the limit's one-second grace past 0.05 s let through once in CI.
    text = extract_text(out.getvalue(), suffix=".xlsx", seconds=0.05, max_chars=100_000_000)
    assert text == ""  # stopped, logged, no text

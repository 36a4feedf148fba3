"""Golden files: .docx fixtures built by python-docx -> the Markdown expected in tests/golden/word/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests import word_fixtures as fx
from zhengai_docs.render.docx_import import import_docx
from zhengai_docs.render.docx_styles import chinese_number, format_number
from zhengai_docs.render.html import render_markdown

GOLDEN = Path(__file__).parent / "golden" / "word"
FIXTURES: dict[str, Callable[[], bytes]] = {
    "unstyled_regulation": fx.unstyled_regulation,
    "styled_standard": fx.styled_standard,
    "numbered_clauses": fx.numbered_clauses,
    "merged_table": fx.merged_table,
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_docx_fixture_gives_the_golden_markdown(name: str) -> None:
    expected = (GOLDEN / f"{name}.md").read_text(encoding="utf-8")
    assert import_docx(FIXTURES[name]()).markdown == expected


def test_unstyled_title_chapters_and_clauses() -> None:
    imported = import_docx(fx.unstyled_regulation())
    assert imported.title == "包头职业技术学院招生工作管理办法"
    lines = imported.markdown.splitlines()
    assert "## 第一章 总则" in lines and "## 第三章 附则" in lines  # full-width space normalised
    assert "包职院发〔2026〕3号" in lines  # a centred document number is not a heading
    assert any(line.startswith("**第一条** 为规范招生工作") for line in lines)  # leading 　　 indentation dropped


def test_chinese_punctuation_is_preserved_exactly() -> None:
    markdown = import_docx(fx.unstyled_regulation()).markdown
    for text in ("〔2026〕", "“公平、公正、公开”", "原则；", "负责：", "（一）制订招生计划；", "《中华人民共和国高等教育法》"):
        assert text in markdown


def test_imported_markdown_renders_as_the_editor_would() -> None:
    html = render_markdown(import_docx(fx.merged_table()).markdown).html
    assert "<table>" in html and "<br" in html and "数值 / 目标值" in html
    html = render_markdown(import_docx(fx.styled_standard()).markdown).html
    assert "<ul>" in html and "<ol>" in html and "<strong>质量要求</strong>" in html and "<em>" in html


def test_word_numbering_formats() -> None:
    assert [chinese_number(n) for n in (1, 10, 11, 20, 21, 100, 105, 110, 119)] == [
        "一", "十", "十一", "二十", "二十一", "一百", "一百零五", "一百一十", "一百一十九",
    ]  # fmt: skip
    assert format_number(3, "decimalEnclosedCircle") == "③"
    assert format_number(2, "ideographTraditional") == "乙"
    assert format_number(14, "upperRoman") == "XIV"


def test_images_are_reported_not_silently_dropped() -> None:
    from docx import Document
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = Document()
    paragraph = document.add_paragraph("见下图：")
    paragraph.add_run()._r.append(parse_xml(f"<w:drawing {nsdecls('w')}/>"))
    imported = import_docx(fx.save(document))
    assert imported.markdown == "见下图：\n"
    assert imported.warnings == ("图片、文本框或嵌入对象未导入（1 处）",)

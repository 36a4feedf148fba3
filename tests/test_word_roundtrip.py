"""Export then re-import gives the same Markdown, for every construct the converter supports."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docx import Document

from zhengai_docs.bootstrap import bundled
from zhengai_docs.catalogue.document import split_front_matter
from zhengai_docs.render.docx_export import export_markdown
from zhengai_docs.render.docx_import import import_docx
from zhengai_docs.render.docx_reference import build_reference

TEMPLATE = bundled("templates") / "reference.docx"

CONSTRUCTS = {
    "title": "# 包头职业技术学院专业设置与调整管理办法\n",
    "chapter heading": "## 第一章 总则\n",
    "section heading": "### 第一节 一般规定\n",
    "fourth level heading": "#### 1. 范围\n",
    "clause": "**第一条** 为规范专业设置与调整工作，根据《普通高等学校高等职业教育（专科）专业设置管理办法》（教职成〔2015〕10号）制定。\n",
    "bold": "本办法所称**专业带头人**，是指专业建设的第一责任人。\n",
    "italic": "质量螺旋*目标—标准—运行—诊断—改进*贯穿全过程。\n",
    "bold italic": "必须***严格执行***本标准。\n",
    "line break": "第一行<br>第二行；第三行。\n",
    "bullet list": "- 公共基础课\n- 专业核心课\n- 专业拓展课\n",
    "ordered list": "1. 系（部）申报\n2. 教务处审核\n3. 院长办公会审定\n",
    "ordered list from 3": "3. 继续第三项\n4. 第四项\n",
    "nested lists": "1. 准备阶段\n    - 调研\n    - 论证\n2. 实施阶段\n    1. 申报\n    2. 审批\n",
    "two lists in a row": "- 甲\n- 乙\n\n1. 一\n2. 二\n",
    "table": "| 指标 | 目标值 | 预警值 |\n|---|---|---|\n| 生师比 | ≤ 18:1 | > 20:1 |\n| 双师型教师比例 | ≥ 60% | < 50% |\n",
    "table with breaks and pipes": (
        "| 步骤 | 时限 | 说明 |\n|---|---|---|\n| 1 | 3月31日前 | 第一行<br>第二行 |\n| 2 | 5个工作日 | **加粗** \\| 竖线 |\n"
    ),
    "quote": "> **填写说明**\n>\n> 请删除本段。\n",
    "quote with a list": "> 说明：\n>\n> 1. 第一点\n> 2. 第二点\n",
    "code": "```\nA --> B\n  缩进保留\n```\n",
    "mermaid": "```mermaid\nflowchart TD\n  A[系（部）申请] --> B{教务处审查}\n  B -->|通过| C[论证]\n```\n",
    "inline code": "连线写作 `A --> B`，表示从 A 指向 B。\n",
    "link": "详见[教育部网站](https://www.moe.gov.cn/)的通知。\n",
    "escaped characters": "公式 2\\*3\\*4 与下划线 a\\_b，及 &lt;br> 字样。\n",
    "full-width punctuation": "坚持“需求导向、有序发展”的原则；比例≥50%（含）：详见〔2019〕12号！\n",
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_export_then_import_is_identity(name: str) -> None:
    markdown = CONSTRUCTS[name]
    assert import_docx(export_markdown(markdown, template=TEMPLATE)).markdown == markdown


def test_a_whole_document_with_every_construct() -> None:
    markdown = "\n正文段落。\n\n".join(CONSTRUCTS[name] for name in CONSTRUCTS)  # adjacent lists would merge
    assert import_docx(export_markdown(markdown, template=TEMPLATE)).markdown == markdown


@pytest.mark.parametrize("path", sorted(str(p) for folder in ("regulations", "standards") for p in bundled(folder).rglob("*.md")))
def test_demo_documents_round_trip(path: str) -> None:
    _front, body, _line = split_front_matter(Path(path).read_text(encoding="utf-8"), path=path)
    assert import_docx(export_markdown(body, template=TEMPLATE)).markdown == body


def _styles(data: bytes) -> list[str]:
    document = Document(io.BytesIO(data))
    return [p.style.name for p in document.paragraphs if p.style is not None]


def test_export_uses_the_template_styles_and_chinese_fonts() -> None:
    data = export_markdown(CONSTRUCTS["title"] + "\n" + CONSTRUCTS["chapter heading"] + "\n" + CONSTRUCTS["clause"], template=TEMPLATE)
    assert _styles(data) == ["Title", "Heading 1", "Body Text"]
    document = Document(io.BytesIO(data))
    body_fonts = document.styles["Body Text"].element.xpath("./w:rPr/w:rFonts/@w:eastAsia") or document.styles["Normal"].element.xpath(
        "./w:rPr/w:rFonts/@w:eastAsia"
    )
    assert body_fonts == ["仿宋"]
    assert document.styles["Heading 1"].element.xpath("./w:rPr/w:rFonts/@w:eastAsia") == ["黑体"]
    footer = zipfile.ZipFile(io.BytesIO(data)).read("word/footer1.xml").decode()
    assert "PAGE" in footer  # page numbers
    tables = export_markdown(CONSTRUCTS["table"], template=TEMPLATE)
    assert b"w:tblBorders" in zipfile.ZipFile(io.BytesIO(tables)).read("word/document.xml")


def test_a_replaced_template_still_exports(tmp_path: Path) -> None:
    plain = tmp_path / "college.docx"
    Document().save(str(plain))  # a college's own template without our custom styles
    markdown = CONSTRUCTS["title"] + "\n" + CONSTRUCTS["table"] + "\n" + CONSTRUCTS["mermaid"]
    assert import_docx(export_markdown(markdown, template=plain)).markdown == markdown


def test_bundled_template_is_what_the_builder_makes() -> None:
    def style_names(data: bytes) -> set[str]:
        return {s.name for s in Document(io.BytesIO(data)).styles}

    assert style_names(TEMPLATE.read_bytes()) == style_names(build_reference())

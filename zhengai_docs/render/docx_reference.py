"""The Word style template (`templates/reference.docx`) that every export is styled from.

Export opens the template, empties its body and writes into it, so its styles, page size,
margins and footer are what a college sees. This module builds the bundled template once
(`python -m zhengai_docs.render.docx_reference templates/reference.docx`), following the
conventions of Chinese official documents (GB/T 9704): A4, title in 方正小标宋简体 二号, body
in 仿宋 三号 at a fixed 28 pt line with a two-character first-line indent, chapter headings in
黑体, section headings in 楷体, table text in 仿宋 四号, a 目录 in the same fonts, page numbers
“— 1 —” centred in the footer.
A college may replace the file; styles it lacks are added with plain defaults at export time.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from docx import Document as new_word_document
from docx.document import Document as WordDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.styles.style import BaseStyle, ParagraphStyle
from lxml import etree

FANGSONG = "仿宋"
HEITI = "黑体"
KAITI = "楷体"
SONGTI = "宋体"
TITLE_FONT = "方正小标宋简体"
LATIN = "Times New Roman"
CODE_FONT = "Consolas"

# Style names the exporter writes and the importer reads back (compared in lower case).
BODY = "Body Text"
LIST = "List Paragraph"
TABLE_TEXT = "Table Text"
CODE = "Code Block"
MERMAID = "Mermaid"
FLOWCHART = "Flowchart"  # a paragraph holding a flowchart's picture (its alt text holds the Mermaid source)
FLOWCHART_NOTE = "Flowchart Note"  # why a flowchart is shown as its source; left out on import
TOC_HEADING = "TOC Heading"
DOCUMENT_TITLE = "Document Title"
DOCUMENT_NUMBER = "Document Number"
HANDBOOK_PART = "Handbook Part"
COVER = "Cover Title"
HYPERLINK = "Hyperlink"
INLINE_CODE = "Inline Code"


def set_fonts(style: BaseStyle, east_asia: str, latin: str = LATIN) -> None:
    """Explicit fonts, with the theme fonts removed (theme attributes would win over them)."""
    rpr = style.element.get_or_add_rPr()
    for old in rpr.findall(qn("w:rFonts")):
        rpr.remove(old)
    fonts = OxmlElement("w:rFonts")
    for slot in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(slot), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    rpr.insert(0, fonts)


def _paragraph_style(document: WordDocument, name: str, *, base: str | None = "Normal") -> ParagraphStyle:
    styles = document.styles
    try:
        style = styles[name]
    except KeyError:
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        if base is not None:
            style.base_style = styles[base]
    if not isinstance(style, ParagraphStyle):
        raise TypeError(f"{name} is not a paragraph style")
    return style


def _look(
    style: ParagraphStyle,
    *,
    font: str,
    size: float,
    bold: bool = False,
    align: WD_ALIGN_PARAGRAPH | None = None,
    exact: float | None = None,
    first_line_chars: int = 0,
    before: float = 0,
    after: float = 0,
    latin: str = LATIN,
) -> None:
    set_fonts(style, font, latin)
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    fmt = style.paragraph_format
    fmt.alignment = align
    fmt.space_before = Pt(before)
    fmt.space_after = Pt(after)
    if exact is not None:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(exact)
    else:
        fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    ppr = style.element.get_or_add_pPr()
    for old in ppr.findall(qn("w:ind")):
        ppr.remove(old)
    indent = OxmlElement("w:ind")
    indent.set(qn("w:firstLineChars"), str(first_line_chars * 100))
    indent.set(qn("w:firstLine"), str(int(first_line_chars * size * 20)))
    ppr.append(indent)


def build_reference() -> bytes:
    document = new_word_document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    section.footer_distance = Cm(2.5)

    defaults = document.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        for fonts in defaults.iter(qn("w:rFonts")):
            for key in list(fonts.attrib):
                del fonts.attrib[key]
            fonts.set(qn("w:ascii"), LATIN)
            fonts.set(qn("w:hAnsi"), LATIN)
            fonts.set(qn("w:eastAsia"), FANGSONG)
    _look(_paragraph_style(document, "Normal", base=None), font=FANGSONG, size=16)
    _look(_paragraph_style(document, BODY), font=FANGSONG, size=16, exact=28, first_line_chars=2, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    for name, base in (("Title", "Normal"), (DOCUMENT_TITLE, "Title")):
        _look(_paragraph_style(document, name, base=base), font=TITLE_FONT, size=22, align=WD_ALIGN_PARAGRAPH.CENTER, before=12, after=18)
    _look(_paragraph_style(document, DOCUMENT_NUMBER), font=FANGSONG, size=16, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    _look(_paragraph_style(document, "Heading 1"), font=HEITI, size=16, align=WD_ALIGN_PARAGRAPH.CENTER, exact=28, before=6, after=6)
    _look(_paragraph_style(document, "Heading 2"), font=KAITI, size=16, exact=28, first_line_chars=2)
    _look(_paragraph_style(document, "Heading 3"), font=FANGSONG, size=16, bold=True, exact=28, first_line_chars=2)
    _look(_paragraph_style(document, LIST), font=FANGSONG, size=16, exact=28)
    _look(_paragraph_style(document, "Quote"), font=KAITI, size=16, exact=28, first_line_chars=2)
    _look(_paragraph_style(document, TABLE_TEXT), font=FANGSONG, size=14)
    _look(_paragraph_style(document, FLOWCHART), font=FANGSONG, size=16, align=WD_ALIGN_PARAGRAPH.CENTER, before=6, after=6)
    _look(_paragraph_style(document, FLOWCHART_NOTE), font=KAITI, size=14, before=6)
    _look(_paragraph_style(document, TOC_HEADING), font=TITLE_FONT, size=22, align=WD_ALIGN_PARAGRAPH.CENTER, before=12, after=24)
    for level, font, size in ((1, HEITI, 16), (2, KAITI, 16), (3, FANGSONG, 14)):
        toc = _paragraph_style(document, f"toc {level}")
        _look(toc, font=font, size=size, exact=28)
        _indent(toc, left=16 * (level - 1) + (56 if level == 3 else 0), hanging=56 if level == 3 else 0)
    _look(_paragraph_style(document, CODE), font=SONGTI, size=10.5, latin=CODE_FONT)
    _look(_paragraph_style(document, MERMAID, base=CODE), font=SONGTI, size=10.5, latin=CODE_FONT)
    _look(_paragraph_style(document, HANDBOOK_PART), font=HEITI, size=22, align=WD_ALIGN_PARAGRAPH.CENTER, before=120, after=24)
    _look(_paragraph_style(document, COVER), font=TITLE_FONT, size=36, align=WD_ALIGN_PARAGRAPH.CENTER, before=24, after=24)
    for name in ("Heading 1", "Heading 2", "Heading 3", "Title", DOCUMENT_TITLE, HANDBOOK_PART):
        _paragraph_style(document, name).paragraph_format.keep_with_next = True
    for name in ("Title", DOCUMENT_TITLE):  # python-docx's Title has a bottom border; a 公文 title has none
        ppr = _paragraph_style(document, name).element.get_or_add_pPr()
        for border in ppr.findall(qn("w:pBdr")):
            ppr.remove(border)
    _shade(_paragraph_style(document, CODE))
    _hyperlink_style(document)
    _page_number_footer(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _indent(style: ParagraphStyle, *, left: float, hanging: float) -> None:
    """A left indent in points; a 目录 entry's wrapped title lines up after its code (hanging indent)."""
    indent = style.element.get_or_add_pPr().find(qn("w:ind"))
    if indent is None:
        indent = OxmlElement("w:ind")
        style.element.get_or_add_pPr().append(indent)
    for key in list(indent.attrib):
        del indent.attrib[key]
    indent.set(qn("w:left"), str(int(left * 20)))
    if hanging:
        indent.set(qn("w:hanging"), str(int(hanging * 20)))


def _shade(style: ParagraphStyle) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), "F2F2F2")
    style.element.get_or_add_pPr().append(shading)


def _hyperlink_style(document: WordDocument) -> None:
    try:
        document.styles[HYPERLINK]
    except KeyError:
        style = document.styles.add_style(HYPERLINK, WD_STYLE_TYPE.CHARACTER)
        style.font.color.rgb = RGBColor(0x1F, 0x4E, 0x99)
        style.font.underline = True
    code = document.styles.add_style(INLINE_CODE, WD_STYLE_TYPE.CHARACTER)
    code.font.name = CODE_FONT


def _page_number_footer(document: WordDocument) -> None:
    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for text in ("— ", None, " —"):
        run = paragraph.add_run(text) if text else paragraph.add_run()
        run.font.size = Pt(14)
        if text is None:
            append_field(run._r, "PAGE", "1")


def append_field(run: etree._Element, instruction: str, result: str) -> None:
    """A simple field (PAGE, NUMPAGES …) inside one run: begin, instruction, separate, result, end."""
    for kind, text in (("begin", None), ("instr", instruction), ("separate", None), ("text", result), ("end", None)):
        if kind == "instr":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {text} "
        elif kind == "text":
            element = OxmlElement("w:t")
            element.text = text
        else:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        run.append(element)


if __name__ == "__main__":  # pragma: no cover - run once to (re)build the bundled template
    Path(sys.argv[1]).write_bytes(build_reference())

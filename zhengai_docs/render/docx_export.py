"""Markdown -> .docx, styled by the reference template.

`WordWriter` opens the template, empties its body and appends documents: headings map to Title
(#), Heading 1 (## 章), Heading 2 (###) and Heading 3 (#### and below); paragraphs to Body
Text; each list gets its own numbering definition (so every list starts at its own number);
tables are bordered with a repeating header row; code and Mermaid blocks keep their text in a
monospaced style. The body XML is built directly (python-docx's per-paragraph API is ~10x
slower on a 500-document handbook); the package, styles and footer come from python-docx.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from docx import Document as open_word_document
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from lxml import etree

from zhengai_docs.render import docx_reference as ref
from zhengai_docs.render.html_tree import Node, markdown_tree

_HEADING_STYLES = {"h1": "Title", "h2": "Heading 1", "h3": "Heading 2"}
_INLINE_FORMAT = {"strong": "b", "b": "b", "em": "i", "i": "i", "del": "strike", "s": "strike", "sub": "sub", "sup": "sup", "code": "code"}
# Characters XML 1.0 cannot hold (lxml refuses them): C0 controls other than tab and line breaks.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
log = logging.getLogger(__name__)
_SETTINGS_AFTER_UPDATE_FIELDS = ("hdrShapeDefaults", "footnotePr", "endnotePr", "compat", "docVars", "rsids", "themeFontLang")


class WordWriter:
    """One output .docx; call `add_markdown` and friends, then `save`."""

    def __init__(self, template: Path) -> None:
        self.document = open_word_document(str(template))
        body = self.document.element.body
        self.body = body
        self.sect_pr = body.find(qn("w:sectPr"))
        for child in list(body):
            if child is not self.sect_pr:
                body.remove(child)
        self.style_ids: dict[str, str] = {}
        numbering = self.document.part.numbering_part.element
        self.numbering = numbering
        ids = [int(x) for x in numbering.xpath("./w:abstractNum/@w:abstractNumId") if str(x).isdigit()]
        self._next_abstract = max(ids, default=0) + 1
        nums = [int(x) for x in numbering.xpath("./w:num/@w:numId") if str(x).isdigit()]
        self._next_num = max(nums, default=0) + 1
        self._links: dict[str, str] = {}

    # -- styles --------------------------------------------------------------------------------

    def style(self, name: str) -> str:
        """The style id for a style name, adding a plain style when the template lacks it."""
        found = self.style_ids.get(name)
        if found is not None:
            return found
        styles = self.document.styles
        try:
            style = styles[name]
        except KeyError:
            kind = WD_STYLE_TYPE.CHARACTER if name in (ref.HYPERLINK, ref.INLINE_CODE) else WD_STYLE_TYPE.PARAGRAPH
            style = styles.add_style(name, kind)
            if kind is WD_STYLE_TYPE.PARAGRAPH:
                base = {ref.DOCUMENT_TITLE: "Title", ref.MERMAID: ref.CODE}.get(name, "Normal")
                style.base_style = styles[self._existing(base)]
        self.style_ids[name] = style.style_id
        return style.style_id

    def _existing(self, name: str) -> str:
        try:
            self.document.styles[name]
        except KeyError:
            self.style(name)
        return name

    # -- blocks --------------------------------------------------------------------------------

    def paragraph(self, style: str, text: str = "", *, page_break: bool = False) -> etree._Element:
        p = OxmlElement("w:p")
        ppr = OxmlElement("w:pPr")
        style_el = OxmlElement("w:pStyle")
        style_el.set(qn("w:val"), self.style(style))
        ppr.append(style_el)
        if page_break:
            ppr.append(OxmlElement("w:pageBreakBefore"))
        p.append(ppr)
        if text:
            p.append(_run(text, set()))
        self.sect_pr.addprevious(p)
        return p

    def page_break(self) -> None:
        p = OxmlElement("w:p")
        run = OxmlElement("w:r")
        br = OxmlElement("w:br")
        br.set(qn("w:type"), "page")
        run.append(br)
        p.append(run)
        self.sect_pr.addprevious(p)

    def add_markdown(self, markdown: str, *, title: str | None = None, subtitle: str | None = None, new_page: bool = False) -> None:
        """One document body; `title` is used when the body has no `#` heading of its own.

        A body beyond the render limits arrives as plain text under a note (render.html). Should
        writing it still fail, what it added is taken out again and a note stands in its place:
        one document must not cost a whole export or the handbook.
        """
        written = len(self.body)
        try:
            self._add_markdown(markdown, title=title, subtitle=subtitle, new_page=new_page)
        except Exception:
            log.exception("a document body could not be written to Word")
            for element in list(self.body)[written - 1 : -1]:  # everything added before sectPr
                self.body.remove(element)
            self.add_note(title=title or "（无标题）", note="（本文档的正文无法写入 Word 文件，请在网页上查看原文。）", new_page=new_page)

    def add_note(self, *, title: str, note: str, new_page: bool = False) -> None:
        """A document's title and, instead of its body, why it is missing."""
        self.paragraph(ref.DOCUMENT_TITLE if new_page else "Title", title, page_break=new_page)
        self.paragraph(ref.BODY, note)

    def _add_markdown(self, markdown: str, *, title: str | None, subtitle: str | None, new_page: bool) -> None:
        tree = markdown_tree(markdown)
        blocks = [c for c in tree.children if c.tag or c.text.strip()]
        title_style = ref.DOCUMENT_TITLE if new_page else "Title"
        if blocks and blocks[0].tag == "h1":
            self.paragraph(title_style, _squash(blocks[0].text_content()), page_break=new_page)
            blocks = blocks[1:]
        elif title:
            self.paragraph(title_style, title, page_break=new_page)
        elif new_page:
            self.page_break()
        if subtitle:
            self.paragraph(ref.DOCUMENT_NUMBER, subtitle)
        for node in blocks:
            self._block(node)

    def _block(self, node: Node) -> None:
        tag = node.tag
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.paragraph(_HEADING_STYLES.get(tag, "Heading 3"), _squash(node.text_content()))
        elif tag == "p":
            self._inline_into(self.paragraph(ref.BODY), node.children)
        elif tag in ("ul", "ol"):
            self._list(node, depth=0)
        elif tag == "table":
            self._table(node)
        elif tag == "blockquote":
            for child in node.children:
                if child.tag == "p" or (not child.tag and child.text.strip()):
                    self._inline_into(self.paragraph("Quote"), child.children if child.tag else [child])
                elif child.tag in ("ul", "ol"):
                    self._list(child, depth=0, style="Quote")
                elif child.tag:
                    self._block(child)
        elif tag == "pre":
            code = next((c for c in node.children if c.tag == "code"), node)
            style = ref.MERMAID if "language-mermaid" in code.attrs.get("class", "") else ref.CODE
            self._inline_into(self.paragraph(style), [Node("", text=code.text_content().rstrip("\n"))], keep_breaks=True)
        elif tag == "hr":
            self.paragraph(ref.BODY)
        elif tag == "div":
            for child in node.children:
                self._block(child)
        elif not tag and node.text.strip():
            self._inline_into(self.paragraph(ref.BODY), [node])

    def _list(self, node: Node, *, depth: int, style: str = ref.LIST) -> None:
        ordered = node.tag == "ol"
        start = int(node.attrs.get("start", "1")) if node.attrs.get("start", "1").isdigit() else 1
        num_id = self._new_list(ordered=ordered, depth=depth, start=start)
        for item in node.children:
            if item.tag != "li":
                continue
            inline: list[Node] = []
            nested: list[Node] = []
            for child in item.children:
                if child.tag in ("ul", "ol"):
                    nested.append(child)
                elif child.tag == "p":
                    if inline:
                        inline.append(Node("br"))
                    inline.extend(child.children)
                else:
                    inline.append(child)
            p = self.paragraph(style)
            num_pr = OxmlElement("w:numPr")
            for tag, value in (("w:ilvl", depth), ("w:numId", num_id)):
                element = OxmlElement(tag)
                element.set(qn("w:val"), str(value))
                num_pr.append(element)
            p.find(qn("w:pPr")).append(num_pr)
            self._inline_into(p, _trim(inline))
            for child in nested:
                self._list(child, depth=min(depth + 1, 8), style=style)

    def _new_list(self, *, ordered: bool, depth: int, start: int) -> str:
        abstract_id, num_id = str(self._next_abstract), str(self._next_num)
        self._next_abstract += 1
        self._next_num += 1
        abstract = OxmlElement("w:abstractNum")
        abstract.set(qn("w:abstractNumId"), abstract_id)
        multi = OxmlElement("w:multiLevelType")
        multi.set(qn("w:val"), "multilevel")
        abstract.append(multi)
        for level in range(9):
            lvl = OxmlElement("w:lvl")
            lvl.set(qn("w:ilvl"), str(level))
            for tag, value in (
                ("w:start", str(start if level == depth else 1)),
                ("w:numFmt", "decimal" if ordered else "bullet"),
                ("w:lvlText", f"%{level + 1}." if ordered else "•"),
                ("w:lvlJc", "left"),
            ):
                element = OxmlElement(tag)
                element.set(qn("w:val"), value)
                lvl.append(element)
            ppr = OxmlElement("w:pPr")
            ind = OxmlElement("w:ind")
            ind.set(qn("w:left"), str(640 * (level + 1)))
            ind.set(qn("w:hanging"), "400")
            ppr.append(ind)
            lvl.append(ppr)
            abstract.append(lvl)
        first_num = self.numbering.find(qn("w:num"))
        if first_num is not None:
            first_num.addprevious(abstract)
        else:
            self.numbering.append(abstract)
        num = OxmlElement("w:num")
        num.set(qn("w:numId"), num_id)
        ref_el = OxmlElement("w:abstractNumId")
        ref_el.set(qn("w:val"), abstract_id)
        num.append(ref_el)
        self.numbering.append(num)
        return num_id

    def _table(self, node: Node) -> None:
        rows: list[tuple[bool, list[Node]]] = []
        for section in node.children:
            for tr in section.children if section.tag in ("thead", "tbody", "tfoot") else [section]:
                if tr.tag == "tr":
                    rows.append((section.tag == "thead", [c for c in tr.children if c.tag in ("th", "td")]))
        if not rows:
            return
        width = max(len(cells) for _h, cells in rows)
        tbl = self._table_frame(width)
        for header, cells in rows:
            tr = OxmlElement("w:tr")
            if header:
                tr_pr = OxmlElement("w:trPr")
                tr_pr.append(OxmlElement("w:tblHeader"))  # repeated on every page
                tr.append(tr_pr)
            for index in range(width):
                tr.append(self._table_cell(cells[index] if index < len(cells) else Node("td"), header=header, width=width))
            tbl.append(tr)
        self.sect_pr.addprevious(tbl)
        self.sect_pr.addprevious(OxmlElement("w:p"))  # Word needs a paragraph between adjacent tables

    def _table_frame(self, width: int) -> etree._Element:
        """A full-width table with single borders on every side (whatever the template's table style)."""
        tbl = OxmlElement("w:tbl")
        tbl_pr = OxmlElement("w:tblPr")
        style = OxmlElement("w:tblStyle")
        style.set(qn("w:val"), self.style("Table Grid"))
        tbl_pr.append(style)
        tbl_w = OxmlElement("w:tblW")
        tbl_w.set(qn("w:w"), "5000")
        tbl_w.set(qn("w:type"), "pct")
        tbl_pr.append(tbl_w)
        borders = OxmlElement("w:tblBorders")
        for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
            border = OxmlElement(f"w:{side}")
            for key, value in (("val", "single"), ("sz", "4"), ("space", "0"), ("color", "000000")):
                border.set(qn(f"w:{key}"), value)
            borders.append(border)
        tbl_pr.append(borders)
        tbl.append(tbl_pr)
        grid = OxmlElement("w:tblGrid")
        for _ in range(width):
            col = OxmlElement("w:gridCol")
            col.set(qn("w:w"), str(9000 // width))
            grid.append(col)
        tbl.append(grid)
        return tbl

    def _table_cell(self, cell: Node, *, header: bool, width: int) -> etree._Element:
        tc = OxmlElement("w:tc")
        tc_pr = OxmlElement("w:tcPr")
        tc_w = OxmlElement("w:tcW")
        tc_w.set(qn("w:w"), str(9000 // width))
        tc_w.set(qn("w:type"), "dxa")
        tc_pr.append(tc_w)
        tc.append(tc_pr)
        p = OxmlElement("w:p")
        ppr = OxmlElement("w:pPr")
        p_style = OxmlElement("w:pStyle")
        p_style.set(qn("w:val"), self.style(ref.TABLE_TEXT))
        ppr.append(p_style)
        p.append(ppr)
        self._inline_into(p, [Node("strong", children=cell.children)] if header or cell.tag == "th" else cell.children)
        tc.append(p)
        return tc

    # -- inline --------------------------------------------------------------------------------

    def _inline_into(self, p: etree._Element, nodes: Iterable[Node], *, keep_breaks: bool = False) -> None:
        for node in nodes:
            self._inline(p, node, set(), None, keep_breaks)

    def _inline(self, parent: etree._Element, node: Node, formats: set[str], link: str | None, keep_breaks: bool) -> None:
        if not node.tag:
            text = node.text if keep_breaks else re.sub(r"[ \t]*\n[ \t]*", "", node.text)
            lines = text.split("\n") if keep_breaks else [text]
            for index, line in enumerate(lines):
                if index:
                    parent.append(_break())
                if line:
                    style = self.style(ref.HYPERLINK) if link else None
                    code_style = self.style(ref.INLINE_CODE) if "code" in formats else None
                    parent.append(_run(line, formats, style=style, code_style=code_style))
            return
        if node.tag == "br":
            parent.append(_break())
            return
        if node.tag == "img":
            alt = node.attrs.get("alt", "")
            if alt:
                parent.append(_run(f"[图片：{alt}]", formats))
            return
        if node.tag == "a" and node.attrs.get("href", "").startswith(("http://", "https://", "mailto:")):
            href = node.attrs["href"]
            hyperlink = OxmlElement("w:hyperlink")
            hyperlink.set(qn("r:id"), self._link(href))
            parent.append(hyperlink)
            for child in node.children:
                self._inline(hyperlink, child, formats, href, keep_breaks)
            return
        extra = _INLINE_FORMAT.get(node.tag)
        inner = formats | {extra} if extra else formats
        for child in node.children:
            self._inline(parent, child, inner, link, keep_breaks)

    def _link(self, url: str) -> str:
        if url not in self._links:
            self._links[url] = self.document.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
        return self._links[url]

    # -- fields and output ---------------------------------------------------------------------

    def table_of_contents(self, instruction: str, entries: list[tuple[int, str]]) -> None:
        """A TOC field whose cached result already lists `entries` (Word refreshes page numbers)."""
        paragraphs = entries or [(1, "（目录将在 Word 中更新域后生成）")]
        for index, (level, text) in enumerate(paragraphs):
            p = self.paragraph(f"toc {level}")
            if index == 0:
                for kind in ("begin", "instr", "separate"):
                    p.append(_field_char(kind, instruction))
            p.append(_run(text, set()))
            if index == len(paragraphs) - 1:
                p.append(_field_char("end", ""))
        self.update_fields_on_open()

    def update_fields_on_open(self) -> None:
        settings = self.document.settings.element
        if settings.find(qn("w:updateFields")) is not None:
            return
        update = OxmlElement("w:updateFields")
        update.set(qn("w:val"), "true")
        for name in _SETTINGS_AFTER_UPDATE_FIELDS:
            later = settings.find(qn(f"w:{name}"))
            if later is not None:
                later.addprevious(update)
                return
        settings.append(update)

    def save(self) -> bytes:
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _trim(nodes: list[Node]) -> list[Node]:
    """List items whose text starts or ends with a newline (loose lists) lose it."""
    out = list(nodes)
    while out and not out[0].tag and not out[0].text.strip():
        out.pop(0)
    while out and not out[-1].tag and not out[-1].text.strip():
        out.pop()
    if out and not out[0].tag:
        out[0] = Node("", text=out[0].text.lstrip())
    if out and not out[-1].tag:
        out[-1] = Node("", text=out[-1].text.rstrip())
    return out


def _run(text: str, formats: set[str], *, style: str | None = None, code_style: str | None = None) -> etree._Element:
    run = OxmlElement("w:r")
    if formats or style:
        rpr = OxmlElement("w:rPr")
        if style:
            r_style = OxmlElement("w:rStyle")
            r_style.set(qn("w:val"), style)
            rpr.append(r_style)
        if "code" in formats and not style:
            r_style = OxmlElement("w:rStyle")
            r_style.set(qn("w:val"), code_style or "InlineCode")
            rpr.append(r_style)
        for fmt in ("b", "i", "strike"):
            if fmt in formats:
                rpr.append(OxmlElement(f"w:{fmt}"))
        for fmt, value in (("sub", "subscript"), ("sup", "superscript")):
            if fmt in formats:
                align = OxmlElement("w:vertAlign")
                align.set(qn("w:val"), value)
                rpr.append(align)
        run.append(rpr)
    t = OxmlElement("w:t")
    t.set(qn("xml:space"), "preserve")
    t.text = _NOT_XML.sub("", text)
    run.append(t)
    return run


def _break() -> etree._Element:
    run = OxmlElement("w:r")
    run.append(OxmlElement("w:br"))
    return run


def _field_char(kind: str, instruction: str) -> etree._Element:
    run = OxmlElement("w:r")
    if kind == "instr":
        element = OxmlElement("w:instrText")
        element.set(qn("xml:space"), "preserve")
        element.text = f" {instruction} "
    else:
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
    run.append(element)
    return run


def export_markdown(markdown: str, *, template: Path, title: str | None = None, subtitle: str | None = None) -> bytes:
    """One document as a .docx."""
    writer = WordWriter(template)
    writer.add_markdown(markdown, title=title, subtitle=subtitle)
    return writer.save()

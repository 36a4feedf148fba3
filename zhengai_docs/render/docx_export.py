"""Markdown -> .docx, styled by the reference template.

`WordWriter` opens the template, empties its body and appends documents: headings map to Title
(#), Heading 1 (## 章), Heading 2 (###) and Heading 3 (#### and below); paragraphs to Body
Text; each list gets its own numbering definition (so every list starts at its own number);
tables are bordered, their columns sized to their content (`docx_tables`), text in Table Text
with cell padding, rows kept on one page and the header row repeated; a Mermaid flowchart is a
picture drawn by `render.flowcharts` (its source kept as the picture's description, so import
gives it back), or, when it cannot be drawn, a note saying why above its source; code keeps its
text in a monospaced style. A picture (`![可选文字](A101Z/images/….png)`) is read through the
caller's `read_image(relative_path)` and embedded at its own size (96 dpi unless the file says
otherwise), shrunk to fit within the margins; its alt text is the picture's description (so an
import names it again). A picture the caller does not give (None), or that is not a PNG/JPEG,
is written as `[图片：可选文字]`. The body XML is built directly (python-docx's per-paragraph API is
~10x slower on a 500-document handbook); the package, styles and footer come from python-docx.
"""

from __future__ import annotations

import copy
import io
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from docx import Document as open_word_document
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.shape import CT_Inline
from docx.shared import Emu, Pt
from lxml import etree
from PIL import Image, UnidentifiedImageError

from zhengai_docs.render import docx_reference as ref
from zhengai_docs.render import docx_tables
from zhengai_docs.render.flowcharts import FlowchartRenderer, FlowchartUnavailable, Picture
from zhengai_docs.render.html import image_reference
from zhengai_docs.render.html_tree import Node, markdown_tree

ReadImage = Callable[[str], "bytes | None"]

_HEADING_STYLES = {"h1": "Title", "h2": "Heading 1", "h3": "Heading 2"}
_INLINE_FORMAT = {"strong": "b", "b": "b", "em": "i", "i": "i", "del": "strike", "s": "strike", "sub": "sub", "sup": "sup", "code": "code"}
# Characters XML 1.0 cannot hold (lxml refuses them): C0 controls other than tab and line breaks.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
log = logging.getLogger(__name__)
_SETTINGS_AFTER_UPDATE_FIELDS = ("hdrShapeDefaults", "footnotePr", "endnotePr", "compat", "docVars", "rsids", "themeFontLang")
_CELL_MARGINS = {"top": 40, "bottom": 40, "left": 85, "right": 85}  # twips: 2 pt above and below, 4.25 pt at the sides
_KEEP_ROW_LINES = 18  # rows up to this many lines stay on one page; a taller row may break rather than overflow
_FLOWCHART_HEIGHT_SHARE = 0.85  # of the text area: room for the paragraph above a chart
_FIRST_PICTURE_ID = 1000
_PICTURE_HEIGHT_SHARE = 0.6  # of the text area: a photo leaves room for the text around it
_DEFAULT_DPI = 96
_SECTION_AFTER_PAGE_NUMBERS = ("cols", "formProt", "vAlign", "noEndnote", "titlePg", "textDirection", "bidi", "rtlGutter", "docGrid")


class WordWriter:
    """One output .docx; call `add_markdown` and friends, then `save`."""

    def __init__(self, template: Path, *, flowcharts: FlowchartRenderer | None = None) -> None:
        self.flowcharts = flowcharts if flowcharts is not None else FlowchartRenderer()
        self._pictures = _FIRST_PICTURE_ID
        self._bookmarks = 0
        self._empty_cells: dict[tuple[bool, int], etree._Element] = {}
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
        self._read_image: ReadImage | None = None  # the pictures of the body being written
        self._figures = 0

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

    def add_markdown(
        self,
        markdown: str,
        *,
        title: str | None = None,
        subtitle: str | None = None,
        new_page: bool = False,
        anchor: str | None = None,
        read_image: ReadImage | None = None,
    ) -> None:
        """One document body; `title` is used when the body has no `#` heading of its own;
        `read_image(relative_path)` gives the bytes of its pictures (None: alt text only).

        A body beyond the render limits arrives as plain text under a note (render.html). Should
        writing it still fail, what it added is taken out again and a note stands in its place:
        one document must not cost a whole export or the handbook.
        """
        written = len(self.body)
        self._read_image = read_image
        try:
            self._add_markdown(markdown, title=title, subtitle=subtitle, new_page=new_page, anchor=anchor)
        except Exception:
            log.exception("a document body could not be written to Word")
            for element in list(self.body)[written - 1 : -1]:  # everything added before sectPr
                self.body.remove(element)
            note = "（本文档的正文无法写入 Word 文件，请在网页上查看原文。）"
            self.add_note(title=title or "（无标题）", note=note, new_page=new_page, anchor=anchor)
        finally:
            self._read_image = None

    def add_note(self, *, title: str, note: str, new_page: bool = False, anchor: str | None = None) -> None:
        """A document's title and, instead of its body, why it is missing."""
        self.bookmark(self.paragraph(ref.DOCUMENT_TITLE if new_page else "Title", title, page_break=new_page), anchor)
        self.paragraph(ref.BODY, note)

    def _add_markdown(self, markdown: str, *, title: str | None, subtitle: str | None, new_page: bool, anchor: str | None) -> None:
        tree = markdown_tree(markdown)
        blocks = [c for c in tree.children if c.tag or c.text.strip()]
        title_style = ref.DOCUMENT_TITLE if new_page else "Title"
        if blocks and blocks[0].tag == "h1":
            self.bookmark(self.paragraph(title_style, _squash(blocks[0].text_content()), page_break=new_page), anchor)
            blocks = blocks[1:]
        elif title:
            self.bookmark(self.paragraph(title_style, title, page_break=new_page), anchor)
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
            p = self.paragraph(ref.BODY)
            if any(c.tag == "img" for c in node.children) and not any(c.tag != "img" and c.text_content().strip() for c in node.children):
                _centre(p)  # a paragraph of pictures only, as Word centres a picture on its own line
            self._inline_into(p, node.children)
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
            source = code.text_content().rstrip("\n")
            if "language-mermaid" in code.attrs.get("class", ""):
                self.flowchart(source)
            else:
                self._inline_into(self.paragraph(ref.CODE), [Node("", text=source)], keep_breaks=True)
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
        self._write_table(rows)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        """A table of plain text (reports): the header row repeats on every page."""
        self._write_table([(True, [Node("th", children=[Node("", text=h)]) for h in header])] +
                          [(False, [Node("td", children=[Node("", text=v)]) for v in row]) for row in rows])  # fmt: skip

    def _write_table(self, rows: list[tuple[bool, list[Node]]]) -> None:
        if not rows:
            return
        width = max(len(cells) for _h, cells in rows)
        texts = [[_cell_text(cell) for cell in cells] + [""] * (width - len(cells)) for _h, cells in rows]
        header_rows = next((i for i, (header, _c) in enumerate(rows) if not header), len(rows))
        font_pt = self._table_font_pt()
        padding = _CELL_MARGINS["left"] + _CELL_MARGINS["right"]
        widths = docx_tables.column_widths(texts, header_rows=header_rows, total=self.text_width(), font_pt=font_pt, padding=padding)
        tbl = self._table_frame(widths)
        for (header, cells), row_texts in zip(rows, texts, strict=True):
            tr = OxmlElement("w:tr")
            tr_pr = OxmlElement("w:trPr")
            if docx_tables.row_lines(row_texts, widths, font_pt=font_pt, padding=padding) <= _KEEP_ROW_LINES:
                tr_pr.append(OxmlElement("w:cantSplit"))  # a row is read whole: it moves to the next page instead
            if header:
                tr_pr.append(OxmlElement("w:tblHeader"))  # repeated on every page
            if len(tr_pr):
                tr.append(tr_pr)
            for index in range(width):
                tr.append(self._table_cell(cells[index] if index < len(cells) else Node("td"), header=header, width=widths[index]))
            tbl.append(tr)
        self.sect_pr.addprevious(tbl)
        self.sect_pr.addprevious(OxmlElement("w:p"))  # Word needs a paragraph between adjacent tables

    def _table_frame(self, widths: list[int]) -> etree._Element:
        """A table of fixed column widths with single borders on every side and padded cells
        (whatever the template's table style says)."""
        tbl = OxmlElement("w:tbl")
        tbl_pr = OxmlElement("w:tblPr")
        style = OxmlElement("w:tblStyle")
        style.set(qn("w:val"), self.style("Table Grid"))
        tbl_pr.append(style)
        tbl_w = OxmlElement("w:tblW")
        tbl_w.set(qn("w:w"), str(sum(widths)))
        tbl_w.set(qn("w:type"), "dxa")
        tbl_pr.append(tbl_w)
        borders = OxmlElement("w:tblBorders")
        for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
            border = OxmlElement(f"w:{side}")
            for key, value in (("val", "single"), ("sz", "4"), ("space", "0"), ("color", "000000")):
                border.set(qn(f"w:{key}"), value)
            borders.append(border)
        tbl_pr.append(borders)
        layout = OxmlElement("w:tblLayout")
        layout.set(qn("w:type"), "fixed")
        tbl_pr.append(layout)
        margins = OxmlElement("w:tblCellMar")
        for side, twips in _CELL_MARGINS.items():
            margin = OxmlElement(f"w:{side}")
            margin.set(qn("w:w"), str(twips))
            margin.set(qn("w:type"), "dxa")
            margins.append(margin)
        tbl_pr.append(margins)
        tbl.append(tbl_pr)
        grid = OxmlElement("w:tblGrid")
        for width in widths:
            col = OxmlElement("w:gridCol")
            col.set(qn("w:w"), str(width))
            grid.append(col)
        tbl.append(grid)
        return tbl

    def _table_cell(self, cell: Node, *, header: bool, width: int) -> etree._Element:
        """A cell: a copy of the empty cell of its kind and width (made once: building ten
        elements per cell was most of a 2,000-row report's time), then its text."""
        key = (header, width)
        empty = self._empty_cells.get(key)
        if empty is None:
            empty = self._empty_cells[key] = self._empty_cell(header=header, width=width)
        tc = copy.deepcopy(empty)
        p = tc[-1]
        self._inline_into(p, [Node("strong", children=cell.children)] if header or cell.tag == "th" else cell.children)
        return tc

    def _empty_cell(self, *, header: bool, width: int) -> etree._Element:
        tc = OxmlElement("w:tc")
        tc_pr = OxmlElement("w:tcPr")
        tc_w = OxmlElement("w:tcW")
        tc_w.set(qn("w:w"), str(width))
        tc_w.set(qn("w:type"), "dxa")
        tc_pr.append(tc_w)
        v_align = OxmlElement("w:vAlign")
        v_align.set(qn("w:val"), "center")
        tc_pr.append(v_align)
        tc.append(tc_pr)
        p = OxmlElement("w:p")
        ppr = OxmlElement("w:pPr")
        p_style = OxmlElement("w:pStyle")
        p_style.set(qn("w:val"), self.style(ref.TABLE_TEXT))
        ppr.append(p_style)
        if header:
            jc = OxmlElement("w:jc")
            jc.set(qn("w:val"), "center")
            ppr.append(jc)
        p.append(ppr)
        tc.append(p)
        return tc

    def _table_font_pt(self) -> float:
        """The Table Text style's size (half-points in the file), through the styles it is based on."""
        style = self.document.styles.element.get_by_id(self.style(ref.TABLE_TEXT))
        while style is not None:
            size = style.find(f"{qn('w:rPr')}/{qn('w:sz')}")
            if size is not None and str(size.get(qn("w:val"), "")).isdigit():
                return int(size.get(qn("w:val"))) / 2
            based = style.find(qn("w:basedOn"))
            style = self.document.styles.element.get_by_id(based.get(qn("w:val"))) if based is not None else None
        return 12.0

    # -- page geometry, flowcharts ----------------------------------------------------------------

    def _page(self) -> tuple[int, int, int, int, int, int]:
        """Width, height and the top, bottom, left, right margins of the page, in twips."""
        size = self.sect_pr.find(qn("w:pgSz"))
        margin = self.sect_pr.find(qn("w:pgMar"))

        def twips(element: etree._Element | None, name: str, default: int) -> int:
            value = element.get(qn(f"w:{name}")) if element is not None else None
            return int(value) if value is not None and value.lstrip("-").isdigit() else default

        return (
            twips(size, "w", 11906),
            twips(size, "h", 16838),
            abs(twips(margin, "top", 1440)),
            abs(twips(margin, "bottom", 1440)),
            twips(margin, "left", 1440),
            twips(margin, "right", 1440),
        )

    def text_width(self) -> int:
        width, _height, _top, _bottom, left, right = self._page()
        return max(1440, width - left - right)

    def text_height(self) -> int:
        _width, height, top, bottom, _left, _right = self._page()
        return max(1440, height - top - bottom)

    def landscape(self) -> None:
        """Turn the page (wide tables): width and height swap, the margins stay on their sides."""
        size = self.sect_pr.find(qn("w:pgSz"))
        width, height, *_margins = self._page()
        if size is None or width > height:
            return
        size.set(qn("w:w"), str(height))
        size.set(qn("w:h"), str(width))
        size.set(qn("w:orient"), "landscape")

    def flowchart(self, source: str) -> None:
        """A Mermaid flowchart as a centred picture, or a note saying why it is not one above its source."""
        try:
            picture = self.flowcharts.draw(source, fmt="png")
        except FlowchartUnavailable as exc:
            self.paragraph(ref.FLOWCHART_NOTE, f"（此处流程图未能绘制为图片：{exc.reason}。以下为流程图源码，可在网页上查看图形。）")
            self._inline_into(self.paragraph(ref.MERMAID), [Node("", text=source)], keep_breaks=True)
            return
        p = self.paragraph(ref.FLOWCHART)
        ppr = p.find(qn("w:pPr"))
        for tag, attributes in (  # also right under a college's own template, whose Normal may have a fixed line height
            ("w:spacing", {"w:line": "240", "w:lineRule": "auto", "w:before": "120", "w:after": "120"}),
            ("w:ind", {"w:firstLine": "0", "w:firstLineChars": "0"}),
            ("w:jc", {"w:val": "center"}),
        ):
            element = OxmlElement(tag)
            for key, value in attributes.items():
                element.set(qn(key), value)
            ppr.append(element)
        p.append(self._picture(picture, description=source))

    def _image(self, source: str) -> Picture | None:
        """A body picture the caller gives, with its natural size; None when it gives none or a
        file that is not a PNG or JPEG."""
        if not source or self._read_image is None:
            return None
        data = self._read_image(image_reference(source))
        if not data:
            return None
        try:
            with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as image:  # the header only: no decoding
                width, height = image.size
                fmt = "png" if image.format == "PNG" else "jpg"
                dpi = image.info.get("dpi", (_DEFAULT_DPI, _DEFAULT_DPI))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            log.warning("picture %s is not a PNG or JPEG; written as its alt text", source)
            return None
        x_dpi, y_dpi = (float(v) if v and 30 <= float(v) <= 1200 else _DEFAULT_DPI for v in dpi)
        if width < 1 or height < 1:
            return None
        return Picture(data=data, format=fmt, width_pt=width * 72 / x_dpi, height_pt=height * 72 / y_dpi)

    def _picture(
        self, picture: Picture, *, description: str, name: str | None = None, height_share: float = _FLOWCHART_HEIGHT_SHARE
    ) -> etree._Element:
        """An inline picture scaled to fit the text area; the description (alt text) holds the
        flowchart's source, or a picture's alt text."""
        scale = min(1.0, self.text_width() / 20 / picture.width_pt, self.text_height() * height_share / 20 / picture.height_pt)
        cx, cy = Emu(int(Pt(picture.width_pt * scale))), Emu(int(Pt(picture.height_pt * scale)))
        r_id, _image = self.document.part.get_or_add_image(io.BytesIO(picture.data))
        self._pictures += 1
        kind = "flowchart" if name is None else "picture"
        inline = CT_Inline.new_pic_inline(self._pictures, r_id, f"{kind}-{self._pictures}.{picture.format}", cx, cy)
        inline.docPr.set("name", name or f"流程图 {self._pictures - _FIRST_PICTURE_ID}")
        inline.docPr.set("descr", _NOT_XML.sub("", description))
        run = OxmlElement("w:r")
        drawing = OxmlElement("w:drawing")
        drawing.append(inline)
        run.append(drawing)
        return run

    # -- bookmarks, contents, sections -------------------------------------------------------------

    def bookmark(self, paragraph: etree._Element, name: str | None) -> None:
        """Mark the paragraph's text as `name` (a contents entry's page number refers to it)."""
        if name is None:
            return
        self._bookmarks += 1
        start = OxmlElement("w:bookmarkStart")
        start.set(qn("w:id"), str(self._bookmarks))
        start.set(qn("w:name"), name)
        end = OxmlElement("w:bookmarkEnd")
        end.set(qn("w:id"), str(self._bookmarks))
        ppr = paragraph.find(qn("w:pPr"))
        if ppr is not None:
            ppr.addnext(start)
        else:
            paragraph.insert(0, start)
        paragraph.append(end)

    def contents_entry(self, *, level: int, text: str, anchor: str) -> None:
        """One line of a 目录: the text, a dotted leader and the page of `anchor` (a PAGEREF field,
        which LibreOffice lays out live and Word updates when it opens the file), linked to it."""
        p = self.paragraph(f"toc {level}")
        tabs = OxmlElement("w:tabs")
        tab = OxmlElement("w:tab")
        tab.set(qn("w:val"), "right")
        tab.set(qn("w:leader"), "dot")
        tab.set(qn("w:pos"), str(self.text_width()))
        tabs.append(tab)
        p.find(qn("w:pPr")).append(tabs)
        link = OxmlElement("w:hyperlink")
        link.set(qn("w:anchor"), anchor)
        link.set(qn("w:history"), "1")
        link.append(_run(text, set()))
        link.append(_tab())
        for kind in ("begin", "instr", "separate"):
            link.append(_field_char(kind, f"PAGEREF {anchor} \\h"))
        link.append(_run("", set()))
        link.append(_field_char("end", ""))
        p.append(link)

    def end_section(self, *, numbered: bool) -> None:
        """Close the pages written so far as their own section (the next page starts the rest).
        Unnumbered: without header and footer; the rest's page numbers then start at 1."""
        closed = etree.fromstring(etree.tostring(self.sect_pr))
        if not numbered:
            for child in list(closed):
                if child.tag in (qn("w:headerReference"), qn("w:footerReference"), qn("w:titlePg"), qn("w:pgNumType")):
                    closed.remove(child)
            number_type = self.sect_pr.find(qn("w:pgNumType"))
            if number_type is None:
                number_type = OxmlElement("w:pgNumType")
                later = [self.sect_pr.find(qn(f"w:{name}")) for name in _SECTION_AFTER_PAGE_NUMBERS]
                anchor = next((e for e in later if e is not None), None)
                if anchor is not None:
                    anchor.addprevious(number_type)
                else:
                    self.sect_pr.append(number_type)
            number_type.set(qn("w:start"), "1")
        p = OxmlElement("w:p")
        ppr = OxmlElement("w:pPr")
        ppr.append(closed)
        p.append(ppr)
        self.sect_pr.addprevious(p)

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
            picture = self._image(node.attrs.get("src", ""))
            if picture is not None:
                self._figures += 1
                parent.append(self._picture(picture, description=alt, name=f"图片 {self._figures}", height_share=_PICTURE_HEIGHT_SHARE))
            elif alt:
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

    def update_fields_on_open(self) -> None:
        """Ask Word to update the fields (the 目录's page numbers) when it opens the file."""
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


def _centre(p: etree._Element) -> None:
    jc = OxmlElement("w:jc")
    jc.set(qn("w:val"), "center")
    p.find(qn("w:pPr")).append(jc)


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


def _cell_text(cell: Node) -> str:
    """A cell's text as it wraps: line breaks kept, other whitespace squashed."""
    parts: list[str] = []

    def walk(node: Node) -> None:
        if node.tag == "br":
            parts.append("\n")
        elif not node.tag:
            parts.append(re.sub(r"[ \t]*\n[ \t]*", "", node.text))
        for child in node.children:
            walk(child)

    walk(cell)
    return "".join(parts).strip()


def _tab() -> etree._Element:
    run = OxmlElement("w:r")
    run.append(OxmlElement("w:tab"))
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


def export_markdown(
    markdown: str,
    *,
    template: Path,
    title: str | None = None,
    subtitle: str | None = None,
    flowcharts: FlowchartRenderer | None = None,
    read_image: ReadImage | None = None,
) -> bytes:
    """One document as a .docx (flowcharts drawn by `flowcharts`, by default Graphviz on PATH
    without a cache; pictures read through `read_image`, without it their alt text)."""
    writer = WordWriter(template, flowcharts=flowcharts)
    writer.add_markdown(markdown, title=title, subtitle=subtitle, read_image=read_image)
    return writer.save()

""".docx -> Markdown in the house style of the demo documents.

Headings come from Word's heading styles, or, in paragraphs of the default style, from how a
clerk types them: a short bold or centred first line is the title, `第一章 总则` a chapter
(`##`), `第一节` or `（一）…` without closing punctuation a section. Clauses become
`**第一条** …` whatever the label looked like. Word's automatic numbering is written out: plain
`1.` and bullets become Markdown lists, Chinese labels (第一条, （一）) become text. Tables keep
one header row; a vertically merged cell is repeated in each row it covers so every row reads
on its own, a horizontally merged one is kept in its first column. Paragraphs in the styles the
exporter writes (Body Text, Quote, Code Block, Mermaid) map back exactly, so export -> import
gives the same Markdown.

Pictures (PNG and JPEG, inline or anchored drawings and old VML pictures) are kept when the
caller names the folder they will be stored in (`image_folder`, e.g. "A101Z/images", relative to
the document's file): each passes `attachments.inspect.inspect_image` (decoded under a pixel limit,
re-encoded without metadata), is named `image-<12 hex of its SHA-256>.png|.jpg` — never by the
file's own part name — and is referred to as `![可选文字](A101Z/images/image-….png)`. Other
formats (EMF, WMF, GIF …) and pictures without a folder are reported by name in the warnings.

A .docx is untrusted input: `import_docx` runs the conversion in a child process held to the
import's time and memory limits (`sandbox.py`), and the converter itself stays linear in the
size of the file (text is collected in lists and joined once; the deadline is checked per run).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from lxml import etree

from zhengai_docs.attachments.refusal import UploadRefused
from zhengai_docs.render.docx_package import Deadline, Limits, WordImportError, WordPackage, megabytes, open_package
from zhengai_docs.render.docx_styles import Numbering, StyleSheet, attr, toggle, w
from zhengai_docs.render.sandbox import LimitExceeded, run_limited

_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_SPACE = "[ \t\u3000\u00a0]"
_CLAUSE = re.compile(rf"(第[一二三四五六七八九十百千零〇两0-9]+条){_SPACE}*")
_CHAPTER = re.compile(rf"第[一二三四五六七八九十百零〇0-9]+[章编]{_SPACE}*\S")
_SECTION = re.compile(rf"第[一二三四五六七八九十百零〇0-9]+节{_SPACE}*\S")
_LEVEL_ONE = re.compile(r"[一二三四五六七八九十]+、\S")
_LEVEL_TWO = re.compile(r"（[一二三四五六七八九十]+）\S")
_DOC_NUMBER = re.compile(r"〔\d{4}〕|\[\d{4}\]|\d+号$")
_END_PUNCTUATION = tuple("。；;，,：:、！？!?")
_MANUAL_BULLET = re.compile(r"[•●▪■◆◇○]\s*")
_SIMPLE_ORDERED = re.compile(r"%[1-9][.)]")
_EXPLICIT_BODY = {"body text", "body text 2", "body text 3", "body text first indent", "table text", "list paragraph"}
_SKIPPED_STYLES = re.compile(r"toc \d|toc heading|document number|handbook part|header|footer|flowchart note")
_QUOTE_STYLES = {"quote", "intense quote", "引用", "明显引用"}
_CODE_STYLES = {"code block": "", "mermaid": "mermaid", "html preformatted": "", "macro text": ""}
_FLOWCHART_STYLE = "flowchart"  # the exporter's flowchart pictures: the Mermaid source is the picture's description
_WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_TITLE_STYLES = {"title", "document title", "标题"}
_CODE_RUN_STYLES = {"inline code", "html code", "verbatim char"}
_SHORT = 40
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_V = "urn:schemas-microsoft-com:vml"
_IMAGE_FOLDER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
_PICTURE_TAGS = (w("drawing"), w("pict"), w("object"), f"{{{_MC}}}AlternateContent")
_NO_PICTURES = "图片、文本框或嵌入对象未导入"


@dataclass(frozen=True)
class ImportedImage:
    """A picture the Markdown refers to as `<image_folder>/<name>`; `data` already cleaned."""

    name: str  # image-<12 hex>.png | .jpg
    data: bytes
    media_type: str


@dataclass(frozen=True)
class ImportedText:
    markdown: str
    title: str | None
    warnings: tuple[str, ...]
    images: tuple[ImportedImage, ...] = ()


@dataclass
class _Segment:
    text: str
    bold: bool = False
    italic: bool = False
    link: str | None = None
    br: bool = False
    code: bool = False
    image: bool = False  # `text` is a Markdown picture reference, written as it is


@dataclass
class _Block:
    kind: str  # heading, para, item, quote, code, table
    text: str = ""
    level: int = 0
    ordered: bool = False
    number: int = 1
    list_id: str = ""
    lang: str = ""
    in_quote: bool = False
    rows: list[list[str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # a code block's lines, joined when emitted


def import_docx(data: bytes, *, limits: Limits | None = None, image_folder: str | None = None) -> ImportedText:
    """Convert a .docx (as bytes) to Markdown in a child process that cannot run past the
    limits' time and memory; WordImportError for files that cannot be read or that hit a limit.
    With `image_folder` its PNG/JPEG pictures are kept (`ImportedText.images`)."""
    limits = limits or Limits()
    if not data:
        raise WordImportError("文件是空的。")
    if len(data) > limits.max_bytes:
        raise WordImportError(f"文件大小 {len(data) / 1024 / 1024:.1f} MB，超过导入上限 {megabytes(limits.max_bytes)} MB。")
    try:
        return run_limited(_convert_job, (data, limits, image_folder), seconds=limits.max_seconds, memory_bytes=limits.max_memory_bytes)
    except LimitExceeded as exc:
        message = _LIMIT_MESSAGES[exc.kind].format(seconds=limits.max_seconds, mb=megabytes(limits.max_memory_bytes))
        raise WordImportError(message) from exc


_ADVICE = "请拆分文档，或删除其中过大的表格后再导入。"
_LIMIT_MESSAGES = {
    "time": "文档处理超过 {seconds:g} 秒仍未完成，已停止。" + _ADVICE,
    "memory": "文档处理所需内存超过上限 {mb} MB，已停止。" + _ADVICE,
    "died": "文档处理进程意外退出（多半是所需内存超过上限 {mb} MB），已停止。" + _ADVICE,
}


def _convert_job(job: tuple[bytes, Limits, str | None]) -> ImportedText:
    data, limits, image_folder = job
    return convert_docx(data, limits=limits, image_folder=image_folder)


def convert_docx(data: bytes, *, limits: Limits, image_folder: str | None = None) -> ImportedText:
    """The conversion itself, in this process (`import_docx` runs it in a limited child)."""
    if image_folder is not None and not _IMAGE_FOLDER.fullmatch(image_folder):
        raise ValueError(f"not a relative folder: {image_folder!r}")
    deadline = Deadline(limits.max_seconds)
    package = open_package(data, limits=limits, media=image_folder is not None)
    deadline.check()
    return _Converter(package, limits=limits, deadline=deadline, image_folder=image_folder).run()


class _Converter:
    def __init__(self, package: WordPackage, *, limits: Limits, deadline: Deadline, image_folder: str | None = None) -> None:
        self.package = package
        self.image_folder = image_folder
        self.images: dict[str, ImportedImage] = {}  # by name: a picture used twice is stored once
        self.cleaned: dict[str, ImportedImage | None] = {}  # by relationship id
        self.styles = StyleSheet(package.styles)
        self.numbering = Numbering.parse(package.numbering)
        self.limits = limits
        self.deadline = deadline
        self.blocks: list[_Block] = []
        self.warnings: dict[str, int] = {}
        self.body_seen = False  # a block other than a heading was added
        self.title_seen = False  # a level-1 heading was added

    def run(self) -> ImportedText:
        body = self.package.document.find(w("body"))
        if body is None:
            raise WordImportError("文档没有正文。")
        cells = sum(1 for _ in body.iter(w("tc")))
        if cells > self.limits.max_table_cells:
            raise WordImportError(
                f"文档中的表格共有 {cells} 个单元格，超过上限 {self.limits.max_table_cells}。请把过大的表格拆开或改用 Excel 附件。"
            )
        for element in _block_children(body):
            self.deadline.check()
            if element.tag == w("p"):
                self._paragraph(element)
            elif element.tag == w("tbl"):
                self._table(element)
        _promote_headings(self.blocks)
        markdown = _emit(self.blocks)
        if not markdown.strip():
            raise WordImportError("文档中没有可导入的文字。")
        if len(markdown) > self.limits.max_chars:
            raise WordImportError(f"转换后的正文有 {len(markdown)} 字，超过上限 {self.limits.max_chars} 字。请拆分文档后分别导入。")
        title = next((b.text for b in self.blocks if b.kind == "heading" and b.level == 1), None)
        warnings = tuple(f"{what}（{count} 处）" for what, count in self.warnings.items())
        return ImportedText(
            markdown=markdown, title=_unescape(title) if title else None, warnings=warnings, images=tuple(self.images.values())
        )

    def warn(self, what: str) -> None:
        self.warnings[what] = self.warnings.get(what, 0) + 1

    # -- paragraphs ----------------------------------------------------------------------------

    def _paragraph(self, p: etree._Element) -> None:
        ppr = p.find(w("pPr"))
        style_id = attr(ppr.find(w("pStyle"))) if ppr is not None else None
        style = self.styles.name(style_id)
        if _SKIPPED_STYLES.fullmatch(style):
            return
        if style == _FLOWCHART_STYLE:
            described = [d.get("descr") for d in p.iter(f"{{{_WP}}}docPr") if (d.get("descr") or "").strip()]
            if len(described) == 1:
                self._add(_Block("code", lang="mermaid", lines=[str(described[0]).replace("\r\n", "\n").rstrip("\n")]))
                return
        segments = self._segments(p, style_id)
        if style in _CODE_STYLES:
            self._code(_plain(segments), _CODE_STYLES[style])
            return
        label, list_info = self._numbering(ppr, style_id)
        plain = _plain(segments).strip(" \t\u3000\u00a0\n")
        if not plain and not label:
            return
        outline = attr(ppr.find(w("outlineLvl"))) if ppr is not None and ppr.find(w("outlineLvl")) is not None else None
        level = 1 if style in _TITLE_STYLES else self.styles.heading_level(style_id)
        if level is None and outline is not None and outline.isdigit() and int(outline) < 9:
            level = int(outline) + 1
        if level is not None and style not in _TITLE_STYLES:
            level = min(level + 1, 6)
        if level is not None:
            self._add(_Block("heading", text=_heading_text(label + plain), level=level))
            return
        quote = style in _QUOTE_STYLES
        if list_info is not None:
            ordered, ilvl, number, list_id = list_info
            text = _inline(_strip(segments))
            self._add(_Block("item", text=text, level=ilvl, ordered=ordered, number=number, list_id=list_id, in_quote=quote))
            return
        if quote:
            self._add(_Block("quote", text=_inline(_strip(segments))))
            return
        if label:
            segments = [_Segment(label, bold=bool(segments) and segments[0].bold), *segments]
            plain = label + plain
        bullet = _MANUAL_BULLET.match(plain)
        if bullet and len(plain) > bullet.end():
            self._add(_Block("item", text=_inline(_drop(_strip(segments), bullet.end())), list_id="manual"))
            return
        pictured = any(s.image for s in segments)
        heading = None if style in _EXPLICIT_BODY or pictured else self._typed_heading(ppr, style_id, segments, plain)
        if heading is not None:
            self._add(_Block("heading", text=_heading_text(plain), level=heading))
            return
        clause = _CLAUSE.match(plain)
        if clause and len(plain) > clause.end():
            rest = _inline(_drop(_strip(segments), clause.end()))
            self._add(_Block("para", text=f"**{clause.group(1)}** {rest}"))
            return
        self._add(_Block("para", text=_line_start(_inline(_strip(segments)))))

    def _typed_heading(self, ppr: etree._Element | None, style_id: str | None, segments: list[_Segment], plain: str) -> int | None:
        """A heading typed as an ordinary paragraph: 第一章 总则, a bold or centred short line."""
        if len(plain) > _SHORT or "\n" in plain or plain.endswith(_END_PUNCTUATION):
            return None
        if _CHAPTER.match(plain):
            return 2
        if _SECTION.match(plain):
            return 3
        if _CLAUSE.match(plain):
            return None
        direct = ppr.find(w("jc")) if ppr is not None else None
        centred = (attr(direct) if direct is not None else self.styles.first(style_id, "jc")) in ("center", "centre")
        bold = all(s.bold for s in segments if s.text.strip())
        first = not self.body_seen and not self.title_seen
        if first and (centred or bold) and not _DOC_NUMBER.search(plain):
            return 1
        if _LEVEL_ONE.match(plain):
            return 2
        if _LEVEL_TWO.match(plain):
            return 3
        if not bold or _DOC_NUMBER.search(plain):
            return None
        return 2 if centred else 3

    def _numbering(self, ppr: etree._Element | None, style_id: str | None) -> tuple[str, tuple[bool, int, int, str] | None]:
        """(text label, None) for Chinese numbering; ("", (ordered, level, number, list)) for lists."""
        num: tuple[str, int | None] | None = None
        num_pr = ppr.find(w("numPr")) if ppr is not None else None
        if num_pr is not None:
            found_id = attr(num_pr.find(w("numId")))
            found_level = attr(num_pr.find(w("ilvl")))
            num = (found_id, int(found_level) if found_level and found_level.isdigit() else None) if found_id is not None else None
        if num is None:
            inherited = self.styles.first(style_id, "num")
            num = inherited if isinstance(inherited, tuple) else None
        if num is None or num[0] in ("0", "") or num[0] not in self.numbering.nums:
            return "", None
        num_id: str = num[0]
        ilvl: int = num[1] or 0
        level = self.numbering.level(num_id, ilvl)
        if level is None:
            return "", None
        values = self.numbering.advance(num_id, ilvl)
        list_id = self.numbering.nums[num_id][0]
        if level.fmt == "bullet":
            return "", (False, ilvl, 1, list_id)
        if level.fmt == "decimal" and _SIMPLE_ORDERED.fullmatch(level.text):
            return "", (True, ilvl, values[ilvl], list_id)
        label = self.numbering.label(num_id, ilvl, values)
        if not label:
            return "", None
        return label + ("" if level.suffix == "nothing" or label[-1] in "）)、" else " "), None

    def _code(self, text: str, lang: str) -> None:
        last = self.blocks[-1] if self.blocks else None
        if last is not None and last.kind == "code" and last.lang == lang:
            last.lines.append(text)
        else:
            self._add(_Block("code", lang=lang, lines=[text]))

    def _add(self, block: _Block) -> None:
        self.blocks.append(block)
        self.body_seen = self.body_seen or block.kind != "heading"
        self.title_seen = self.title_seen or (block.kind == "heading" and block.level == 1)

    # -- runs ----------------------------------------------------------------------------------

    def _segments(self, p: etree._Element, style_id: str | None) -> list[_Segment]:
        para_bold = bool(self.styles.first(style_id, "bold"))
        para_italic = bool(self.styles.first(style_id, "italic"))
        out: list[_Segment] = []
        for run, link in self._runs(p, None):
            self.deadline.check()
            rpr = run.find(w("rPr"))
            run_style = attr(rpr.find(w("rStyle"))) if rpr is not None else None
            code = run_style is not None and self.styles.name(run_style) in _CODE_RUN_STYLES
            bold = _effective(rpr, "b", self.styles.first(run_style, "bold") if run_style else None, para_bold)
            italic = _effective(rpr, "i", self.styles.first(run_style, "italic") if run_style else None, para_italic)
            for child in run:
                tag = child.tag
                if tag == w("t"):
                    out.append(_Segment(child.text or "", bold, italic, link, code=code))
                elif tag == w("tab"):
                    out.append(_Segment(" ", bold, italic, link))
                elif tag in (w("br"), w("cr")):
                    if attr(child, "type") not in ("page", "column"):
                        out.append(_Segment("\n", br=True))
                elif tag == w("noBreakHyphen"):
                    out.append(_Segment("-", bold, italic, link))
                elif tag in _PICTURE_TAGS:
                    out.extend(self._pictures(child))
                elif tag in (w("footnoteReference"), w("endnoteReference")):
                    self.warn("脚注和尾注未导入")
        return out

    def _runs(self, parent: etree._Element, link: str | None) -> Iterator[tuple[etree._Element, str | None]]:
        for child in parent:
            tag = child.tag
            if tag == w("r"):
                yield child, link
            elif tag == w("hyperlink"):
                target = self.package.relationships.get(child.get(f"{{{_R}}}id", ""))
                yield from self._runs(child, target if target and re.match(r"(https?|mailto):", target) else link)
            elif tag in (w("ins"), w("moveTo"), w("smartTag"), w("customXml"), w("fldSimple"), w("sdt"), w("sdtContent")):
                yield from self._runs(child, link)
            elif tag == f"{{{_MC}}}AlternateContent":
                self.warn(_NO_PICTURES)

    # -- pictures ------------------------------------------------------------------------------

    def _pictures(self, element: etree._Element) -> list[_Segment]:
        """The pictures of a drawing (or VML picture) as Markdown references; a warning for what is not kept."""
        if self.image_folder is None:
            self.warn(_NO_PICTURES)
            return []
        choice = element.find(f"{{{_MC}}}Choice") if element.tag == f"{{{_MC}}}AlternateContent" else None
        fallback = element.find(f"{{{_MC}}}Fallback") if choice is not None else None
        scope = choice if choice is not None else element
        ids = [b.get(f"{{{_R}}}embed") for b in scope.iter(f"{{{_A}}}blip")]
        ids += [d.get(f"{{{_R}}}id") for d in scope.iter(f"{{{_V}}}imagedata")]
        if not any(ids) and fallback is not None:
            ids = [d.get(f"{{{_R}}}id") for d in fallback.iter(f"{{{_V}}}imagedata")]
        if not any(ids) or next(element.iter(w("txbxContent")), None) is not None:
            self.warn("文本框、图表或形状未导入")
            return []
        described = next((d for d in element.iter(f"{{{_WP}}}docPr")), None)
        alt = ((described.get("descr") or described.get("title") or "") if described is not None else "").strip() or "图片"
        out: list[_Segment] = []
        for rid in ids:
            picture = self._picture(rid or "")
            if picture is not None:
                out.append(_Segment(f"![{_escape_alt(alt)}]({self.image_folder}/{picture.name})", image=True))
        return out

    def _picture(self, rid: str) -> ImportedImage | None:
        if rid in self.cleaned:
            return self.cleaned[rid]
        found = self.package.media.get(rid)
        picture: ImportedImage | None = None
        if found is None:
            self.warn("链接到外部文件的图片未导入")
        else:
            part, data = found
            shown = posixpath.basename(part)
            if not data.startswith((b"\x89PNG", b"\xff\xd8\xff")):
                kind = posixpath.splitext(shown)[1].lstrip(".").upper() or "未知"
                self.warn(f"图片 {shown}（{kind} 格式）未导入：只能导入 PNG 或 JPG 图片，请在 Word 中把它另存为图片后重新插入")
            else:
                from zhengai_docs.attachments.inspect import inspect_image

                try:
                    inspected = inspect_image(data, max_bytes=self.limits.max_bytes, filename=shown)
                except UploadRefused as exc:
                    self.warn(f"图片未导入：{exc.message}")
                else:
                    digest = hashlib.sha256(inspected.data).hexdigest()[:12]
                    name = f"image-{digest}{inspected.suffix}"
                    picture = self.images.setdefault(name, ImportedImage(name=name, data=inspected.data, media_type=inspected.media_type))
        self.cleaned[rid] = picture
        return picture

    # -- tables --------------------------------------------------------------------------------

    def _table(self, tbl: etree._Element) -> None:
        grid: list[list[tuple[str, bool, bool]]] = []  # (text, continues the cell above, covered by a span)
        flags: list[bool] = []  # rows Word repeats as the header
        for index, tr in enumerate(tbl.findall(w("tr"))):
            self.deadline.check()
            trpr = tr.find(w("trPr"))
            flags.append(trpr is not None and bool(toggle(trpr.find(w("tblHeader")))))
            header_rows = next((i for i, flag in enumerate(flags) if not flag), len(flags))
            row: list[tuple[str, bool, bool]] = [("", False, False)] * _int_val(trpr, "gridBefore")
            for tc in tr.findall(w("tc")):
                tcpr = tc.find(w("tcPr"))
                span = max(1, _int_val(tcpr, "gridSpan"))
                vmerge = tcpr.find(w("vMerge")) if tcpr is not None else None
                continues = vmerge is not None and attr(vmerge) in (None, "continue")
                text = self._cell(tc, header=index < max(1, header_rows))
                row.append((text, continues, False))
                row += [("", continues, True)] * (span - 1)
            grid.append(row)
        if not grid:
            return
        width = max(len(r) for r in grid)

        def spans_all(row: list[tuple[str, bool, bool]]) -> bool:
            return width > 1 and len(row) == width and all(cell[2] for cell in row[1:])

        top, bottom = 0, len(grid)
        while bottom - top > 1 and spans_all(grid[top]):
            if grid[top][0][0]:  # a title row spanning the whole table becomes a bold line above it
                self._add(_Block("para", text=f"**{grid[top][0][0]}**"))
            top += 1
        while bottom - top > 1 and spans_all(grid[bottom - 1]):
            bottom -= 1  # so does a note spanning the last rows, below it
        notes = [row[0][0] for row in grid[bottom:]]
        grid, flags = grid[top:bottom], flags[top:bottom]
        header_rows = next((i for i, flag in enumerate(flags) if not flag), len(flags))
        head = max(1, header_rows)
        rows: list[list[str]] = []
        for r, row in enumerate(grid):
            row = row + [("", False, False)] * (width - len(row))
            texts: list[str] = []
            for c, (text, continues, covered) in enumerate(row):
                if continues and r > 0:
                    texts.append(rows[r - 1][c])  # a vertically merged cell, repeated in each row
                elif covered and r < head and c > 0:
                    texts.append(texts[c - 1])  # a header spanning columns names each of them
                else:
                    texts.append(text)
            rows.append(texts)
        if header_rows > 1:
            merged = [" / ".join(dict.fromkeys(t for t in column if t)) for column in zip(*rows[:header_rows], strict=True)]
            rows = [merged, *rows[header_rows:]]
        self._add(_Block("table", rows=rows))
        for note in notes:
            if note:
                self._add(_Block("para", text=note.replace("\\|", "|")))

    def _cell(self, tc: etree._Element, *, header: bool = False) -> str:
        lines: list[str] = []
        for element in _block_children(tc):
            if element.tag == w("tbl"):
                self.warn("表格中的嵌套表格已展开为文字")
                nested = [" ".join(self._cell(cell) for cell in row.findall(w("tc"))) for row in element.iter(w("tr"))]
                lines.extend(t for t in nested if t.strip())
                continue
            ppr = element.find(w("pPr"))
            style_id = attr(ppr.find(w("pStyle"))) if ppr is not None else None
            label, list_info = self._numbering(ppr, style_id)
            segments = _strip(self._segments(element, style_id))
            if header and all(s.bold for s in segments if s.text.strip()):
                segments = [replace(s, bold=False) for s in segments]  # header rows are bold anyway
            if list_info is not None:
                label = "• " if not list_info[0] else f"{list_info[2]}. "
            text = _inline(segments)
            if text or label:
                lines.append(_escape(label) + text)
        return "<br>".join(line.replace("|", "\\|") for line in lines)


def _int_val(props: etree._Element | None, tag: str) -> int:
    if props is None:
        return 0
    value = attr(props.find(w(tag)))
    return int(value) if value and value.isdigit() else 0


def _block_children(parent: etree._Element) -> Iterator[etree._Element]:
    """Paragraphs and tables in order, looking inside content controls and custom XML."""
    for child in parent:
        if child.tag in (w("p"), w("tbl")):
            yield child
        elif child.tag in (w("sdt"), w("sdtContent"), w("customXml"), w("ins"), w("moveTo")):
            yield from _block_children(child)


def _effective(rpr: etree._Element | None, tag: str, from_run_style: object, from_paragraph: bool) -> bool:
    direct = toggle(rpr.find(w(tag))) if rpr is not None else None
    if direct is not None:
        return direct
    if isinstance(from_run_style, bool):
        return from_run_style
    return from_paragraph


# -- inline Markdown -------------------------------------------------------------------------------

_SPECIAL = re.compile(r"([\\`*_]|\](?=[(\[:]))")


def _escape(text: str) -> str:
    text = _SPECIAL.sub(r"\\\1", text)
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text)
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)


def _escape_alt(text: str) -> str:
    """A picture's description as Markdown alt text: one line, brackets and backslashes escaped."""
    return re.sub(r"([\\\[\]])", r"\\\1", re.sub(r"\s+", " ", text))[:200]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("&lt;", "<").replace("&amp;", "&")


def _line_start(text: str) -> str:
    """Escape what would turn a paragraph into a heading, quote, list or rule."""
    if re.match(r"[#>]|[-+*]\s|[-=]{3,}\s*$", text):
        return "\\" + text
    match = re.match(r"(\d+)([.)])(\s)", text)
    if match:
        return match.group(1) + "\\" + text[len(match.group(1)) :]
    return text


def _plain(segments: list[_Segment]) -> str:
    return "".join(s.text for s in segments)


def _strip(segments: list[_Segment]) -> list[_Segment]:
    """Drop leading and trailing spaces (indentation typed with spaces) and line breaks."""
    out = [replace(s) for s in segments if s.text]
    start = 0
    while start < len(out) and (out[start].br or not out[start].text.lstrip(" \t\u3000\u00a0")):
        start += 1
    del out[:start]
    while out and (out[-1].br or not out[-1].text.rstrip(" \t\u3000\u00a0")):
        out.pop()
    if out:
        out[0].text = out[0].text.lstrip(" \t\u3000\u00a0")
        out[-1].text = out[-1].text.rstrip(" \t\u3000\u00a0")
    return out


def _drop(segments: list[_Segment], count: int) -> list[_Segment]:
    """The segments without their first `count` characters (and the spaces after them)."""
    out: list[_Segment] = []
    for segment in segments:
        if count >= len(segment.text):
            count -= len(segment.text)
            continue
        out.append(replace(segment, text=segment.text[count:]))
        count = 0
    return _strip(out)


def _inline(segments: list[_Segment]) -> str:
    """Bold, italic, links and line breaks as Markdown; emphasis never starts or ends on a space."""
    merged: list[_Segment] = []
    texts: list[list[str]] = []  # the pieces of each merged segment, joined once at the end
    for s in segments:
        if s.br:
            merged.append(_Segment("", br=True))
            texts.append([])
            continue
        bold = s.bold and bool(s.text.strip())
        italic = s.italic and bool(s.text.strip())
        last = merged[-1] if merged else None
        if s.image:
            merged.append(_Segment("", image=True))
            texts.append([s.text])
        elif last is not None and not (last.br or last.image) and _same_format(last, bold, italic, s):
            texts[-1].append(s.text)
        else:
            merged.append(_Segment("", bold, italic, s.link, code=s.code))
            texts.append([s.text])
    for segment, pieces in zip(merged, texts, strict=True):
        segment.text = "".join(pieces)
    out: list[str] = []
    index = 0
    while index < len(merged):
        segment = merged[index]
        if segment.br:
            out.append("<br>")
            index += 1
            continue
        if segment.link is not None:
            group = [segment]
            while index + len(group) < len(merged) and merged[index + len(group)].link == segment.link:
                group.append(merged[index + len(group)])
            inner = _emphasis([_Segment(g.text, g.bold, g.italic, code=g.code) for g in group])
            out.append(f"[{inner}]({_url(segment.link)})")
            index += len(group)
            continue
        group = [segment]
        while index + len(group) < len(merged) and merged[index + len(group)].link is None and not merged[index + len(group)].br:
            group.append(merged[index + len(group)])
        out.append(_emphasis(group))
        index += len(group)
    return "".join(out)


def _same_format(last: _Segment, bold: bool, italic: bool, segment: _Segment) -> bool:
    return (last.bold, last.italic, last.link, last.code) == (bold, italic, segment.link, segment.code)


def _emphasis(segments: list[_Segment]) -> str:
    out: list[str] = []
    index = 0
    while index < len(segments):
        bold = segments[index].bold
        end = index
        while end < len(segments) and segments[end].bold == bold:
            end += 1
        inner = "".join(_piece(s) for s in segments[index:end])
        out.append(_wrap(inner, "**") if bold else inner)
        index = end
    return "".join(out)


def _piece(segment: _Segment) -> str:
    if segment.image:
        return segment.text
    if segment.code:
        return _code(segment.text)
    return _wrap(_escape(segment.text), "*") if segment.italic else _escape(segment.text)


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _wrap(text: str, marker: str) -> str:
    core = text.strip(" \t\u3000\u00a0")
    if not core:
        return text
    start = text.index(core[0])
    return f"{text[:start]}{marker}{core}{marker}{text[start + len(core) :]}"


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _heading_text(text: str) -> str:
    return _escape(re.sub(rf"{_SPACE}+|\n", " ", text).strip())


# -- blocks ----------------------------------------------------------------------------------------


def _promote_headings(blocks: list[_Block]) -> None:
    """A document titled with Heading 1 and chaptered with Heading 2 reads as # and ##."""
    headings = [b for b in blocks if b.kind == "heading"]
    if not headings or any(b.level == 1 for b in headings) or blocks[0].kind != "heading":
        return
    top = blocks[0].level
    if len(headings) < 2 or sum(1 for b in headings if b.level <= top) != 1:
        return
    for block in headings:
        block.level = max(1, block.level - (top - 1))


def _emit(blocks: list[_Block]) -> str:
    parts: list[str] = []
    index = 0
    while index < len(blocks):
        block = blocks[index]
        if block.kind == "quote" or block.in_quote:
            end = index
            while end < len(blocks) and (blocks[end].kind == "quote" or blocks[end].in_quote):
                end += 1
            quoted = _groups(blocks[index:end])
            parts.append("\n>\n".join("\n".join("> " + line for line in group.split("\n")) for group in quoted))
            index = end
            continue
        if block.kind == "item":
            end = index
            while end < len(blocks) and blocks[end].kind == "item" and not blocks[end].in_quote:
                end += 1
            parts.extend(_lists(blocks[index:end]))
            index = end
            continue
        if block.kind == "heading":
            parts.append("#" * block.level + " " + block.text)
        elif block.kind == "code":
            text = "\n".join(block.lines)
            fence = "````" if "```" in text else "```"
            parts.append(f"{fence}{block.lang}\n{text}\n{fence}")
        elif block.kind == "table":
            parts.append(_table_markdown(block))
        elif block.text:
            parts.append(block.text)
        index += 1
    return "\n\n".join(parts) + "\n"


def _groups(blocks: list[_Block]) -> list[str]:
    """Paragraphs and lists of one quotation, each as text to prefix with `> `."""
    out: list[str] = []
    index = 0
    while index < len(blocks):
        if blocks[index].kind != "item":
            out.append(blocks[index].text)
            index += 1
            continue
        end = index
        while end < len(blocks) and blocks[end].kind == "item":
            end += 1
        out.extend(_lists(blocks[index:end]))
        index = end
    return out


def _lists(items: list[_Block]) -> list[str]:
    """Consecutive list paragraphs as Markdown lists; a new top-level list starts a new block."""
    out: list[str] = []
    lines: list[str] = []
    base = items[0].level
    depth = 0
    top: tuple[str, bool] | None = None  # the list the outermost items belong to
    for item in items:
        relative = max(0, item.level - base)
        if relative == 0:
            if top is not None and top != (item.list_id, item.ordered):
                out.append("\n".join(lines))
                lines = []
            top = (item.list_id, item.ordered)
        depth = min(relative, depth + 1) if lines else 0
        marker = f"{item.number}." if item.ordered else "-"
        lines.append("    " * depth + f"{marker} {item.text}")
    out.append("\n".join(lines))
    return out


def _table_markdown(block: _Block) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    rows = [line(block.rows[0]), "|" + "---|" * len(block.rows[0])]
    rows += [line(row) for row in block.rows[1:]]
    return "\n".join(rows)

"""Real .docx files for the import tests, built with python-docx the way clerks' files look.

Each builder returns bytes. Hostile files are built byte by byte: a renamed .doc, an encrypted
OLE container, a truncated zip, zip bombs (honest and lying about their size), macros, DTDs.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.text.paragraph import Paragraph


def save(document: WordDocument) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def bold_line(document: WordDocument, text: str, *, centred: bool = True) -> Paragraph:
    paragraph = document.add_paragraph()
    if centred:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(text).bold = True
    return paragraph


def numbering(document: WordDocument, *, fmt: str, text: str, num_id: int, abstract_id: int) -> int:
    """Add a one-level numbering definition (e.g. chineseCounting, 第%1条) and return its numId."""
    part = document.part.numbering_part.element
    abstract = parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{abstract_id}"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
        f'<w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/><w:suff w:val="space"/></w:lvl></w:abstractNum>'
    )
    first_num = part.find(qn("w:num"))
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        part.append(abstract)
    part.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{abstract_id}"/></w:num>'))
    return num_id


def numbered(paragraph: Paragraph, num_id: int, level: int = 0) -> None:
    paragraph._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )


def unstyled_regulation() -> bytes:
    """A 制度 typed by hand: bold centred title and chapters, clauses with full-width spaces."""
    document = Document()
    bold_line(document, "包头职业技术学院招生工作管理办法")
    plain = document.add_paragraph("包职院发〔2026〕3号")
    plain.alignment = WD_ALIGN_PARAGRAPH.CENTER
    bold_line(document, "第一章　总则")
    document.add_paragraph("　　第一条　为规范招生工作，根据《中华人民共和国高等教育法》和教育部有关规定，结合学院实际，制定本办法。")
    clause = document.add_paragraph()
    clause.add_run("第二条").bold = True
    clause.add_run("　招生工作坚持“公平、公正、公开”的原则；接受考生、家长和社会的监督。")
    bold_line(document, "第二章　组织机构")
    document.add_paragraph("第三条 学院成立招生工作领导小组，负责：")
    document.add_paragraph("（一）制订招生计划；")
    document.add_paragraph("（二）审定录取规则。")
    bold_line(document, "第三章 附则")
    document.add_paragraph("第四条 本办法自发布之日起施行，由招生就业处负责解释。")
    return save(document)


def styled_standard() -> bytes:
    """A 标准 written with Word's styles: Title, Heading 1/2, lists, bold and italic, a line break."""
    document = Document()
    document.add_heading("包头职业技术学院课程建设质量标准", level=0)
    document.add_heading("一、目的", level=1)
    intro = document.add_paragraph("为明确课程建设的")
    intro.add_run("质量要求").bold = True
    intro.add_run("，支撑")
    intro.add_run("“目标—标准—运行—诊断—改进”").italic = True
    intro.add_run("质量螺旋，制定本标准。")
    document.add_heading("二、适用范围", level=1)
    document.add_heading("（一）课程类型", level=2)
    document.add_paragraph("公共基础课", style="List Bullet")
    document.add_paragraph("专业核心课", style="List Bullet")
    document.add_heading("（二）实施步骤", level=2)
    document.add_paragraph("系（部）自评", style="List Number")
    document.add_paragraph("教务处复核", style="List Number")
    note = document.add_paragraph("备注：第一行")
    note.add_run().add_break()
    note.add_run("第二行：数据截至 2026 年 9 月 30 日。")
    return save(document)


def numbered_clauses() -> bytes:
    """Clauses numbered by Word itself (第%1条, chineseCounting) and items （%1） ideographs."""
    document = Document()
    document.add_heading("包头职业技术学院教学督导工作规定", level=0)
    clause_list = numbering(document, fmt="chineseCounting", text="第%1条", num_id=90, abstract_id=90)
    item_list = numbering(document, fmt="chineseCounting", text="（%1）", num_id=91, abstract_id=91)
    for text in ("为加强教学质量监控，制定本规定。", "教学督导室在分管院长领导下开展工作，职责如下："):
        numbered(document.add_paragraph(text), clause_list)
    for text in ("检查课堂教学秩序；", "听课评课并反馈意见。"):
        numbered(document.add_paragraph(text), item_list)
    numbered(document.add_paragraph("本规定自发布之日起施行。"), clause_list)
    return save(document)


def merged_table() -> bytes:
    """A table with a title row across the table, a two-row header and merged cells both ways."""
    document = Document()
    document.add_heading("专业建设指标", level=1)
    table = document.add_table(rows=6, cols=4)
    table.style = "Table Grid"
    title = table.cell(0, 0).merge(table.cell(0, 3))
    title.text = "表1 专业建设主要指标"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "指标"
    table.cell(1, 1).merge(table.cell(1, 2)).text = "数值"
    table.cell(1, 3).merge(table.cell(2, 3)).text = "数据来源"
    table.cell(2, 1).text = "目标值"
    table.cell(2, 2).text = "预警值"
    for row in (1, 2):
        table.rows[row]._tr.get_or_add_trPr().append(parse_xml(f"<w:tblHeader {nsdecls('w')}/>"))
    table.cell(3, 0).text = "年终就业率"
    table.cell(3, 1).text = "≥ 92%"
    table.cell(3, 2).text = "< 85%"
    table.cell(3, 3).merge(table.cell(4, 3)).text = "就业管理系统"
    table.cell(4, 0).text = "专业对口率"
    table.cell(4, 1).text = "≥ 70%"
    table.cell(4, 2).text = "< 50%"
    table.cell(5, 0).merge(table.cell(5, 3)).text = "注：数据每年 12 月 31 日更新｜以状态数据平台为准"
    last = table.cell(3, 0).paragraphs[0]
    last.add_run().add_break()
    last.add_run("（含升学）")
    return save(document)


def fifty_pages(*, chapters: int = 10, clauses: int = 24) -> bytes:
    """About fifty printed pages: chapters of clauses, a table per chapter."""
    document = Document()
    bold_line(document, "包头职业技术学院内部质量保证体系运行管理办法")
    number = 1
    for chapter in range(1, chapters + 1):
        bold_line(document, f"第{chapter}章　第{chapter}部分")
        for _ in range(clauses):
            document.add_paragraph(
                f"第{number}条　各部门应当建立健全质量保证工作机制，定期开展自我诊断与改进，"
                "按照“目标—标准—运行—诊断—改进”的螺旋持续提升人才培养质量，并将结果纳入年度考核。"
            )
            number += 1
        table = document.add_table(rows=6, cols=4)
        for r, row in enumerate(table.rows):
            for c, cell in enumerate(row.cells):
                cell.text = f"指标{r}-{c}" if r else f"列{c}"
    return save(document)


# -- hostile files ---------------------------------------------------------------------------------

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def old_doc() -> bytes:
    """What Word 97-2003 writes: an OLE compound file (here, its header and a WordDocument stream name)."""
    return OLE_MAGIC + b"\x00" * 504 + "WordDocument".encode("utf-16-le") + b"\x00" * 2048


def encrypted_docx() -> bytes:
    """A password-protected .docx: Word wraps it in an OLE file with EncryptionInfo/EncryptedPackage."""
    return OLE_MAGIC + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le")


def not_a_zip() -> bytes:
    return "这不是 Word 文档，只是一段文字。\n".encode() * 20


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _package(parts: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _parts(document: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_bomb(*, unzipped_mb: int = 1024) -> bytes:
    """A valid .docx plus one part of zeros that inflates to `unzipped_mb` MB (≈1 MB on disk)."""
    parts = _parts(save(Document()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        with archive.open("word/media/padding.bin", "w", force_zip64=True) as stream:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(unzipped_mb):
                stream.write(chunk)
    return out.getvalue()


def lying_zip_bomb(*, unzipped_mb: int = 512) -> bytes:
    """document.xml declares 2 KB but inflates to `unzipped_mb` MB: the central directory lies."""
    body = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(body) + b"".join(compressor.compress(b" " * (1024 * 1024)) for _ in range(unzipped_mb))
    return _rewrite_member(save(Document()), "word/document.xml", data + compressor.flush(), declared=2048)


def _rewrite_member(archive: bytes, name: str, deflated: bytes, *, declared: int) -> bytes:
    """Rebuild a zip where `name` holds `deflated` data but claims `declared` bytes unzipped."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    central: list[bytes] = []
    for info in source.infolist():
        encoded = info.filename.encode()
        if info.filename == name:
            payload, method, crc, size = deflated, 8, zlib.crc32(b"x" * declared), declared
        else:
            payload = zlib.compressobj(9, zlib.DEFLATED, -15)
            raw = source.read(info.filename)
            payload_bytes = payload.compress(raw) + payload.flush()
            payload, method, crc, size = payload_bytes, 8, zlib.crc32(raw), len(raw)
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(payload), size, len(encoded), 0))
        out.write(encoded)
        out.write(payload)
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(payload), size, len(encoded), 0, 0, 0, 0, 0, offset)
            + encoded
        )
    start = out.tell()
    for entry in central:
        out.write(entry)
    end = out.tell()
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), end - start, start, 0))
    return out.getvalue()


def huge_table(*, rows: int = 3000, cols: int = 10) -> bytes:
    """30,000 cells of small text: a few hundred KB compressed."""
    parts = _parts(save(Document()))
    cell = "<w:tc><w:p><w:r><w:t>格</w:t></w:r></w:p></w:tc>"
    row = "<w:tr>" + cell * cols + "</w:tr>"
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:tbl>'
        + row * rows
        + "</w:tbl></w:body></w:document>"
    )
    parts["word/document.xml"] = body.encode()
    return _package(parts)


def macro_document() -> bytes:
    """A .docm: the macro-enabled main content type and a vbaProject.bin part."""
    parts = _parts(save(Document()))
    types = parts["[Content_Types].xml"].decode()
    normal = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    parts["[Content_Types].xml"] = types.replace(normal, "application/vnd.ms-word.document.macroEnabled.main+xml").encode()
    parts["word/vbaProject.bin"] = b'Attribute VB_Name = "NewMacros"\nSub AutoOpen()\nShell "calc.exe"\nEnd Sub\n'
    return _package(parts)


def entity_expansion() -> bytes:
    """document.xml with a DTD defining nested entities (billion laughs)."""
    parts = _parts(save(Document()))
    nested = "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    entities = '<!ENTITY a "哈哈哈哈哈哈哈哈哈哈">' + nested
    parts["word/document.xml"] = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>"
    ).encode()
    return _package(parts)

"""The compiled handbook (制度汇编): documents in force, in catalogue order, in one .docx.

The selection comes from the SQL cache (status 现行, files that parse), the text from git by
blob id in batches, so memory holds one batch of Markdown plus the Word document being built.
A cover and a 目录 come first, unnumbered, in a section of their own; page numbers start at 1
with the first divider. The 目录 lists level-1 areas, level-2 groups and documents with their
codes; each entry's page number is a PAGEREF field to a bookmark on the entry's title, which
LibreOffice lays out live and Word updates when it opens the file (`w:updateFields`),
and each entry links to its page. A divider per level-1 area follows; every document starts on
a new page, its flowcharts drawn as pictures. A document that cannot be read or written gets
its title and a note in its place; every other document is still compiled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from zhengai_docs.attachments.extract import extract_text
from zhengai_docs.attachments.pictures import picture_path
from zhengai_docs.attachments.store import attachment_note, attachments_of
from zhengai_docs.catalogue.codes import DocType, document_code
from zhengai_docs.catalogue.document import DocumentMeta, Status, parse_document
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DocumentDepartment, DocumentRow, LevelRow
from zhengai_docs.errors import NotFound, ZhengaiError
from zhengai_docs.render import docx_reference as ref
from zhengai_docs.render.docx_export import ReadImage, WordWriter
from zhengai_docs.render.flowcharts import FlowchartRenderer
from zhengai_docs.storage.files import document_files, read_file
from zhengai_docs.storage.repository import ContentRepository

_BATCH = 100


@dataclass(frozen=True)
class HandbookFilter:
    level1: str | None = None
    department: str | None = None
    doc_type: DocType | None = None

    def describe(self, level_names: dict[str, str]) -> str:
        parts = []
        if self.level1:
            parts.append(f"{self.level1} {level_names.get(self.level1, '')}".strip())
        if self.department:
            parts.append(self.department)
        if self.doc_type:
            parts.append(self.doc_type.label)
        return "、".join(parts) or "全部现行制度、流程和标准"


@dataclass(frozen=True)
class HandbookEntry:
    code: str
    title: str
    blob: str
    issued: dt.date | None
    doc_number: str | None


def select_documents(db: Database, selection: HandbookFilter) -> list[HandbookEntry]:
    """In-force documents that parse, filtered, in catalogue order (A101Z, A101L, A101B, A102Z …)."""
    query = select(DocumentRow.code, DocumentRow.title, DocumentRow.blob, DocumentRow.issued, DocumentRow.doc_number).where(
        DocumentRow.status == Status.IN_FORCE.value, DocumentRow.error.is_(None)
    )
    if selection.level1:
        query = query.where(DocumentRow.code.startswith(selection.level1))
    if selection.doc_type:
        query = query.where(DocumentRow.doc_type == selection.doc_type.value)
    if selection.department:
        query = query.where(
            DocumentRow.code.in_(select(DocumentDepartment.code).where(DocumentDepartment.department == selection.department))
        )
    with db.session() as session:
        rows = [HandbookEntry(*row) for row in session.execute(query)]
    return sorted(rows, key=lambda e: document_code(e.code).sort_key)


def level_names(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {code: name for code, name in session.execute(select(LevelRow.code, LevelRow.name))}


def compile_handbook(
    *,
    db: Database,
    repo: ContentRepository,
    selection: HandbookFilter,
    template: Path,
    college: str,
    today: dt.date,
    flowcharts: FlowchartRenderer | None = None,
    progress: Callable[[int, int], None] | None = None,
    attachment_texts: bool = False,
) -> tuple[bytes, int]:
    """The handbook as .docx bytes, and how many documents it holds. Each document's 附件 are
    listed after its text; `attachment_texts` appends the text of those that are Word documents."""
    entries = select_documents(db, selection)
    names = level_names(db)
    writer = WordWriter(template, flowcharts=flowcharts)
    _cover(writer, college=college, scope=selection.describe(names), today=today, count=len(entries))
    writer.paragraph(ref.TOC_HEADING, "目　录", page_break=True)
    _contents(writer, entries, names)
    writer.update_fields_on_open()
    writer.end_section(numbered=False)  # cover and 目录 carry no page number; the body counts from 1
    current_part = None
    revision = repo.head()  # the commit the pictures are read at
    for start in range(0, len(entries), _BATCH):
        batch = entries[start : start + _BATCH]
        texts = dict(repo.read_blobs(dict.fromkeys(e.blob for e in batch)))
        for done, entry in enumerate(batch, start=start + 1):
            if entry.code[0] != current_part:
                first = current_part is None  # the section break already starts a page
                current_part = entry.code[0]
                part = writer.paragraph(ref.HANDBOOK_PART, _heading(current_part, names), page_break=not first)
                writer.bookmark(part, _anchor(current_part))
            code = document_code(entry.code)
            anchor = _anchor(entry.code)
            try:
                document = parse_document(texts[entry.blob], path=code.path)
            except ZhengaiError as exc:  # one unreadable file costs its own pages, not the handbook
                writer.add_note(title=f"{entry.code} {entry.title}", note=f"（本文档无法编入汇编：{exc}）", new_page=True, anchor=anchor)
            else:
                meta = document.meta
                pictures = _picture_reader(repo, document_path=code.path, revision=revision)
                writer.add_markdown(
                    document.body, title=meta.title, subtitle=subtitle(meta), new_page=True, anchor=anchor, read_image=pictures
                )
                if revision is not None:
                    _attachments(writer, repo, document_path=code.path, revision=revision, with_text=attachment_texts)
            if progress is not None:
                progress(done, len(entries))
    return writer.save(), len(entries)


_MAX_PICTURE_BYTES = 64 * 1024 * 1024


def _picture_reader(repo: ContentRepository, *, document_path: str, revision: str | None) -> ReadImage | None:
    """A document's pictures for its pages (issue 19): only files of its own images/ folder."""
    if revision is None:
        return None

    def read(reference: str) -> bytes | None:
        path = picture_path(document_path, reference)
        if path is None:
            return None
        try:
            return read_file(repo, path, revision, max_bytes=_MAX_PICTURE_BYTES)
        except NotFound:
            return None

    return read


def _attachments(writer: WordWriter, repo: ContentRepository, *, document_path: str, revision: str, with_text: bool) -> None:
    """The 附件 list an official document ends with ("附件：1．专业设置申报表"), and with `with_text`
    each Word attachment's text after it under its own heading (issue 19)."""
    files = attachments_of(document_files(repo, document_path, revision))
    for line in attachment_note(files):
        writer.paragraph(ref.BODY, line)
    if not with_text:
        return
    for attachment in files:
        if attachment.suffix != ".docx":
            continue
        try:
            text = extract_text(read_file(repo, attachment.path, revision, max_bytes=_MAX_PICTURE_BYTES), suffix=".docx")
        except ZhengaiError as exc:
            text = f"（无法读取此附件的文字：{exc}）"
        writer.paragraph("Heading 2", f"{attachment.label}　{attachment.title}")
        for line in text.splitlines():
            if line.strip():
                writer.paragraph(ref.BODY, line.strip())


def _anchor(code: str) -> str:
    """The bookmark a 目录 entry points at (hidden in Word's bookmark list by its leading underscore)."""
    return f"_Toc_{code}"


def _heading(code: str, names: dict[str, str]) -> str:
    return f"{code}　{names[code]}" if names.get(code) else code


def _contents(writer: WordWriter, entries: list[HandbookEntry], names: dict[str, str]) -> None:
    """The 目录: level-1 areas, level-2 groups (pointing at their first document) and documents, with codes."""
    if not entries:
        writer.paragraph(ref.BODY, "（没有符合条件的现行文档。）")
        return
    seen: set[str] = set()
    for entry in entries:
        level1, level2 = entry.code[0], entry.code[:2]
        if level1 not in seen:
            seen.add(level1)
            writer.contents_entry(level=1, text=_heading(level1, names), anchor=_anchor(level1))
        if level2 not in seen:
            seen.add(level2)
            writer.contents_entry(level=2, text=_heading(level2, names), anchor=_anchor(entry.code))
        writer.contents_entry(level=3, text=f"{entry.code}　{entry.title}", anchor=_anchor(entry.code))


def subtitle(meta: DocumentMeta) -> str | None:
    """The line under a title: document number and issue date, as printed on the original."""
    parts = [meta.doc_number] if meta.doc_number else []
    if meta.issued is not None:
        parts.append(f"{meta.issued.year}年{meta.issued.month}月{meta.issued.day}日发布")
    return "　".join(parts) or None


def _cover(writer: WordWriter, *, college: str, scope: str, today: dt.date, count: int) -> None:
    for _ in range(4):
        writer.paragraph("Normal")
    writer.paragraph(ref.COVER, college)
    writer.paragraph(ref.COVER, "制度汇编")
    writer.paragraph(ref.DOCUMENT_NUMBER, f"（{scope}，共 {count} 份）")
    for _ in range(6):
        writer.paragraph("Normal")
    writer.paragraph(ref.DOCUMENT_NUMBER, f"{today.year}年{today.month}月")

"""The compiled handbook (制度汇编): documents in force, in catalogue order, in one .docx.

The selection comes from the SQL cache (status 现行, files that parse), the text from git by
blob id in batches, so memory holds one batch of Markdown plus the Word document being built.
A cover, a table of contents (a Word TOC field, pre-filled with the titles and refreshed with
page numbers when Word opens the file) and a divider per level-1 area come first; every
document starts on a new page. A document that cannot be read or written gets its title and a
note in its place; every other document is still compiled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from zhengai_docs.catalogue.codes import DocType, document_code
from zhengai_docs.catalogue.document import DocumentMeta, Status, parse_document
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DocumentDepartment, DocumentRow, LevelRow
from zhengai_docs.errors import ZhengaiError
from zhengai_docs.render import docx_reference as ref
from zhengai_docs.render.docx_export import WordWriter
from zhengai_docs.storage.repository import ContentRepository

_BATCH = 100
TOC_INSTRUCTION = f'TOC \\h \\z \\t "{ref.HANDBOOK_PART},1,{ref.DOCUMENT_TITLE},2"'


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
    progress: Callable[[int, int], None] | None = None,
) -> tuple[bytes, int]:
    """The handbook as .docx bytes, and how many documents it holds."""
    entries = select_documents(db, selection)
    names = level_names(db)
    writer = WordWriter(template)
    writer.document.sections[0].different_first_page_header_footer = True  # no page number on the cover
    _cover(writer, college=college, scope=selection.describe(names), today=today, count=len(entries))
    toc: list[tuple[int, str]] = []
    for entry in entries:
        part = f"{entry.code[0]} {names.get(entry.code[0], '')}".strip()
        if not toc or (1, part) not in toc:
            toc.append((1, part))
        toc.append((2, entry.title))
    writer.paragraph("TOC Heading", "目　录", page_break=True)
    writer.table_of_contents(TOC_INSTRUCTION, toc)
    current_part = None
    for start in range(0, len(entries), _BATCH):
        batch = entries[start : start + _BATCH]
        texts = dict(repo.read_blobs(dict.fromkeys(e.blob for e in batch)))
        for done, entry in enumerate(batch, start=start + 1):
            if entry.code[0] != current_part:
                current_part = entry.code[0]
                writer.paragraph(ref.HANDBOOK_PART, f"{current_part} {names.get(current_part, '')}".strip(), page_break=True)
            code = document_code(entry.code)
            try:
                document = parse_document(texts[entry.blob], path=code.path)
            except ZhengaiError as exc:  # one unreadable file costs its own pages, not the handbook
                writer.add_note(title=f"{entry.code} {entry.title}", note=f"（本文档无法编入汇编：{exc}）", new_page=True)
            else:
                writer.add_markdown(document.body, title=document.meta.title, subtitle=subtitle(document.meta), new_page=True)
            if progress is not None:
                progress(done, len(entries))
    return writer.save(), len(entries)


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

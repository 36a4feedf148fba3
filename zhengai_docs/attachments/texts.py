"""The searchable text of documents' attachments (附件), extracted once per file content.

`extract_text` reads each file in a limited child process: far too slow to repeat at every save
of a document or at every reindex. The text is kept in SQL by blob id, which names the content
exactly, so a file is read once whatever document, revision or node it turns up in; the search
indexer asks for the texts of the documents it indexes (`AttachmentsOf`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zhengai_docs.attachments.extract import extract_text
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import AttachmentTextRow
from zhengai_docs.search.backend import AttachmentText
from zhengai_docs.storage.files import READ_LIMIT, StoredFile, files_of_documents, read_blob_bytes
from zhengai_docs.storage.paths import attachment_number
from zhengai_docs.storage.repository import ContentRepository

EXTRACTED = (".docx", ".xlsx", ".pdf")  # pictures have no text
_QUERY_CHUNK = 500  # blob ids per SELECT … IN


class AttachmentTexts:
    """`texts(revision, document_paths)`: each document's attachments with their text, by 附件 number."""

    def __init__(self, *, repo: ContentRepository, db: Database) -> None:
        self.repo = repo
        self.db = db

    def __call__(self, revision: str, document_paths: Collection[str]) -> dict[str, tuple[AttachmentText, ...]]:
        files = {
            document: sorted((f for f in stored if attachment_number(f.name) is not None), key=_number)
            for document, stored in files_of_documents(self.repo, revision, document_paths).items()
        }
        blobs = {f.blob for stored in files.values() for f in stored if _suffix(f.name) in EXTRACTED}
        texts = self._kept(blobs)
        for blob, text in self._extracted(blobs - texts.keys(), files).items():
            texts[blob] = text
        return {
            document: tuple(AttachmentText(label=_label(f), text=texts.get(f.blob, "")) for f in stored)
            for document, stored in files.items()
            if stored
        }

    def _kept(self, blobs: set[str]) -> dict[str, str]:
        ordered = sorted(blobs)
        found: dict[str, str] = {}
        with self.db.session() as session:
            for start in range(0, len(ordered), _QUERY_CHUNK):
                chunk = ordered[start : start + _QUERY_CHUNK]
                rows = session.execute(select(AttachmentTextRow.blob, AttachmentTextRow.text).where(AttachmentTextRow.blob.in_(chunk)))
                found.update({blob: text for blob, text in rows})
        return found

    def _extracted(self, blobs: set[str], files: dict[str, list[StoredFile]]) -> dict[str, str]:
        """Extract the texts not kept yet and keep them (another process may have kept the same
        blob meanwhile: its row stands, the text is the same)."""
        if not blobs:
            return {}
        suffixes = {f.blob: _suffix(f.name) for stored in files.values() for f in stored}
        data = read_blob_bytes(self.repo, blobs, max_bytes=READ_LIMIT)
        texts = {blob: extract_text(content, suffix=suffixes[blob]) for blob, content in data.items()}
        now = dt.datetime.now(dt.UTC)
        for blob, text in texts.items():
            try:
                with self.db.transaction() as session:
                    session.add(AttachmentTextRow(blob=blob, text=text, extracted_at=now))
            except IntegrityError:
                pass
        return texts


def _suffix(name: str) -> str:
    return "." + name.rpartition(".")[2].lower()


def _number(stored: StoredFile) -> tuple[int, str]:
    return attachment_number(stored.name) or 0, stored.name


def _label(stored: StoredFile) -> str:
    """`附件1-专业设置申报表.docx` → `附件1 专业设置申报表.docx` (what a hit says it was found in)."""
    number, _, rest = stored.name.partition("-")
    return f"{number} {rest}"

"""The content library: the repository and its SQL cache, as the web and the CLI use them.

Every write goes to git first and then brings the cache up to the new head. A crash between
the two loses nothing: the next `sync` (run before each request) sees that the branch moved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from zhengai_docs.catalogue.codes import DocumentCode
from zhengai_docs.catalogue.document import Document, parse_document
from zhengai_docs.catalogue.importer import CatalogueImport, plan_import, read_rows
from zhengai_docs.catalogue.model import Catalogue, parse_catalogue
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import SyncResult, cached_commit, sync
from zhengai_docs.errors import NotFound
from zhengai_docs.storage.paths import CATALOGUE_PATH
from zhengai_docs.storage.repository import Author, ContentRepository, FileVersion, WriteResult


@dataclass(frozen=True)
class LoadedDocument:
    document: Document
    version: FileVersion


class Library:
    def __init__(self, *, repo: ContentRepository, db: Database) -> None:
        self.repo = repo
        self.db = db
        self._synced_head: str | None = None
        self._lock = threading.Lock()

    def sync(self) -> SyncResult | None:
        """Cheap when nothing moved: one ref-file read, no query (remembered per process)."""
        head = self.repo.head()
        if head is not None and head == self._synced_head:
            return None
        with self._lock:
            result = sync(self.db, self.repo)
            self._synced_head = cached_commit(self.db) if result.mode == "raced" else result.new
        return result

    def load(self, code: DocumentCode, *, revision: str | None = None) -> LoadedDocument:
        version = self.repo.read(code.path, revision=revision)
        return LoadedDocument(document=parse_document(version.text, path=code.path), version=version)

    def save(self, document: Document, *, author: Author, message: str, base: str | None) -> WriteResult:
        """Write one document (refusing stale bases) and update the cache."""
        result = self.repo.write(document.meta.code.path, document.dump(), author=author, message=message, base=base)
        self.sync()
        return result

    def restore(self, code: DocumentCode, revision: str, *, author: Author, message: str, base: str | None) -> WriteResult:
        old = self.load(code, revision=revision)  # validates that the old version still parses
        return self.save(old.document, author=author, message=message, base=base)

    def catalogue(self, *, revision: str | None = None) -> tuple[Catalogue, str | None]:
        """The catalogue file at head (or a revision) and the commit it was read at."""
        try:
            version = self.repo.read(CATALOGUE_PATH, revision=revision)
        except NotFound:
            return Catalogue(), self.repo.head()
        return parse_catalogue(version.text), version.commit

    def plan_catalogue_import(self, table: Path) -> CatalogueImport:
        current, _ = self.catalogue()
        return plan_import(current, read_rows(table))

    def import_catalogue(self, table: Path, *, author: Author, message: str | None = None) -> tuple[CatalogueImport, WriteResult | None]:
        """Merge a table into the catalogue as one commit; nothing is written when nothing changed."""
        current, base = self.catalogue()
        plan = plan_import(current, read_rows(table))
        if not plan.changes:
            return plan, None
        result = self.repo.write(
            CATALOGUE_PATH,
            plan.catalogue.to_yaml(),
            author=author,
            message=message or f"导入目录：{table.name}（{len(plan.changes)} 项变更）",
            base=base,
        )
        self.sync()
        return plan, result

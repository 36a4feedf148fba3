"""The content library: the repository and its SQL cache, as the web and the CLI use them.

Every write goes to git first and then brings the cache up to the new head. A crash between
the two loses nothing: the next `sync` (run before each request) sees that the branch moved.

Every write takes the acting user (`Actor`) and checks the installation's `WritePolicy` before
anything is written: edit rights, REVIEW_REQUIRED, reviewers, administrators. Views and commands
only translate a refusal (`NotAllowed`, 403) into a page or a message.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zhengai_docs.catalogue import edit as catalogue_edit
from zhengai_docs.catalogue.codes import DocumentCode, document_code_from_path
from zhengai_docs.catalogue.document import Document, parse_document
from zhengai_docs.catalogue.framework import Framework
from zhengai_docs.catalogue.importer import CatalogueImport, plan_import, read_rows
from zhengai_docs.catalogue.model import Catalogue, parse_catalogue
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import SyncResult, cached_commit, sync
from zhengai_docs.errors import Conflict, InvalidFrontMatter, NotFound, Refused, StorageError
from zhengai_docs.frameworks import FrameworkStore, framework_path
from zhengai_docs.permissions import Actor, WritePolicy
from zhengai_docs.render.html import require_renderable
from zhengai_docs.search.indexer import SearchIndex
from zhengai_docs.storage.paths import CATALOGUE_PATH, files_folder, owning_document
from zhengai_docs.storage.repository import Author, ContentRepository, FileVersion, WriteResult
from zhengai_docs.storage.retries import earlier_save
from zhengai_docs.trailers import commit_message
from zhengai_docs.users import department_user_counts, rename_department_scopes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedDocument:
    document: Document
    version: FileVersion


RESTORE_HINT = "如需恢复旧版本，请发起修订并在草稿中采用旧版本的文字。"


class Library:
    def __init__(
        self, *, repo: ContentRepository, db: Database, search: SearchIndex | None = None, policy: WritePolicy | None = None
    ) -> None:
        self.repo = repo
        self.db = db
        self.policy = policy or WritePolicy()  # the defaults are the settings' defaults: review on
        self.frameworks = FrameworkStore(repo)
        self.search = search  # the full-text index, which follows the head on its own record
        self._synced_head: str | None = None
        self._deferred: tuple[str | None, str | None] | None = None  # (head, cached commit) of the last deferral
        self._lock = threading.Lock()

    def sync(self, *, max_documents: int | None = None) -> SyncResult | None:
        """Bring the search index and the SQL cache to the branch head. Cheap when nothing moved:
        one ref-file read, no query (remembered per process).

        `max_documents` bounds the work (a page view's share): more is left to the background
        follower and the result says "deferred". On one machine a bounded call leaves the search
        index to the saves (each indexes its own commit before it returns) and the follower:
        page views in other processes that raced a save for the index's writer made it wait. It
        never waits for another thread's sync either (it may be the follower's bulk work), and
        remembers a deferral: while the head and the cache stay where they were, the next page
        view asks git nothing.

        With a central repository (CONTENT_REMOTE) the cache is shared by every node: this node
        first fetches when the cache is at a commit its mirror has not reached (read-your-writes
        across nodes), and the cache only ever moves forward along the central branch. A
        node's own index learns of other nodes' saves only through its own processes, so its
        page views bring the index forward too (bounded alike): found on the next request."""
        remote = self.repo.remote is not None
        if remote:
            self._catch_up_with_cache()
        if self.search is not None and (max_documents is None or remote):
            self.search.follow(wait=False, max_documents=max_documents)
        return self._sync_cache(max_documents=max_documents)

    def follow_write(self) -> None:
        """After a write: the search index, then the SQL cache, follow the branch, so the written
        document is searchable and cached when the write returns. The index is followed once,
        waiting for its writer (another process may be indexing this very commit)."""
        if self.repo.remote is not None:
            self._catch_up_with_cache()
        if self.search is not None:
            self.search.follow(wait=True)
        self._sync_cache(max_documents=None)

    def _sync_cache(self, *, max_documents: int | None) -> SyncResult | None:
        remote = self.repo.remote is not None
        bounded = max_documents is not None
        head = self.repo.head()
        if head is not None and head == self._synced_head:
            return None
        if bounded and self._deferred is not None and self._deferred == (head, cached_commit(self.db)):
            return SyncResult(old=self._deferred[1], new=self._deferred[1], mode="deferred")
        if not self._lock.acquire(blocking=not bounded):  # served from the cache as it is
            pending = self._deferred is not None and self._deferred[0] == head
            return SyncResult(old=None, new=None, mode="deferred" if pending else "busy")
        try:
            result = sync(self.db, self.repo, max_documents=max_documents, forward_only=remote)
            if result.mode == "deferred":
                self._deferred = (head, result.old)
            elif result.mode != "behind":  # behind: the shared cache is ahead of this mirror (a fetch failed)
                self._synced_head = cached_commit(self.db) if result.mode == "raced" else result.new
        finally:
            self._lock.release()
        return result

    def _catch_up_with_cache(self) -> None:
        """Fetch when the shared cache records a commit this mirror's head does not contain
        (another node wrote it). One query; a process only when the two differ. An unreachable
        central repository is logged and the mirror served as it is."""
        remote = self.repo.remote
        cached = cached_commit(self.db)
        head = self.repo.head()
        if remote is None or cached is None or cached in (head, self._synced_head):
            return  # the mirror is at the cache's commit, or past it (mirrors only move forward)
        if head is not None and self.repo.is_ancestor(cached, head):
            return  # the mirror is ahead: the sync below brings the cache forward
        try:
            remote.fetch()
        except StorageError:
            log.warning("central content repository not reachable; serving this node's mirror as it is", exc_info=True)

    def load(self, code: DocumentCode, *, revision: str | None = None) -> LoadedDocument:
        """A document at the head or at a commit on the branch (never from a draft ref)."""
        version = self.repo.read_published(code.path, revision=revision)
        return LoadedDocument(document=parse_document(version.text, path=code.path), version=version)

    def save(
        self,
        document: Document,
        *,
        actor: Actor,
        message: str,
        base: str | None,
        trailers: Sequence[tuple[str, str]] = (),
        files: Mapping[str, bytes | None] | None = None,
    ) -> WriteResult:
        """Write one document straight to the version in force (refusing stale bases) and update the cache.

        The actor must be allowed to edit the document as it was at `base` (for a new one: to
        create in its item) and to lead it by its new departments; with REVIEW_REQUIRED only
        administrators may (editors go through `Workflow`). `trailers` are the product's own
        records, written as the message's last paragraph; nothing in `message` can pass for
        them (see `zhengai_docs.trailers`). `files`: the document's own files (附件, pictures)
        changed in the same commit (`attachments.store` plans them); while any are given, the
        document's files folder must be as it was at `base` (a conflict otherwise).
        """
        self._require_direct_edit(actor, document, base)
        try:
            result = self._write(document, author=actor.author, message=message, base=base, trailers=trailers, files=files)
        except Conflict:
            if files or (retried := self._retried_save(document, actor=actor, base=base)) is None:
                raise
            return retried
        return (None if result.changed or files else self._retried_save(document, actor=actor, base=base)) or result

    def _retried_save(self, document: Document, *, actor: Actor, base: str | None) -> WriteResult | None:
        """A retry of a save already made (its answer was lost on the way) is that save: the first
        commit after `base` holds this very text by this author (storage.retries). None otherwise."""
        head = self.repo.head()
        if base is None or head is None:
            return None
        path, text, since = document.meta.code.path, document.dump(), self.repo.resolve(base)
        earlier = earlier_save(self.repo, path=path, text=text, author=actor.author, since=since, until=head)
        return None if earlier is None else WriteResult(commit=earlier, changed=True)

    def restore(self, code: DocumentCode, revision: str, *, actor: Actor, message: str, base: str | None) -> WriteResult:
        """Bring an old version back; `base` (the commit the history page was read at) must be on
        the branch, or a draft or stray commit would pass the compare-and-swap as if it were."""
        if base is not None:
            try:
                self.repo.resolve_published(base)
            except NotFound:
                raise Refused("恢复所依据的版本不在现行版本的历史上（可能是草稿或无关的提交），已拒绝。请刷新修订历史后重试。") from None
        old = self.load(code, revision=revision)  # validates that the old version still parses
        self._require_direct_edit(actor, old.document, base, verb="恢复", hint=RESTORE_HINT)
        return self._write(old.document, author=actor.author, message=message, base=base)

    def publish(
        self,
        document: Document,
        *,
        actor: Actor,
        author: Author,
        message: str,
        base: str,
        trailers: Sequence[tuple[str, str]],
        files: Mapping[str, bytes | None] | None = None,
    ) -> WriteResult:
        """Commit an approved draft to the branch (`Workflow.publish` checks the draft's state and
        records the publication): the actor must review the document's type; `author` is the
        draft's author, the actor is named in the trailers. The cache is not brought forward
        here: the workflow writes this commit inside its database transaction and follows the
        branch once that transaction is committed."""
        self.policy.require_reviewer(actor, document.meta.code.doc_type)
        return self._commit(document, author=author, message=message, base=base, trailers=trailers, files=files)

    def record_review(
        self, document: Document, *, actor: Actor, message: str, base: str | None, trailers: Sequence[tuple[str, str]]
    ) -> WriteResult:
        """Write a "reviewed, no change" (审核未修订, `cycles.review`): the owning editors or the
        quality office, also with REVIEW_REQUIRED, since nothing but the `reviewed` field may
        differ from the version at `base` (a version on the branch)."""
        reviewed = self.load(document.meta.code, revision=base).document
        self.policy.require_confirm_review(actor, reviewed.meta.departments)
        if reviewed.with_changes(reviewed=document.meta.reviewed).dump() != document.dump():
            raise Refused("“审核未修订”只记录审核结果，不能修改文档的内容")
        return self._write(document, author=actor.author, message=message, base=base, trailers=trailers)

    def _require_direct_edit(
        self, actor: Actor, document: Document, base: str | None, *, verb: str = "修改", hint: str | None = None
    ) -> None:
        """Edit rights are judged on the version at `base`: the compare-and-swap then refuses
        the write unless the head still has that very version."""
        code = document.meta.code
        current = self._departments_at(code, base)
        item: tuple[str, ...] = ()
        if current is None:
            found = self.catalogue()[0].item(code.item)
            item = found.departments if found is not None else ()
        hinted = {"hint": hint} if hint is not None else {}
        self.policy.require_direct_edit(actor, current=current, item=item, new=document.meta.departments, verb=verb, **hinted)

    def _departments_at(self, code: DocumentCode, base: str | None) -> tuple[str, ...] | None:
        """The lead departments of the document at `base` (None: it did not exist there; none
        when it does not parse — then only administrators may overwrite it)."""
        if base is None:
            return None
        try:
            return parse_document(self.repo.read(code.path, revision=base).text, path=code.path).meta.departments
        except NotFound:
            return None
        except InvalidFrontMatter:
            return ()

    def _write(
        self,
        document: Document,
        *,
        author: Author,
        message: str,
        base: str | None,
        trailers: Sequence[tuple[str, str]] = (),
        files: Mapping[str, bytes | None] | None = None,
    ) -> WriteResult:
        result = self._commit(document, author=author, message=message, base=base, trailers=trailers, files=files)
        self.follow_write()
        return result

    def _commit(
        self,
        document: Document,
        *,
        author: Author,
        message: str,
        base: str | None,
        trailers: Sequence[tuple[str, str]],
        files: Mapping[str, bytes | None] | None = None,
    ) -> WriteResult:
        """The git write alone (the callers check who may first); `files` must be the document's own."""
        require_renderable(document.body)  # TooComplex: a body that could only be shown as plain text
        text = commit_message(message, trailers=trailers)
        path = document.meta.code.path
        if not files:
            return self.repo.write(path, document.dump(), author=author, message=text, base=base)
        if any(owning_document(p) != path for p in files):
            raise Refused(f"只能随 {document.meta.code} 保存它自己的附件")
        folder = files_folder(path)  # "the next 附件 number" chosen at `base` stays unique
        return self.repo.commit({path: document.dump(), **files}, author=author, message=text, base=base, unchanged_folders=[folder])

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

    def import_catalogue(self, table: Path, *, actor: Actor, message: str | None = None) -> tuple[CatalogueImport, WriteResult | None]:
        """Merge a table into the catalogue as one commit; nothing is written when nothing changed."""
        self.policy.require_administrator(actor)
        current, base = self.catalogue()
        plan = plan_import(current, read_rows(table))
        if not plan.changes:
            return plan, None
        result = self.repo.write(
            CATALOGUE_PATH,
            plan.catalogue.to_yaml(),
            author=actor.author,
            message=message or f"导入目录：{table.name}（{len(plan.changes)} 项变更）",
            base=base,
        )
        self.sync()
        return plan, result

    # -- catalogue administration ----------------------------------------------------------

    def edit_catalogue(self, edit: Callable[[Catalogue], Catalogue], *, actor: Actor, message: str, base: str | None) -> WriteResult:
        """A catalogue-only edit by an administrator whose form was read at `base`."""
        self.policy.require_administrator(actor)
        current, _ = self.catalogue()
        result = self.repo.commit({CATALOGUE_PATH: edit(current).to_yaml()}, author=actor.author, message=message, base=base)
        self.sync()
        return result

    def rename_department(self, *, old: str, new: str, actor: Actor, base: str | None) -> WriteResult:
        """Rename a department in the catalogue and every document naming it (one commit), and in
        user scopes (in an SQL transaction that commits only if the git commit succeeded)."""
        self.policy.require_administrator(actor)
        new = catalogue_edit.clean_department(new)
        catalogue, head = self._catalogue_since(base)
        changes: dict[str, str | None] = {CATALOGUE_PATH: catalogue_edit.rename_department(catalogue, old=old, new=new).to_yaml()}
        for path, document in self._documents_containing(head, old):
            renamed = catalogue_edit.rename_department_in(document, old=old, new=new)
            if renamed is not None:
                changes[path] = renamed.dump()
        message = f"部门更名：{old} → {new}（目录及 {len(changes) - 1} 份文档）"
        with self.db.transaction() as session:
            rename_department_scopes(session, old=old, new=new)
            result = self.repo.commit(changes, author=actor.author, message=message, base=head)
        self.sync()
        return result

    def remove_department(self, name: str, *, actor: Actor, base: str | None) -> WriteResult:
        """Remove a department that no item, document or user refers to."""
        self.policy.require_administrator(actor)
        catalogue, head = self._catalogue_since(base)
        smaller = catalogue_edit.remove_department(catalogue, name)
        documents = [path for path, doc in self._documents_containing(head, name) if name in doc.meta.departments]
        users = department_user_counts(self.db).get(name, 0)
        if documents or users:
            raise catalogue_edit.CatalogueEditError(f"部门 {name} 仍被 {len(documents)} 份文档、{users} 个用户使用，不能删除")
        result = self.repo.commit({CATALOGUE_PATH: smaller.to_yaml()}, author=actor.author, message=f"删除部门：{name}", base=head)
        self.sync()
        return result

    def move_item(self, *, code: str, group: str, new_code: str, actor: Actor, base: str | None) -> WriteResult:
        """Give an item a new code: the catalogue, its documents (renamed, `code` rewritten) and the
        `related` lists pointing at them change in one commit."""
        self.policy.require_administrator(actor)
        catalogue, head = self._catalogue_since(base)
        moved = catalogue_edit.move_item(catalogue, code=code, group=group, new_code=new_code)
        moves = catalogue_edit.document_moves(code, new_code)
        if any(self.repo.blob_ids(head, [c.path for c in moves.values()]).values()):
            raise catalogue_edit.CatalogueEditError(f"仓库中已有 {new_code} 的文档文件，不能移动到该代码")
        changes: dict[str, str | None] = {CATALOGUE_PATH: moved.to_yaml()}
        present = self.repo.blob_ids(head, [c.path for c in moves])
        for old, new in moves.items():
            if present[old.path] is not None:
                document = self.load(old, revision=head).document  # a broken file stops the move
                changes[old.path] = None
                changes[new.path] = catalogue_edit.recode_document(document, moves).dump()
        for path, document in self._documents_containing(head, code):
            recoded = catalogue_edit.recode_document(document, moves)
            if path not in changes and recoded.meta != document.meta:
                changes[path] = recoded.dump()
        moved_files = sum(1 for text in changes.values() if text is None)
        message = f"移动条目：{code} → {new_code}（{moved_files} 份文档随之更名）"
        result = self.repo.commit(changes, author=actor.author, message=message, base=head)
        self.sync()
        return result

    # -- frameworks and files as they are -------------------------------------------------

    def import_framework(self, framework: Framework, *, actor: Actor, message: str) -> WriteResult:
        """Commit a framework file (a new one, or a new version of an existing one)."""
        self.policy.require_auditor(actor)
        path, text = framework_path(framework.id), framework.to_yaml()
        result = self.repo.write(path, text, author=actor.author, message=message, base=self.repo.head())
        self.sync()
        return result

    def commit_files(
        self, changes: Mapping[str, str | None], *, actor: Actor, message: str, base: str | None, date: dt.datetime | None = None
    ) -> WriteResult:
        """Files committed as they are, optionally dated as issued (demo content, a migration):
        the system only. Loaded in bulk, so the cache follows at the caller's next `sync`."""
        self.policy.require_system(actor)
        return self.repo.commit(changes, author=actor.author, message=message, base=base, date=date)

    def _catalogue_since(self, base: str | None) -> tuple[Catalogue, str]:
        """The catalogue at head, and head; Conflict if the catalogue changed since `base`."""
        head = self.repo.require_head()
        current = self.repo.read(CATALOGUE_PATH, revision=head)
        then = None if base is None else self.repo.blob_ids(self.repo.resolve(base), [CATALOGUE_PATH])[CATALOGUE_PATH]
        if then != current.blob:
            raise Conflict(path=CATALOGUE_PATH, base=base, head=head)
        return parse_catalogue(current.text), head

    def _documents_containing(self, revision: str, needle: str) -> Iterator[tuple[str, Document]]:
        """Documents at a commit whose text contains `needle` (a cheap filter before parsing);
        files that do not parse are skipped (doctor reports them)."""
        paths: dict[str, list[str]] = {}
        for path, blob in self.repo.list_files(revision).items():
            if document_code_from_path(path) is not None:
                paths.setdefault(blob, []).append(path)
        for blob, text in self.repo.read_blobs(paths):
            if needle not in text:
                continue
            for path in paths[blob]:
                try:
                    yield path, parse_document(text, path=path)
                except InvalidFrontMatter:
                    continue

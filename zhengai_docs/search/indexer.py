"""Keep the search index a projection of the branch head, like the SQL cache (`db.sync`).

`sync_index` takes the index writer, reads the commit the index records and applies only the
documents that changed between it and the head (`git diff-tree` between any two commits, so a
rewritten branch is followed too). It never rebuilds: a missing index waits for
`zhengai-docs reindex` (`rebuild_index`), which builds a new index beside the live one and
switches over when it has caught up. `SearchIndex` is what the `Library` calls: cheap when
nothing moved, and it never lets an index problem fail a request or a save.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass

from zhengai_docs.catalogue.codes import document_code_from_path
from zhengai_docs.catalogue.document import parse_document, split_front_matter
from zhengai_docs.errors import InvalidFrontMatter, StorageError, UnreadableContent
from zhengai_docs.search.analysis import collapse, plain_text
from zhengai_docs.search.backend import AttachmentText, IndexBusy, IndexedDocument, IndexMissing, IndexWriter, Progress, SearchBackend
from zhengai_docs.storage.paths import owning_document
from zhengai_docs.storage.repository import Change, ContentRepository

log = logging.getLogger(__name__)
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's id of the empty tree
REQUEST_WAIT = 0.5  # seconds a page view waits for the index writer (then the next one catches up)
SAVE_WAIT = 30.0  # seconds a save waits, so that the saved document is searchable when it returns
_COVERED = 16  # heads remembered by `SearchIndex.covers`
# The texts of documents' attachments at a commit, by document path (`attachments.texts`).
AttachmentsOf = Callable[[str, Collection[str]], Mapping[str, tuple[AttachmentText, ...]]]


@dataclass(frozen=True)
class IndexSyncResult:
    old: str | None
    new: str | None
    mode: str  # unchanged, incremental, rebuild, deferred, behind (a shared index ahead of this mirror)
    documents: int = 0


def indexed_document(path: str, text: str, *, attachments: tuple[AttachmentText, ...] = ()) -> IndexedDocument | None:
    """The index entry of a document file; a file with broken front matter is still findable
    by its text, and a file that is not usable text at all (not UTF-8, binary, too large) by its
    code alone, so the bytes decoded as U+FFFD never reach the index."""
    code = document_code_from_path(path)
    if code is None:
        return None
    try:
        document = parse_document(text, path=path)
    except InvalidFrontMatter as exc:
        try:
            _, body, _ = ("", "", 0) if isinstance(exc, UnreadableContent) else split_front_matter(text, path=path)
        except InvalidFrontMatter:
            body = text
        return IndexedDocument(
            code=str(code),
            title=str(code),
            doc_type=code.doc_type.value,
            status="",
            departments=(),
            points=(),
            issued=None,
            doc_number=None,
            body_text=collapse(plain_text(body)),
            attachments=attachments,
        )
    meta = document.meta
    return IndexedDocument(
        code=str(code),
        title=meta.title,
        doc_type=code.doc_type.value,
        status=meta.status.value,
        departments=meta.departments,
        points=meta.points,
        issued=meta.issued,
        doc_number=meta.doc_number,
        body_text=collapse(plain_text(document.body)),
        attachments=attachments,
    )


def sync_index(
    backend: SearchBackend,
    repo: ContentRepository,
    *,
    timeout: float,
    max_documents: int | None = None,
    attachments: AttachmentsOf | None = None,
) -> IndexSyncResult:
    """Bring the index to the branch head incrementally (IndexMissing when there is none); with
    `max_documents`, more changed documents than that are left to the background follower.

    After this process's own write the index cannot be at the new head yet (unless another
    process indexed it meanwhile, which the writer finds out under its lock): the writer is
    opened straight away, without first refreshing a reader to ask where the index is."""
    head = repo.head()
    if max_documents is None and head is not None and repo.recent.commit(head) is not None:
        with backend.writer(timeout=timeout) as writer:  # IndexMissing when there is no index
            return catch_up(writer, repo, attachments=attachments)
    state = backend.state()
    if not state.exists:
        raise IndexMissing("搜索索引尚未建立，请管理员运行 zhengai-docs reindex")
    if state.commit == head:
        return IndexSyncResult(old=state.commit, new=state.commit, mode="unchanged")
    if max_documents is not None and head is not None and _changed_documents(repo, state.commit, head) > max_documents:
        return IndexSyncResult(old=state.commit, new=state.commit, mode="deferred")
    with backend.writer(timeout=timeout) as writer:
        return catch_up(writer, repo, attachments=attachments)


def _changed_documents(repo: ContentRepository, old: str | None, new: str) -> int:
    try:
        return len(_changed_paths(repo.changes_between(old or EMPTY_TREE, new, files=True)))
    except StorageError:
        return 1 << 30  # the recorded commit is gone: not a page view's work


def catch_up(writer: IndexWriter, repo: ContentRepository, *, attachments: AttachmentsOf | None = None) -> IndexSyncResult:
    """Apply the changes between the writer's recorded commit and the head (read under its lock):
    documents whose file or whose attachments changed are indexed again."""
    recorded = writer.recorded
    head = repo.head()
    if head is None or head == recorded:
        return IndexSyncResult(old=recorded, new=recorded, mode="unchanged")
    if repo.remote is not None and recorded is not None and not repo.is_ancestor(recorded, head):
        # The index may be shared by the nodes (PostgreSQL) and ahead of this mirror: it only
        # ever moves forward along the central branch, like the SQL cache. The next fetch helps.
        return IndexSyncResult(old=recorded, new=recorded, mode="behind")
    try:
        blobs = _changed_documents_blobs(repo, repo.changes_between(recorded or EMPTY_TREE, head, files=True), head)
    except StorageError as exc:  # the recorded commit no longer exists (history rewritten and pruned)
        raise IndexMissing("搜索索引对应的提交已不存在，请管理员运行 zhengai-docs reindex") from exc
    paths = sorted(blobs)
    texts = dict(repo.read_blobs({b for b in blobs.values() if b}))
    present = [p for p in paths if blobs[p]]
    found = attachments(head, present) if attachments is not None and present else {}
    for path in paths:
        blob = blobs[path]
        document = indexed_document(path, texts[blob], attachments=found.get(path, ())) if blob else None
        if document is None:
            writer.delete(str(document_code_from_path(path)))
        else:
            writer.upsert(document)
    writer.finish(head)
    return IndexSyncResult(old=recorded, new=head, mode="incremental", documents=len(paths))


def _changed_paths(changes: Collection[Change]) -> set[str]:
    """The documents a diff touches: their own file, or one of their attachments or pictures."""
    paths = {c.path for c in changes if document_code_from_path(c.path)}
    return paths | {owner for c in changes if (owner := owning_document(c.path)) is not None}


def _changed_documents_blobs(repo: ContentRepository, changes: Collection[Change], head: str) -> dict[str, str | None]:
    """Each touched document's blob at `head` (None: deleted); git is asked only for documents
    whose own file did not change (only their attachments did)."""
    blobs = {c.path: c.blob for c in changes if document_code_from_path(c.path)}
    others = _changed_paths(changes) - blobs.keys()
    return blobs | (repo.blob_ids(head, others) if others else {})


def rebuild_index(
    backend: SearchBackend,
    repo: ContentRepository,
    *,
    timeout: float = SAVE_WAIT,
    progress: Progress | None = None,
    attachments: AttachmentsOf | None = None,
) -> IndexSyncResult:
    """Index every document at the head into a new index, catch up, then switch to it."""
    head = repo.head()
    files = {p: b for p, b in (repo.list_files(head).items() if head else ()) if document_code_from_path(p)}
    found = attachments(head, list(files)) if attachments is not None and head is not None and files else {}

    def documents() -> Iterator[IndexedDocument]:
        paths: dict[str, list[str]] = {}
        for path, blob in files.items():
            paths.setdefault(blob, []).append(path)  # identical files share one blob
        for blob, text in repo.read_blobs(paths):
            for path in paths[blob]:
                document = indexed_document(path, text, attachments=found.get(path, ()))
                if document is not None:
                    yield document

    with backend.rebuild(documents(), commit=head, total=len(files), timeout=timeout, progress=progress) as writer:
        caught_up = catch_up(writer, repo, attachments=attachments)
    return IndexSyncResult(old=None, new=caught_up.new, mode="rebuild", documents=len(files))


class SearchIndex:
    """One process's link between the repository and the index, as the `Library` uses it."""

    def __init__(self, backend: SearchBackend, repo: ContentRepository, *, attachments: AttachmentsOf | None = None) -> None:
        self.backend = backend
        self.repo = repo
        self.attachments = attachments  # where attachments' texts come from (None: not searched)
        self._indexed: str | None = None  # the head this process last saw the index reach
        self._covered: tuple[str, ...] = ()  # recent heads it reached, and where those updates began
        self._deferred: tuple[str, str | None] | None = None  # (head, indexed commit) of the last deferral
        self._lock = threading.Lock()

    def follow(self, *, wait: bool, max_documents: int | None = None) -> bool:
        """Bring the index to the head; True when it is there. Never raises.

        `wait=False` (page views) waits briefly for another writer, then leaves the work to the
        next request; `wait=True` (after a save) waits until the saved commit is indexed. With
        `max_documents`, a larger catch-up is left to the background follower.
        """
        head = self.repo.head()
        if head is None or head == self._indexed:
            return True
        bounded = max_documents is not None
        if bounded and self._deferred is not None and self._deferred == (head, self._recorded()):
            return False  # the same bulk change is still the follower's: no git question per page view
        timeout = SAVE_WAIT if wait else REQUEST_WAIT
        if not self._lock.acquire(timeout=0 if bounded else timeout):
            return False  # another thread of this process is updating (perhaps the follower's bulk work)
        try:
            result = sync_index(self.backend, self.repo, timeout=timeout, max_documents=max_documents, attachments=self.attachments)
        except IndexMissing:
            return False  # nothing to update until `zhengai-docs reindex` builds it
        except IndexBusy:
            log.info("search index busy; %s is indexed by the next request", head[:12])
            return False
        except Exception:  # a broken index is a cache problem: reading and saving go on
            log.warning("search index not brought to %s", head[:12], exc_info=True)
            return False
        finally:
            self._lock.release()
        if result.mode == "deferred":
            self._deferred = (head, result.old)
            return False
        self._indexed = result.new
        # `head` was read after the caller's own write: a save's commit is one of the two
        self._covered = (*self._covered, head, *([result.new] if result.new and result.new != head else []))[-_COVERED:]
        return True

    @property
    def indexed(self) -> str | None:
        """The commit this process last saw the index reach (None: not yet seen)."""
        return self._indexed

    def covers(self, commit: str) -> bool:
        """Did this process see the index take `commit`? False means "not known here" (ask the
        index): after a save it answers without opening the index, which under load cost a save
        ~16 ms (the new segments opened and decoded, then again by the next search)."""
        return commit in self._covered

    def rebuild(self, *, progress: Progress | None = None) -> IndexSyncResult:
        """`rebuild_index` of this index (a reindex, a restore, a repair)."""
        return rebuild_index(self.backend, self.repo, progress=progress, attachments=self.attachments)

    def _recorded(self) -> str | None:
        try:
            return self.backend.state().commit
        except Exception:  # unreadable now: let the full path find out and log it
            return None

"""Keep the SQL cache a projection of the branch head.

`sync` compares the cached commit with the head (one file read) and applies only the diff
between them: the files that changed and the commits in between. A full rebuild happens only
when the cache is empty or the branch was rewritten. Claiming the new state is a
compare-and-swap on the `cache_state` row inside the same transaction, so two processes that
sync at once cannot apply the same commits twice: the loser rolls back and finds nothing to do.

Content is untrusted: a file that does not parse — broken YAML, not UTF-8, binary, too large —
becomes a row with its `error` (the catalogue: `catalogue_error`, keeping the last good tables),
never an exception, so one file pushed with plain git cannot stop the cache from following.

Every version of a document is read by the one front-matter parser (`parse_document`), for the
document's row and for each revision row alike: a revision's issue and review dates are what the
document page shows for that version, in any YAML form, and a version that does not parse carries
no dates and no clock (it moved nothing; `doctor` and the document page say why).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from zhengai_docs.catalogue.codes import DocType, DocumentCode, document_code_from_path
from zhengai_docs.catalogue.document import DocumentMeta, parse_document
from zhengai_docs.catalogue.model import Catalogue, parse_catalogue
from zhengai_docs.cycles.rules import Source, clock_source, clock_start, local_date
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import (
    CacheState,
    DepartmentRow,
    DocumentDepartment,
    DocumentPoint,
    DocumentRelated,
    DocumentRow,
    ItemDepartment,
    ItemRow,
    LevelRow,
    RevisionRow,
)
from zhengai_docs.errors import InvalidCode, InvalidFrontMatter
from zhengai_docs.indicators.cache import indicator_rows
from zhengai_docs.storage.paths import CATALOGUE_PATH
from zhengai_docs.storage.repository import Change, CommitChanges, ContentRepository

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SyncResult:
    old: str | None
    new: str | None
    mode: str  # unchanged, incremental, rebuild, raced, deferred, behind; "busy" (Library.sync): another thread is syncing
    documents: int = 0
    revisions: int = 0


def cached_commit(db: Database) -> str | None:
    with db.session() as session:
        return session.scalar(select(CacheState.commit).where(CacheState.id == 1))


def sync(
    db: Database,
    repo: ContentRepository,
    *,
    progress: Progress | None = None,
    max_documents: int | None = None,
    forward_only: bool = False,
) -> SyncResult:
    """Bring the cache to the branch head, incrementally when possible.

    With `max_documents`, a sync that would change more documents than that (or rebuild) is
    left undone (mode "deferred"): a page view syncs a save's worth itself and leaves a bulk push
    to the background follower (`zhengai_docs.background`).

    `forward_only` (several nodes share the cache, CONTENT_REMOTE): the cache only moves to a
    descendant of its commit, never back to a node's older mirror head (mode "behind": that node
    must fetch first); a branch rewritten centrally is `doctor --rebuild`'s to repair.
    """
    head = repo.head()
    cached, position = cached_state(db)
    if head == cached:
        return SyncResult(old=cached, new=head, mode="unchanged")
    descends = head is not None and cached is not None and repo.is_ancestor(cached, head)
    if forward_only and cached is not None and not descends:
        return SyncResult(old=cached, new=head, mode="behind")
    if head is None or cached is None or not descends:
        if max_documents is not None:
            return SyncResult(old=cached, new=head, mode="deferred")
        return rebuild(db, repo, expected=cached, progress=progress)
    log = list(repo.log(since=cached, until=head))
    # seq is the commit's place on the first-parent line; counting it costs ~50 ms at 50k commits,
    # so the cache remembers the count for its commit and adds the new commits to it
    start = (repo.position(cached) if position is None else position) + 1
    changes = _net_changes(log)
    if max_documents is not None and len(changes) > max_documents:
        return SyncResult(old=cached, new=head, mode="deferred", documents=len(changes))
    versions = _Versions(dict(repo.read_blobs({c.blob for c in changes if c.blob} | _revision_blobs(log))))
    with db.transaction() as session:
        if not _claim(session, old=cached, new=head, position=start - 1 + len(log)):
            return SyncResult(old=cached, new=head, mode="raced")
        if any(c.path == CATALOGUE_PATH for c in changes):
            blob = _blob_of(changes, CATALOGUE_PATH)
            _store_catalogue(session, None if blob is None else versions.text(blob))
        for change in changes:
            code = document_code_from_path(change.path)
            if code is None:
                continue
            session.execute(delete(DocumentRow).where(DocumentRow.path == change.path))
            session.flush()
            if change.blob is not None:
                session.add(_document_row(code, change.blob, versions))
        revisions = _add_revisions(session, log, versions, start_seq=start)
        _stamp_last_changes(session, log)
    return SyncResult(old=cached, new=head, mode="incremental", documents=len(changes), revisions=revisions)


def rebuild(db: Database, repo: ContentRepository, *, expected: str | None, progress: Progress | None = None) -> SyncResult:
    """Recompute every cache table from the head commit and the whole first-parent history."""
    head = repo.head()
    files = repo.list_files(head) if head else {}
    log = list(repo.log(until=head)) if head else []  # not to the head a save may have moved since
    wanted = set(files.values()) | _revision_blobs(log)
    texts: dict[str, str] = {}
    for done, (blob, text) in enumerate(repo.read_blobs(wanted), start=1):
        texts[blob] = text
        if progress is not None and done % 200 == 0:
            progress(done, len(wanted))
    with db.transaction() as session:
        if not _claim(session, old=expected, new=head, position=len(log) if head else None):
            return SyncResult(old=expected, new=head, mode="raced")
        for table in (
            RevisionRow,
            DocumentPoint,
            DocumentRelated,
            DocumentDepartment,
            DocumentRow,
            ItemDepartment,
            ItemRow,
            LevelRow,
            DepartmentRow,
        ):
            session.execute(delete(table))
        versions = _Versions(texts)
        _store_catalogue(session, versions.text(files[CATALOGUE_PATH]) if CATALOGUE_PATH in files else None)
        documents = 0
        for path, blob in files.items():
            code = document_code_from_path(path)
            if code is not None:
                session.add(_document_row(code, blob, versions))
                documents += 1
        revisions = _add_revisions(session, log, versions, start_seq=1)
        _stamp_last_changes(session, log)
    if progress is not None:
        progress(len(wanted), len(wanted))
    return SyncResult(old=expected, new=head, mode="rebuild", documents=documents, revisions=revisions)


def cached_state(db: Database) -> tuple[str | None, int | None]:
    """The commit the cache reflects and its place on the branch (None when not yet known)."""
    with db.session() as session:
        row = session.execute(select(CacheState.commit, CacheState.position).where(CacheState.id == 1)).first()
    return (row[0], row[1]) if row else (None, None)


def _claim(session: Session, *, old: str | None, new: str | None, position: int | None) -> bool:
    """Compare-and-swap the cached commit; taking the row lock first serialises syncers."""
    condition = CacheState.commit.is_(None) if old is None else CacheState.commit == old
    values = {"commit": new, "position": position, "synced_at": dt.datetime.now(dt.UTC)}
    result = session.execute(update(CacheState).where(CacheState.id == 1, condition).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _net_changes(log: list[CommitChanges]) -> list[Change]:
    """The last change of each file along the first-parent line: the same as a tree diff."""
    final: dict[str, Change] = {}
    for entry in log:
        for change in entry.changes:
            final[change.path] = change
    return list(final.values())


def _blob_of(changes: Iterable[Change], path: str) -> str | None:
    return next((c.blob for c in changes if c.path == path), None)


def _revision_blobs(log: list[CommitChanges]) -> set[str]:
    return {c.blob for entry in log for c in entry.changes if c.blob and document_code_from_path(c.path)}


Dates = tuple[dt.date | None, dt.date | None]  # (issued, reviewed.date) of one version


class _Versions:
    """The file versions one sync reads, each parsed once: a document's row parses its version
    in full, and the revision rows reuse the dates read from it (most versions a sync reads are
    both a document's new head and that document's newest revision)."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = texts
        self._dates: dict[tuple[str, str], Dates | None] = {}

    def text(self, blob: str) -> str:
        return self._texts[blob]

    def meta(self, blob: str, path: str) -> DocumentMeta | InvalidFrontMatter:
        """The version's metadata, or why it does not parse."""
        try:
            meta = parse_document(self._texts[blob], path=path).meta
        except InvalidFrontMatter as exc:
            self._dates[(blob, path)] = None
            return exc
        self._dates[(blob, path)] = (meta.issued, meta.reviewed.date if meta.reviewed is not None else None)
        return meta

    def dates(self, blob: str, path: str) -> Dates | None:
        """The issue and review dates this version carries; None when it does not parse."""
        if (blob, path) not in self._dates:
            self.meta(blob, path)
        return self._dates[(blob, path)]


def _document_row(code: DocumentCode, blob: str, versions: _Versions) -> DocumentRow:
    path = code.path
    row = DocumentRow(code=str(code), item_code=code.item, doc_type=code.doc_type.value, path=path, blob=blob, title=str(code))
    meta = versions.meta(blob, path)
    if isinstance(meta, InvalidFrontMatter):
        row.error = str(meta)
        return row
    row.title = meta.title
    row.status = meta.status.value
    row.issued = meta.issued
    row.doc_number = meta.doc_number
    row.approved_by = meta.approved_by
    if meta.review_cycle is not None:
        row.cycle_years, row.cycle_reason = meta.review_cycle.years, meta.review_cycle.reason
    row.reviewed = meta.reviewed.date if meta.reviewed is not None else None
    row.clock = clock_start(issued=meta.issued, reviewed=row.reviewed, published=None)  # commit date: _stamp_last_changes
    source = clock_source(start=row.clock, issued=meta.issued, reviewed=row.reviewed)
    row.clock_source = None if source is None else source.value
    row.departments = [DocumentDepartment(department=d, position=i) for i, d in enumerate(dict.fromkeys(meta.departments))]
    row.points = [DocumentPoint(point_id=p) for p in dict.fromkeys(meta.points)]
    row.related = [DocumentRelated(related=str(r)) for r in dict.fromkeys(meta.related)]
    if code.doc_type is DocType.B:
        row.indicators.add_all(indicator_rows(code, versions.text(blob), meta))
    return row


def _store_catalogue(session: Session, text: str | None) -> None:
    """Replace the catalogue tables (None: there is no catalogue file); a broken catalogue file
    (bad YAML, not UTF-8, too large) keeps the old tables and is reported."""
    try:
        catalogue = Catalogue() if text is None else parse_catalogue(text)
    except (InvalidFrontMatter, InvalidCode) as exc:
        session.execute(update(CacheState).where(CacheState.id == 1).values(catalogue_error=str(exc)))
        return
    for table in (ItemDepartment, ItemRow, LevelRow, DepartmentRow):
        session.execute(delete(table))
    session.add_all(DepartmentRow(name=name, position=i) for i, name in enumerate(catalogue.departments))
    for level in catalogue.levels:
        session.add(LevelRow(code=level.code, parent=None, name=level.name))
        for group in level.groups:
            session.add(LevelRow(code=group.code, parent=level.code, name=group.name))
            for item in group.items:
                session.add(
                    ItemRow(
                        code=item.code,
                        level1=item.level1,
                        level2=item.level2,
                        name=item.name,
                        departments=[ItemDepartment(department=d, position=i) for i, d in enumerate(item.departments)],
                    )
                )
    session.execute(update(CacheState).where(CacheState.id == 1).values(catalogue_error=None))


def _add_revisions(session: Session, log: list[CommitChanges], versions: _Versions, *, start_seq: int) -> int:
    rows = []
    for seq, entry in enumerate(log, start=start_seq):
        rev = entry.revision
        for change in entry.changes:
            code = document_code_from_path(change.path)
            if code is None:
                continue
            dates = versions.dates(change.blob, change.path) if change.blob else None
            issued, reviewed = dates if dates is not None else (None, None)
            rows.append(
                {
                    "code": str(code),
                    "seq": seq,
                    "commit": rev.commit,
                    "change": change.status,
                    "blob": change.blob,
                    "author_name": rev.author_name,
                    "author_email": rev.author_email,
                    "date": rev.date,
                    "message": rev.message,
                    "issued": issued,
                    "reviewed": reviewed,
                    "clock": None if dates is None else clock_start(issued=issued, reviewed=reviewed, published=rev.date),
                }
            )
    if rows:
        session.execute(RevisionRow.__table__.insert(), rows)  # type: ignore[attr-defined]
    return len(rows)


def _stamp_last_changes(session: Session, log: list[CommitChanges]) -> None:
    latest: dict[str, tuple[str, dt.datetime]] = {}
    for entry in log:
        for change in entry.changes:
            code = document_code_from_path(change.path)
            if code is not None and change.blob is not None:
                latest[str(code)] = (entry.revision.commit, entry.revision.date)
    for code_text, (commit, date) in latest.items():
        session.execute(
            update(DocumentRow)
            .where(DocumentRow.code == code_text)
            .values(
                last_commit=commit,
                last_changed=date,
                clock=func.coalesce(DocumentRow.clock, local_date(date)),
                clock_source=func.coalesce(DocumentRow.clock_source, Source.PUBLISHED.value),
            )
        )

"""The embedded search backend: a Whoosh index (see `whoosh_store` for its folder and locks).

Several processes share one index folder:
- one writer at a time: the WRITELOCK file lock is taken with a timeout (IndexBusy after it,
  never Whoosh's LockError); the recorded commit is read after the lock is taken and written in
  the same Whoosh commit as the documents, so an update is applied exactly once, never undone;
- readers share a small pool of searchers (each used by one thread at a time: memory no longer
  grows with the server's threads), reopen one before a query when the index has a newer
  generation (keeping the readers of its unchanged segments), and again when a merge or a
  rebuild removed a file under it (Whoosh raises FileNotFoundError then, or ReaderClosed);
- segments are written as separate files, not Whoosh's compound files: a compound segment's
  files are read as in-memory copies in every process that searches, which made each server
  process hold the index's columns twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from whoosh.index import LockError
from whoosh.reading import EmptyReader, MultiReader, ReaderClosed, SegmentReader, TermNotFound
from whoosh.searching import Searcher

from zhengai_docs.search.analysis import analysis_fingerprint
from zhengai_docs.search.backend import (
    IndexBusy,
    IndexedDocument,
    IndexMissing,
    IndexState,
    IndexWriter,
    Progress,
    SearchBackend,
    SearchFilters,
    SearchHit,
    SearchRequest,
    SearchResults,
    SearchUnavailable,
    Suggestion,
)
from zhengai_docs.search.hits import MatchText, ShownDocument, build_hit
from zhengai_docs.search.matching import Match, RecordCache, find, page, posting_ids
from zhengai_docs.search.query import parse_query
from zhengai_docs.search.schema import (
    SCHEMA_VERSION,
    SMALL_SEGMENT,
    STATE_ID,
    decode_attachments,
    document_fields,
    small_fields,
    state_fields,
)
from zhengai_docs.search.suggest import suggestions
from zhengai_docs.search.whoosh_merge import fold, install
from zhengai_docs.search.whoosh_store import IndexStore
from zhengai_docs.storage.faults import probe

_READ_ATTEMPTS = 6
_UPDATE_CHUNK = 500  # documents per commit of a large update: ~200 MB at the peak of a 5,000-document push
T = TypeVar("T")


class _Session(IndexWriter):
    """One update of the live index, under the caller's writer lock.

    Deletions need no reader: a segment's documents never change, so where each code is in a
    segment this process has already searched comes from its match records (`RecordCache`),
    and only a segment it has never read (written since by another process) is opened to look
    the code up. Opening segment readers for every save (Whoosh's `update_document` opens every
    segment, three times a save) was most of a save's work under load. A large update (a bulk
    push) is committed every `chunk_size` documents as the rebuild is: one huge commit would
    sort all its postings through temporary files (3x slower for 5,000 documents). The state
    entry, with the commit the index now reflects, is written only by the last commit: an
    update cut short is simply applied again (replacing a document is idempotent). The first
    `SMALL_SEGMENT` documents are held back until the segment is known to stay that small (a
    save's): then they are written without pair or word postings (`small_fields`).
    """

    def __init__(self, ix: Any, *, chunk_size: int, limitmb: int, fingerprint: str, cache: RecordCache) -> None:
        self._ix = ix
        self._cache = cache
        self._chunk_size = chunk_size
        self._limitmb = limitmb
        self._fingerprint = fingerprint
        self._writer: Any = None
        self._segments: list[tuple[Any, int]] = []  # the committed segments with their first document number
        self._readers: dict[str, Any] = {}  # segment id -> reader, for segments this process never searched
        self._added = 0  # documents in the segment being written
        self._held: list[dict[str, Any]] = []  # their fields while it may stay small
        self.finished = False
        self._open()
        try:
            commit, version = self._state()
        except BaseException:
            self.cancel()  # a segment unreadable now: the writer's lock must not outlive this
            raise
        if version != SCHEMA_VERSION:
            self.cancel()
            raise IndexMissing("搜索索引来自旧版本，请管理员运行 zhengai-docs reindex")
        self._recorded = commit

    @property
    def recorded(self) -> str | None:
        return self._recorded

    def upsert(self, document: IndexedDocument) -> None:
        self._replace(document_fields(document))
        if self._added >= self._chunk_size:
            self._commit()
            self._open()

    def delete(self, code: str) -> None:
        for _, first, number in self._live(code):
            self._writer.delete_document(first + number)

    def finish(self, commit: str | None) -> None:
        self._replace(state_fields(commit=commit, fingerprint=self._fingerprint))
        self.finished = True

    def close(self) -> None:
        """Commit a finished update; drop an unfinished one's last, uncommitted part."""
        if self.finished:
            self._commit()
        else:
            self.cancel()

    def cancel(self) -> None:
        self._close_readers()
        with contextlib.suppress(Exception):
            self._writer.cancel()

    def _open(self) -> None:
        try:
            self._writer = self._ix.writer(timeout=5.0, delay=0.05, limitmb=self._limitmb, compound=False)
        except LockError as exc:  # only if a process writes without our lock (an older version)
            raise IndexBusy("搜索索引正被其他进程更新，请稍后重试") from exc
        first = 0
        self._segments = []
        for segment in self._writer.segments:
            self._segments.append((segment, first))
            first += segment.doc_count_all()
        self._added, self._held = 0, []

    def _live(self, code: str) -> list[tuple[Any, int, int]]:
        """(segment, its first document number, the number in it) of each committed, undeleted
        document under `code`."""
        found = []
        for segment, first in self._segments:
            known = self._cache.known(segment.segment_id())
            numbers = known.docnums(code) if known is not None else posting_ids(self._reader(segment), "code", code)
            found += [(segment, first, n) for n in numbers if not segment.is_deleted(n)]
        return found

    def _reader(self, segment: Any) -> Any:
        reader = self._readers.get(segment.segment_id())
        if reader is None:
            reader = SegmentReader(self._ix.storage, self._writer.schema, segment, generation=self._writer.generation)
            self._readers[segment.segment_id()] = reader
        return reader

    def _state(self) -> tuple[str | None, int | None]:
        """(commit, schema version) of the live state entry, read from its segment alone."""
        for segment, _, number in self._live(STATE_ID):
            stored = self._reader(segment).stored_fields(number)
            return stored.get("commit") or None, stored.get("schema_version")
        return None, None

    def _close_readers(self) -> None:
        readers, self._readers = self._readers, {}
        for reader in readers.values():
            with contextlib.suppress(Exception):
                reader.close()

    def _commit(self) -> None:
        self._close_readers()
        for fields in self._held:  # the segment stayed small
            self._writer.add_document(**small_fields(fields))
        self._writer.commit(merge=False)  # small segments: merging is `merge_segments`' job

    def _replace(self, fields: dict[str, Any]) -> None:
        self.delete(fields["code"])
        self._added += 1
        if self._added <= SMALL_SEGMENT:
            self._held.append(fields)
            return
        for held in self._held:  # not a small segment after all: pairs for every document
            self._writer.add_document(**held)
        self._held = []
        self._writer.add_document(**fields)


class WhooshBackend(SearchBackend):
    def __init__(self, path: Path | str, *, chunk_size: int = 1000, limitmb: int = 256, readers: int = 2) -> None:
        self.store = IndexStore(Path(path))
        self.cache = RecordCache()
        self.chunk_size = chunk_size  # documents per segment in a rebuild: bounds its memory
        self.limitmb = limitmb
        self.readers = readers  # searchers per process, shared by its threads in turn
        self._pool = threading.Condition()
        self._idle: list[tuple[str, Any]] = []
        self._open = 0
        self._fingerprint = analysis_fingerprint()
        self._states: weakref.WeakKeyDictionary[Any, tuple[str | None, int | None, str | None]] = weakref.WeakKeyDictionary()

    # -- reading ----------------------------------------------------------------------------

    def _checkout(self) -> tuple[str, Any] | None:
        """An idle pooled searcher, or None when the caller may open a new one (the pool is short
        of `readers`); waits while every searcher is in use."""
        with self._pool:
            while not self._idle and self._open >= self.readers:
                self._pool.wait()
            if self._idle:
                return self._idle.pop()
            self._open += 1
            return None

    def _current(self, held: tuple[str, Any] | None) -> tuple[str, Any]:
        """`held` brought to the live index: refreshed, or replaced after a rebuild, or opened."""
        name, ix = self.store.current()
        if held is not None and held[0] == name and ix.latest_generation() == held[1].reader().generation():
            searcher = held[1]
        else:
            searcher = _reopened(ix, held[1] if held is not None and held[0] == name else None)
            try:
                self._pin(searcher)
            except BaseException:
                _close_leaves(searcher, keep=_leaves(held[1]) if held is not None else [])
                raise
            if held is not None:
                _close_leaves(held[1], keep=_leaves(searcher))
        if held is None or searcher is not held[1]:
            self.cache.retain(leaf.segment().segment_id() for leaf, _ in searcher.reader().leaf_readers())
        return name, searcher

    def _pin(self, searcher: Any) -> None:
        """Open now what Whoosh opens only when first read: each segment's stored fields, and its
        match records (decoded once per process). A merge in another process deletes the merged
        segments' files at once; a file this reader holds open stays readable, while one opened
        later would be missing (Whoosh then returns nothing for it, silently). FileNotFoundError
        makes `_reading` open the index again, at its newer state."""
        for leaf, _ in searcher.reader().leaf_readers():
            if leaf.doc_count_all() == 0:
                continue
            if not leaf._perdoc.has_column("_stored"):  # Whoosh 2.7.4 (pinned); every document stores fields
                raise FileNotFoundError(f"segment {leaf.segment().segment_id()} was merged away")
            leaf.stored_fields(0)
            self.cache.records(leaf)

    def _checkin(self, held: tuple[str, Any]) -> None:
        with self._pool:
            self._idle.append(held)
            self._pool.notify()

    def _discard(self, held: tuple[str, Any] | None) -> None:
        if held is not None:
            with contextlib.suppress(Exception):
                held[1].close()
        with self._pool:
            self._open -= 1
            self._pool.notify()

    def _reading(self, work: Callable[[Any], T]) -> T:
        """Run `work(searcher)` with a searcher of the pool (threads share a few, never one at a
        time: a Whoosh searcher is not safe for two threads), reopening when a concurrent commit
        removed a segment file under it."""
        for attempt in range(_READ_ATTEMPTS):
            held = self._checkout()
            try:
                held = self._current(held)
            except (FileNotFoundError, ReaderClosed):
                self._discard(held)
                time.sleep(0.005 * (attempt + 1))
                continue
            except BaseException:
                self._discard(held)
                raise
            try:
                result = work(held[1])
            except (FileNotFoundError, ReaderClosed):  # the searcher is unusable: open a new one
                self._discard(held)
                time.sleep(0.005 * (attempt + 1))
                continue
            except BaseException:
                self._checkin(held)
                raise
            self._checkin(held)
            return result
        raise SearchUnavailable("搜索索引暂时无法读取，请稍后重试")

    def _recorded(self, reader: Any) -> tuple[str | None, int | None, str | None]:
        """The state entry of a pooled reader, read once: a reader never changes (a newer index
        is a new reader), and looking the entry up in every segment was 5 % of a search."""
        state = self._states.get(reader)
        if state is None:
            state = self._states[reader] = _recorded(reader)
        return state

    def close(self) -> None:
        with self._pool:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for _, searcher in idle:
            with contextlib.suppress(Exception):
                searcher.close()

    def unwritable(self) -> str | None:
        """Probe the folders an update writes to: the root (locks, CURRENT) and the live generation."""
        live = self.store.current_name()
        for folder in (self.store.root, *([self.store.root / live] if live else [])):
            cause = probe(folder)
            if cause is not None:
                return cause
        return None

    def state(self) -> IndexState:
        def read(searcher: Any) -> IndexState:
            commit, version, fingerprint = self._recorded(searcher.reader())
            if version != SCHEMA_VERSION:
                return IndexState(exists=False)
            return IndexState(
                exists=True,
                commit=commit,
                documents=max(0, searcher.doc_count() - 1),
                analysis_current=fingerprint == self._fingerprint,
                size_bytes=self.store.size_bytes(self.store.current()[0]),
            )

        try:
            return self._reading(read)
        except IndexMissing:
            return IndexState(exists=False)

    # -- searching --------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResults:
        parsed = parse_query(request.text)
        terms = parsed.terms

        def run(searcher: Any) -> SearchResults:
            reader = searcher.reader()
            commit, version, _ = self._recorded(reader)
            if version != SCHEMA_VERSION:
                raise IndexMissing("搜索索引来自旧版本，请管理员运行 zhengai-docs reindex")
            if not terms and not request.filters.active:
                return SearchResults(request=request, terms=terms, hits=(), total=0, commit=commit)
            matches = find(reader, self.cache, terms=terms, filters=request.filters)
            number = max(1, request.page)
            shown = page(matches, sort=request.sort, start=(number - 1) * request.per_page, stop=number * request.per_page)
            hits = tuple(_hit(reader, m, terms, snippets=request.snippets) for m in shown)
            suggestions = _suggestions(reader, self.cache, terms, request.filters) if not matches and terms and request.suggest else ()
            return SearchResults(request=request, terms=terms, hits=hits, total=len(matches), suggestions=suggestions, commit=commit)

        return self._reading(run)

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, *, timeout: float) -> Iterator[IndexWriter]:
        with self.store.writer_lock(timeout=timeout):
            _, ix = self.store.current()
            with self._session(ix) as session:
                yield session

    @contextlib.contextmanager
    def _session(self, ix: Any) -> Iterator[_Session]:
        session = _Session(ix, chunk_size=_UPDATE_CHUNK, limitmb=self.limitmb, fingerprint=self._fingerprint, cache=self.cache)
        try:
            yield session
        except BaseException:
            session.cancel()
            raise
        session.close()

    def merge_segments(self, *, timeout: float) -> bool:
        """Fold the due segments beside the live index, then swap them in under the writer lock
        for milliseconds (`whoosh_merge`): saves go on while the segments are copied."""
        with self.store.merge_lock():
            work = fold(self.store)
            if work is None:
                return False
            try:
                with self.store.writer_lock(timeout=timeout):
                    return install(self.store, work)
            finally:
                shutil.rmtree(work.scratch, ignore_errors=True)

    @contextlib.contextmanager
    def rebuild(
        self, documents: Iterable[IndexedDocument], *, commit: str | None, total: int, timeout: float, progress: Progress | None = None
    ) -> Iterator[IndexWriter]:
        with self.store.rebuild_lock():
            name, ix = self.store.create()
            try:
                self._fill(ix, documents, commit=commit, total=total, progress=progress)
                with self.store.writer_lock(timeout=timeout):
                    with self._session(ix) as session:
                        yield session
                    self.store.publish(name)
            except BaseException:
                shutil.rmtree(self.store.root / name, ignore_errors=True)
                raise

    def _fill(self, ix: Any, documents: Iterable[IndexedDocument], *, commit: str | None, total: int, progress: Progress | None) -> None:
        """Add every document, one segment per `chunk_size` (Whoosh sorts a segment in memory)."""
        writer = None
        done = 0
        for document in documents:
            if writer is None:
                writer = ix.writer(limitmb=self.limitmb, compound=False)
            writer.add_document(**document_fields(document))
            done += 1
            if done % self.chunk_size == 0:
                writer.commit(merge=False)
                writer = None
            if progress is not None and done % 50 == 0:
                progress(done, max(total, done))
        writer = writer or ix.writer(compound=False)
        writer.add_document(**state_fields(commit=commit, fingerprint=self._fingerprint))
        writer.commit(merge=False)
        if progress is not None:
            progress(done, max(total, done))


def _reopened(ix: Any, old: Any | None) -> Any:
    """A searcher of the index's latest generation that keeps `old`'s reader of every segment
    that has not changed (same segment, same deletions).

    A save adds one small segment and deletes in one other: reopening every segment (its files
    opened, their headers read) in each pooled searcher of each process after every save was a
    storm of work under a stream of saves. Not Whoosh's `reader(reuse=…)` or
    `Searcher.refresh()`: Whoosh 2.7.4 looks reusable readers up by generation instead of
    segment id, so it reuses none; and a reused reader must not carry stale deletions."""
    try:
        toc = ix._read_toc()
    except OSError as exc:  # the table of contents replaced under us: `_reading` opens again
        raise FileNotFoundError(str(exc)) from exc
    return Searcher(_segments_reader(ix, toc.schema, toc.segments, toc.generation, old=old), fromindex=ix)


def _segments_reader(ix: Any, schema: Any, segments: Sequence[Any], generation: int, *, old: Any | None) -> Any:
    """A reader of `segments` that takes `old`'s (a searcher's) reader of each unchanged segment."""
    reusable = {leaf.segment().segment_id(): leaf for leaf in _leaves(old) if isinstance(leaf, SegmentReader)} if old is not None else {}
    readers: list[Any] = []
    try:
        for segment in segments:
            leaf = reusable.get(segment.segment_id())
            if leaf is None or not _same_deletions(leaf.segment(), segment):
                leaf = SegmentReader(ix.storage, schema, segment, generation=generation)
            readers.append(leaf)
    except BaseException:
        for leaf in readers:
            if all(leaf is not kept for kept in reusable.values()):
                with contextlib.suppress(Exception):
                    leaf.close()
        raise
    return MultiReader(readers, generation=generation) if readers else EmptyReader(schema)


def _same_deletions(a: Any, b: Any) -> bool:
    return bool(a.deleted_count() == b.deleted_count() and set(a.deleted_docs()) == set(b.deleted_docs()))


def _leaves(searcher: Any) -> list[Any]:
    return [leaf for leaf, _ in searcher.reader().leaf_readers()]


def _close_leaves(searcher: Any, *, keep: list[Any]) -> None:
    """Close a searcher's segment readers except those another searcher now uses."""
    for leaf in _leaves(searcher):
        if all(leaf is not kept for kept in keep) and not leaf.is_closed:
            with contextlib.suppress(Exception):
                leaf.close()


def _recorded(reader: Any) -> tuple[str | None, int | None, str | None]:
    """(commit, schema version, analysis fingerprint) of the state entry."""
    try:
        docnum = reader.first_id("code", STATE_ID)
    except TermNotFound:
        return None, None, None
    if docnum is None:
        return None, None, None
    stored = reader.stored_fields(docnum)
    return stored.get("commit") or None, stored.get("schema_version"), stored.get("fingerprint")


def _hit(reader: Any, match: Match, terms: Sequence[str], *, snippets: bool) -> SearchHit:
    stored = reader.stored_fields(match.docnum)
    issued = stored.get("issued")
    shown = ShownDocument(
        code=stored["code"],
        title=stored.get("title", ""),
        doc_number=stored.get("doc_number") or None,
        body=stored.get("body", ""),
        attachments=lambda: decode_attachments(reader.column_reader("attachments")[match.docnum]),
        doc_type=stored.get("doc_type", ""),
        status=stored.get("status", ""),
        departments=tuple(d for d in stored.get("departments", "").split(",") if d),
        points=tuple(p for p in stored.get("points", "").split(",") if p),
        issued=dt.date.fromisoformat(issued) if issued else None,
    )
    record = match.record
    text = MatchText(text=record.text, title_end=record.title_end, body_end=record.body_end)
    return build_hit(shown, match=text, terms=terms, score=match.score, title_match=match.title_match, snippets=snippets)


def _suggestions(reader: Any, cache: RecordCache, terms: Sequence[str], filters: SearchFilters) -> tuple[Suggestion, ...]:
    def near_words(term: str) -> list[str]:
        near: dict[str, int] = {}
        for leaf, _ in reader.leaf_readers():
            distance = 1 if len(term) <= 4 else 2
            for word in leaf.terms_within("words", term, distance, prefix=1):
                near[word] = near.get(word, 0) + leaf.doc_frequency("words", word)
            for word, documents in cache.records(leaf).words_within(term, distance):
                near[word] = near.get(word, 0) + documents
        return sorted(near, key=lambda w: -near[w])[:4]

    return suggestions(terms, near_words=near_words, count=lambda candidate: len(find(reader, cache, terms=candidate, filters=filters)))

"""Acceptance: 4 processes save while 4 others search; every save is searchable, nothing fails.

The processes are separate interpreters (spawn) sharing one instance folder, as gunicorn or
several `serve` processes would: each has its own Library, SQL connection and index handle.
Searchers sync before every search, as a page request does, so they compete for the writer.
The first test runs on every backend (PostgreSQL: the writer is a row lock, readers share tables).
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import traceback
from pathlib import Path
from typing import Any

import pytest

from tests.databases import clone_instance, instance_database_url
from tests.search_backends import BACKENDS, build_index, use_backend
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.config import load_settings
from zhengai_docs.db.database import Database
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.search.backend import SearchBackend, SearchRequest
from zhengai_docs.search.choice import search_backend
from zhengai_docs.search.indexer import SearchIndex
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.storage.repository import ContentRepository

SAVERS = 4
SEARCHERS = 4
SAVES = 4
CODES = ["A101Z", "A101L", "A104Z", "A104L", "A105Z", "A105L", "A106Z", "A106L"]
CODES += ["B202Z", "B202L", "C204Z", "C204L", "D203Z", "D203L", "E303Z", "E303L"]
QUERIES = ["双师", "质量", "诊改", "教务处", "GB/T", "专业带头人", "实习实训", "质"]


def _library(instance: Path) -> tuple[Library, SearchBackend]:
    """What a server process builds: the backend its settings name."""
    repo = ContentRepository(instance / "content.git")
    db = Database(instance_database_url(instance))
    backend = search_backend(load_settings(instance), instance_path=instance, db=db)
    return Library(repo=repo, db=db, search=SearchIndex(backend, repo)), backend


@pytest.fixture(params=BACKENDS)
def indexed(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "whoosh":
        return Path(request.getfixturevalue("indexed_instance"))
    instance = use_backend(clone_instance(request.getfixturevalue("demo_template"), tmp_path / "instance"), "postgresql")
    build_index(instance)
    return instance


def _save(instance: str, number: int, results: Any) -> None:
    try:
        library, backend = _library(Path(instance))
        writer = Actor.system(name=f"编辑{number}", email=f"editor{number}@example.edu.cn")
        for n in range(SAVES):
            code = CODES[number * SAVES + n]
            token = f"bingfa{number}x{n}q"
            loaded = library.load(document_code(code))
            document = loaded.document.with_changes(body=loaded.document.body + f"\n并发保存 {token}\n")
            library.save(document, actor=writer, message=f"并发保存 {token}", base=loaded.version.commit)
            found = [h.code for h in backend.search(SearchRequest(text=token)).hits]
            results.put(("saved", token, code, found))
        library.db.dispose()
    except Exception:
        results.put(("error", traceback.format_exc()))


def _search(instance: str, stop: Any, results: Any) -> None:
    try:
        library, backend = _library(Path(instance))
        searches = 0
        while not stop.is_set() or searches < 10:
            library.sync()  # what every page request does first
            backend.search(SearchRequest(text=QUERIES[searches % len(QUERIES)]))
            searches += 1
        results.put(("searched", searches))
        library.db.dispose()
    except Exception:
        results.put(("error", traceback.format_exc()))


@pytest.mark.slow
def test_saving_and_searching_processes(indexed: Path) -> None:
    indexed_instance = indexed
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    stop = context.Event()
    searchers = [context.Process(target=_search, args=(str(indexed_instance), stop, results)) for _ in range(SEARCHERS)]
    savers = [context.Process(target=_save, args=(str(indexed_instance), n, results)) for n in range(SAVERS)]
    for process in searchers + savers:
        process.start()
    for process in savers:
        process.join(timeout=240)
    stop.set()
    for process in searchers:
        process.join(timeout=60)
    messages = []
    while True:
        try:
            messages.append(results.get(timeout=1))
        except queue_module.Empty:
            break
    errors = [m[1] for m in messages if m[0] == "error"]
    assert not errors, "\n".join(errors)  # the whole traceback: pytest shortens a compared list
    assert all(p.exitcode == 0 for p in searchers + savers)
    saved = [m for m in messages if m[0] == "saved"]
    assert len(saved) == SAVERS * SAVES
    for _, token, code, found in saved:
        assert found == [code], f"{token} was not searchable when its save returned"
    searched = [m[1] for m in messages if m[0] == "searched"]
    assert len(searched) == SEARCHERS and min(searched) >= 10

    library, backend = _library(indexed_instance)
    try:
        assert backend.state().commit == library.repo.head()
        for _, token, code, _found in saved:
            assert [h.code for h in backend.search(SearchRequest(text=token)).hits] == [code]
    finally:
        backend.close()
        library.db.dispose()


def test_a_searcher_closed_under_its_thread_is_reopened(indexed_instance: Path) -> None:
    """Whoosh's `reader(reuse=…)` closes the reused reader when it retries after another process's
    merge removed a segment; the pooled searcher is then closed, and every later search that got
    it answered 500 (the load benchmark found 40 in a minute)."""
    backend = WhooshBackend(indexed_instance / "search-index")
    assert backend.search(SearchRequest(text="专业")).total > 0
    backend._idle[-1][1].close()  # what the double close inside Whoosh leaves behind
    assert backend.search(SearchRequest(text="专业")).total > 0
    backend.close()


def test_segments_merged_away_by_another_process_stay_readable(indexed_instance: Path) -> None:
    """Segments are plain files: a merge in another process deletes the merged ones at once. A
    searcher opened before it must still read their stored fields and records (Whoosh opens
    those files only when first read: the load benchmark met a 500 from a stored field read
    after a merge, and records read late would have been silently empty)."""
    library, writer_side = _library(indexed_instance)
    reader_side = WhooshBackend(indexed_instance / "search-index")
    name, searcher = reader_side._current(None)
    before = {leaf.segment().segment_id() for leaf, _ in searcher.reader().leaf_readers()}
    for n in range(10):  # ten saves, ten small segments, then the follower's merge
        loaded = library.load(document_code(CODES[n]))
        document = loaded.document.with_changes(body=loaded.document.body + f"\n合并前保存{n}\n")
        library.save(document, actor=Actor.system(), message="保存", base=loaded.version.commit)
    name, searcher = reader_side._current((name, searcher))  # open now, over the ten small segments
    small = {leaf.segment().segment_id() for leaf, _ in searcher.reader().leaf_readers()} - before
    assert len(small) >= 9
    assert writer_side.merge_segments(timeout=5)
    segment_files = {p.name.split(".")[0].rsplit("_", 1)[0] for p in (indexed_instance / "search-index" / name).iterdir()}
    assert not {s for s in small if f"MAIN_{s}" in segment_files}, "the merge left the small segments' files"
    reader = searcher.reader()
    codes = {reader.stored_fields(docnum).get("code") for docnum in reader.all_doc_ids()}
    assert set(CODES[:10]) <= codes
    assert reader_side.search(SearchRequest(text="合并前保存7")).total == 1
    searcher.close()
    reader_side.close()
    writer_side.close()
    library.db.dispose()


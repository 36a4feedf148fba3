"""Merging the Whoosh index's small segments beside the live index (`search/whoosh_merge.py`):
saves go on while segments are copied, what they delete meanwhile stays deleted, and a merge
killed half way loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_search_concurrency import CODES, _library
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.search.backend import SearchRequest
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.search.whoosh_merge import MERGE_FACTOR, SCRATCH_PREFIX, due, fold, install, words_by_document


def _save(library: Library, code: str, line: str) -> None:
    loaded = library.load(document_code(code))
    document = loaded.document.with_changes(body=loaded.document.body + f"\n{line}\n")
    library.save(document, actor=Actor.system(), message="保存", base=loaded.version.commit)


def _whoosh(instance: Path) -> tuple[Library, WhooshBackend]:
    library, backend = _library(instance)
    assert isinstance(backend, WhooshBackend)
    return library, backend


def _found(backend: WhooshBackend, text: str) -> list[str]:
    return [hit.code for hit in backend.search(SearchRequest(text=text)).hits]


def test_saves_fold_tier_by_tier_and_replaced_segments_are_dropped(indexed_instance: Path) -> None:
    """Forty saves of sixteen documents: each save writes a one-document segment. The merge folds
    the sixteen still live into one segment and drops the twenty-four whose document was saved
    again. Whoosh's own policy folded only the five smallest segments per merge: under a stream
    of saves, segments of replaced documents piled up by the hundred (load_bench)."""
    library, backend = _whoosh(indexed_instance)
    for n in range(40):
        _save(library, CODES[n % len(CODES)], f"第{n}次保存标记{n:02d}")
    ix = backend.store.current()[1]
    before, documents = ix._segments(), backend.state().documents
    assert len(before) == 41
    assert backend.merge_segments(timeout=5)
    after = ix._segments()
    assert len(after) == 2, [(s.doc_count_all(), s.deleted_count()) for s in after]  # the demo's own, the saves'
    assert all(segment.doc_count() > 0 for segment in after)
    assert sorted(segment.doc_count() for segment in after)[-1] >= len(CODES)
    assert backend.state().documents == documents
    assert _found(backend, "标记39") == [CODES[39 % len(CODES)]] and _found(backend, "标记07") == [CODES[7]]
    assert _found(backend, "标记06") == [CODES[6]]  # saved at n=6, 22 and 38: found once
    assert not backend.merge_segments(timeout=5)  # nothing due any more
    backend.close()
    library.db.dispose()


def test_a_tier_is_folded_only_once_it_is_full(indexed_instance: Path) -> None:
    """Nine saves of nine documents leave nine one-document segments (each save's state entry
    replaces the previous one): nothing is due. The tenth fills the tier."""
    library, backend = _whoosh(indexed_instance)
    for n in range(MERGE_FACTOR - 1):
        _save(library, CODES[n], f"分层{n}")
    assert due(backend.store.current()[1]._segments()) == []
    assert not backend.merge_segments(timeout=5)
    _save(library, CODES[MERGE_FACTOR - 1], "分层满")
    assert len(due(backend.store.current()[1]._segments())) == MERGE_FACTOR
    assert backend.merge_segments(timeout=5)
    assert sorted(s.doc_count() for s in backend.store.current()[1]._segments())[0] >= MERGE_FACTOR
    backend.close()
    library.db.dispose()


def test_saves_go_on_while_a_merge_copies_and_their_deletions_are_kept(indexed_instance: Path) -> None:
    """The copy runs without the writer lock (a save holds it here throughout); saves made
    between the copy and the swap replace documents the merged segment holds: the swap deletes
    them there too, so nothing is found twice or at an old text."""
    library, backend = _whoosh(indexed_instance)
    for n in range(MERGE_FACTOR):
        _save(library, CODES[n], f"合并前文本{n}")
    store = backend.store
    with store.merge_lock(), store.writer_lock(timeout=1):  # held as a save would hold it
        work = fold(store)
    assert work is not None and work.merged is not None
    assert work.merged.doc_count() == MERGE_FACTOR + 1  # and the state entry, which each save replaces
    documents = backend.state().documents
    for n in (0, 3, 7):
        _save(library, CODES[n], f"合并中文本{n}")
    with store.writer_lock(timeout=1):
        assert install(store, work)
    segments = store.current()[1]._segments()
    assert not any(segment.segment_id() in {f.segment_id() for f in work.folded} for segment in segments)
    for n in range(MERGE_FACTOR):  # a body keeps its earlier lines: found once, never twice
        assert _found(backend, f"合并前文本{n}") == [CODES[n]], n
    for n in (0, 3, 7):
        assert _found(backend, f"合并中文本{n}") == [CODES[n]]
    assert backend.state().documents == documents
    assert backend.state().commit == library.repo.head()  # the state entry, replaced meanwhile, too
    backend.close()
    library.db.dispose()


def test_a_merge_over_a_rebuilt_index_changes_nothing(indexed_instance: Path) -> None:
    from zhengai_docs.search.indexer import rebuild_index

    library, backend = _whoosh(indexed_instance)
    for n in range(MERGE_FACTOR):
        _save(library, CODES[n], f"重建前{n}")
    with backend.store.merge_lock():
        work = fold(backend.store)
    assert work is not None
    rebuild_index(backend, library.repo)
    with backend.store.writer_lock(timeout=1):
        assert not install(backend.store, work)
    assert _found(backend, "重建前4") == [CODES[4]]
    backend.close()
    library.db.dispose()


_SLOW_MERGE = """
import sys, time
from pathlib import Path

import pytest
from zhengai_docs.search import whoosh_merge
from zhengai_docs.search.whoosh_backend import WhooshBackend
copy = whoosh_merge._copy
def slow(reader, writer, *, large):
    copy(reader, writer, large=large)
    print("copying", flush=True)
    time.sleep(60)
whoosh_merge._copy = slow
WhooshBackend(Path(sys.argv[1])).merge_segments(timeout=5)
"""


def test_a_merge_killed_while_copying_loses_nothing(indexed_instance: Path) -> None:
    """SIGKILL in the middle of the copy: the live index is untouched (searches and saves go on),
    the scratch folder is left, and the next merge removes it and merges."""
    library, backend = _whoosh(indexed_instance)
    for n in range(MERGE_FACTOR):
        _save(library, CODES[n], f"中断合并{n}")
    root = backend.store.root
    merger = subprocess.Popen([sys.executable, "-c", _SLOW_MERGE, str(root)], stdout=subprocess.PIPE, text=True)
    assert merger.stdout is not None and merger.stdout.readline().strip() == "copying"
    os.kill(merger.pid, signal.SIGKILL)
    merger.wait()
    merger.stdout.close()
    assert list(root.glob(SCRATCH_PREFIX + "*"))
    _save(library, CODES[0], "中断之后")
    assert _found(backend, "中断之后") == [CODES[0]] and _found(backend, "中断合并5") == [CODES[5]]
    deadline = time.monotonic() + 5
    while True:  # the operating system releases the dead merger's lock
        try:
            merged = backend.merge_segments(timeout=5)
            break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert merged and not list(root.glob(SCRATCH_PREFIX + "*"))
    assert _found(backend, "中断之后") == [CODES[0]] and _found(backend, "中断合并0") == [CODES[0]]
    assert _found(backend, "中断合并5") == [CODES[5]]
    backend.close()
    library.db.dispose()


def test_a_save_writes_no_postings_of_pairs_or_words_and_a_merge_rebuilds_documents_exactly(indexed_instance: Path) -> None:
    """A save's one-document segment has no pair or word postings (it is matched record by
    record, its words are in a column); a merge rebuilds each document's fields from what its
    segment stores, pairs and words included, exactly as the document was indexed — the state
    entry too."""
    from whoosh.reading import SegmentReader

    from zhengai_docs.search.indexer import indexed_document
    from zhengai_docs.search.schema import document_fields, state_fields, stored_document_fields

    library, backend = _whoosh(indexed_instance)
    _save(library, "A101Z", "重建字段的标记")
    ix = backend.store.current()[1]
    newest = ix._segments()[-1]
    reader = SegmentReader(ix.storage, ix.schema, newest)
    try:
        assert not list(reader.lexicon("pairs")) and not list(reader.lexicon("words"))
        assert _found(backend, "重建字段的标记") == ["A101Z"]
        rebuilt, words = {}, words_by_document(reader)
        for docnum, stored in reader.iter_docs():
            record, attachments = reader.column_reader("record")[docnum], reader.column_reader("attachments")[docnum]
            rebuilt[stored["code"]] = stored_document_fields(stored, record, attachments, words=words.get(docnum, ()), large=True)
    finally:
        reader.close()
    path = document_code("A101Z").path
    assert rebuilt["A101Z"] == document_fields(indexed_document(path, library.repo.read(path).text))  # type: ignore[arg-type]
    state = rebuilt.pop("_state")
    assert state == state_fields(commit=library.repo.head(), fingerprint=state["fingerprint"])
    backend.close()
    library.db.dispose()


def test_a_merged_segment_that_is_not_small_has_pairs(indexed_instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With `SMALL_SEGMENT` at 5, ten saves fold into a segment searched through its pair
    postings: the merge derived them from the records, so every saved text is still found."""
    from zhengai_docs.search import matching, whoosh_merge

    monkeypatch.setattr(whoosh_merge, "SMALL_SEGMENT", 5)
    monkeypatch.setattr(matching, "SMALL_SEGMENT", 5)
    library, backend = _whoosh(indexed_instance)
    for n in range(MERGE_FACTOR):
        _save(library, CODES[n], f"折叠带字对{n}号")
    assert backend.merge_segments(timeout=5)
    merged = backend.store.current()[1]._segments()[-1]
    assert merged.doc_count() == MERGE_FACTOR + 1
    for n in range(MERGE_FACTOR):
        assert _found(backend, f"折叠带字对{n}号") == [CODES[n]]
    copy = whoosh_merge._copy
    monkeypatch.setattr(whoosh_merge, "_copy", lambda reader, writer, *, large: copy(reader, writer, large=False))
    for n in range(MERGE_FACTOR):
        _save(library, CODES[n], f"无字对{n}号")
    assert backend.merge_segments(timeout=5)
    backend.close()
    backend = WhooshBackend(backend.store.root)  # a new process's view
    assert _found(backend, "无字对3号") == []  # what the check above would catch without the pairs
    backend.close()
    library.db.dispose()


_KILLED_WHILE_SWAPPING = """
import sys, time
from pathlib import Path
from whoosh import index as whoosh_index
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.search.whoosh_merge import fold, install
store = WhooshBackend(Path(sys.argv[1])).store
with store.merge_lock():
    work = fold(store)
    def stalled(toc, storage, indexname):  # the merged segment's files are in; no new table yet
        print("swapping", flush=True)
        time.sleep(60)
    whoosh_index.TOC.write = stalled
    with store.writer_lock(timeout=5):
        install(store, work)
"""


def test_a_merge_killed_while_swapping_loses_nothing(indexed_instance: Path) -> None:
    """SIGKILL after the merged segment's files were moved in, before the new table of contents:
    the live index still names the folded segments, the next save's commit removes the files
    nobody names, and the next merge merges."""
    library, backend = _whoosh(indexed_instance)
    for n in range(MERGE_FACTOR):
        _save(library, CODES[n], f"交换中断{n}")
    root = backend.store.root
    generation = root / backend.store.current_name()  # type: ignore[operator]
    before = {p.name for p in generation.iterdir()}
    merger = subprocess.Popen([sys.executable, "-c", _KILLED_WHILE_SWAPPING, str(root)], stdout=subprocess.PIPE, text=True)
    assert merger.stdout is not None and merger.stdout.readline().strip() == "swapping"
    os.kill(merger.pid, signal.SIGKILL)
    merger.wait()
    merger.stdout.close()
    orphans = {p.name for p in generation.iterdir()} - before
    assert orphans  # the merged segment's files, named by no table of contents
    assert _found(backend, "交换中断4") == [CODES[4]]
    deadline = time.monotonic() + 5
    while True:  # the operating system releases the dead merger's locks
        try:
            _save(library, CODES[0], "交换之后")
            break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert not orphans & {p.name for p in generation.iterdir()}  # removed by that save's commit
    assert backend.merge_segments(timeout=5) and not list(root.glob(SCRATCH_PREFIX + "*"))
    for n in range(MERGE_FACTOR):
        assert _found(backend, f"交换中断{n}") == [CODES[n]]
    assert _found(backend, "交换之后") == [CODES[0]]
    backend.close()
    library.db.dispose()


def test_a_merge_reads_the_table_of_contents_again_when_a_save_replaced_it(indexed_instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoosh lists the folder for the newest table of contents, then opens it: a save that
    commits in between has deleted it. The merge reads the newest again (it failed, and the
    follower logged a traceback, once a load benchmark run)."""
    from whoosh.index import TOC

    library, backend = _whoosh(indexed_instance)
    for n in range(MERGE_FACTOR):
        _save(library, CODES[n], f"目录{n}")
    real, calls = TOC.read, []

    def replaced_once(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if len(calls) == 1:
            raise FileNotFoundError("_MAIN_9.toc")  # as the race leaves it
        return real(*args, **kwargs)

    store = backend.store
    monkeypatch.setattr(TOC, "read", staticmethod(replaced_once))
    with store.merge_lock():
        work = fold(store)
    monkeypatch.undo()
    live = [args for args in calls if SCRATCH_PREFIX not in str(args[0].folder)]  # not the new segment's own index
    assert work is not None and len(live) == 2  # read again, then once: segments and schema from one table
    with store.writer_lock(timeout=1):
        assert install(store, work)
    assert _found(backend, "目录3") == [CODES[3]]
    backend.close()
    library.db.dispose()

"""The background follower: bulk work leaves the user's request; one process works at a time."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import OpenApp, login, make_app
from tests.test_hostile_content import OutsideClone
from zhengai_docs import background
from zhengai_docs.background import BackgroundFollower, Housekeeping
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.db.sync import cached_commit
from zhengai_docs.permissions import Actor
from zhengai_docs.search import schema, whoosh_backend
from zhengai_docs.search.backend import IndexedDocument, SearchRequest
from zhengai_docs.search.indexer import catch_up, rebuild_index
from zhengai_docs.services import Services

pytestmark = pytest.mark.slow
PUSHED = 40  # documents in one outside push: far more than a page view syncs itself


@pytest.fixture
def followed_app(indexed_instance: Path) -> Iterator[Flask]:
    application = make_app(indexed_instance, BACKGROUND_SYNC=True)
    yield application
    application.extensions["zhengai"].close()


def _svc(app: Flask) -> Services:
    return app.extensions["zhengai"]  # type: ignore[no-any-return]


def _push_many(instance: Path, tmp_path: Path) -> str:
    """Retitle PUSHED documents in one commit, as a clerk's bulk `git push` would."""
    clone = OutsideClone(instance / "content.git", tmp_path / "work")
    paths = sorted(p for p in (clone.work / "regulations").rglob("*.md"))[:PUSHED]
    for n, path in enumerate(paths):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("\ntitle: ", f"\ntitle: 批量{n:02d}", 1), encoding="utf-8")
    return clone.push("批量更新")


def _wait(condition: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the follower did not catch up"
        time.sleep(0.1)


def test_a_bulk_push_is_synced_in_the_background_while_pages_say_so(
    followed_app: Flask, indexed_instance: Path, tmp_path: Path
) -> None:
    svc = _svc(followed_app)
    assert svc.follower is not None
    svc.follower.stop()  # hold the follower back so the page view sees the push first
    head = _push_many(indexed_instance, tmp_path)
    client = followed_app.test_client()
    login(client, "duzhe")
    page = client.get("/catalogue")
    assert page.status_code == 200 and "正在同步最近的大批量更新" in page.get_data(as_text=True)
    assert cached_commit(svc.db) != head  # the request did not do the bulk work itself

    svc.follower = None
    svc.start_background()
    _wait(lambda: cached_commit(svc.db) == head)
    _wait(lambda: svc.library.search is not None and svc.library.search.backend.search(SearchRequest(text="批量07")).total >= 1)
    page = client.get("/catalogue").get_data(as_text=True)
    assert "正在同步" not in page and "批量00" in page


def test_page_views_during_a_bulk_push_ask_git_nothing_and_never_wait(
    followed_app: Flask, indexed_instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured before: every page view listed the whole push twice (git log, diff-tree) to find
    it too large, and waited for the follower's lock in the same process (25 s at 5,000)."""
    svc = _svc(followed_app)
    assert svc.follower is not None and svc.library.search is not None
    svc.follower.stop()
    head = _push_many(indexed_instance, tmp_path)
    library = svc.library
    assert library.sync(max_documents=1).mode == "deferred"  # type: ignore[union-attr]

    def no_git(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a page view listed the pending push again")

    monkeypatch.setattr(library.repo, "log", no_git)
    monkeypatch.setattr(library.repo, "changes_between", no_git)
    for _ in range(3):
        assert library.sync(max_documents=1).mode == "deferred"  # type: ignore[union-attr]
    monkeypatch.undo()

    library._deferred = None  # as for a head not seen yet
    with library._lock:  # the follower's bulk sync holds it: a page view serves the cache as it is
        started = time.monotonic()
        assert library.sync(max_documents=1).mode == "busy"  # type: ignore[union-attr]
        assert time.monotonic() - started < 0.2
    assert library.sync().mode == "incremental"  # type: ignore[union-attr]  # the follower's share
    assert library.sync(max_documents=1) is None and cached_commit(svc.db) == head


def test_a_large_update_commits_in_chunks_and_an_interrupted_one_is_applied_again(
    indexed_instance: Path, tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk update is committed every few hundred documents (one huge commit sorted its
    postings through temporary files: 165 s instead of 23 s at 5,000); the recorded commit moves
    only with the last, so an update cut short is simply done again, without duplicates."""
    monkeypatch.setattr(whoosh_backend, "_UPDATE_CHUNK", 7)
    app = open_app(indexed_instance)
    index = _svc(app).library.search
    assert index is not None
    before = index.backend.state().commit
    head = _push_many(indexed_instance, tmp_path)

    original = whoosh_backend._Session.upsert
    calls = 0

    def dies_after_twenty(self: whoosh_backend._Session, document: IndexedDocument) -> None:
        nonlocal calls
        calls += 1
        if calls > 20:
            raise RuntimeError("the process is killed here")
        original(self, document)

    monkeypatch.setattr(whoosh_backend._Session, "upsert", dies_after_twenty)
    with pytest.raises(RuntimeError), index.backend.writer(timeout=5) as writer:
        catch_up(writer, index.repo)
    assert index.backend.state().commit == before  # two chunks committed, the state not moved
    assert index.backend.search(SearchRequest(text="批量01")).total == 1
    monkeypatch.setattr(whoosh_backend._Session, "upsert", original)

    assert index.follow(wait=True)
    assert index.backend.state().commit == head

    def totals() -> list[int]:
        return [index.backend.search(SearchRequest(text=f"批量{n:02d}")).total for n in range(PUSHED)]

    applied_again = totals()
    rebuild_index(index.backend, index.repo)  # the ground truth: every document indexed once
    assert applied_again == totals() and sum(applied_again) >= 15


def test_a_page_view_syncs_a_saves_worth_of_the_cache_and_leaves_the_index_to_the_follower(
    followed_app: Flask, indexed_instance: Path, tmp_path: Path
) -> None:
    """Page views in the other workers raced each save for the index's writer, and the save
    waited for them; they now leave the index to the saves and the follower."""
    svc = _svc(followed_app)
    assert svc.follower is not None and svc.library.search is not None
    svc.follower.stop()
    before = svc.library.search.backend.state().commit
    clone = OutsideClone(indexed_instance / "content.git", tmp_path / "work")
    a101z = clone.read("regulations/A/A1/A101Z.md").decode()
    clone.write("regulations/A/A1/A101Z.md", a101z.replace("\ntitle: ", "\ntitle: 外部修订", 1).encode())
    head = clone.push("外部修订一份文档")
    client = followed_app.test_client()
    login(client, "duzhe")
    page = client.get("/documents/A101Z").get_data(as_text=True)
    assert "外部修订" in page and "正在同步" not in page
    assert cached_commit(svc.db) == head
    assert svc.library.search.backend.state().commit == before  # checked: fails when page views index
    assert svc.follower.step() is True
    assert svc.library.search.backend.state().commit == head


def test_a_save_follows_the_search_index_once(followed_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save brought the index forward twice (once in the cache's sync, once waiting for its
    writer): when another worker's commit landed in between, the save opened the index writer
    again only to find that commit indexed, or waited while it was."""
    svc = _svc(followed_app)
    search = svc.library.search
    assert search is not None and svc.follower is not None
    svc.follower.stop()
    calls: list[bool] = []
    follow = search.follow

    def counted(*, wait: bool, max_documents: int | None = None) -> bool:
        calls.append(wait)
        return follow(wait=wait, max_documents=max_documents)

    monkeypatch.setattr(search, "follow", counted)
    loaded = svc.library.load(document_code("A101Z"))
    changed = loaded.document.with_changes(body=loaded.document.body + "\n补充一条。\n")
    result = svc.library.save(changed, actor=Actor.system(), message="补充", base=loaded.version.commit)
    assert calls == [True]  # checked: [False, True] before
    assert search.backend.state().commit == result.commit == cached_commit(svc.db)


def test_exactly_one_process_follows_at_a_time(indexed_instance: Path, tmp_path: Path) -> None:
    apps = [make_app(indexed_instance) for _ in range(2)]
    lock = tmp_path / "follower.lock"
    first, second = (BackgroundFollower(library=_svc(app).library, lock_path=lock) for app in apps)
    try:
        assert first.step() is True
        assert second.step() is False  # the lock is held (a separate open file, as in another process)
        first.stop()  # the process that held it ends: the lock is free again
        assert second.step() is True
    finally:
        second.stop()
        for app in apps:
            _svc(app).close()


def test_saves_leave_merging_and_packing_to_the_follower(indexed_instance: Path, tmp_path: Path) -> None:
    app = make_app(indexed_instance)
    svc = _svc(app)
    library, backend = svc.library, svc.library.search.backend  # type: ignore[union-attr]
    follower = BackgroundFollower(library=library, lock_path=tmp_path / "follower.lock", housekeeping=Housekeeping(loose_objects=50))
    try:
        segments = len(backend.store.current()[1]._segments())
        for n in range(10):
            loaded = library.load(document_code("A101Z"))
            changed = loaded.document.with_changes(body=loaded.document.body + f"\n第{n}次补充。\n")
            library.save(changed, actor=Actor.system(), message=f"补充 {n}", base=loaded.version.commit)
        assert len(backend.store.current()[1]._segments()) >= segments + 10  # each save: one small segment, no merge
        loose_before = _loose_objects(indexed_instance / "content.git")
        assert follower.step() is True  # the index just moved: saves may go on, no merge yet
        assert len(backend.store.current()[1]._segments()) >= segments + 10
        assert follower.step() is True  # a quiet round: now the merge
        assert len(backend.store.current()[1]._segments()) < segments + 10
        assert backend.search(SearchRequest(text="第9次补充")).total == 1
        assert _loose_objects(indexed_instance / "content.git") < loose_before  # packed: more than 50 were loose
    finally:
        follower.stop()
        svc.close()


def test_a_steady_stream_of_saves_is_merged_every_few_moves(
    indexed_instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saves that never pause still get their segments merged, every `MERGE_EVERY` index moves."""
    monkeypatch.setattr(background, "MERGE_EVERY", 3)
    app = make_app(indexed_instance)
    svc = _svc(app)
    library, backend = svc.library, svc.library.search.backend  # type: ignore[union-attr]
    follower = BackgroundFollower(library=library, lock_path=tmp_path / "follower.lock")
    try:
        counts = []
        for n in range(12):
            loaded = library.load(document_code("A101Z"))
            changed = loaded.document.with_changes(body=loaded.document.body + f"\n第{n}次补充。\n")
            library.save(changed, actor=Actor.system(), message=f"补充 {n}", base=loaded.version.commit)
            follower.step()
            counts.append(len(backend.store.current()[1]._segments()))
        assert any(later < earlier for earlier, later in itertools.pairwise(counts)), counts
    finally:
        follower.stop()
        svc.close()


def test_objects_a_pack_leaves_loose_do_not_make_every_check_pack_again(
    indexed_instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreachable objects (writes that lost their compare-and-swap) stay loose after `repack -d`
    until `gc` prunes them two weeks later; they must not make every check pack again."""
    app = make_app(indexed_instance)
    svc = _svc(app)
    library = svc.library
    repository = indexed_instance / "content.git"
    packs: list[int] = []
    optimise = library.repo.optimise

    def counted_optimise() -> None:  # the real pack, remembering how many objects were loose
        packs.append(_loose_objects(repository))
        optimise()

    monkeypatch.setattr(library.repo, "optimise", counted_optimise)
    follower = BackgroundFollower(
        library=library, lock_path=tmp_path / "follower.lock", housekeeping=Housekeeping(loose_objects=50, check_seconds=0)
    )
    try:
        for n in range(60):
            subprocess.run(["git", "hash-object", "-w", "--stdin"], input=f"无主对象 {n}".encode(), cwd=repository, check=True)
        assert follower.step() is True
        assert len(packs) == 1
        left = _loose_objects(repository)
        assert left >= 60  # unreachable: the pack kept them loose
        assert follower.step() is True
        assert len(packs) == 1  # nothing new to pack
        for n in range(10):
            loaded = library.load(document_code("A101Z"))
            changed = loaded.document.with_changes(body=loaded.document.body + f"\n第{n}次补充。\n")
            library.save(changed, actor=Actor.system(), message=f"补充 {n}", base=loaded.version.commit)
        assert follower.step() is True
        assert len(packs) == 2 and packs[1] >= left + 50  # ten saves left more than 50 new loose objects
        assert _loose_objects(repository) == left
    finally:
        follower.stop()
        svc.close()


def _loose_objects(repository: Path) -> int:
    return sum(1 for folder in (repository / "objects").glob("[0-9a-f][0-9a-f]") for _ in folder.iterdir())


def test_an_index_from_an_older_version_is_rebuilt_once_by_the_follower(
    indexed_instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade that changes the index format, search comes back without an administrator
    running `reindex`: the follower builds the index again, once."""
    app = make_app(indexed_instance)
    svc = _svc(app)
    index = svc.library.search
    assert index is not None
    for module in (whoosh_backend, schema):  # this program is newer than the index
        monkeypatch.setattr(module, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    assert not index.backend.state().exists
    rebuilds = []
    original = index.rebuild
    monkeypatch.setattr(index, "rebuild", lambda **kwargs: rebuilds.append(1) or original(**kwargs))
    follower = BackgroundFollower(library=svc.library, lock_path=tmp_path / "follower.lock")
    try:
        assert follower.step() is True
        state = index.backend.state()
        assert state.exists and state.commit == svc.library.repo.head() and state.documents >= 30
        assert index.backend.search(SearchRequest(text="诊改")).total > 0
        assert follower.step() is True and rebuilds == [1]
    finally:
        follower.stop()
        svc.close()

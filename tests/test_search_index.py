"""Freshness and safety of the search index: saves, external pushes, reindex, busy writers — on
every backend where the behaviour is the backend's (tests/search_backends.py)."""

from __future__ import annotations

import gc
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.actors import AS_EDITOR
from tests.conftest import OpenApp, make_app
from tests.databases import clone_instance
from tests.search_backends import BACKENDS, build_index, index_exists, use_backend
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cli import cli
from zhengai_docs.library import Library
from zhengai_docs.search.backend import IndexedDocument, IndexMissing, SearchRequest
from zhengai_docs.search.indexer import SearchIndex, rebuild_index, sync_index
from zhengai_docs.search.matching import posting_ids
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.storage.repository import Author, ContentRepository

EDITOR = Author(name="教务处 王老师", email="jiaowu@example.edu.cn")


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def chosen(instance: Path, kind: str) -> Path:
    """The demo instance with the backend under test named in its settings (no index yet)."""
    return use_backend(instance, kind)


@pytest.fixture(scope="session")
def postgresql_indexed_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    instance = use_backend(clone_instance(demo_template, tmp_path_factory.mktemp("pg-indexed") / "instance"), "postgresql")
    build_index(instance)
    return instance


@pytest.fixture
def indexed(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The demo instance with its index built, on the backend under test."""
    if kind == "whoosh":
        return Path(request.getfixturevalue("indexed_instance"))
    return clone_instance(request.getfixturevalue("postgresql_indexed_template"), tmp_path / "instance")


@pytest.fixture
def app_on(indexed: Path) -> Iterator[Flask]:
    application = make_app(indexed)
    yield application
    application.extensions["zhengai"].close()


def _library(app: Flask) -> Library:
    return app.extensions["zhengai"].library


def _found(library: Library, text: str) -> list[str]:
    assert library.search is not None
    return [h.code for h in library.search.backend.search(SearchRequest(text=text, per_page=100)).hits]


def _generations(instance: Path) -> list[str]:
    return sorted(p.name for p in (instance / "search-index").iterdir() if p.is_dir())


def test_a_save_is_searchable_when_save_returns(app_on: Flask) -> None:
    library = _library(app_on)
    loaded = library.load(document_code("A101Z"))
    assert _found(library, "甲乙丙丁戊") == []
    changed = loaded.document.with_changes(body=loaded.document.body + "\n甲乙丙丁戊\n")
    result = library.save(changed, actor=AS_EDITOR, message="补充", base=loaded.version.commit)
    assert _found(library, "甲乙丙丁戊") == ["A101Z"]
    assert library.search is not None and library.search.backend.state().commit == result.commit


def test_segments_are_plain_files_and_saves_leave_no_reader_open(indexed_app: Flask, indexed_instance: Path) -> None:
    """Compound segments are read as in-memory copies in every server process (issue 15); a
    reader left open after a save would show as a ResourceWarning, an error in this suite."""
    library = _library(indexed_app)
    for n in range(3):
        loaded = library.load(document_code("A101Z"))
        changed = loaded.document.with_changes(body=loaded.document.body + f"\n第{n}次补充\n")
        library.save(changed, actor=AS_EDITOR, message="补充", base=loaded.version.commit)
        assert _found(library, f"第{n}次补充") == ["A101Z"]
    [live] = _generations(indexed_instance)
    files = [p.name for p in (indexed_instance / "search-index" / live).iterdir()]
    assert any(name.endswith(".trm") for name in files)
    assert not [name for name in files if name.endswith(".seg")]
    gc.collect()  # a reader that was dropped without being closed warns here


def test_an_external_push_is_picked_up_incrementally(app_on: Flask, indexed: Path, kind: str, tmp_path: Path) -> None:
    instance = indexed
    library = _library(app_on)
    generations = _generations(instance) if kind == "whoosh" else []
    work = tmp_path / "clone"
    git = ["git", "-c", "user.name=外部", "-c", "user.email=ext@example.edu.cn"]
    subprocess.run([*git, "clone", "-q", str(instance / "content.git"), str(work)], check=True)
    path = work / "regulations/A/A1/A101Z.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n外部推送的新条款：己庚辛壬。\n", encoding="utf-8")
    subprocess.run([*git, "-C", str(work), "commit", "-qam", "外部修改"], check=True)
    subprocess.run([*git, "-C", str(work), "push", "-q", "origin", "HEAD:main"], check=True)
    assert _found(library, "己庚辛壬") == []  # nothing has looked at the branch yet
    app_on.test_client().get("/login")  # any request syncs first
    assert _found(library, "己庚辛壬") == ["A101Z"]
    assert library.search is not None and library.search.backend.state().commit == library.repo.head()
    if kind == "whoosh":
        assert _generations(instance) == generations, "an incremental update must not rebuild"


def test_a_deleted_document_leaves_the_index(app_on: Flask) -> None:
    library = _library(app_on)
    title = library.load(document_code("A101L")).document.meta.title
    assert "A101L" in _found(library, title)
    library.repo.commit({"regulations/A/A1/A101L.md": None}, author=EDITOR, message="删除流程", base=library.repo.head())
    library.sync()
    assert "A101L" not in _found(library, title)


def test_starting_the_app_never_builds_the_index(chosen: Path, open_app: OpenApp) -> None:
    instance = chosen
    app = open_app(instance, ANONYMOUS_READ=True)
    client = app.test_client()
    assert client.get("/").status_code == 200
    page = client.get("/search?q=双师")
    assert page.status_code == 503 and "zhengai-docs reindex" in page.get_data(as_text=True)
    api = client.get("/api/search?q=双师")
    assert api.status_code == 503 and "reindex" in api.get_json()["error"]["message"]
    assert not index_exists(instance)
    _library(app).sync()  # syncing a missing index neither fails nor builds one
    assert not index_exists(instance)


def test_reindex_command_rebuilds_beside_the_live_index(instance: Path) -> None:
    """Whoosh: a new generation folder replaces the old one (PostgreSQL: see the next test)."""
    runner = CliRunner()
    first = runner.invoke(cli, ["--instance", str(instance), "reindex"])
    assert first.exit_code == 0, first.output
    assert "重建搜索索引" in first.output and "搜索索引已重建：30 份文档" in first.output
    old = _generations(instance)
    second = runner.invoke(cli, ["--instance", str(instance), "reindex"])
    assert second.exit_code == 0, second.output
    new = _generations(instance)
    assert len(old) == len(new) == 1 and old != new, "the old generation is replaced and removed"
    backend = WhooshBackend(instance / "search-index")
    assert backend.search(SearchRequest(text="双师")).total > 0
    backend.close()


def test_reindex_command_on_postgresql_swaps_the_table_while_it_serves(chosen: Path, kind: str, open_app: OpenApp) -> None:
    if kind != "postgresql":
        pytest.skip("the Whoosh variant is the test above")
    runner = CliRunner()
    first = runner.invoke(cli, ["--instance", str(chosen), "reindex"])
    assert first.exit_code == 0, first.output
    assert "搜索索引已重建：30 份文档" in first.output
    app = open_app(chosen)
    library = _library(app)
    before = _found(library, "双师")
    second = runner.invoke(cli, ["--instance", str(chosen), "reindex"])
    assert second.exit_code == 0, second.output
    assert before and _found(library, "双师") == before  # the same process reads the swapped table
    doctor = runner.invoke(cli, ["--instance", str(chosen), "doctor"])
    assert "搜索索引与仓库一致" in doctor.output, doctor.output


def test_init_builds_the_index_once(blank_instance: Path, kind: str) -> None:
    use_backend(blank_instance, kind)
    runner = CliRunner()
    result = runner.invoke(cli, ["--instance", str(blank_instance), "init", "--demo"])
    assert result.exit_code == 0, result.output
    assert "已建立搜索索引：30 份文档" in result.output
    again = runner.invoke(cli, ["--instance", str(blank_instance), "init", "--demo"])
    assert again.exit_code == 0 and "已建立搜索索引" not in again.output


def test_a_busy_writer_never_reaches_a_request(app_on: Flask) -> None:
    library = _library(app_on)
    assert library.search is not None
    backend = library.search.backend
    loaded = library.load(document_code("A104Z"))
    with backend.writer(timeout=1):  # another process is writing, and takes its time
        text = loaded.document.dump() + "\n癸子丑寅\n"
        library.repo.write(loaded.version.path, text, author=EDITOR, message="改", base=loaded.version.commit)
        start = time.monotonic()
        client = app_on.test_client()
        assert client.get("/login").status_code == 200
        assert time.monotonic() - start < 3
        assert _found(library, "癸子丑寅") == []  # searches still answer, from the previous commit
    client.get("/login")
    assert _found(library, "癸子丑寅") == ["A104Z"]


def test_a_rebuild_catches_up_with_commits_made_meanwhile(chosen: Path, open_app: OpenApp) -> None:
    repo = ContentRepository(chosen / "content.git")
    library = _library(open_app(chosen))
    assert library.search is not None
    backend = library.search.backend
    committed: list[str] = []

    def save_meanwhile(done: int, total: int) -> None:
        if not committed:
            text = repo.read("regulations/A/A1/A101Z.md").text + "\n重建期间保存的卯辰巳。\n"
            committed.append(repo.write("regulations/A/A1/A101Z.md", text, author=EDITOR, message="并发保存", base=repo.head()).commit)

    result = rebuild_index(backend, repo, progress=save_meanwhile)
    assert result.new == committed[0] == backend.state().commit
    assert [h.code for h in backend.search(SearchRequest(text="卯辰巳")).hits] == ["A101Z"]


def test_an_index_of_another_history_asks_for_reindex(chosen: Path, tmp_path: Path, open_app: OpenApp) -> None:
    build_index(chosen)
    other = ContentRepository.create(tmp_path / "other.git")  # e.g. a repository replaced wholesale
    other.write("regulations/A/A1/A101Z.md", "---\n---\n正文\n", author=EDITOR, message="新历史", base=None)
    library = _library(open_app(chosen))
    assert library.search is not None
    backend = library.search.backend
    with pytest.raises(IndexMissing):
        sync_index(backend, other, timeout=1)
    assert SearchIndex(backend, other).follow(wait=True) is False  # logged, never raised
    rebuild_index(backend, other)
    assert [h.code for h in backend.search(SearchRequest(text="正文")).hits] == ["A101Z"]


def test_block_reading_of_postings_matches_whoosh(tmp_path: Path) -> None:
    backend = WhooshBackend(tmp_path / "index")
    documents = [
        IndexedDocument(
            code=f"A{n // 99 + 1}{n % 99 + 1:02d}Z",
            title=f"制度{n}",
            doc_type="Z",
            status="现行",
            departments=("教务处",),
            points=("1.1.1",),
            issued=None,
            doc_number=None,
            body_text="双师型教师" if n % 3 else "专任教师",
        )
        for n in range(400)
    ]
    with backend.rebuild(documents, commit=None, total=len(documents), timeout=5):
        pass
    _, ix = backend.store.current()
    with ix.searcher() as searcher:
        reader = searcher.reader()
        for fieldname, term in (("pairs", "教师"), ("pairs", "双师"), ("words", "双师"), ("departments", "教务处"), ("pairs", "无此")):
            fast = posting_ids(reader, fieldname, term)
            public = list(reader.postings(fieldname, term).all_ids()) if (fieldname, term) in reader else []
            assert fast == public, (fieldname, term)
        assert len(posting_ids(reader, "pairs", "教师")) == 400  # several posting blocks of 128
    assert backend.search(SearchRequest(text="双师", per_page=1)).total == 266
    backend.close()

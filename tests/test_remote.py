"""The central content repository (storage/remote.py): every ref update is a compare-and-swap on
the central ref before the mirror follows, over file:// and git:// (a real `git daemon`)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import client_for, make_app
from tests.databases import DATABASES
from tests.html_reader import form_fields, visible_text
from tests.remote_daemon import free_port, git_daemon
from zhengai_docs.background import BackgroundFollower
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import cached_commit
from zhengai_docs.errors import Conflict, StorageError, StorageUnavailable
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.search.backend import SearchRequest
from zhengai_docs.search.indexer import rebuild_index, sync_index
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.storage.drafts import DraftStore, draft_ref
from zhengai_docs.storage.remote import PROBE_REF, Remote, init_central
from zhengai_docs.storage.repository import Author, ContentRepository

AUTHOR = Author(name="教务处 王老师", email="jiaowu@example.edu.cn")
FIRST, SECOND = "regulations/A/A1/A101Z.md", "regulations/A/A1/A102Z.md"
Node = Callable[[str], ContentRepository]


def central_git(central: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={central}", *args], capture_output=True, check=True, text=True).stdout.strip()


def central_ref(central: Path, ref: str) -> str | None:
    result = subprocess.run(["git", f"--git-dir={central}", "rev-parse", "--verify", "--quiet", ref], capture_output=True, text=True)
    return result.stdout.strip() or None


@pytest.fixture
def central(tmp_path: Path) -> Path:
    return init_central(tmp_path / "served" / "central.git")


@pytest.fixture(params=["file", "git"])
def central_url(request: pytest.FixtureRequest, central: Path) -> Iterator[str]:
    if request.param == "file":
        yield f"file://{central}"
        return
    with git_daemon(central.parent) as prefix:
        yield f"{prefix}/central.git"


@pytest.fixture
def node(tmp_path: Path, central_url: str) -> Node:
    """A node's mirror of the central repository (created and attached as `services` does)."""

    def make(name: str) -> ContentRepository:
        path = tmp_path / name / "content.git"
        path.parent.mkdir(parents=True)
        ContentRepository.create(path)
        remote = Remote(url=central_url, mirror=path, branch="main", timeout=10)
        remote.attach()
        return ContentRepository(path, remote=remote)

    return make


def test_a_write_moves_the_central_branch_first_and_the_other_node_sees_it_after_a_fetch(node: Node, central: Path) -> None:
    a, b = node("a"), node("b")
    first = a.write(FIRST, "第一版\n", author=AUTHOR, message="新建", base=None)
    assert central_ref(central, "refs/heads/main") == first.commit == a.head()
    assert b.head() is None
    assert b.remote is not None
    b.remote.fetch()
    assert b.head() == first.commit
    assert b.read(FIRST).text == "第一版\n"


def test_a_write_that_lost_the_race_to_another_document_is_retried_on_the_new_head(node: Node, central: Path) -> None:
    a, b = node("a"), node("b")
    base = a.write(FIRST, "一\n", author=AUTHOR, message="新建", base=None).commit
    assert b.remote is not None
    b.remote.fetch()
    theirs = a.write(SECOND, "二\n", author=AUTHOR, message="另一份", base=base).commit
    assert b.head() == base  # b has not seen a's write: its push names the old value and loses
    mine = b.write(FIRST, "一（修订）\n", author=AUTHOR, message="修订", base=base).commit
    assert central_ref(central, "refs/heads/main") == mine == b.head()
    assert central_git(central, "rev-parse", f"{mine}^") == theirs
    assert b.read(SECOND).text == "二\n" and b.read(FIRST).text == "一（修订）\n"


def test_a_write_whose_own_document_moved_centrally_is_a_conflict_and_changes_nothing(node: Node, central: Path) -> None:
    a, b = node("a"), node("b")
    base = a.write(FIRST, "一\n", author=AUTHOR, message="新建", base=None).commit
    assert b.remote is not None
    b.remote.fetch()
    winner = a.write(FIRST, "甲的修订\n", author=AUTHOR, message="甲", base=base).commit
    with pytest.raises(Conflict):
        b.write(FIRST, "乙的修订\n", author=AUTHOR, message="乙", base=base)
    assert central_ref(central, "refs/heads/main") == winner == b.head()  # b fetched while losing
    assert b.read(FIRST).text == "甲的修订\n"


def test_an_unreachable_central_repository_refuses_the_save_clearly_and_moves_nothing(tmp_path: Path, central: Path) -> None:
    path = tmp_path / "a" / "content.git"
    path.parent.mkdir()
    ContentRepository.create(path)
    Remote(url=f"file://{central}", mirror=path, branch="main").attach()
    seeded = ContentRepository(path, remote=Remote(url=f"file://{central}", mirror=path, branch="main"))
    base = seeded.write(FIRST, "一\n", author=AUTHOR, message="新建", base=None).commit
    dead = Remote(url=f"git://127.0.0.1:{free_port()}/central.git", mirror=path, branch="main", timeout=5)
    repo = ContentRepository(path, remote=dead)
    with pytest.raises(StorageUnavailable) as refused:
        repo.write(FIRST, "没有保存的修订\n", author=AUTHOR, message="修订", base=base)
    assert refused.value.store == "中央内容仓库" and "无法连接" in refused.value.cause
    assert refused.value.status == 503
    assert repo.head() == base == central_ref(central, "refs/heads/main")


def test_draft_refs_are_published_created_moved_and_set_aside_never_deleted(node: Node, central: Path) -> None:
    a, b = node("a"), node("b")
    base = a.write(FIRST, "一\n", author=AUTHOR, message="新建", base=None).commit
    drafts = DraftStore(a)
    ref = draft_ref("A101Z", 7)
    opened = drafts.create(ref, base=base, text="草稿一\n", author=AUTHOR, message="发起修订")
    assert central_ref(central, ref.name) == opened
    saved = drafts.prepare(ref, "草稿二\n", author=AUTHOR, message="保存", expected=opened)
    assert drafts.move(ref, new=saved.commit, expected=opened)
    assert central_ref(central, ref.name) == saved.commit
    other = DraftStore(b)
    assert other.tip(ref) is None
    assert other.tip(ref, expected=saved.commit) == saved.commit  # the database says it moved: fetched
    stale = drafts.prepare(ref, "过时\n", author=AUTHOR, message="保存", expected=opened)
    assert not drafts.move(ref, new=stale.commit, expected=opened)  # compare-and-swap on the central ref
    other.discard(ref)
    assert central_ref(central, ref.name) is None
    assert central_ref(central, ref.aside.name) == saved.commit
    drafts.repo.remote.fetch()  # type: ignore[union-attr]
    assert drafts.tip(ref) is None and drafts.tip(ref.aside) == saved.commit


def test_the_central_repository_refuses_non_fast_forward_updates_and_branch_deletion(node: Node, central: Path, tmp_path: Path) -> None:
    a = node("a")
    a.write(FIRST, "一\n", author=AUTHOR, message="新建", base=None)
    assert a.remote is not None
    assert a.remote.check_central() == []
    assert central_ref(central, PROBE_REF) is not None
    head = a.require_head()
    with pytest.raises(StorageError, match="拒绝"):
        a.remote.publish("refs/heads/main", new=None, old=head)
    assert central_ref(central, "refs/heads/main") == head


def test_doctor_check_names_a_central_repository_that_accepts_deletion_and_rewrites(tmp_path: Path) -> None:
    loose = tmp_path / "loose.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(loose)], check=True)
    path = tmp_path / "a" / "content.git"
    path.parent.mkdir()
    ContentRepository.create(path)
    remote = Remote(url=f"file://{loose}", mirror=path, branch="main")
    remote.attach()
    ContentRepository(path, remote=remote).write(FIRST, "一\n", author=AUTHOR, message="新建", base=None)
    problems = remote.check_central()
    assert len(problems) == 2
    assert "允许删除分支" in problems[0] and "非快进" in problems[1]


def test_the_shared_cache_moves_only_forward_and_a_node_fetches_to_catch_up(tmp_path: Path, central: Path) -> None:
    url = f"file://{central}"
    database = Database(DATABASES.fresh(tmp_path / "shared.db"))
    database.upgrade()
    try:
        libraries = {}
        for name in ("a", "b"):
            path = tmp_path / name / "content.git"
            path.parent.mkdir()
            ContentRepository.create(path)
            remote = Remote(url=url, mirror=path, branch="main")
            remote.attach()
            libraries[name] = Library(repo=ContentRepository(path, remote=remote), db=database)
        a, b = libraries["a"], libraries["b"]
        first = a.commit_files({FIRST: "一\n"}, actor=Actor.system(), message="新建", base=None).commit
        a.sync()
        assert cached_commit(database) == first
        b.sync()  # the cache says the branch moved: b fetches before it reads
        assert b.repo.head() == first
        second = a.commit_files({SECOND: "二\n"}, actor=Actor.system(), message="另一份", base=first).commit
        a.sync()
        dead = Remote(url=f"git://127.0.0.1:{free_port()}/central.git", mirror=b.repo.path, branch="main", timeout=3)
        restarted = Library(repo=ContentRepository(b.repo.path, remote=dead), db=database)  # b restarted, central out of reach
        restarted.sync()  # cannot fetch: its older head must not take the shared cache back
        assert b.repo.head() == first
        assert cached_commit(database) == second
    finally:
        database.dispose()


def test_a_single_machine_instance_becomes_a_node_and_an_unreachable_central_keeps_the_typed_text(instance: Path, tmp_path: Path) -> None:
    """Turning CONTENT_REMOTE on for an existing instance seeds the empty central repository from
    it; when the central repository then cannot be reached, a save is refused with the reason in
    Chinese, the editor keeps everything typed, and nothing moves anywhere."""
    central = init_central(tmp_path / "central.git")
    local_head = ContentRepository(instance / "content.git").require_head()
    app = make_app(instance, CONTENT_REMOTE=f"file://{central}", REMOTE_TIMEOUT_SECONDS=5)
    try:
        assert central_ref(central, "refs/heads/main") == local_head
        admin = client_for(app, "admin")
        page = admin.get("/documents/A101Z/edit").get_data(as_text=True)
        fields = form_fields(page, "document-form")
        sentence = "第九十条 中央仓库不可达时本段文字不能丢失。"
        fields.update(body=f"{fields['body']}\n{sentence}\n", message="补充条款")
        central.rename(tmp_path / "central-away.git")
        response = admin.post("/documents/A101Z/edit", data=fields)
        text = response.get_data(as_text=True)
        assert "中央内容仓库无法写入" in visible_text(text) and "您的修改没有保存" in visible_text(text)
        assert sentence in str(form_fields(text, "document-form")["body"])
        assert app.extensions["zhengai"].library.repo.head() == local_head
        (tmp_path / "central-away.git").rename(central)
        assert admin.post("/documents/A101Z/edit", data=fields).status_code == 302  # the same save, once it is back
        assert central_ref(central, "refs/heads/main") == app.extensions["zhengai"].library.repo.head() != local_head
    finally:
        app.extensions["zhengai"].close()


def test_the_background_follower_fetches_pushes_made_to_the_central_repository_by_other_means(tmp_path: Path, central: Path) -> None:
    url = f"file://{central}"
    database = Database(DATABASES.fresh(tmp_path / "node.db"))
    database.upgrade()
    try:
        path = tmp_path / "node" / "content.git"
        path.parent.mkdir()
        ContentRepository.create(path)
        remote = Remote(url=url, mirror=path, branch="main")
        remote.attach()
        library = Library(repo=ContentRepository(path, remote=remote), db=database)
        outside = tmp_path / "outside" / "content.git"
        outside.parent.mkdir()
        ContentRepository.create(outside)
        Remote(url=url, mirror=outside, branch="main").attach()
        pushed = ContentRepository(outside, remote=Remote(url=url, mirror=outside, branch="main"))
        commit = pushed.write(FIRST, "外部推送\n", author=AUTHOR, message="外部", base=None).commit
        follower = BackgroundFollower(library=library, lock_path=tmp_path / "node" / "follower.lock", fetch_seconds=0)
        try:
            assert follower.step()
        finally:
            follower.stop()
        assert library.repo.head() == commit == cached_commit(database)
    finally:
        database.dispose()


def test_a_shared_search_index_never_moves_back_to_a_node_whose_mirror_is_behind(node: Node, tmp_path: Path) -> None:
    """Nodes may share one index (SEARCH_BACKEND = "postgresql"); like the SQL cache it only moves
    forward: a node that has not fetched yet leaves it where a newer node put it."""
    a, b = node("a"), node("b")
    start = a.write(FIRST, "---\ntitle: 专业设置管理办法\n---\n第一条 总则。\n", author=AUTHOR, message="新建", base=None)
    assert b.remote is not None
    b.remote.fetch()
    shared = WhooshBackend(tmp_path / "shared-index")
    try:
        rebuild_index(shared, a)
        later = "---\ntitle: 专业设置管理办法\n---\n第一条 总则。第二条 校企合作专项。\n"
        a.write(FIRST, later, author=AUTHOR, message="补充", base=start.commit)
        assert sync_index(shared, a, timeout=5).new == a.head()
        assert shared.search(SearchRequest(text="校企合作专项")).total == 1

        behind = sync_index(shared, b, timeout=5)  # b's mirror is still at the first commit
        assert behind.mode == "behind"
        assert shared.state().commit == a.head()
        assert shared.search(SearchRequest(text="校企合作专项")).total == 1
    finally:
        shared.close()


def test_healthz_on_a_node_reports_the_central_repository_and_503_while_it_cannot_be_reached(instance: Path, tmp_path: Path) -> None:
    """A node publishes every save to the central repository first: when it cannot reach it, it
    cannot save, and the load balancer's check says so (and says when it is back)."""
    central = init_central(tmp_path / "central.git")
    app = make_app(instance, CONTENT_REMOTE=f"file://{central}", REMOTE_TIMEOUT_SECONDS=5)
    try:
        client = app.test_client()
        healthy = client.get("/healthz")
        assert healthy.status_code == 200
        report = healthy.get_json()
        assert report["central"] == {
            "ok": True, "reachable": True, "problem": None, "head": central_ref(central, "refs/heads/main"), "mirror_current": True,
        }  # fmt: skip
        central.rename(tmp_path / "central-away.git")
        down = client.get("/healthz")
        assert down.status_code == 503
        report = down.get_json()
        assert report["accepts_writes"] is False and report["status"] == "unavailable"
        assert report["central"]["problem"] == "无法连接" and report["central"]["head"] is None
        assert str(tmp_path) not in down.get_data(as_text=True)  # causes, never paths
        (tmp_path / "central-away.git").rename(central)
        assert client.get("/healthz").status_code == 200
    finally:
        app.extensions["zhengai"].close()


def test_healthz_on_a_single_machine_has_no_central_repository(app: Flask) -> None:
    assert app.test_client().get("/healthz").get_json()["central"] is None

"""Storage faults: a save the disk refuses keeps the user's text, names the cause, writes nothing.

The tests run as root, where permission bits stop nothing, so the faults are made real by the
kernel instead:
- a read-only bind mount (`mount --bind X X` then `mount -o remount,bind,ro X`) over the whole
  content repository, over its `refs/` only, or over the search index;
- the repository moved onto a tmpfs just large enough for it and then filled to the last byte.
Both need CAP_SYS_ADMIN; without it those tests are skipped with the reason. The same faults
are also injected at the storage boundary, which always runs: a `git` on PATH that fails
`update-ref` exactly as git does on a read-only disk, and gitdb's object store raising ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gitdb import LooseObjectDB
from werkzeug.test import TestResponse

from tests.conftest import OpenApp, client_for, csrf_token, login, make_app
from tests.html_reader import form_fields, visible_text
from zhengai_docs.db.models import DraftRow
from zhengai_docs.library import Library
from zhengai_docs.search.whoosh_store import IndexStore
from zhengai_docs.storage.drafts import DraftStore, draft_ref
from zhengai_docs.storage.repository import Author

MARKER = "第二十条 本办法自印发之日起施行（存储故障测试）。"
READ_ONLY = "内容仓库无法写入（文件系统只读），您的修改没有保存，请复制保留后联系信息中心"
DISK_FULL = "内容仓库无法写入（磁盘已满），您的修改没有保存，请复制保留后联系信息中心"


# -- faults ---------------------------------------------------------------------------------


@cache
def _mount_refusal() -> str | None:
    """Why this process cannot mount file systems (None: it can)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "需要 root 和 mount 命令才能挂载只读或写满的文件系统"
    with tempfile.TemporaryDirectory() as folder:
        tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder], capture_output=True, text=True)
        if tried.returncode != 0:
            return f"不允许挂载（缺少 CAP_SYS_ADMIN？）：{tried.stderr.strip()}"
        subprocess.run(["umount", folder], check=True)
    return None


def _require_mounts() -> None:
    reason = _mount_refusal()
    if reason is not None:
        pytest.skip(f"{reason}；注入故障的测试覆盖同一代码路径")


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _unmount(path: Path) -> None:
    """Unmount; a mount still busy means a file was left open on it (a leak), which fails the test."""
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], check=True)
        raise AssertionError(f"{path} was still in use when unmounted: a file was left open on it")


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` on a read-only view of its own file system, as after an `errors=remount-ro`."""
    _require_mounts()
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield
    finally:
        _unmount(path)


@contextmanager
def full_disk(repository: Path) -> Iterator[None]:
    """The repository on a tmpfs with no byte left. Unmounting brings the original back."""
    _require_mounts()
    size = sum(f.stat().st_size for f in repository.rglob("*") if f.is_file())
    aside = repository.with_name("content-aside.git")
    shutil.copytree(repository, aside, symlinks=True)
    _mount("-t", "tmpfs", "-o", f"size={size * 2 + (1 << 20)}", "tmpfs", str(repository))
    try:
        shutil.copytree(aside, repository, symlinks=True, dirs_exist_ok=True)
        _fill(repository / "zz-filler")  # git ignores a stray file at the top
        yield
    finally:
        _unmount(repository)
        shutil.rmtree(aside)


def _fill(path: Path) -> None:
    """Write to `path` until the file system has no byte left."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(handle, b"\0" * 4096)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(handle)


@pytest.fixture
def refusing_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `git` first on PATH that fails every ref update the way git does on a read-only disk."""
    real = shutil.which("git")
    assert real is not None
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    script = folder / "git"
    script.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do\n'
        '  if [ "$arg" = update-ref ]; then\n'
        "    echo \"fatal: update_ref failed for ref 'refs/heads/main': cannot lock ref 'refs/heads/main': "
        "Unable to create '$GIT_DIR/refs/heads/main.lock': Read-only file system\" >&2\n"
        "    exit 128\n"
        "  fi\n"
        "done\n"
        f'exec {real} "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def full_object_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """gitdb's loose-object writes fail as they do on a full disk."""

    def no_space(self: LooseObjectDB, istream: object) -> object:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(LooseObjectDB, "store", no_space)


# -- the app --------------------------------------------------------------------------------


@pytest.fixture
def app(indexed_app: Flask) -> Flask:
    return indexed_app


@pytest.fixture
def editor(app: Flask) -> FlaskClient:
    return client_for(app, "jiaowu")


def _library(app: Flask) -> Library:
    return app.extensions["zhengai"].library


def _edit(client: FlaskClient, code: str = "A101Z") -> TestResponse:
    fields = form_fields(client.get(f"/documents/{code}/edit").get_data(as_text=True), "document-form")
    fields.update(body=f"{fields['body']}\n{MARKER}\n", message="补充施行日期")
    return client.post(f"/documents/{code}/edit", data=fields)


def _assert_editor_kept_the_text(response: TestResponse, message: str) -> None:
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    assert MARKER in str(form_fields(page, "document-form")["body"])
    assert form_fields(page, "document-form")["message"] == "补充施行日期"
    assert message in visible_text(page)


def _assert_nothing_half_written(repository: Path, head: str | None) -> None:
    assert _git_head(repository) == head
    fsck = subprocess.run(["git", "--git-dir", str(repository), "fsck", "--strict", "--no-dangling"], capture_output=True, text=True)
    assert fsck.returncode == 0 and not fsck.stdout.strip() and "error" not in fsck.stderr, fsck.stdout + fsck.stderr
    leftovers = [p.name for p in (repository / "objects").iterdir() if p.is_file()]
    assert leftovers == [], leftovers  # no temporary object or probe file left behind


def _git_head(repository: Path) -> str:
    return subprocess.run(["git", "--git-dir", str(repository), "rev-parse", "main"], capture_output=True, text=True).stdout.strip()


def _health(client: FlaskClient) -> tuple[int, dict[str, object]]:
    response = client.get("/healthz")
    return response.status_code, json.loads(response.get_data(as_text=True))


# -- the content repository -----------------------------------------------------------------


def test_read_only_repository_keeps_the_text_and_names_the_cause(app: Flask, editor: FlaskClient) -> None:
    repository = _library(app).repo.path
    head = _git_head(repository)
    with read_only(repository):
        _assert_editor_kept_the_text(_edit(editor), READ_ONLY)
        _assert_nothing_half_written(repository, head)
        status, report = _health(app.test_client())
        assert status == 503 and report["accepts_writes"] is False
        assert report["repository"] == {"ok": False, "writable": False, "problem": "文件系统只读"}
    assert _edit(editor).status_code == 302  # the same save goes through once the disk is back
    assert MARKER in _library(app).repo.read("regulations/A/A1/A101Z.md").text
    assert _health(app.test_client())[0] == 200


def test_read_only_refs_are_a_fault_not_a_lost_race(app: Flask, editor: FlaskClient) -> None:
    """Objects can be written, the branch cannot move: before, 50 retries ended in "仓库写入冲突过多"."""
    repository = _library(app).repo.path
    head = _git_head(repository)
    with read_only(repository / "refs"):
        _assert_editor_kept_the_text(_edit(editor), READ_ONLY)
        _assert_nothing_half_written(repository, head)
        assert _health(app.test_client())[0] == 503


def test_full_disk_keeps_the_text_and_names_the_cause(app: Flask, editor: FlaskClient) -> None:
    repository = _library(app).repo.path
    head = _git_head(repository)
    with full_disk(repository):
        _assert_editor_kept_the_text(_edit(editor), DISK_FULL)
        _assert_nothing_half_written(repository, head)
        status, report = _health(app.test_client())
        assert status == 503 and report["repository"] == {"ok": False, "writable": False, "problem": "磁盘已满"}
    assert _edit(editor).status_code == 302


@pytest.mark.usefixtures("refusing_git")
def test_injected_read_only_ref_update_keeps_the_text(app: Flask, editor: FlaskClient) -> None:
    repository = _library(app).repo.path
    head = _git_head(repository)
    _assert_editor_kept_the_text(_edit(editor), READ_ONLY)
    assert _git_head(repository) == head


@pytest.mark.usefixtures("full_object_store")
def test_injected_full_disk_keeps_the_text_of_a_new_document(app: Flask, editor: FlaskClient) -> None:
    head = _library(app).repo.head()
    fields = form_fields(editor.get("/items/A108/new/Z").get_data(as_text=True), "document-form")
    fields.update(title="招生工作管理办法", body=f"# 招生工作管理办法\n\n{MARKER}\n", message="补充施行日期")
    _assert_editor_kept_the_text(editor.post("/items/A108/new/Z", data=fields), DISK_FULL)
    assert _library(app).repo.head() == head


# -- drafts ---------------------------------------------------------------------------------


@pytest.fixture
def review_app(indexed_instance: Path) -> Iterator[Flask]:
    application = make_app(indexed_instance, REVIEW_REQUIRED=True, SUPPORT_CONTACT="网络与信息中心（分机 8000）")
    yield application
    application.extensions["zhengai"].close()


def _open_draft(client: FlaskClient) -> int:
    token = csrf_token(client, "/documents/A101Z/revise")
    response = client.post("/documents/A101Z/revise", data={"kind": "revise", "reason": "落实新版专业目录", "csrf_token": token})
    assert response.status_code == 302
    found = re.search(r"/drafts/(\d+)", response.headers["Location"])
    assert found is not None
    return int(found[1])


def _save_draft(client: FlaskClient, draft_id: int) -> TestResponse:
    fields = form_fields(client.get(f"/drafts/{draft_id}/edit").get_data(as_text=True), "document-form")
    fields.update(body=f"{fields['body']}\n{MARKER}\n", message="补充施行日期")
    return client.post(f"/drafts/{draft_id}/edit", data=fields)


def _draft_tips(app: Flask, draft_id: int) -> tuple[str | None, str]:
    store = DraftStore(_library(app).repo)
    with app.extensions["zhengai"].db.session() as session:
        row = session.get(DraftRow, draft_id)
        assert row is not None
        return store.tip(draft_ref("A101Z", draft_id)), row.tip


@pytest.mark.parametrize("fault", ["mounted", "injected"])
def test_a_draft_save_refused_by_the_disk_is_not_a_conflict(fault: str, review_app: Flask, request: pytest.FixtureRequest) -> None:
    """Before, the refused ref update read as someone else's save: the conflict page (409)."""
    client = review_app.test_client()
    login(client, "jiaowu")
    draft_id = _open_draft(client)
    before = _draft_tips(review_app, draft_id)
    expected = "内容仓库无法写入（文件系统只读），您的修改没有保存，请复制保留后联系网络与信息中心（分机 8000）"
    if fault == "mounted":
        with read_only(_library(review_app).repo.path / "refs"):
            _assert_editor_kept_the_text(_save_draft(client, draft_id), expected)
    else:
        request.getfixturevalue("refusing_git")
        _assert_editor_kept_the_text(_save_draft(client, draft_id), expected)
    assert _draft_tips(review_app, draft_id) == before


@pytest.mark.usefixtures("refusing_git")
def test_opening_a_draft_on_a_read_only_disk_keeps_the_reason(review_app: Flask) -> None:
    client = review_app.test_client()
    login(client, "jiaowu")
    token = csrf_token(client, "/documents/A101Z/revise")
    response = client.post("/documents/A101Z/revise", data={"kind": "revise", "reason": "落实新版专业目录", "csrf_token": token})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "内容仓库无法写入（文件系统只读）" in visible_text(page) and "落实新版专业目录" in page
    assert review_app.extensions["zhengai"].workflow.listing() == []


# -- the search index -----------------------------------------------------------------------


def _search(client: FlaskClient, text: str) -> str:
    return visible_text(client.get("/search", query_string={"q": text}).get_data(as_text=True))


def test_read_only_index_saves_the_document_and_says_search_lags(app: Flask, editor: FlaskClient) -> None:
    """Before, the save succeeded and search silently stayed at the old commit, with a log line."""
    repository = _library(app).repo.path
    head = _git_head(repository)
    with read_only(Path(app.extensions["zhengai"].library.search.backend.store.root)):
        response = _edit(editor)
        assert response.status_code == 302  # the document is saved ...
        assert _git_head(repository) != head
        page = visible_text(editor.get(response.headers["Location"]).get_data(as_text=True))
        assert "文档已保存，但搜索索引无法写入（文件系统只读），搜索结果暂时不包含本次修改；请联系信息中心。" in page
        assert "搜索索引正在更新，结果可能不完整" in _search(editor, "施行日期")  # ... and search says it lags
        status, report = _health(app.test_client())
        assert status == 503 and report["search_index"]["problem"] == "文件系统只读"  # type: ignore[index]
        assert report["repository"]["ok"] is True and report["search_index"]["behind"] == 1  # type: ignore[index]
    found = _search(editor, "存储故障测试")  # the next request catches up once the disk is back
    assert "搜索索引正在更新" not in found and "A101Z" in found
    assert _health(app.test_client())[0] == 200


def test_busy_index_saves_the_document_and_says_search_lags(app: Flask, editor: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: IndexStore, *, timeout: float) -> object:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    with monkeypatch.context() as patch:
        patch.setattr(IndexStore, "writer_lock", refused)
        response = _edit(editor)
        assert response.status_code == 302
        page = visible_text(editor.get(response.headers["Location"]).get_data(as_text=True))
        assert "已保存。" in page and "搜索索引正在更新，本次修改稍后才能被搜索到。" in page
        assert "搜索索引正在更新，结果可能不完整" in _search(editor, "施行日期")
    assert "搜索索引正在更新" not in _search(editor, "存储故障测试")


# -- /healthz ---------------------------------------------------------------------------------


def test_healthz_reports_lag_without_catching_up(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()  # nobody signed in
    status, report = _health(client)
    assert status == 200 and report["status"] == "ok" and report["accepts_writes"] is True
    assert report["database"] == {"ok": True, "reachable": True, "problem": None}
    assert report["cache"] == {"commit": report["head"], "behind": 0}
    library = _library(app)
    loaded = library.repo.read("regulations/A/A1/A101Z.md")
    outsider = Author(name="外部提交者", email="outside@example.edu.cn")
    library.repo.write(loaded.path, loaded.text + "\n外部提交\n", author=outsider, message="外部提交", base=loaded.commit)
    status, report = _health(client)
    assert status == 200  # lag alone never refuses writes
    assert report["cache"]["behind"] == 1 and report["search_index"]["behind"] == 1  # type: ignore[index]
    login(client, "duzhe")  # any page view catches up
    status, report = _health(client)
    assert report["cache"]["behind"] == 0 and report["search_index"]["behind"] == 0  # type: ignore[index]


def test_healthz_answers_503_when_the_database_is_unreachable(indexed_instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    app = open_app(indexed_instance, DATABASE_URL=f"sqlite:///{tmp_path / 'missing' / 'zhengai.db'}")
    status, report = _health(app.test_client())
    assert status == 503 and report["database"] == {"ok": False, "reachable": False, "problem": "无法连接"}
    assert report["repository"]["ok"] is True and report["cache"] == {"commit": None, "behind": None}  # type: ignore[index]

"""The SQL cache follows git: saves, external pushes, crashes, doctor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from tests.actors import AS_EDITOR
from tests.conftest import EDITOR, OpenApp, OpenDatabase, login
from tests.databases import instance_database_url
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cli import cli
from zhengai_docs.db import queries
from zhengai_docs.db.doctor import diagnose
from zhengai_docs.db.models import CacheState, DocumentRow, RevisionRow
from zhengai_docs.db.sync import cached_commit, rebuild, sync
from zhengai_docs.library import Library
from zhengai_docs.storage.repository import ContentRepository

NEW_DOC = """---
code: A201Z
title: 社会培训管理办法
type: 制度
departments:
  - 继续教育学院
status: 现行
issued: 2025-05-01
---
# 社会培训管理办法

**第一条** 为规范社会培训，制定本办法。
"""


def run_git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "外部提交者", "GIT_AUTHOR_EMAIL": "ext@example.edu.cn"}
    env |= {"GIT_COMMITTER_NAME": "外部提交者", "GIT_COMMITTER_EMAIL": "ext@example.edu.cn"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def external_push(content: Path, work: Path) -> None:
    """Someone clones the repository, adds, edits and deletes documents, and pushes."""
    run_git(work.parent, "clone", "-q", str(content), work.name)
    (work / "regulations/A/A2").mkdir(parents=True, exist_ok=True)
    (work / "regulations/A/A2/A201Z.md").write_text(NEW_DOC, encoding="utf-8")
    a101z = work / "regulations/A/A1/A101Z.md"
    a101z.write_text(
        a101z.read_text(encoding="utf-8").replace(
            "title: 包头职业技术学院专业设置与调整管理办法", "title: 专业设置与调整管理办法（2026 修订）"
        ),
        encoding="utf-8",
    )
    (work / "regulations/E/E2/E201Z.md").unlink()
    run_git(work, "add", "-A")
    run_git(work, "commit", "-q", "-m", "线下修订：新增 A201Z，修订 A101Z，删除 E201Z")
    run_git(work, "push", "-q", "origin", "main")


def test_save_updates_cache_and_history(library: Library) -> None:
    code = document_code("A201Z")
    from zhengai_docs.catalogue.document import parse_document

    document = parse_document(NEW_DOC, path=code.path)
    first = library.save(document, actor=AS_EDITOR, message="新建社会培训管理办法", base=None)
    library.save(document.with_changes(title="社会培训管理办法（修订）"), actor=AS_EDITOR, message="修订标题", base=first.commit)
    summary = queries.document_summary(library.db, "A201Z")
    assert summary is not None and summary.title == "社会培训管理办法（修订）"
    history = queries.history(library.db, "A201Z")
    assert [(h.message, h.author_name, h.change) for h in history] == [
        ("修订标题", EDITOR.name, "M"),
        ("新建社会培训管理办法", EDITOR.name, "A"),
    ]
    assert history[0].issued is not None and history[0].issued.isoformat() == "2025-05-01"
    assert cached_commit(library.db) == library.repo.head()


def test_external_push_appears_in_cache_and_pages(instance: Path, client: FlaskClient, tmp_path: Path) -> None:
    login(client, "duzhe")
    assert client.get("/documents/A201Z").status_code == 404
    assert client.get("/documents/E201Z").status_code == 200
    external_push(instance / "content.git", tmp_path / "work")
    page = client.get("/documents/A201Z")
    assert page.status_code == 200 and "社会培训管理办法" in page.get_data(as_text=True)
    assert "专业设置与调整管理办法（2026 修订）" in client.get("/documents/A101Z").get_data(as_text=True)
    assert client.get("/documents/E201Z").status_code == 404
    catalogue = client.get("/catalogue/A").get_data(as_text=True)
    assert 'href="/documents/A201Z"' in catalogue
    history = client.get("/documents/A101Z/history").get_data(as_text=True)
    assert "线下修订：新增 A201Z，修订 A101Z，删除 E201Z" in history and "外部提交者" in history


def test_incremental_sync_touches_only_changed_documents(instance: Path, tmp_path: Path, open_database: OpenDatabase) -> None:
    db = open_database(instance)
    repo = ContentRepository(instance / "content.git")
    before = cached_commit(db)
    external_push(instance / "content.git", tmp_path / "work")
    result = sync(db, repo)
    assert (result.mode, result.old, result.documents) == ("incremental", before, 3)
    assert diagnose(db, repo).cache_ok


def test_concurrent_syncers_apply_commits_once(instance: Path, tmp_path: Path, open_database: OpenDatabase) -> None:
    external_push(instance / "content.git", tmp_path / "work")
    script = textwrap.dedent(
        f"""
        from zhengai_docs.db.database import Database
        from zhengai_docs.db.sync import sync
        from zhengai_docs.storage.repository import ContentRepository
        print(sync(Database({instance_database_url(instance)!r}), ContentRepository({str(instance / "content.git")!r})).mode)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    modes = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert modes.count("incremental") == 1, modes
    assert diagnose(open_database(instance), ContentRepository(instance / "content.git")).cache_ok


KILLED_WRITER = """
import os, signal, sys
from zhengai_docs.catalogue.document import parse_document
from zhengai_docs.db.database import Database
from zhengai_docs.db import sync as sync_module
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.storage.repository import ContentRepository

instance, mode, url = sys.argv[1], sys.argv[2], sys.argv[3]
library = Library(repo=ContentRepository(instance + "/content.git"), db=Database(url))
doc = parse_document(library.repo.read("regulations/A/A1/A101Z.md").text, path="regulations/A/A1/A101Z.md")
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "before-cache":
    library.follow_write = die  # killed after the git write, before any cache update
else:
    sync_module._add_revisions = die  # killed in the middle of the cache transaction
writer = Actor.system(name="王", email="w@x")
library.save(doc.with_changes(title="崩溃前保存的标题"), actor=writer, message="崩溃测试", base=library.repo.head())
"""


def _kill_during_save(instance: Path, mode: str) -> None:
    args = [sys.executable, "-c", KILLED_WRITER, str(instance), mode, instance_database_url(instance)]
    result = subprocess.run(args, capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_sigkill_between_git_write_and_cache_update(instance: Path, open_database: OpenDatabase) -> None:
    _kill_during_save(instance, "before-cache")
    db = open_database(instance)
    repo = ContentRepository(instance / "content.git")
    diagnosis = diagnose(db, repo)
    assert not diagnosis.cache_ok  # the cache is behind git ...
    assert repo.read("regulations/A/A1/A101Z.md").text.count("崩溃前保存的标题") == 1  # ... and nothing is lost
    runner = CliRunner()
    result = runner.invoke(cli, ["--instance", str(instance), "doctor"])
    assert result.exit_code == 0, result.output
    assert "缓存已重建" in result.output and "缓存与仓库一致" in result.output
    with db.session() as session:
        assert session.get(DocumentRow, "A101Z").title == "崩溃前保存的标题"  # type: ignore[union-attr]


def test_sigkill_inside_cache_transaction_then_next_request_resyncs(instance: Path, open_app: OpenApp, open_database: OpenDatabase) -> None:
    _kill_during_save(instance, "mid-transaction")
    db = open_database(instance)
    repo = ContentRepository(instance / "content.git")
    assert cached_commit(db) != repo.head()  # the half-done transaction was rolled back
    client = open_app(instance).test_client()
    login(client, "duzhe")
    assert "崩溃前保存的标题" in client.get("/documents/A101Z").get_data(as_text=True)
    assert diagnose(db, repo).cache_ok
    with db.session() as session:
        messages = session.scalars(select(RevisionRow.message).where(RevisionRow.code == "A101Z")).all()
    assert messages.count("崩溃测试") == 1


def test_invalid_document_pushed_from_outside_is_reported(instance: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    run_git(tmp_path, "clone", "-q", str(instance / "content.git"), "work")
    (work / "regulations/A/A1/A103Z.md").write_text("---\ncode: A104Z\ntitle: 错位\n---\n", encoding="utf-8")
    run_git(work, "add", "-A")
    run_git(work, "commit", "-q", "-m", "错误文件")
    run_git(work, "push", "-q", "origin", "main")
    result = CliRunner().invoke(cli, ["--instance", str(instance), "doctor"])
    assert result.exit_code == 1
    assert "regulations/A/A1/A103Z.md:2: 代码 A104Z 与文件位置不符（应为 A103Z）" in result.output


def test_a_rebuild_keeps_to_the_head_it_read_while_a_save_lands(
    instance: Path, open_database: OpenDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild reads the head, then the files and the history. A save landing in between must
    not reach the cache under the older head: the next sync would insert its revision again
    (a unique violation on PostgreSQL, every sync after it failing the same way)."""
    repo = ContentRepository(instance / "content.git")
    db = open_database(instance)
    list_files = repo.list_files

    def list_files_while_a_save_lands(revision: str, **options: str) -> dict[str, str]:
        files = list_files(revision, **options)
        other = ContentRepository(instance / "content.git")
        version = other.read("regulations/A/A1/A101Z.md")
        other.write(version.path, version.text + "\n其间保存的补充。\n", author=EDITOR, message="其间的保存", base=version.commit)
        other.close()
        return files

    monkeypatch.setattr(repo, "list_files", list_files_while_a_save_lands)
    result = rebuild(db, repo, expected=cached_commit(db))
    monkeypatch.undo()
    landed = repo.require_head()
    assert result.mode == "rebuild" and result.new is not None and result.new != landed
    with db.session() as session:
        assert landed not in set(session.scalars(select(RevisionRow.commit)))
        assert session.scalar(select(CacheState.position)) == repo.position(result.new)
    assert sync(db, repo).mode == "incremental"
    with db.session() as session:
        assert session.scalar(select(func.count()).where(RevisionRow.commit == landed)) == 1
    assert diagnose(db, repo).cache_ok


def test_revision_seq_is_the_commits_place_on_the_branch(instance: Path, open_database: OpenDatabase) -> None:
    """Incremental syncs number revisions as a full rebuild would, even across commits that
    touch no document (catalogue, frameworks), so "written after" can be judged by seq."""
    repo = ContentRepository(instance / "content.git")
    db = open_database(instance)
    library = Library(repo=repo, db=db)
    framework = repo.read("frameworks/moe-2015.yaml")
    repo.write("frameworks/moe-2015.yaml", framework.text + "\n", author=EDITOR, message="不涉及文档的提交", base=framework.commit)
    loaded = library.load(document_code("A101Z"))
    library.save(loaded.document.with_changes(body="新正文\n"), actor=AS_EDITOR, message="修订", base=loaded.version.commit)
    with db.session() as session:
        incremental = session.scalar(select(RevisionRow.seq).where(RevisionRow.code == "A101Z").order_by(RevisionRow.seq.desc()).limit(1))
    assert incremental == repo.position(repo.require_head())
    with db.transaction() as session:  # a cache from before migration 0005 does not know its position
        session.execute(update(CacheState).values(position=None))
    loaded = library.load(document_code("A101Z"))
    library.save(loaded.document.with_changes(body="再次修订的正文\n"), actor=AS_EDITOR, message="再修订", base=loaded.version.commit)
    with db.session() as session:
        incremental = session.scalar(select(RevisionRow.seq).where(RevisionRow.code == "A101Z").order_by(RevisionRow.seq.desc()).limit(1))
        assert session.scalar(select(CacheState.position)) == incremental
    assert incremental == repo.position(repo.require_head())
    result = CliRunner().invoke(cli, ["--instance", str(instance), "doctor", "--rebuild"])
    assert result.exit_code == 0, result.output
    with db.session() as session:
        rebuilt = session.scalar(select(RevisionRow.seq).where(RevisionRow.code == "A101Z").order_by(RevisionRow.seq.desc()).limit(1))
    assert rebuilt == incremental

"""`zhengai-docs doctor`: every kind of drift is found and said in Chinese; `--repair` fixes what
needs no person and lists the rest.

Each test makes one drift the way it happens in operation — a commit that reached git while the
caches did not follow (a crash, a `git push`), a save whose database write a crash stopped, a
ref left by a crash while opening a draft, a catalogue renamed outside the admin pages — then
runs the real command on the instance folder.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import OpenDatabase, csrf_token, login, make_app
from tests.databases import instance_database_url
from tests.test_storage_faults import read_only
from zhengai_docs.cli import cli
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DraftRow, User, UserDepartment
from zhengai_docs.search.backend import SearchRequest
from zhengai_docs.search.whoosh_backend import WhooshBackend
from zhengai_docs.storage.drafts import DraftStore, draft_ref
from zhengai_docs.storage.repository import Author, ContentRepository

OUTSIDER = Author(name="外部提交者", email="outside@example.edu.cn")
A101Z = "regulations/A/A1/A101Z.md"


def doctor(instance: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--instance", str(instance), "doctor", *args])


def _commit_behind_the_caches(instance: Path, addition: str = "外部追加的条款") -> tuple[str, str]:
    """A commit on the branch that neither the SQL cache nor the index followed: (old, new) head."""
    repo = ContentRepository(instance / "content.git")
    loaded = repo.read(A101Z)
    result = repo.write(A101Z, f"{loaded.text}\n{addition}\n", author=OUTSIDER, message="外部提交", base=loaded.commit)
    return loaded.commit, result.commit


def _index_commit(instance: Path) -> str | None:
    backend = WhooshBackend(instance / "search-index")
    try:
        return backend.state().commit
    finally:
        backend.close()


def test_a_healthy_instance_has_nothing_to_report(indexed_instance: Path) -> None:
    result = doctor(indexed_instance)
    assert result.exit_code == 0, result.output
    for line in ("git 仓库完整性检查：通过", "缓存与仓库一致", "搜索索引与仓库一致", "草稿与仓库中的草稿引用一致"):
        assert line in result.output
    assert "用户：" not in result.output and "可自动修复" not in result.output


def test_cache_and_index_behind_the_head_are_caught_up(indexed_instance: Path) -> None:
    old, new = _commit_behind_the_caches(indexed_instance)
    result = doctor(indexed_instance)
    assert result.exit_code == 0, result.output
    assert f"  缓存：缓存停留在 {old[:12]}，仓库已到 {new[:12]}" in result.output
    assert f"  搜索索引：搜索索引停留在 {old[:12]}，仓库已到 {new[:12]}（落后 1 个提交）（可自动修复）" in result.output
    assert "搜索索引已追上仓库：更新 1 份文档" in result.output and "搜索索引与仓库一致" in result.output
    assert _index_commit(indexed_instance) == new
    backend = WhooshBackend(indexed_instance / "search-index")
    assert [hit.code for hit in backend.search(SearchRequest(text="外部追加的条款")).hits] == ["A101Z"]
    backend.close()


def test_a_missing_index_is_built(instance: Path) -> None:
    result = doctor(instance)  # the demo template was never indexed
    assert result.exit_code == 0, result.output
    assert "  搜索索引：搜索索引尚未建立，或来自旧版本（可自动修复）" in result.output
    assert re.search(r"搜索索引已重建：\d+ 份文档", result.output)
    assert _index_commit(instance) == ContentRepository(instance / "content.git").head()


def test_an_index_built_with_another_dictionary_is_rebuilt(indexed_instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("zhengai_docs.search.whoosh_backend.analysis_fingerprint", lambda: "edited-userdict")
    result = doctor(indexed_instance)
    assert result.exit_code == 0, result.output
    assert "  搜索索引：搜索索引是用旧的词典或分词规则建立的（可自动修复）" in result.output and "搜索索引已重建" in result.output
    again = doctor(indexed_instance)
    assert again.exit_code == 0 and "搜索索引：" not in again.output


def test_a_read_only_index_is_left_to_a_person(indexed_instance: Path) -> None:
    _commit_behind_the_caches(indexed_instance)
    with read_only(indexed_instance / "search-index"):
        result = doctor(indexed_instance, "--repair")
    assert result.exit_code == 1, result.output
    assert "  搜索索引：搜索索引无法写入（文件系统只读）：搜索会停在旧版本，请检查索引目录所在的磁盘（需人工处理）" in result.output
    assert "缓存已重建" in result.output  # the other checks and repairs still ran
    assert doctor(indexed_instance).exit_code == 0  # once the disk is back, doctor catches up


# -- people -----------------------------------------------------------------------------------


def test_users_scoped_to_departments_the_catalogue_lacks_are_named(indexed_instance: Path, open_database: OpenDatabase) -> None:
    created = CliRunner().invoke(
        cli,
        ["--instance", str(indexed_instance), "create-user", "wang", "--role", "editor", "--department", "教务科", "--name", "王老师"],
        input="long-enough-1\nlong-enough-1\n",
    )
    assert created.exit_code == 0, created.output
    repo = ContentRepository(indexed_instance / "content.git")
    catalogue = repo.read("catalogue.yaml")  # 教务处 renamed by a push, not by the admin page
    repo.write("catalogue.yaml", catalogue.text.replace("教务处", "教学工作处"), author=OUTSIDER, message="部门更名", base=catalogue.commit)
    result = doctor(indexed_instance, "--repair")
    assert result.exit_code == 1, result.output
    assert "  用户：用户 wang（王老师）所属部门“教务科”不在目录的部门列表中" in result.output
    assert "用户 jiaowu（" in result.output and "所属部门“教务处”不在目录的部门列表中" in result.output
    assert result.output.count("请在“管理 → 用户”中改为现有部门（需人工处理）") == 2
    with open_database(indexed_instance).session() as session:  # a person decides: nothing was changed
        wang = session.query(User).filter_by(username="wang").one()
        assert [d.department for d in session.query(UserDepartment).filter_by(user_id=wang.id)] == ["教务科"]


# -- drafts -----------------------------------------------------------------------------------


def _open_draft(instance: Path) -> int:
    app = make_app(instance, REVIEW_REQUIRED=True)
    try:
        client = app.test_client()
        login(client, "jiaowu")
        token = csrf_token(client, "/documents/A101Z/revise")
        response = client.post("/documents/A101Z/revise", data={"kind": "revise", "reason": "落实新版专业目录", "csrf_token": token})
        assert response.status_code == 302
    finally:
        app.extensions["zhengai"].close()
    found = re.search(r"/drafts/(\d+)", response.headers["Location"])
    assert found is not None
    return int(found[1])


def _row_tip(instance: Path, draft_id: int) -> str:
    db = Database(instance_database_url(instance))
    try:
        with db.session() as session:
            row = session.get(DraftRow, draft_id)
            assert row is not None
            return row.tip
    finally:
        db.dispose()


def test_a_save_a_crash_left_unrecorded_is_adopted_by_repair(indexed_instance: Path) -> None:
    draft_id = _open_draft(indexed_instance)
    store = DraftStore(ContentRepository(indexed_instance / "content.git"))
    ref = draft_ref("A101Z", draft_id)
    recorded = _row_tip(indexed_instance, draft_id)
    text = store.read(ref).text
    assert text is not None
    saved = store.prepare(ref, text + "\n第九条 补充的条款。\n", author=OUTSIDER, message="保存草稿", expected=recorded)
    assert store.move(ref, new=saved.commit, expected=recorded)  # git moved; then the worker was killed

    found = doctor(indexed_instance)
    assert found.exit_code == 1, found.output
    assert f"草稿 A101Z #{draft_id}：" in found.output and "（可自动修复）" in found.output
    assert "请运行 zhengai-docs doctor --repair" in found.output
    assert _row_tip(indexed_instance, draft_id) == recorded  # reporting changes nothing

    repaired = doctor(indexed_instance, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert f"草稿 A101Z #{draft_id}：" in repaired.output and "（已修复）" in repaired.output
    assert _row_tip(indexed_instance, draft_id) == saved.commit
    clean = doctor(indexed_instance)
    assert clean.exit_code == 0 and "草稿与仓库中的草稿引用一致" in clean.output


def test_an_orphan_draft_ref_is_moved_aside_by_repair(indexed_instance: Path) -> None:
    """A ref without a row, as a crash while opening a draft leaves it (an hour ago)."""
    git_dir = indexed_instance / "content.git"
    env = {**os.environ, "GIT_DIR": str(git_dir), "GIT_COMMITTER_DATE": "2026-01-05T08:00:00+08:00"}
    made = ["git", "commit-tree", "main^{tree}", "-p", "main", "-m", "修订草稿：崩溃前创建"]
    commit = subprocess.run(made, env=env, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "update-ref", "refs/drafts/A102Z/77", commit], env=env, check=True)

    found = doctor(indexed_instance)
    assert found.exit_code == 1, found.output
    assert "草稿 A102Z #77：引用 refs/drafts/A102Z/77 没有对应的草稿记录" in found.output and "（可自动修复）" in found.output

    repaired = doctor(indexed_instance, "--repair")
    assert repaired.exit_code == 0, repaired.output
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)"], env=env, capture_output=True, text=True).stdout
    assert f"refs/drafts-orphaned/A102Z/77-{commit} {commit}" in refs  # kept, never deleted
    assert "refs/drafts/A102Z/77 " not in refs
    assert doctor(indexed_instance).exit_code == 0


def test_rebuild_still_rebuilds_and_repairs(indexed_instance: Path) -> None:
    result = doctor(indexed_instance, "--rebuild")
    assert result.exit_code == 0, result.output
    assert "缓存已重建" in result.output and "缓存与仓库一致" in result.output

"""The content repository: compare-and-swap writes, history, diff and restore on real git."""

from __future__ import annotations

import multiprocessing
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import git_children
from zhengai_docs.errors import Conflict, NotFound, StorageError
from zhengai_docs.storage.repository import Author, ContentRepository

A101Z = "regulations/A/A1/A101Z.md"
A102Z = "regulations/A/A1/A102Z.md"
ALICE = Author("教务处 王老师", "wang@example.edu.cn")
BOB = Author("组织人事处 李老师", "li@example.edu.cn")


def git(repo: ContentRepository, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo.path), *args], check=True, capture_output=True, text=True).stdout


def test_write_read_at_head_and_at_revision(repo: ContentRepository) -> None:
    first = repo.write(A101Z, "第一版\n", author=ALICE, message="新建", base=None)
    second = repo.write(A101Z, "第二版\n", author=BOB, message="修订", base=first.commit)
    assert repo.read(A101Z).text == "第二版\n"
    assert repo.read(A101Z).commit == second.commit == repo.head()
    assert repo.read(A101Z, revision=first.commit).text == "第一版\n"
    assert repo.read(A101Z, revision=first.commit[:8]).text == "第一版\n"
    with pytest.raises(NotFound):
        repo.read(A102Z)
    with pytest.raises(NotFound):
        repo.read(A101Z, revision="deadbeef")


def test_a_full_id_that_is_not_a_commit_reads_nothing(repo: ContentRepository) -> None:
    """A whole id skips `rev-parse` (one git process per read); it must still name a commit."""
    first = repo.write(A101Z, "第一版\n", author=ALICE, message="新建", base=None)
    tree = git(repo, "rev-parse", f"{first.commit}^{{tree}}").strip()
    blob = repo.read(A101Z).blob
    for not_a_commit in (tree, blob, "0" * 40, "f" * 40):
        with pytest.raises(NotFound):
            repo.read(A101Z, revision=not_a_commit)
    assert repo.read(A101Z, revision=first.commit).commit == first.commit


def test_stale_base_is_a_conflict_and_nothing_is_overwritten(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "原文\n", author=ALICE, message="新建", base=None).commit
    repo.write(A101Z, "王老师的修改\n", author=ALICE, message="王", base=base)
    with pytest.raises(Conflict) as caught:
        repo.write(A101Z, "李老师的修改\n", author=BOB, message="李", base=base)
    assert caught.value.path == A101Z
    assert repo.read(A101Z).text == "王老师的修改\n"


def test_creating_an_existing_document_is_a_conflict(repo: ContentRepository) -> None:
    repo.write(A101Z, "甲\n", author=ALICE, message="新建", base=None)
    with pytest.raises(Conflict):
        repo.write(A101Z, "乙\n", author=BOB, message="也新建", base=None)


def test_unrelated_changes_do_not_conflict(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "甲\n", author=ALICE, message="新建", base=None).commit
    repo.write(A102Z, "另一份\n", author=BOB, message="另一份", base=None)
    result = repo.write(A101Z, "甲（修订）\n", author=ALICE, message="修订", base=base)
    assert result.changed
    assert repo.read(A102Z).text == "另一份\n"
    assert repo.read(A101Z).text == "甲（修订）\n"


def test_identical_resubmission_is_not_a_new_commit(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "甲\n", author=ALICE, message="新建", base=None).commit
    first = repo.write(A101Z, "乙\n", author=ALICE, message="修订", base=base)
    again = repo.write(A101Z, "乙\n", author=ALICE, message="修订", base=base)  # double-clicked save
    assert again == type(again)(commit=first.commit, changed=False)


def test_history_author_and_message(repo: ContentRepository) -> None:
    c1 = repo.write(A101Z, "一\n", author=ALICE, message="新建制度", base=None).commit
    repo.write(A102Z, "其他\n", author=BOB, message="无关", base=None)
    c3 = repo.write(A101Z, "二\n", author=BOB, message="第二次修订\n\n依据院长办公会意见", base=c1).commit
    history = repo.history(A101Z)
    assert [r.commit for r in history] == [c3, c1]
    assert history[0].author_name == BOB.name and history[0].author_email == BOB.email
    assert history[0].summary == "第二次修订"
    assert history[0].message == "第二次修订\n\n依据院长办公会意见"
    assert repo.history(A101Z, limit=1)[0].commit == c3


def test_diff_marks_changed_chinese_characters(repo: ContentRepository) -> None:
    old = repo.write(A101Z, "第一条 为规范专业设置，制定本办法。\n第二条 适用于全院。\n", author=ALICE, message="新建", base=None).commit
    new = repo.write(
        A101Z, "第一条 为进一步规范专业设置与调整，制定本办法。\n第二条 适用于全院。\n", author=ALICE, message="修订", base=old
    ).commit
    diff = repo.diff(A101Z, old, new)
    changed = [line for line in diff.lines if line.kind != "equal"]
    assert len(changed) == 1
    assert [s.text for s in changed[0].new if s.changed] == ["进一步", "与调整"]
    assert "为{+进一步+}规范专业设置{+与调整+}" in diff.to_text()
    assert diff.stats == (6, 0)


def test_restore_is_a_new_commit(repo: ContentRepository) -> None:
    first = repo.write(A101Z, "原版\n", author=ALICE, message="新建", base=None).commit
    second = repo.write(A101Z, "错误的修改\n", author=BOB, message="误改", base=first).commit
    restored = repo.restore(A101Z, first, author=ALICE, message="恢复到原版", base=second)
    assert repo.read(A101Z).text == "原版\n"
    assert [r.commit for r in repo.history(A101Z)] == [restored.commit, second, first]


def test_restore_with_stale_base_conflicts(repo: ContentRepository) -> None:
    first = repo.write(A101Z, "原版\n", author=ALICE, message="新建", base=None).commit
    repo.write(A101Z, "新版\n", author=BOB, message="修订", base=first)
    with pytest.raises(Conflict):
        repo.restore(A101Z, first, author=ALICE, message="恢复", base=first)


def test_multi_file_commit_and_delete(repo: ContentRepository) -> None:
    base = repo.commit({A101Z: "甲\n", A102Z: "乙\n"}, author=ALICE, message="批量", base=None).commit
    repo.commit({A102Z: None}, author=ALICE, message="删除", base=base)
    assert set(repo.list_files(repo.require_head())) == {A101Z}
    changes = repo.changes_between(base, repo.require_head())
    assert [(c.path, c.status, c.blob) for c in changes] == [(A102Z, "D", None)]


def test_bad_author_and_empty_message_rejected(repo: ContentRepository) -> None:
    with pytest.raises(StorageError):
        Author("evil\nname", "x@y")
    with pytest.raises(StorageError, match="修订说明"):
        repo.write(A101Z, "x", author=ALICE, message="  \n", base=None)


def test_threads_same_document_exactly_one_wins(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "原文\n", author=ALICE, message="新建", base=None).commit
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def save(n: int) -> None:
        barrier.wait()
        try:
            repo.write(A101Z, f"版本 {n}\n", author=ALICE, message=f"线程 {n}", base=base)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert len(repo.history(A101Z)) == 2
    repo.fsck()


def test_threads_different_documents_all_land(repo: ContentRepository) -> None:
    repo.write(A101Z, "起点\n", author=ALICE, message="新建", base=None)
    paths = [f"regulations/B/B{n % 6 + 1}/B{n % 6 + 1}{n:02d}Z.md" for n in range(12)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(paths))

    def save(path: str) -> None:
        barrier.wait()
        try:
            repo.write(path, f"{path}\n", author=BOB, message=f"新建 {path}", base=None)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    files = repo.list_files(repo.require_head())
    assert all(repo.read(p).text == f"{p}\n" for p in paths)
    assert len(files) == 13
    assert len(list(repo.log())) == 13  # no commit lost
    repo.fsck()


def _process_writer(args: tuple[str, str, str | None, str]) -> str:
    repo_path, path, base, text = args
    repo = ContentRepository(repo_path)
    try:
        repo.write(path, text, author=BOB, message=text.strip(), base=base)
        return "ok"
    except Conflict:
        return "conflict"


def test_processes_same_document_exactly_one_wins(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "原文\n", author=ALICE, message="新建", base=None).commit
    jobs = [(str(repo.path), A101Z, base, f"进程 {n}\n") for n in range(6)]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        outcomes = pool.map(_process_writer, jobs)
    assert sorted(outcomes) == ["conflict"] * 5 + ["ok"]
    repo.fsck()


def test_processes_different_documents_all_land(repo: ContentRepository) -> None:
    repo.write(A101Z, "起点\n", author=ALICE, message="新建", base=None)
    paths = [f"regulations/C/C{n % 5 + 1}/C{n % 5 + 1}{n:02d}L.md" for n in range(16)]
    jobs = [(str(repo.path), p, None, f"{p}\n") for p in paths]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        outcomes = pool.map(_process_writer, jobs)
    assert outcomes == ["ok"] * 16
    assert len(list(repo.log())) == 17
    assert all(repo.read(p).text == f"{p}\n" for p in paths)
    repo.fsck()  # dangling commits from lost races are harmless; damage would raise


def test_no_git_processes_left_behind(repo: ContentRepository) -> None:
    """Only the kept `cat-file` and `update-ref` stay, and `close` ends them."""
    first = repo.write(A101Z, "0\n", author=ALICE, message="0", base=None).commit
    for n in range(1, 20):
        repo.write(A101Z, f"{n}\n", author=ALICE, message=str(n), base=repo.head())
        repo.read(A101Z, revision=first)
    assert len(git_children(repo)) == 2
    repo.close()
    assert git_children(repo) == []


def test_external_packed_refs_are_read(repo: ContentRepository, tmp_path: Path) -> None:
    commit = repo.write(A101Z, "甲\n", author=ALICE, message="新建", base=None).commit
    git(repo, "pack-refs", "--all")
    assert not (repo.path / "refs/heads/main").exists()
    assert repo.head() == commit

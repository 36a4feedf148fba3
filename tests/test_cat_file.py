"""The kept `git cat-file` process: one per repository and process, replaced whenever it cannot
be trusted (killed, stuck, inherited through a fork), never stale after writes or `gc`."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time

import pytest

from tests.conftest import git_children
from zhengai_docs.errors import StorageError
from zhengai_docs.storage.cat_file import KeptCatFile
from zhengai_docs.storage.repository import Author, ContentRepository

A101Z = "regulations/A/A1/A101Z.md"
A102Z = "regulations/A/A1/A102Z.md"
ALICE = Author("教务处 王老师", "wang@example.edu.cn")


def _kept(repo: ContentRepository) -> KeptCatFile:
    return repo._kept_cat_file


def _kept_pid(repo: ContentRepository) -> int:
    process = _kept(repo)._process
    assert process is not None
    return process.pid


def _git_children(repo: ContentRepository) -> list[int]:
    """This process's git children on `repo` but the kept `update-ref` of its writes."""
    writer = repo._kept_ref_update._process
    return [pid for pid in git_children(repo) if writer is None or pid != writer.pid]


def _text(repo: ContentRepository, commit: str, path: str) -> str:
    [found] = repo._cat_objects([f"{commit}:{path}"])
    assert found.kind == "blob" and found.data is not None
    return found.data.decode()


def test_reads_go_through_one_process_that_sees_later_writes(repo: ContentRepository) -> None:
    first = repo.write(A101Z, "第一版\n", author=ALICE, message="新建", base=None).commit
    assert _text(repo, first, A101Z) == "第一版\n"
    pid = _kept_pid(repo)
    second = repo.write(A101Z, "第二版\n", author=ALICE, message="修订", base=first).commit
    third = repo.write(A102Z, "另一份\n", author=ALICE, message="新建", base=second).commit
    assert _text(repo, second, A101Z) == "第二版\n"
    assert _text(repo, third, A102Z) == "另一份\n"
    [missing] = repo._cat_objects([f"{first}:{A102Z}"])
    assert missing.kind == "missing"
    [spaced] = repo._cat_objects([f"{first}:regulations/A/A1/没有 这个 文件.md"])  # a name with spaces, answered "missing"
    assert spaced.kind == "missing"
    assert _kept_pid(repo) == pid and _git_children(repo) == [pid]


def test_after_gc_rewrote_the_packs_a_new_process_reads_and_the_old_one_ends(repo: ContentRepository) -> None:
    """The old process would still read the deleted packs (mapped), but hold their disk space while it lives."""
    first = repo.write(A101Z, "第一版\n", author=ALICE, message="新建", base=None).commit
    subprocess.run(["git", "--git-dir", str(repo.path), "repack", "-a", "-d", "--quiet"], check=True)
    assert _text(repo, first, A101Z) == "第一版\n"
    old = _kept_pid(repo)
    second = repo.write(A101Z, "第二版\n", author=ALICE, message="修订", base=first).commit
    assert _text(repo, second, A101Z) == "第二版\n"  # written loose after it started: found
    assert _kept_pid(repo) == old
    time.sleep(0.01)  # the pack folder's new modification time differs on any file system clock
    subprocess.run(["git", "--git-dir", str(repo.path), "gc", "--prune=now", "--quiet"], check=True)
    assert _text(repo, first, A101Z) == "第一版\n"
    assert _text(repo, second, A101Z) == "第二版\n"
    assert _kept_pid(repo) != old
    assert _git_children(repo) == [_kept_pid(repo)]


def test_a_killed_process_is_replaced_and_the_read_answered(repo: ContentRepository) -> None:
    commit = repo.write(A101Z, "正文\n", author=ALICE, message="新建", base=None).commit
    assert _text(repo, commit, A101Z) == "正文\n"
    old = _kept_pid(repo)
    os.kill(old, signal.SIGKILL)
    time.sleep(0.1)
    assert _text(repo, commit, A101Z) == "正文\n"
    assert _kept_pid(repo) != old
    assert _git_children(repo) == [_kept_pid(repo)]  # the killed one was waited for


def test_a_stuck_process_is_killed_after_the_time_limit(repo: ContentRepository) -> None:
    commit = repo.write(A101Z, "正文\n", author=ALICE, message="新建", base=None).commit
    _kept(repo).timeout = 0.5
    assert _text(repo, commit, A101Z) == "正文\n"
    stuck = _kept_pid(repo)
    os.kill(stuck, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match="超时"):
            repo._cat_objects([f"{commit}:{A101Z}"])
        assert time.monotonic() - started < 3
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed and waited for, as it should be
            os.kill(stuck, signal.SIGCONT)
    assert stuck not in _git_children(repo)
    assert _text(repo, commit, A101Z) == "正文\n"  # a new process answers


def test_threads_share_the_process_one_at_a_time(repo: ContentRepository) -> None:
    commits = []
    base = None
    for n in range(8):
        base = repo.write(A101Z, f"第{n}版\n", author=ALICE, message=str(n), base=base).commit
        commits.append(base)
    wrong: list[str] = []

    def reader(offset: int) -> None:
        for k in range(200):
            n = (offset + k) % len(commits)
            if _text(repo, commits[n], A101Z) != f"第{n}版\n":
                wrong.append(f"{n}")

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert len(_git_children(repo)) == 1


def test_after_a_fork_the_child_starts_its_own_and_the_parents_keeps_working(repo: ContentRepository) -> None:
    """A gunicorn worker is a fork: it must never read from its parent's pipe (their answers would interleave)."""
    commit = repo.write(A101Z, "正文\n", author=ALICE, message="新建", base=None).commit
    assert _text(repo, commit, A101Z) == "正文\n"
    parent_pid = _kept_pid(repo)
    read_end, write_end = os.pipe()
    _kept(repo).lock.acquire()  # as if another thread of the parent were reading at the fork
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            ok = _text(repo, commit, A101Z) == "正文\n" and _kept_pid(repo) != parent_pid
            repo.close()
            os.write(write_end, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    _kept(repo).lock.release()
    os.close(write_end)
    if not select.select([read_end], [], [], 30)[0]:  # the child hangs on the lock it inherited
        os.kill(child, signal.SIGKILL)
    answer = os.read(read_end, 2)  # empty when the child was killed
    os.close(read_end)
    os.waitpid(child, 0)
    assert answer == b"ok"
    assert _text(repo, commit, A101Z) == "正文\n"
    assert _kept_pid(repo) == parent_pid
    repo.close()
    assert _git_children(repo) == []  # closing ends git even though the child had a copy of the pipes


def test_many_objects_are_streamed_by_a_process_of_their_own(repo: ContentRepository) -> None:
    base = None
    blobs = []
    for n in range(20):
        written = repo.write(f"regulations/A/A1/A1{n:02d}Z.md", f"文档{n}\n", author=ALICE, message=str(n), base=base)
        base = written.commit
        blobs.append(repo.read(f"regulations/A/A1/A1{n:02d}Z.md").blob)
    reader = ContentRepository(repo.path)  # a process that has read nothing yet
    try:
        texts = dict(reader.read_blobs(blobs))
        assert [texts[b] for b in blobs] == [f"文档{n}\n" for n in range(20)]
        assert _kept(reader)._process is None  # twenty names: not through the kept process
    finally:
        reader.close()

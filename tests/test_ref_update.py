"""The kept `git update-ref --stdin`: a save's compare-and-swap of the branch is one transaction
of a process kept per repository and process; a lost race, a killed or stuck git, or a process
killed in the middle of a transaction never loses a write or leaves the branch locked."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import git_children
from zhengai_docs.errors import Conflict, StorageError
from zhengai_docs.storage.ref_update import KeptRefUpdate
from zhengai_docs.storage.repository import Author, ContentRepository

A101Z = "regulations/A/A1/A101Z.md"
A102Z = "regulations/A/A1/A102Z.md"
ALICE = Author("教务处 王老师", "wang@example.edu.cn")
BOB = Author("科研处 李老师", "li@example.edu.cn")


def _kept(repo: ContentRepository) -> KeptRefUpdate:
    return repo._kept_ref_update


def _pid(repo: ContentRepository) -> int:
    process = _kept(repo)._process
    assert process is not None
    return process.pid


def _branch(repo: ContentRepository) -> str:
    return subprocess.run(
        ["git", "rev-parse", repo.ref], env={**os.environ, "GIT_DIR": str(repo.path)}, capture_output=True, text=True, check=True
    ).stdout.strip()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_saves_move_the_branch_through_one_process(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "0\n", author=ALICE, message="0", base=None).commit
    pid = _pid(repo)
    for n in range(1, 6):
        base = repo.write(A101Z, f"{n}\n", author=ALICE, message=str(n), base=base).commit
        assert _branch(repo) == base
    assert _pid(repo) == pid
    assert repo.read(A101Z).text == "5\n"


def test_a_lost_race_is_told_by_git_and_the_process_replaced(repo: ContentRepository) -> None:
    first = repo.write(A101Z, "甲\n", author=ALICE, message="甲", base=None).commit
    second = repo.write(A101Z, "乙\n", author=ALICE, message="乙", base=first).commit
    pid = _pid(repo)
    said = _kept(repo).update(repo.ref, new=first, old=first)  # the branch is not at `first` any more
    assert said is not None and "expected" in said
    assert _branch(repo) == second  # unchanged
    assert _kept(repo)._process is None and pid not in git_children(repo)
    third = repo.write(A101Z, "丙\n", author=ALICE, message="丙", base=second).commit  # a new process
    assert _branch(repo) == third


def test_writers_from_one_base_each_land_or_conflict(repo: ContentRepository) -> None:
    """Two documents saved from one base both land (the second retries on the new head); the same
    document saved twice from one base is a conflict for the second."""
    base = repo.write(A101Z, "起点\n", author=ALICE, message="新建", base=None).commit
    repo.write(A102Z, "另一份\n", author=BOB, message="新建", base=base)
    repo.write(A101Z, "改一\n", author=ALICE, message="改", base=base)
    with pytest.raises(Conflict):
        repo.write(A101Z, "改二\n", author=BOB, message="改", base=base)
    assert repo.read(A101Z).text == "改一\n" and repo.read(A102Z).text == "另一份\n"


def test_a_killed_process_is_replaced_before_the_next_save(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "0\n", author=ALICE, message="0", base=None).commit
    killed = _pid(repo)
    os.kill(killed, signal.SIGKILL)
    time.sleep(0.1)
    base = repo.write(A101Z, "1\n", author=ALICE, message="1", base=base).commit
    assert _branch(repo) == base and _pid(repo) != killed


def test_a_stuck_process_is_killed_after_the_time_limit(repo: ContentRepository) -> None:
    base = repo.write(A101Z, "0\n", author=ALICE, message="0", base=None).commit
    _kept(repo).timeout = 0.5
    stuck = _pid(repo)
    os.kill(stuck, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match="超时"):
            repo.write(A101Z, "1\n", author=ALICE, message="1", base=base)
        assert time.monotonic() - started < 3
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed and waited for, as it should be
            os.kill(stuck, signal.SIGCONT)
    assert stuck not in git_children(repo)
    assert _branch(repo) == base  # git never took the lock: nothing moved
    assert repo.write(A101Z, "1\n", author=ALICE, message="1", base=base).changed


_HOLDER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    ref, new, old = sys.argv[1:4]
    git = subprocess.Popen(["git", "update-ref", "--stdin", "-z"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    git.stdin.write(f"start\\0update {ref}\\0{new}\\0{old}\\0prepare\\0".encode())
    git.stdin.flush()
    git.stdout.readline(); git.stdout.readline()  # start: ok, prepare: ok (the ref is locked)
    print(git.pid, flush=True)
    time.sleep(60)
    """
)


def test_a_server_killed_in_the_middle_of_a_transaction_leaves_no_lock(repo: ContentRepository) -> None:
    """SIGKILL of the process that holds a prepared transaction (the ref locked, not moved): git
    sees its input end, aborts, and removes the lock; the branch is where it was and the next
    save goes through."""
    first = repo.write(A101Z, "甲\n", author=ALICE, message="甲", base=None).commit
    second = repo.write(A101Z, "乙\n", author=ALICE, message="乙", base=first).commit
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, repo.ref, first, second],
        env={**os.environ, "GIT_DIR": str(repo.path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    git_pid = int(holder.stdout.readline())
    assert (repo.path / (repo.ref + ".lock")).exists()  # prepared: the ref is locked
    holder.kill()
    holder.wait()
    holder.stdout.close()
    lock = repo.path / (repo.ref + ".lock")
    deadline = time.monotonic() + 10
    while (lock.exists() or _alive(git_pid)) and time.monotonic() < deadline:
        time.sleep(0.02)  # git sees its input end, removes the lock, then exits
    assert not lock.exists() and not _alive(git_pid)
    assert _branch(repo) == second
    third = repo.write(A101Z, "丙\n", author=ALICE, message="丙", base=second).commit
    assert _branch(repo) == third


def test_a_git_that_ended_before_the_request_is_heard_out(repo: ContentRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    """A git that failed as it started (a read-only disk) has ended before the save writes to it:
    what it said is the answer, so the save reports the disk, not a git that would not start
    (a CI run caught that race as a 500 page)."""
    kept = KeptRefUpdate(repo._environment, timeout=5)
    kept._command = ["sh", "-c", "echo 'fatal: cannot lock ref: Read-only file system' >&2; exit 128"]
    started = KeptRefUpdate.running

    def ended(self: KeptRefUpdate) -> subprocess.Popen[bytes]:
        process = started(self)
        process.wait()  # every time, before anything is asked of it
        return process

    monkeypatch.setattr(KeptRefUpdate, "running", ended)
    said = kept.update(repo.ref, new="1" * 40, old="0" * 40)
    assert said is not None and "Read-only file system" in said
    kept.close()

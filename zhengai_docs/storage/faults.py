"""Storage faults told apart from conflicts: a file system that refuses a write.

Git says why in its stderr ("Read-only file system", "No space left on device", "Permission
denied"); gitdb raises OSError. Both become `StorageUnavailable`, naming the store and the cause
in Chinese, so a save refused by the disk says so instead of retrying as if it had lost a race
("仓库写入冲突过多") or failing with a bare 500. When git names no cause ("couldn't write
'…/main.lock'", "unable to create directory for …"), a probe of the directory finds it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from zhengai_docs.errors import StorageUnavailable

REPOSITORY = "内容仓库"
SEARCH_INDEX = "搜索索引"

_CAUSES = {
    errno.ENOSPC: "磁盘已满",
    errno.EDQUOT: "磁盘配额已用完",
    errno.EROFS: "文件系统只读",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EIO: "磁盘读写错误",
}
_GIT_REASONS = (
    ("No space left on device", errno.ENOSPC),
    ("Disk quota exceeded", errno.EDQUOT),
    ("Read-only file system", errno.EROFS),
    ("Permission denied", errno.EACCES),
    ("insufficient permission", errno.EACCES),
    ("Operation not permitted", errno.EPERM),
    ("Input/output error", errno.EIO),
)
# Git failed to write without saying why; "File exists" is another writer's lock (a race, not a fault).
_UNEXPLAINED = re.compile(r"(unable to|couldn't|could not|cannot) (create|write|open)", re.IGNORECASE)
_PROBE_BYTES = 4096  # about one loose object: an empty file still fits on a full disk


def cause_of(error: OSError) -> str:
    """The cause of a failed write as a user should read it."""
    number = error.errno
    if number is None and isinstance(error, PermissionError):  # gitdb raises it without an errno
        number = errno.EACCES
    if number in _CAUSES:
        return _CAUSES[number]
    return f"系统错误 {errno.errorcode.get(number, number) if number is not None else type(error).__name__}"


def unwritable(error: OSError, *, store: str) -> StorageUnavailable:
    return StorageUnavailable(store=store, cause=cause_of(error))


def from_git(stderr: str, *, store: str, directories: Iterable[Path]) -> StorageUnavailable | None:
    """The fault behind a failed git write, or None when it is not one (a lost race, a bad ref)."""
    for text, number in _GIT_REASONS:
        if text in stderr:
            return StorageUnavailable(store=store, cause=_CAUSES[number])
    if _UNEXPLAINED.search(stderr) and "File exists" not in stderr:
        for directory in directories:
            cause = probe(directory)
            if cause is not None:
                return StorageUnavailable(store=store, cause=cause)
    return None


def probe(directory: Path) -> str | None:
    """Why `directory` cannot take a small new file, or None when it can.

    Writes and removes a file whose name git ignores (`*.lock` is skipped in refs folders, and
    files at the top of `objects/` are not objects), so it may run beside live writers.
    """
    if not directory.is_dir():
        return None  # created on first use (e.g. refs/drafts): its parent is probed instead
    try:
        handle, name = tempfile.mkstemp(prefix="zhengai-probe-", suffix=".lock", dir=directory)
    except OSError as exc:
        return cause_of(exc)
    try:
        data = memoryview(b"\0" * _PROBE_BYTES)
        while data:
            data = data[os.write(handle, data) :]
    except OSError as exc:
        return cause_of(exc)
    finally:
        with contextlib.suppress(OSError):
            os.close(handle)
        with contextlib.suppress(OSError):
            os.unlink(name)
    return None

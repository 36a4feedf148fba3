"""Reading objects with `git cat-file --batch`: a process kept open for a few objects, a process
of its own for many.

A page view reads one or two objects (the document's text, whether it has a files folder).
Starting git for each cost ~4.8 ms of CPU on the project's 2-core machine (fork, exec, reading
the pack indexes), a sixth of a page view; a question to a `cat-file` already running costs
~0.3 ms. So each repository object keeps one such process per OS process (`kept`).

Git finds objects written after it started (it looks again when a lookup misses), and packs it
has open stay readable after `gc` deletes them (they are mapped), so a kept process never goes
stale; but a deleted pack's disk space is only freed when the last process holding it ends, so
the process is replaced whenever the pack folder changed since it started (one `stat` a read;
housekeeping repacks rarely). Reading many objects (a sync, a reindex) streams through a
process of its own instead, so a bulk read never holds the kept one.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from zhengai_docs.errors import StorageError
from zhengai_docs.storage.kept import KEEPS, KeptProcess

__all__ = ["KEEPS", "KEPT_FOR", "GitObject", "KeptCatFile", "next_object", "read_streamed"]

KEPT_FOR = 8  # at most this many names go to the kept process; more get a process of their own
_COMMAND = ["git", "-c", "core.quotepath=off", "cat-file", "--batch"]


@dataclass(frozen=True)
class GitObject:
    """One answer of `git cat-file --batch`; `data` is None when missing or not read."""

    kind: str  # blob, tree, commit, tag, or "missing"
    sha: str | None
    size: int
    data: bytes | None


class KeptCatFile(KeptProcess):
    """One `git cat-file --batch` for one repository in this process, started when first asked."""

    def __init__(self, environment: Callable[[], Mapping[str, str]], *, packs: Path, timeout: float) -> None:
        super().__init__(_COMMAND, environment, timeout=timeout)
        self._packs = packs  # the repository's objects/pack folder
        self._packs_seen: int | None = None  # its modification time when the process started

    def read(self, names: list[str], *, max_bytes: int) -> list[GitObject]:
        """The answers for `names`; one retry with a new process if the kept one has died."""
        with self.lock:
            for attempt in (1, 2):
                process = self._current()
                try:
                    return [self._ask(process, name, max_bytes=max_bytes) for name in names]
                except (OSError, ValueError) as exc:
                    self.stop(kill=True)  # stuck, dead or out of step: never asked again
                    if attempt == 2 or isinstance(exc, TimeoutError):
                        raise StorageError(f"git cat-file 失败：{exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _current(self) -> subprocess.Popen[bytes]:
        packs = _modified(self._packs)
        if self.started and packs != self._packs_seen:
            self.stop()  # packs were replaced: let go of the deleted ones
        if not self.started:
            self._packs_seen = packs
        return self.running()

    def _ask(self, process: subprocess.Popen[bytes], name: str, *, max_bytes: int) -> GitObject:
        stdin, stdout = process.stdin, process.stdout
        if stdin is None or stdout is None:  # cannot happen with PIPE; narrows the types
            raise OSError("no pipes")
        if "\n" in name:
            raise ValueError("an object name cannot hold a line break")
        stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        # every earlier answer was read to its end, so nothing is buffered: the pipe says when git answers
        self.wait_for_answer(process, within=self.timeout)
        return next_object(stdout, max_bytes=max_bytes)


def _modified(folder: Path) -> int | None:
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return None


def read_streamed(names: list[str], *, environment: Mapping[str, str], max_bytes: int, timeout: float) -> list[GitObject]:
    """Many objects through a process of their own, read as a stream: contents over `max_bytes`
    are skipped, never held. Names go in from a thread while answers are read, so neither pipe
    can fill up and stall the other; the whole read has the git time limit."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            _COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=dict(environment),
        )
        stdin, stdout = process.stdin, process.stdout
        if stdin is None or stdout is None:  # cannot happen with PIPE; narrows the types
            raise StorageError("git cat-file 无法启动")
        feeder = threading.Thread(target=_feed, args=(stdin, "".join(f"{n}\n" for n in names).encode()), daemon=True)
        timer = threading.Timer(timeout, process.kill)
        feeder.start()
        timer.start()
        try:
            return [next_object(stdout, max_bytes=max_bytes) for _ in names]
        except (OSError, ValueError) as exc:
            stderr.seek(0)
            detail = stderr.read().decode(errors="replace").strip()
            reason = "超时" if not timer.is_alive() else f"失败：{detail or exc}"
            raise StorageError(f"git cat-file {reason}") from exc
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
            process.wait()
            stdout.close()
            feeder.join()


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):  # git ended early (killed, or failed): the reader reports it
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def next_object(stdout: IO[bytes], *, max_bytes: int) -> GitObject:
    header = stdout.readline()
    if not header.endswith(b"\n"):
        raise ValueError("git cat-file ended early")
    if header.endswith((b" missing\n", b" ambiguous\n")):  # "<name> missing": a name may hold spaces
        return GitObject(kind="missing", sha=None, size=0, data=None)
    fields = header.split()
    if len(fields) != 3:
        raise ValueError(f"git cat-file answered {header[:80]!r}")
    sha, kind, size = fields[0].decode("ascii"), fields[1].decode("ascii"), int(fields[2])
    if size <= max_bytes:
        data: bytes | None = stdout.read(size)
        if data is None or len(data) != size:
            raise ValueError("git cat-file ended early")
    else:
        data = None
        remaining = size
        while remaining:
            chunk = stdout.read(min(remaining, 1 << 20))
            if not chunk:
                raise ValueError("git cat-file ended early")
            remaining -= len(chunk)
    stdout.read(1)  # the newline after the contents
    return GitObject(kind=kind, sha=sha, size=size, data=data)

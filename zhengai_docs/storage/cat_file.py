"""Reading objects with `git cat-file --batch`: a process kept open for a few objects, a process
of its own for many.

A page view reads one or two objects (the document's text, whether it has a files folder).
Starting git for each cost ~4.8 ms of CPU on the project's 2-core machine (fork, exec, reading
the pack indexes), a sixth of a page view; a question to a `cat-file` already running costs
~0.3 ms. So each repository object keeps one such process per OS process:

- it is used by one thread at a time (a lock), unlike GitPython's helpers;
- it is started on first use and again after a `fork` (a gunicorn worker never talks to its
  parent's process) or after any failure: a killed or stuck git is replaced, never reused;
- an answer that does not begin within the git time limit kills it (StorageError);
- `close()` ends it, and so does the garbage collector (closing its input ends git).

Git finds objects written after it started (it looks again when a lookup misses), and packs it
has open stay readable after `gc` deletes them (they are mapped), so a kept process never goes
stale; but a deleted pack's disk space is only freed when the last process holding it ends, so
the process is replaced whenever the pack folder changed since it started (one `stat` a read;
housekeeping repacks rarely). Reading many objects (a sync, a reindex) streams through a
process of its own instead, so a bulk read never holds the kept one.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from zhengai_docs.errors import StorageError

KEPT_FOR = 8  # at most this many names go to the kept process; more get a process of their own
KEEPS = os.name == "posix"  # the answer's time limit waits on the pipe with select(), which Windows lacks for pipes
_COMMAND = ["git", "-c", "core.quotepath=off", "cat-file", "--batch"]
_INHERITED: list[subprocess.Popen[bytes]] = []  # kept processes of the parent after a fork: not ours to end or wait for


@dataclass(frozen=True)
class GitObject:
    """One answer of `git cat-file --batch`; `data` is None when missing or not read."""

    kind: str  # blob, tree, commit, tag, or "missing"
    sha: str | None
    size: int
    data: bytes | None


class KeptCatFile:
    """One `git cat-file --batch` for one repository in this process, started when first asked."""

    def __init__(self, environment: Callable[[], Mapping[str, str]], *, packs: Path, timeout: float) -> None:
        self._environment = environment
        self._packs = packs  # the repository's objects/pack folder
        self._packs_seen: int | None = None  # its modification time when the process started
        self._timeout = timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._owner = 0  # the pid that started it
        self._finalizer: weakref.finalize | None = None
        _ALL.add(self)

    def read(self, names: list[str], *, max_bytes: int) -> list[GitObject]:
        """The answers for `names`; one retry with a new process if the kept one has died."""
        with self._lock:
            for attempt in (1, 2):
                process = self._running()
                try:
                    return [self._ask(process, name, max_bytes=max_bytes) for name in names]
                except (OSError, ValueError) as exc:
                    self._stop(kill=True)  # stuck, dead or out of step: never asked again
                    if attempt == 2 or isinstance(exc, TimeoutError):
                        raise StorageError(f"git cat-file 失败：{exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._owner != os.getpid():
            self._disown()
        packs = _modified(self._packs)
        if self._process is not None and packs != self._packs_seen:
            self._stop()  # packs were replaced: let go of the deleted ones
        if self._process is None:
            self._process = subprocess.Popen(
                _COMMAND,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=dict(self._environment()),
            )
            self._owner = os.getpid()
            self._packs_seen = packs
            self._finalizer = weakref.finalize(self, _end, self._process)
        return self._process

    def _ask(self, process: subprocess.Popen[bytes], name: str, *, max_bytes: int) -> GitObject:
        stdin, stdout = process.stdin, process.stdout
        if stdin is None or stdout is None:  # cannot happen with PIPE; narrows the types
            raise OSError("no pipes")
        if "\n" in name:
            raise ValueError("an object name cannot hold a line break")
        stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        # every earlier answer was read to its end, so nothing is buffered: the pipe says when git answers
        if not select.select([stdout], [], [], self._timeout)[0]:
            raise TimeoutError("超时")
        return next_object(stdout, max_bytes=max_bytes)

    def _stop(self, *, kill: bool = False) -> None:
        if kill and self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()
        if self._finalizer is not None:
            self._finalizer()  # ends the process (once)
        self._process, self._finalizer = None, None

    def _disown(self) -> None:
        """After a fork: the process belongs to the parent. Close this side's copies of its pipes
        (so the parent's closing still ends git) and start one of this process's own."""
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._process is not None:
            _close_pipes(self._process)
            _INHERITED.append(self._process)
        self._process, self._finalizer = None, None


_ALL: weakref.WeakSet[KeptCatFile] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A thread of the parent may have held a lock at the fork: the child's copy would never be released."""
    for kept in list(_ALL):
        kept._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _modified(folder: Path) -> int | None:
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return None


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()


def _end(process: subprocess.Popen[bytes]) -> None:
    """End a kept process: closing its input ends git; kill it if it does not end at once."""
    _close_pipes(process)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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

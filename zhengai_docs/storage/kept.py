"""A git command kept running for one repository in one process: `cat-file --batch` for reads,
`update-ref --stdin` for the compare-and-swap of a save.

Starting git costs several milliseconds of CPU (fork, exec, reading the repository's
configuration and indexes) and, on a busy machine, a wait for a core at each step; a question to
a git already running costs a fraction of a millisecond. So each repository object keeps one
process per command and OS process:

- it is used by one thread at a time (`lock`), unlike GitPython's helpers;
- it is started on first use and again after a `fork` (a gunicorn worker never talks to its
  parent's process) or after any failure: a killed, stuck or failed git is replaced, never
  reused;
- an answer that does not come within the git time limit kills it (the caller raises
  StorageError);
- `close()` ends it, and so does the garbage collector (closing its input ends git).
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
from typing import IO

KEEPS = os.name == "posix"  # answers are awaited with select(), which Windows lacks for pipes
_INHERITED: list[subprocess.Popen[bytes]] = []  # kept processes of the parent after a fork: not ours to end or wait for


class KeptProcess:
    """One running `command` for one repository in this process, started when first needed."""

    def __init__(self, command: list[str], environment: Callable[[], Mapping[str, str]], *, timeout: float) -> None:
        self._command = command
        self._environment = environment
        self.timeout = timeout
        self.lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None  # what git says before it fails, for the caller's message
        self._owner = 0  # the pid that started it
        self._finalizer: weakref.finalize | None = None
        _ALL.add(self)

    @property
    def started(self) -> bool:
        return self._process is not None and self._owner == os.getpid()

    def running(self) -> subprocess.Popen[bytes]:
        """The process, started if need be (call with `lock` held)."""
        if self._process is not None and self._owner != os.getpid():
            self._disown()
        if self._process is None:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process, by `stop` or the finalizer
            self._process = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=dict(self._environment()),
            )
            self._owner = os.getpid()
            self._finalizer = weakref.finalize(self, _end, self._process, self._stderr)
        return self._process

    def wait_for_answer(self, process: subprocess.Popen[bytes], *, within: float) -> None:
        """Block until git has written something (TimeoutError after `within` seconds). Only for
        reads that leave nothing buffered on Python's side of the pipe."""
        stdout = process.stdout
        if stdout is None:  # cannot happen with PIPE; narrows the type
            raise OSError("no pipes")
        if within <= 0 or not select.select([stdout], [], [], within)[0]:
            raise TimeoutError("超时")

    def stop(self, *, kill: bool = False) -> str:
        """End the process (call with `lock` held); what it wrote to its error output once ended
        (a killed git, or one that exited because it failed)."""
        said = ""
        process, stderr = self._process, self._stderr
        if process is not None and stderr is not None and (kill or process.poll() is not None):
            with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
                if kill:
                    process.kill()
                process.wait(timeout=self.timeout)
                stderr.seek(0)
                said = stderr.read().decode(errors="replace").strip()
        if self._finalizer is not None:
            self._finalizer()  # closes its input, which ends git, waits for it and closes the error file (once)
        self._process, self._stderr, self._finalizer = None, None, None
        return said

    def close(self) -> None:
        with self.lock:
            self.stop()

    def _disown(self) -> None:
        """After a fork: the process belongs to the parent. Close this side's copies of its pipes
        (so the parent's closing still ends git) and start one of this process's own."""
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._process is not None:
            _close_pipes(self._process)
            _INHERITED.append(self._process)
        if self._stderr is not None:
            with contextlib.suppress(OSError):
                self._stderr.close()  # this side's descriptor only: the parent's stays open
        self._process, self._stderr, self._finalizer = None, None, None


_ALL: weakref.WeakSet[KeptProcess] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A thread of the parent may have held a lock at the fork: the child's copy would never be released."""
    for kept in list(_ALL):
        kept.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()


def _end(process: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    """End a kept process: closing its input ends git; kill it if it does not end at once."""
    _close_pipes(process)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(OSError):
        stderr.close()

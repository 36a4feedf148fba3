"""The branch's compare-and-swap through a kept `git update-ref --stdin` (see `kept`).

The one write of a save that git itself must make is moving the branch from the commit the save
was based on to the new one, atomically and only if nobody moved it meanwhile. A `git
update-ref` started for each save cost 5 ms on a quiet machine and tens of milliseconds at four
busy clients (a fork, an exec and an exit, each waiting for a core); a kept one takes a
transaction per save: `start`, `update <ref> <new> <old>`, `prepare` (git takes the ref's lock
and checks the old value), `commit`. A lost race or a fault makes git say why and exit: the
process is replaced, and the caller reads git's words (a read-only disk is a fault, anything
else a lost race). Killing this process in the middle of a transaction leaves no lock behind:
git aborts an open transaction when its input ends.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping

from zhengai_docs.errors import StorageError
from zhengai_docs.storage.kept import KeptProcess

_COMMAND = ["git", "update-ref", "-m", "zhengai-docs", "--stdin", "-z"]
_DONE = [b"start: ok", b"prepare: ok", b"commit: ok"]


class KeptRefUpdate(KeptProcess):
    """One `git update-ref --stdin` for one repository in this process, started when first needed."""

    def __init__(self, environment: Callable[[], Mapping[str, str]], *, timeout: float) -> None:
        super().__init__(_COMMAND, environment, timeout=timeout)

    def update(self, ref: str, *, new: str, old: str) -> str | None:
        """Move `ref` from `old` (forty zeros: it must not exist) to `new`. None when done;
        otherwise what git said (the ref moved on, a lock held elsewhere, a disk fault)."""
        if any(c in value for value in (ref, new, old) for c in "\0\n"):
            raise StorageError("引用或提交号无效")
        request = f"start\0update {ref}\0{new}\0{old}\0prepare\0commit\0".encode()
        with self.lock:
            for attempt in (1, 2):
                process = self.running()
                try:
                    _send(process, request)
                except OSError:  # it had ended before this request: nothing was asked of it
                    said = self.stop(kill=True)
                    if said:  # it ended saying why (a read-only disk when it started): that is the answer
                        return said
                    if attempt == 2:
                        raise StorageError("git update-ref 无法启动") from None
                    continue
                try:
                    answers = self._answers(process)
                except TimeoutError as exc:
                    self.stop(kill=True)
                    raise StorageError("git update-ref 超时") from exc
                except (OSError, ValueError):  # it ended: the race was lost, or git could not write
                    return self.stop(kill=True) or "git update-ref ended without an answer"
                return None if answers == _DONE else self.stop(kill=True) or "git update-ref: " + repr(answers)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _answers(self, process: subprocess.Popen[bytes]) -> list[bytes]:
        """The transaction's three answer lines, read unbuffered so that waiting on the pipe is
        exact (ValueError when git ends first)."""
        if process.stdout is None:  # cannot happen with PIPE; narrows the type
            raise OSError("no pipes")
        descriptor = process.stdout.fileno()
        data = b""
        deadline = time.monotonic() + self.timeout
        while data.count(b"\n") < len(_DONE):
            self.wait_for_answer(process, within=deadline - time.monotonic())
            chunk = os.read(descriptor, 4096)
            if not chunk:
                raise ValueError("git update-ref ended")
            data += chunk
        return data.split(b"\n")[: len(_DONE)]


def _send(process: subprocess.Popen[bytes], request: bytes) -> None:
    if process.stdin is None:  # cannot happen with PIPE; narrows the type
        raise OSError("no pipes")
    process.stdin.write(request)
    process.stdin.flush()

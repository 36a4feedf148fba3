"""Run one piece of untrusted work (a Word conversion, a preview) in a child process that the
operating system holds to its limits.

A deadline the converter checks itself holds only where the code remembers to check it, and
nothing in a process bounds the memory one request may take. So a conversion runs in a child
with RLIMIT_CPU and RLIMIT_AS set, and the parent kills it when the wall-clock time is up; the
parent holds only the bytes it sent and the result it got back, whatever the file does.

Children are forked from a fork server (multiprocessing's "forkserver": a clean process started
once, on first use, with the converter already imported), so a conversion costs a fork, not a
Python start-up, and never inherits the web worker's threads, sockets or database connections.
Where there is no fork server (Windows) children are spawned, and only the wall-clock limit
applies; RLIMIT_AS is set where the system has /proc to measure the child's starting size.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Literal, TypeVar

from zhengai_docs.errors import ZhengaiError

# The modules children need, imported once in the fork server rather than in every child.
# "__main__" too: multiprocessing imports the parent's main script (e.g. the `zhengai-docs`
# or `gunicorn` entry point, both guarded) into each child unless the fork server already has.
PRELOAD = ("__main__", "zhengai_docs.render.docx_import", "zhengai_docs.render.html")
_GRACE_SECONDS = 1.0  # past the limit, so the child's own clearer message arrives first
_log = logging.getLogger(__name__)
_context_lock = threading.Lock()
_context: Any = None

A = TypeVar("A")
R = TypeVar("R")
Kind = Literal["time", "memory", "died"]


class LimitExceeded(Exception):
    """The child ran past its time or memory, or died without answering."""

    def __init__(self, kind: Kind, detail: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {detail}")


def run_limited(function: Callable[[A], R], argument: A, *, seconds: float, memory_bytes: int | None) -> R:
    """`function(argument)` in a child: at most `seconds` of CPU and wall-clock time and
    `memory_bytes` of address space beyond what the child starts with.

    Exceptions raised by `function` are raised here (a bug with the child's traceback as a note);
    LimitExceeded when a limit stopped it. `function` must be importable by name (picklable).
    """
    context = _forkserver()
    reader, writer = context.Pipe(duplex=False)
    cpu = max(1, math.ceil(seconds)) + 1
    process = context.Process(target=_child, args=(writer, function, argument, cpu, memory_bytes), daemon=True, name="zhengai-convert")
    try:
        process.start()
        writer.close()  # the child holds the only writing end: its death is an EOF here
        if not reader.poll(max(0.0, seconds) + _GRACE_SECONDS):
            _log.warning("conversion stopped after %.1f s (wall clock)", seconds + _GRACE_SECONDS)
            raise LimitExceeded("time", f"no answer within {seconds:g} s")
        try:
            kind, value = reader.recv()
        except EOFError:
            process.join(_GRACE_SECONDS)
            raise _death(process.exitcode) from None
    finally:
        writer.close()
        if process.is_alive():
            process.kill()
        if process.pid is not None:
            process.join()
            process.close()
        reader.close()
    if kind == "memory":
        _log.warning("conversion stopped: more than %s bytes of memory", memory_bytes)
        raise LimitExceeded("memory", "MemoryError in the child")
    if kind == "raised":
        raise value
    return value


def _death(exitcode: int | None) -> LimitExceeded:
    if exitcode in (-getattr(signal, "SIGXCPU", 24), -getattr(signal, "SIGKILL", 9)):
        _log.warning("conversion stopped by the CPU limit (exit %s)", exitcode)
        return LimitExceeded("time", f"exit code {exitcode}")
    _log.warning("conversion child died without an answer (exit %s)", exitcode)
    return LimitExceeded("died", f"exit code {exitcode}")


def _forkserver() -> Any:
    """The multiprocessing context children are started from, set up once per process."""
    global _context
    with _context_lock:
        if _context is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                server = multiprocessing.get_context("forkserver")
                server.set_forkserver_preload(list(PRELOAD))
                _context = server
            else:
                _context = multiprocessing.get_context("spawn")
        return _context


def _child(conn: Connection, function: Callable[[Any], Any], argument: Any, cpu_seconds: int, memory_bytes: int | None) -> None:
    """In the child: limit this process, run, send ("ok", result), ("raised", exc) or ("memory", None)."""
    _limit(cpu_seconds, memory_bytes)
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", function(argument))
    except MemoryError:
        outcome = ("memory", None)
    except ZhengaiError as exc:  # a refusal with its message, the expected way out
        outcome = ("raised", exc)
    except Exception as exc:  # a bug: raised in the caller too, with where it happened
        exc.add_note(f"in the conversion child:\n{traceback.format_exc()}")
        outcome = ("raised", exc)
    try:
        conn.send(outcome)
    except MemoryError:
        conn.send(("memory", None))
    except Exception as exc:  # an exception or result that does not pickle
        conn.send(("raised", RuntimeError(f"conversion result could not be sent: {exc!r}")))
    finally:
        conn.close()


def _limit(cpu_seconds: int, memory_bytes: int | None) -> None:
    try:
        import resource
    except ImportError:  # Windows: the parent's wall clock is the limit
        return
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # SIGXCPU, then SIGKILL
    start = _address_space() if memory_bytes is not None else None
    if memory_bytes is not None and start is not None:
        resource.setrlimit(resource.RLIMIT_AS, (start + memory_bytes, start + memory_bytes))


def _address_space() -> int | None:
    """This process's virtual size in bytes (Linux); None where /proc is not there."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None

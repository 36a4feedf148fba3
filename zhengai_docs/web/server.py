"""Production servers: waitress for one process (and Windows), gunicorn for several.

One process with threads (waitress) is the embedded default. Several processes (gunicorn's
`gthread` workers) use both cores of a server and keep serving while one worker is busy or
restarted; each worker builds its own app (no database connections or git processes are shared
across `fork`), and workers are recycled after `max_requests` so memory cannot creep.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from zhengai_docs.search.backend import SearchRequest

log = logging.getLogger(__name__)

# A worker is only declared dead after this many silent seconds: longer than the longest request
# the product makes (a save waits up to 30 s for the search index, a Word conversion 20 s).
WORKER_TIMEOUT = 120
_M_ARENA_MAX = -8  # glibc's malloc.h
# Threads a process serves with when the THREADS setting leaves it to `serve` (0). One waitress
# process has no other concurrency; several workers share the cores, where a worker's threads
# compete for one interpreter lock: 8 threads a worker served 16 clients 13-19 % slower than 4;
# 2 threads, in alternating rounds of 4 and 16 clients, 2.5 % slower on average (README: Several workers).
SINGLE_PROCESS_THREADS = 8
WORKER_THREADS = 2


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    workers: int
    threads: int


def threads_per_process(workers: int, configured: int) -> int:
    """`configured` threads when set (above 0); otherwise what suits one process or several."""
    if configured > 0:
        return configured
    return SINGLE_PROCESS_THREADS if workers <= 1 else WORKER_THREADS


def run(factory: Callable[[], Flask], options: ServerOptions) -> None:
    """Serve until interrupted: gunicorn when several workers are asked for and it is available."""
    _limit_malloc_arenas()
    if options.workers > 1 and sys.platform != "win32":
        _gunicorn(factory, options)
    else:
        import waitress

        waitress.serve(build_app(factory), host=options.host, port=options.port, threads=options.threads, ident="zhengai-docs")


def build_app(factory: Callable[[], Flask]) -> Flask:
    """The app, with everything that exists once it is built moved out of the garbage collector's
    sight (`gc.freeze`): modules, classes, functions, the app's own objects, ~165,000 objects.

    CPython's full collections walk every tracked object. A worker's full collection took
    100-140 ms on this project's 2-core machine and came every few seconds under load (the caches
    and index readers that requests build survive into the oldest generation), stopping both of
    the worker's threads: it was the tail of every request kind. Frozen objects are still freed by
    reference counting; only cycles among them are never collected, and a built app is kept until
    the process ends anyway. Full collections then walk what requests made since (~20,000
    objects, ~8 ms).
    """
    app = factory()
    load_lazy_parts()
    open_search_index(app)
    gc.collect()
    gc.freeze()
    return app


def load_lazy_parts() -> None:
    """Load now what each worker's first requests would otherwise load inside them.

    The Chinese segmenter's dictionary and the Markdown extensions took ~0.2 s of a worker's
    first search on an idle machine (~0.5 s under load), and Whoosh's writer module ~25 ms of its
    first save, under the index's writer lock that other saves wait for; gunicorn replaces a
    worker every `max_requests`, every few minutes under load. Loaded here, they are also
    frozen with the app."""
    import _strptime  # noqa: F401 - the first date parsed in a thread imports it, under the import lock

    import whoosh.writing  # noqa: F401

    from zhengai_docs.render.html import render_uncached
    from zhengai_docs.search.analysis import segmenter

    segmenter()
    render_uncached("# 标题\n\n| 表 |\n|---|\n| 格 |\n\n```\n代码\n```\n")  # the Markdown extensions


def open_search_index(app: Flask) -> None:
    """Open the worker's pooled index searcher and its match records before serving: a worker's
    first search took ~170 ms more for it at 5,000 documents (480-630 ms in all, 120-145 ms
    now). An index that cannot be opened is left to the first search, which tells its user why."""
    search = app.extensions["zhengai"].library.search
    if search is None:
        return
    try:
        search.backend.search(SearchRequest(text="制度", snippets=False, suggest=False))
    except Exception:  # not built yet (a new instance) or unreadable: nothing to open
        log.info("search index not opened before serving", exc_info=True)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Ask glibc for at most `arenas` malloc arenas, before any server thread starts.

    By default glibc gives threads that allocate at the same time arenas of their own (up to
    eight per core) and keeps what was freed in each: a threaded server's memory then grows
    with its threads. This is `MALLOC_ARENA_MAX`, set from inside; gunicorn's workers inherit
    it through `fork`. Other C libraries (musl, Windows) have no such arenas and no `mallopt`.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas)


def _gunicorn(factory: Callable[[], Flask], options: ServerOptions) -> None:
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": f"{options.host}:{options.port}",
                "workers": options.workers,
                "threads": options.threads,
                "worker_class": "gthread",
                "timeout": WORKER_TIMEOUT,
                "graceful_timeout": 30,
                "keepalive": 5,
                # Replaced after 4,000-6,000 requests, each worker its own number: with 5,000-5,500,
                # workers started together were rebuilt within seconds of each other under load
                # (~0.7 s of CPU each to build the app, then cold caches), and every request slowed at once.
                "max_requests": 4000,
                "max_requests_jitter": 2000,
                "preload_app": False,
                "proc_name": "zhengai-docs",
                "accesslog": "-",
                # gunicorn 24+ opens a control socket in $HOME shared by every instance: not needed
                "control_socket_disable": True,
            }
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return build_app(factory)

    Application().run()

"""`zhengai-docs serve` as an operator runs it: real processes on 127.0.0.1."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, *, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own server on 127.0.0.1
                return int(response.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def served(indexed_instance: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    cli = [sys.executable, "-c", "from zhengai_docs.cli import main; main()", "--instance", str(indexed_instance)]
    command = [*cli, "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    yield process, f"http://127.0.0.1:{port}"
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def test_serve_with_workers_runs_gunicorn_processes_and_stops_cleanly(served: tuple[subprocess.Popen[bytes], str]) -> None:
    process, base = served
    assert _wait(f"{base}/login") == 200
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False).stdout.split()
    assert len(children) == 2, children  # the arbiter and its two workers
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode("utf-8", "replace")
    assert process.returncode == 0, output
    assert "http://127.0.0.1:" in output and "gunicorn" in output.lower()


def test_a_served_app_is_out_of_the_garbage_collectors_sight(indexed_instance: Path) -> None:
    """A worker's full collections walked every object of the built app (100-140 ms each, every
    few seconds under load, both of its threads stopped); `build_app` freezes them."""
    from tests.conftest import make_app
    from zhengai_docs.web.server import build_app

    before = gc.get_freeze_count()
    app = build_app(lambda: make_app(indexed_instance))
    try:
        assert gc.get_freeze_count() - before > 10_000  # modules, classes, the app's own objects
        assert not any(o is app for o in gc.get_objects())  # checked: found without the freeze
        page = app.test_client().get("/healthz")
        assert page.status_code == 200
    finally:
        gc.unfreeze()
        app.extensions["zhengai"].close()


LAZY_PARTS = ("rjieba", "whoosh.writing", "markdown.extensions.fenced_code", "_strptime")
LEFT_OUT = ("alembic", "openpyxl", "ldap3", "cas", "requests")  # migrations (serve runs them first), XLSX, sign-on clients
BUILT_IN_A_WORKER = f"""
import sys
from zhengai_docs import create_app
from zhengai_docs.web.server import build_app
lazy = {LAZY_PARTS!r}
print([part in sys.modules for part in lazy])
app = build_app(lambda: create_app({{"TESTING": True}}, instance_path=sys.argv[1]))
print([part in sys.modules for part in lazy])
print([part in sys.modules for part in {LEFT_OUT!r}])
backend = app.extensions["zhengai"].library.search.backend
segments = [leaf.segment().segment_id() for leaf, _ in backend.store.current()[1].reader().leaf_readers()]
print(len(segments) > 0 and all(backend.cache.known(segment) is not None for segment in segments))
app.extensions["zhengai"].close()
"""


def test_a_worker_loads_what_its_first_requests_would_before_serving(indexed_instance: Path) -> None:
    """Each worker's first search loaded the segmenter's dictionary (~0.5 s under load) and its
    first save Whoosh's writer module under the index's writer lock, and opened the index and
    read its match records: a worker built for serving has done all of it. It has not loaded
    what only a few of its requests use (~28 MB of its memory)."""
    run = subprocess.run([sys.executable, "-c", BUILT_IN_A_WORKER, str(indexed_instance)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str([False] * len(LAZY_PARTS)), str([True] * len(LAZY_PARTS)), str([False] * len(LEFT_OUT)), "True"]

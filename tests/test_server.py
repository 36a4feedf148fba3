"""`zhengai-docs serve` as an operator runs it: real processes on 127.0.0.1."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
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


_PROBE_SERVER = """
import sys, time
from flask import Flask
from zhengai_docs.web.server import ServerOptions, run

def factory():
    app = Flask("probe")
    app.add_url_rule("/slow", "slow", lambda: time.sleep(6) or "slow")
    app.add_url_rule("/fast", "fast", lambda: "fast")
    return app

run(factory, ServerOptions(host="127.0.0.1", port=int(sys.argv[1]), workers=2, threads=1))
"""


def _ask_ignoring_the_end(url: str) -> None:
    with contextlib.suppress(OSError):  # the server is killed while this request still runs
        urllib.request.urlopen(url, timeout=30)  # noqa: S310 - our own server on 127.0.0.1


def test_a_long_request_holds_up_only_its_own_worker() -> None:
    """A worker busy with a long request (a 制度汇编 takes seconds) accepts nothing meanwhile:
    every other request goes to the free worker. With gunicorn's defaults the busy worker took
    about every other connection and queued it behind the long one (checked: fails)."""
    port = _free_port()
    command = [sys.executable, "-c", _PROBE_SERVER, str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    slow = threading.Thread(target=_ask_ignoring_the_end, args=(f"{base}/slow",), daemon=True)
    try:
        for _ in range(4):  # both workers up
            assert _wait(f"{base}/fast") == 200
        slow.start()
        time.sleep(0.5)  # the long request is being served
        waits = []
        for _ in range(12):
            start = time.monotonic()
            assert _wait(f"{base}/fast", seconds=10) == 200
            waits.append(time.monotonic() - start)
        assert max(waits) < 2, [round(w, 2) for w in waits]
        assert slow.is_alive(), "the long request ended before the others were measured"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        if slow.is_alive():
            slow.join(timeout=30)

"""`@pytest.mark.solo`: a test that bounds wall-clock time runs with no other test beside it.

The suite runs on pytest-xdist workers (README: Development). A test asserting that pages answer
within a second measures the machine, and a second worker rendering Word files on the other core
makes it fail for a reason that is not the code's. Every test holds a shared lock while it runs;
a solo test takes it exclusively, so the other workers finish their current test and wait.

A turnstile in front of the shared lock gives a waiting solo test its turn: once it holds the
turnstile, no worker starts a new test, so the running ones drain and it gets the lock (a plain
shared/exclusive flock could starve it behind workers that keep re-taking the shared lock).
Without xdist (one process) nothing is locked.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator

import pytest

MARKER = "solo: runs with no other test alongside it under pytest-xdist (it bounds wall-clock time)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.fixture(autouse=True)
def _solo_or_shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if not hasattr(request.config, "workerinput"):  # not an xdist worker: nothing runs beside this test
        yield
        return
    run = tmp_path_factory.getbasetemp().parent  # xdist gives worker gwN the folder <run>/popen-gwN
    solo = request.node.get_closest_marker("solo") is not None
    with (run / "solo-turnstile.lock").open("a") as turnstile, (run / "solo-room.lock").open("a") as room:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(room, fcntl.LOCK_EX if solo else fcntl.LOCK_SH)
        if not solo:  # a solo test keeps the turnstile shut until it is done
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        yield
    # closing the files released both locks

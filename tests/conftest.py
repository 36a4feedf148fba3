"""Fixture chain: a throw-away content repository and database per test.

Demo content is committed once per session into a template instance folder and copied for
each test that needs it (copying is ~50x faster than re-committing 30 documents).

The database engine comes from the environment: without `ZHENGAI_TEST_DATABASE_URL` every test
gets its own SQLite file; with it (a PostgreSQL admin URL, e.g.
`postgresql+psycopg://postgres@127.0.0.1:55432/postgres`) every test gets its own PostgreSQL
database, cloned from the session's template database (`tests/databases.py`).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from tests.databases import DATABASES, clone_instance, instance_database_url, prepare_instance
from tests.xdist_solo import _solo_or_shared, pytest_configure  # noqa: F401  (the suite runs on xdist workers)
from zhengai_docs import create_app
from zhengai_docs.bootstrap import DEMO_PASSWORD, initialise
from zhengai_docs.cli import cli
from zhengai_docs.db.database import Database
from zhengai_docs.library import Library
from zhengai_docs.storage.repository import Author, ContentRepository

EDITOR = Author(name="教务处 王老师", email="jiaowu@example.edu.cn")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[ContentRepository]:
    repository = ContentRepository.create(tmp_path / "content.git")
    yield repository
    repository.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(DATABASES.fresh(tmp_path / "test.db"))
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture(scope="session", autouse=True)
def _shared_static_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test app (and server process) shares one hashed-asset folder: gzip-compressing
    Mermaid's 3.6 MB for each of a thousand instance folders would cost minutes."""
    os.environ["ZHENGAI_STATIC_CACHE"] = str(tmp_path_factory.mktemp("static-cache"))
    yield
    del os.environ["ZHENGAI_STATIC_CACHE"]


@pytest.fixture(scope="session", autouse=True)
def _no_background_threads() -> Iterator[None]:
    """Test apps (and the servers tests start) sync in their requests, so a test sees an external
    push at its next request; tests/test_background.py turns the follower on where it is tested."""
    os.environ["ZHENGAI_BACKGROUND_SYNC"] = "0"
    yield
    del os.environ["ZHENGAI_BACKGROUND_SYNC"]


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    yield
    DATABASES.drop_all()


@pytest.fixture
def blank_instance(tmp_path: Path) -> Path:
    """An empty instance folder for `init`; on PostgreSQL its config names a new empty database."""
    return prepare_instance(tmp_path)


@pytest.fixture
def library(repo: ContentRepository, db: Database) -> Library:
    return Library(repo=repo, db=db)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    instance = prepare_instance(tmp_path_factory.mktemp("demo-template"))
    database = Database(instance_database_url(instance))
    initialise(repo=ContentRepository(instance / "content.git"), db=database, demo=True)
    database.dispose()
    return instance


@pytest.fixture
def instance(tmp_path: Path, demo_template: Path) -> Path:
    return clone_instance(demo_template, tmp_path / "instance")


@pytest.fixture(scope="session")
def indexed_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo instance with its search index built once (`zhengai-docs init` builds it too)."""
    from zhengai_docs.search.indexer import rebuild_index
    from zhengai_docs.search.whoosh_backend import WhooshBackend

    instance = clone_instance(demo_template, tmp_path_factory.mktemp("indexed-template") / "instance")
    backend = WhooshBackend(instance / "search-index")
    rebuild_index(backend, ContentRepository(instance / "content.git"))
    backend.close()
    return instance


@pytest.fixture
def indexed_instance(tmp_path: Path, indexed_template: Path) -> Path:
    return clone_instance(indexed_template, tmp_path / "instance")


def make_app(instance: Path, **settings: object) -> Flask:
    """The app on a test instance. Review is off unless asked for: the direct-edit journeys of
    the web tests predate drafts; tests/test_drafts_web.py and the browser tests turn it on."""
    return create_app({"TESTING": True, "REVIEW_REQUIRED": False, **settings}, instance_path=str(instance))


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    application = make_app(instance)
    yield application
    application.extensions["zhengai"].close()


@pytest.fixture
def indexed_app(indexed_instance: Path) -> Iterator[Flask]:
    """The app on an instance whose search index is already built."""
    application = make_app(indexed_instance)
    yield application
    application.extensions["zhengai"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def client_for(app: Flask, username: str) -> FlaskClient:
    """A client of `app` signed in as that demo account (forms need their CSRF token)."""
    client = app.test_client()
    login(client, username)
    return client


OpenApp = Callable[..., Flask]
OpenDatabase = Callable[[Path], Database]


@pytest.fixture
def open_app() -> Iterator[OpenApp]:
    """`open_app(instance, ANONYMOUS_READ=True)`: `make_app` for the apps a test makes itself
    (other settings, other instance folders); each is closed after the test, also when it fails,
    so no database connection outlives it (on PostgreSQL a leaked one is a ResourceWarning)."""
    with ExitStack() as closing:  # closes every app, in reverse order, even if one close fails

        def opener(instance: Path, **settings: object) -> Flask:
            application = make_app(instance, **settings)
            closing.callback(application.extensions["zhengai"].close)
            return application

        yield opener


@pytest.fixture
def open_database() -> Iterator[OpenDatabase]:
    """`open_database(instance)`: that instance folder's database, disposed after the test."""
    with ExitStack() as closing:

        def opener(instance: Path) -> Database:
            database = Database(instance_database_url(instance))
            closing.callback(database.dispose)
            return database

        yield opener


@pytest.fixture
def signed_in(app: Flask) -> Callable[[str], FlaskClient]:
    """`signed_in("jiaowu")`: a client signed in as that demo account that sends its CSRF token
    with every request (the `X-CSRFToken` header Flask-WTF accepts), as a page's forms would."""

    def signed_in_as(username: str) -> FlaskClient:
        client = client_for(app, username)
        client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client, "/")
        return client

    return signed_in_as


class Runner:
    """The `zhengai-docs` command on one instance folder, as an operator types it."""

    def __init__(self, instance: Path) -> None:
        self.instance = instance

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["--instance", str(self.instance), *args], input=input)


@pytest.fixture
def runner(instance: Path) -> Runner:
    return Runner(instance)


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    assert match is not None, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def git_children(repo: ContentRepository) -> list[int]:
    """This process's git children working on `repo` (other tests' repositories may still await the collector)."""
    found = subprocess.run(["pgrep", "-P", str(os.getpid()), "git"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found if _git_dir(int(pid)) == str(repo.path)]


def _git_dir(pid: int) -> str | None:
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # it has just ended
        return None
    return next((v[len(b"GIT_DIR=") :].decode() for v in environment if v.startswith(b"GIT_DIR=")), None)

"""Fixture chain: a throw-away content repository and database per test.

Demo content is committed once per session into a template instance folder and copied for
each test that needs it (copying is ~50x faster than re-committing 30 documents).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from zhengai_docs import create_app
from zhengai_docs.bootstrap import DEMO_PASSWORD, initialise
from zhengai_docs.db.database import Database
from zhengai_docs.library import Library
from zhengai_docs.storage.repository import Author, ContentRepository

EDITOR = Author(name="教务处 王老师", email="jiaowu@example.edu.cn")


@pytest.fixture
def repo(tmp_path: Path) -> ContentRepository:
    return ContentRepository.create(tmp_path / "content.git")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def library(repo: ContentRepository, db: Database) -> Library:
    return Library(repo=repo, db=db)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    instance = tmp_path_factory.mktemp("demo-template")
    database = Database(f"sqlite:///{instance / 'zhengai.db'}")
    initialise(repo=ContentRepository(instance / "content.git"), db=database, demo=True)
    database.dispose()
    return instance


@pytest.fixture
def instance(tmp_path: Path, demo_template: Path) -> Path:
    target = tmp_path / "instance"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture(scope="session")
def indexed_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo instance with its search index built once (`zhengai-docs init` builds it too)."""
    from zhengai_docs.search.indexer import rebuild_index
    from zhengai_docs.search.whoosh_backend import WhooshBackend

    instance = tmp_path_factory.mktemp("indexed-template") / "instance"
    shutil.copytree(demo_template, instance)
    backend = WhooshBackend(instance / "search-index")
    rebuild_index(backend, ContentRepository(instance / "content.git"))
    backend.close()
    return instance


@pytest.fixture
def indexed_instance(tmp_path: Path, indexed_template: Path) -> Path:
    target = tmp_path / "instance"
    shutil.copytree(indexed_template, target)
    return target


def make_app(instance: Path, **settings: object) -> Flask:
    """The app on a test instance. Review is off unless asked for: the direct-edit journeys of
    the web tests predate drafts; tests/test_drafts_web.py and the browser tests turn it on."""
    return create_app({"TESTING": True, "REVIEW_REQUIRED": False, **settings}, instance_path=str(instance))


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    application = make_app(instance)
    yield application
    application.extensions["zhengai"].db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    assert match is not None, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)

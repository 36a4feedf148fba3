"""Every route × every role: who may read, edit and administer, and that refusals change nothing.

A route missing from ROUTES fails `test_every_route_is_in_the_matrix`, so a new page cannot
ship without someone deciding who may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import csrf_token, login, make_app
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "duzhe", "jiaowu", "renshi", "zhiliang", "admin")
SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
EVERYONE = frozenset(ROLES)
A101Z_EDITORS = frozenset({"jiaowu", "admin"})  # A101Z is led by 教务处
ADMINS = frozenset({"admin"})
QUALITY = frozenset({"zhiliang", "admin"})


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    url: str
    allowed: frozenset[str]
    data: Callable[[FlaskClient, Flask], dict[str, str]] | None = None
    json: dict[str, str] | None = None
    ok: tuple[int, ...] = (200,)
    api: bool = False


def _restore_data(client: FlaskClient, app: Flask) -> dict[str, str]:
    repo = app.extensions["zhengai"].library.repo
    return {
        "csrf_token": csrf_token(client, "/login"),
        "revision": repo.history("regulations/A/A1/A101Z.md")[-1].commit,
        "base": repo.head() or "",
    }


def _edit_data(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {
        "csrf_token": csrf_token(client, "/login"),
        "title": "越权修改",
        "departments": "教务处",
        "status": "现行",
        "body": "越权修改的正文\n",
        "message": "越权修改",
        "base": app.extensions["zhengai"].library.repo.head() or "",
    }


def _create_data(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {**_edit_data(client, app), "title": "越权新建"}


def _token_only(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/login")}


ROUTES = (
    Route("auth.login", "GET", "/login", EVERYONE),
    Route("auth.change_password", "GET", "/password", SIGNED_IN),
    Route("auth.logout", "POST", "/logout", EVERYONE, data=_token_only, ok=(302,)),
    Route("catalogue.home", "GET", "/", SIGNED_IN),
    Route("catalogue.tree", "GET", "/catalogue", SIGNED_IN),
    Route("catalogue.tree", "GET", "/catalogue/A", SIGNED_IN),
    Route("catalogue.item", "GET", "/items/A101", SIGNED_IN),
    Route("documents.view", "GET", "/documents/A101Z", SIGNED_IN),
    Route("documents.source", "GET", "/documents/A101Z/source", SIGNED_IN),
    Route("documents.history", "GET", "/documents/A101Z/history", SIGNED_IN),
    Route("documents.diff", "GET", "/documents/A101Z/diff?from=HEAD_COMMIT", SIGNED_IN),
    Route("documents.restore", "POST", "/documents/A101Z/restore", A101Z_EDITORS, data=_restore_data, ok=(302,)),
    Route("editing.edit", "GET", "/documents/A101Z/edit", A101Z_EDITORS),
    Route("editing.edit", "POST", "/documents/A101Z/edit", A101Z_EDITORS, data=_edit_data, ok=(302,)),
    Route("editing.create", "GET", "/items/A108/new/Z", A101Z_EDITORS),
    Route("editing.create", "POST", "/items/A108/new/Z", A101Z_EDITORS, data=_create_data, ok=(302,)),
    Route("editing.preview", "POST", "/preview", SIGNED_IN, json={"body": "# 预览"}),
    Route("search.page", "GET", "/search", SIGNED_IN),
    Route("search.api", "GET", "/api/search", SIGNED_IN, api=True),
)


def _state(app: Flask) -> tuple[str | None, int]:
    """What a refused request must leave untouched: the content head and the user table."""
    db: Database = app.extensions["zhengai"].db
    with db.session() as session:
        users = session.scalar(select(func.count()).select_from(User)) or 0
    return app.extensions["zhengai"].library.repo.head(), users


def test_every_route_is_in_the_matrix(instance: Path) -> None:
    app = make_app(instance)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    covered = {route.endpoint for route in ROUTES}
    assert endpoints - covered == set(), "routes nobody has decided access for"
    app.extensions["zhengai"].db.dispose()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.url}")
def test_route_by_role(route: Route, role: str, instance: Path) -> None:
    app = make_app(instance)
    client = app.test_client()
    if role != ANONYMOUS:
        login(client, role)
    url = route.url.replace("HEAD_COMMIT", app.extensions["zhengai"].library.repo.head() or "")
    before = _state(app)
    headers = {}
    if route.json is not None:
        headers["X-CSRFToken"] = csrf_token(client, "/login")
    data = route.data(client, app) if route.data else None
    response = client.open(url, method=route.method, data=data, json=route.json, headers=headers)
    if role in route.allowed:
        assert response.status_code in route.ok, response.get_data(as_text=True)[:500]
    else:
        if role == ANONYMOUS:
            assert response.status_code in ((401,) if route.api else (302,))
            assert route.api or "/login" in response.location
        else:
            assert response.status_code == 403
        assert _state(app) == before, "a refused request changed something"
    app.extensions["zhengai"].db.dispose()


def test_anonymous_reading_when_the_setting_allows_it(instance: Path) -> None:
    app = make_app(instance, ANONYMOUS_READ=True)
    client = app.test_client()
    for route in ROUTES:
        if route.method == "GET" and route.allowed == SIGNED_IN and "password" not in route.url:
            url = route.url.replace("HEAD_COMMIT", app.extensions["zhengai"].library.repo.head() or "")
            assert client.get(url).status_code == 200, url
    assert client.get("/documents/A101Z/edit").status_code == 302  # writing still needs sign-in
    app.extensions["zhengai"].db.dispose()

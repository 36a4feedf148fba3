"""The read-only JSON API: shapes, reading rules (401 JSON, not a redirect) and JSON errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import AS_EDITOR
from tests.conftest import EDITOR, OpenApp, csrf_token, login
from tests.html_reader import find_all
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.library import Library

API = ["/api/catalogue", "/api/documents/A101Z", "/api/documents/A101Z/history"]


def library(app: Flask) -> Library:
    return app.extensions["zhengai"].library


@pytest.mark.parametrize("url", API)
def test_signed_out_clients_get_401_json(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["status"] == 401
    assert "Location" not in response.headers


def test_anonymous_reading_opens_the_api(instance: Path, open_app: OpenApp) -> None:
    app = open_app(instance, ANONYMOUS_READ=True)
    client = app.test_client()
    for url in API:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("url", API)
@pytest.mark.parametrize("user", ["duzhe", "jiaowu", "renshi", "zhiliang", "admin"])
def test_every_role_reads_the_api(client: FlaskClient, user: str, url: str) -> None:
    login(client, user)
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/json"


def test_catalogue_shape(app: Flask, client: FlaskClient) -> None:
    login(client, "duzhe")
    data = client.get("/api/catalogue").get_json()
    assert data["commit"] == library(app).repo.head()
    assert [level["code"] for level in data["levels"]] == ["A", "B", "C", "D", "E", "F"]
    a = data["levels"][0]
    assert a["name"] == "办学活动" and a["groups"][0]["code"] == "A1" and a["groups"][0]["name"] == "人才培养"
    items = {item["code"]: item for level in data["levels"] for group in level["groups"] for item in group["items"]}
    assert len(items) == 60
    assert items["A104"]["name"] == "师资队伍建设" and items["A104"]["departments"] == ["组织人事处", "教务处"]
    a101z, a101l, a101b = items["A101"]["documents"]
    assert a101z == {
        "code": "A101Z",
        "type": "Z",
        "type_label": "制度",
        "present": True,
        "title": "包头职业技术学院专业设置与调整管理办法",
        "status": "现行",
        "url": "/api/documents/A101Z",
    }
    assert [d["type"] for d in items["A101"]["documents"]] == ["Z", "L", "B"] and a101l["present"] and a101b["present"]
    z, process, b = items["A102"]["documents"]
    assert z == {"code": "A102Z", "type": "Z", "type_label": "制度", "present": False}
    assert not process["present"] and b["present"]


def test_chinese_is_sent_as_utf8(client: FlaskClient) -> None:
    login(client, "duzhe")
    raw = client.get("/api/catalogue").get_data()
    assert "办学活动".encode() in raw and b"\\u" not in raw


def test_document_shape(app: Flask, client: FlaskClient) -> None:
    login(client, "duzhe")
    data = client.get("/api/documents/A101Z").get_json()
    version = library(app).repo.read(document_code("A101Z").path)
    assert data["commit"] == version.commit and data["blob"] == version.blob
    assert {k: data[k] for k in ("code", "item", "type", "type_label", "title", "status", "issued", "doc_number", "approved_by")} == {
        "code": "A101Z",
        "item": "A101",
        "type": "Z",
        "type_label": "制度",
        "title": "包头职业技术学院专业设置与调整管理办法",
        "status": "现行",
        "issued": "2019-03-15",
        "doc_number": "包职院发〔2019〕12号",
        "approved_by": "院长办公会",
    }
    assert data["departments"] == ["教务处"] and data["points"] == ["2.1.1", "2.1.3", "2.2.1"]
    assert data["related"] == ["A101L", "A101B"] and data["review_cycle"] is None
    assert data["history_url"] == "/api/documents/A101Z/history"
    headings = [heading.get("id") for heading in find_all(data["html"], "//h1 | //h2")]
    assert headings[0] == "包头职业技术学院专业设置与调整管理办法"
    assert next(h["anchor"] for h in data["headings"] if h["level"] == 2) in headings


def test_document_html_is_sanitised(app: Flask, client: FlaskClient) -> None:
    lib = library(app)
    code = document_code("A101Z")
    loaded = lib.load(code)
    body = loaded.document.body + '\n<script>alert(1)</script>\n\n<img src="x" onerror="alert(2)">\n\n[点我](javascript:alert(3))\n'
    lib.save(loaded.document.with_changes(body=body), actor=AS_EDITOR, message="注入测试", base=loaded.version.commit)
    login(client, "duzhe")
    html = client.get("/api/documents/A101Z").get_json()["html"]
    assert not find_all(html, "//script")
    assert not find_all(html, "//*[@*[starts-with(name(), 'on')]]")
    assert not find_all(html, "//a[contains(@href, 'javascript')]")


def test_document_at_an_older_revision(app: Flask, client: FlaskClient) -> None:
    lib = library(app)
    loaded = lib.load(document_code("A101Z"))
    old = loaded.version.commit
    lib.save(loaded.document.with_changes(title="新标题"), actor=AS_EDITOR, message="改标题", base=old)
    login(client, "duzhe")
    assert client.get("/api/documents/A101Z").get_json()["title"] == "新标题"
    data = client.get(f"/api/documents/A101Z?rev={old}").get_json()
    assert data["title"] == "包头职业技术学院专业设置与调整管理办法" and data["commit"] == old
    bad = client.get("/api/documents/A101Z?rev=--output=x")
    assert bad.status_code == 400 and bad.get_json()["error"]["status"] == 400


def test_history_shape(app: Flask, client: FlaskClient) -> None:
    login(client, "duzhe")
    before = client.get("/api/documents/A101Z/history").get_json()["revisions"]
    assert before[-1]["change"] == "added" and before[-1]["author"] == "zhengai-docs"
    lib = library(app)
    loaded = lib.load(document_code("A101Z"))
    message = "依据院长办公会决定修订"
    result = lib.save(loaded.document.with_changes(title="新标题"), actor=AS_EDITOR, message=message, base=loaded.version.commit)
    data = client.get("/api/documents/A101Z/history").get_json()
    assert data["code"] == "A101Z" and data["revisions"][1:] == before
    newest = data["revisions"][0]
    assert newest["commit"] == result.commit and newest["change"] == "modified"
    assert newest["author"] == EDITOR.name and newest["message"] == message and newest["issued"] == "2019-03-15"
    assert dt.datetime.fromisoformat(newest["date"]) > dt.datetime.fromisoformat(before[0]["date"])
    assert set(newest) == {"commit", "change", "author", "date", "message", "issued", "approval"}  # no e-mail addresses
    assert newest["approval"] is None  # an ordinary save, not a published draft


@pytest.mark.parametrize(
    "url",
    [
        "/api/documents/A109Z",
        "/api/documents/a101z",
        "/api/documents/..%2Fx",
        "/api/documents/A109Z/history",
        "/api/documents/A1011/history",
        "/api/nothing",
    ],
)
def test_errors_are_json(client: FlaskClient, url: str) -> None:
    login(client, "duzhe")
    response = client.get(url)
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json()["error"]["status"] == 404


def test_api_is_read_only(app: Flask, client: FlaskClient) -> None:
    login(client, "admin")
    before = library(app).repo.head()
    response = client.post("/api/catalogue", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 405 and response.mimetype == "application/json"
    assert library(app).repo.head() == before

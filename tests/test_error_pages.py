"""Every error a user can meet gets a Chinese page (or JSON under /api/) and changes nothing."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.actors import AS_EDITOR
from tests.conftest import OpenApp, csrf_token, login
from tests.html_reader import visible_text
from zhengai_docs.catalogue.codes import document_code


def _title(response: object) -> str:
    return visible_text(response.get_data(as_text=True))  # type: ignore[attr-defined]


def test_400_for_a_malformed_revision(client: FlaskClient) -> None:
    login(client, "duzhe")
    response = client.get("/documents/A101Z?rev=-p")
    assert response.status_code == 400 and "400 · 请求无效" in _title(response)


def test_403_for_a_forbidden_write(client: FlaskClient) -> None:
    login(client, "duzhe")
    response = client.get("/documents/A101Z/edit")
    assert response.status_code == 403 and "403 · 没有权限" in _title(response)


def test_404_for_unknown_and_hostile_codes(client: FlaskClient) -> None:
    login(client, "duzhe")
    for url in ("/documents/A999Z", "/documents/..%2FA101Z", "/items/Ａ101", "/catalogue/AA"):
        response = client.get(url)
        assert response.status_code == 404 and "404 · 页面不存在" in _title(response), url


def test_409_for_a_stale_restore(app: Flask, client: FlaskClient) -> None:
    library = app.extensions["zhengai"].library
    first = library.repo.history("regulations/A/A1/A101Z.md")[-1].commit
    login(client, "jiaowu")
    token = csrf_token(client, "/documents/A101Z/history")
    loaded = library.load(document_code("A101Z"))
    library.save(loaded.document.with_changes(body="改\n"), actor=AS_EDITOR, message="改", base=first)
    head = library.repo.head()
    response = client.post("/documents/A101Z/restore", data={"csrf_token": token, "revision": first, "base": first})
    assert response.status_code == 409 and "409 · 内容冲突" in _title(response) and "请刷新修订历史后重试" in _title(response)
    assert library.repo.head() == head


def test_413_for_an_oversized_upload_loses_nothing(instance: Path, open_app: OpenApp) -> None:
    app = open_app(instance, MAX_UPLOAD_MB=1, ATTACHMENT_MAX_BYTES=512 * 1024)  # the request limit fits the largest 附件
    client = app.test_client()
    login(client, "jiaowu")
    head = app.extensions["zhengai"].library.repo.head()
    token = csrf_token(client, "/documents/A101Z/edit")
    response = client.post("/documents/A101Z/edit", data={"csrf_token": token, "body": "很长" * 600_000, "message": "大"})
    assert response.status_code == 413 and "413 · 文件过大" in _title(response)
    assert app.extensions["zhengai"].library.repo.head() == head


def test_500_is_a_chinese_page_without_internals(app: Flask) -> None:
    app.testing = False  # let the error handler answer instead of raising into the test

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    text = _title(response)
    assert "500 · 服务器错误" in text and "secret internals" not in text


def test_api_errors_are_json(client: FlaskClient) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404

"""The read-only web app: sign-in, pages, access rules, headers, error pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import OpenApp, csrf_token, login
from tests.html_reader import attributes, parse, visible_text

READ_PAGES = ["/", "/catalogue", "/catalogue/A", "/items/A101", "/documents/A101Z", "/documents/A101Z/history", "/documents/A101Z/source"]


@pytest.mark.parametrize("url", READ_PAGES)
def test_signed_out_users_are_sent_to_login(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_anonymous_reading_can_be_enabled(instance: Path, open_app: OpenApp) -> None:
    app = open_app(instance, ANONYMOUS_READ=True)
    client = app.test_client()
    for url in READ_PAGES:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("url", READ_PAGES)
@pytest.mark.parametrize("user", ["duzhe", "jiaowu", "zhiliang", "admin"])
def test_every_role_reads(client: FlaskClient, user: str, url: str) -> None:
    login(client, user)
    assert client.get(url).status_code == 200


def test_login_redirects_back_and_rejects_open_redirects(client: FlaskClient) -> None:
    token = csrf_token(client)
    response = client.post("/login?next=/items/A101", data={"username": "duzhe", "password": "zhengai-demo", "csrf_token": token})
    assert response.headers["Location"] == "/items/A101"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = csrf_token(client)
        response = client.post(f"/login?next={target}", data={"username": "duzhe", "password": "zhengai-demo", "csrf_token": token})
        assert response.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_wrong_password_and_throttling(client: FlaskClient) -> None:
    for _ in range(5):
        response = client.post("/login", data={"username": "duzhe", "password": "wrong-password", "csrf_token": csrf_token(client)})
        assert response.status_code == 200 and "用户名或密码不正确" in response.get_data(as_text=True)
    throttled = client.post("/login", data={"username": "duzhe", "password": "zhengai-demo", "csrf_token": csrf_token(client)})
    assert throttled.status_code == 429 and "登录失败次数过多" in throttled.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "duzhe", "password": "zhengai-demo"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_needs_post_with_csrf(client: FlaskClient) -> None:
    login(client, "duzhe")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert client.get("/").status_code == 302


def test_password_change(client: FlaskClient) -> None:
    login(client, "duzhe")
    token = csrf_token(client, "/password")
    wrong = client.post("/password", data={"current": "nope", "new": "new-password-1", "confirm": "new-password-1", "csrf_token": token})
    assert "当前密码不正确" in wrong.get_data(as_text=True)
    ok = client.post(
        "/password", data={"current": "zhengai-demo", "new": "new-password-1", "confirm": "new-password-1", "csrf_token": token}
    )
    assert ok.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "duzhe", "new-password-1")


def test_catalogue_tree_shows_present_and_missing_slots(client: FlaskClient) -> None:
    login(client, "duzhe")
    page = parse(client.get("/catalogue").get_data(as_text=True))
    links = {attrs.get("href") for attrs in attributes(page, "//a")}
    assert "/documents/A101Z" in links and "/documents/A101B" in links
    assert "/documents/A108Z" not in links  # A108 has no regulation yet
    titles = {attrs.get("title") for attrs in attributes(page, "//span[@class='slot slot-missing']")}
    assert titles == {"尚未建立"}
    assert "A108Z" in visible_text(page)
    sections = [attrs.get("id") for attrs in attributes(page, "//section")]
    assert sections == [f"level-{c}" for c in "ABCDEF"]


def test_document_page_renders_metadata_and_body(client: FlaskClient) -> None:
    login(client, "duzhe")
    html = client.get("/documents/A101Z").get_data(as_text=True)
    page = parse(html)
    text = visible_text(page)
    assert "包头职业技术学院专业设置与调整管理办法" in text
    assert "教务处" in text and "2019-03-15" in text and "包职院发" in text
    heading_ids = [attrs["id"] for attrs in attributes(page, "//h2[@id]")]
    assert "第一章-总则" in heading_ids  # Unicode anchors, not _1, _2


def test_document_at_an_old_revision(app: Flask, client: FlaskClient) -> None:
    login(client, "duzhe")
    history = app.extensions["zhengai"].library.repo.history("regulations/A/A1/A101Z.md")
    old = client.get(f"/documents/A101Z?rev={history[-1].commit}")
    assert old.status_code == 200 and "历史版本" in old.get_data(as_text=True)
    assert client.get("/documents/A101Z?rev=-p").status_code == 400
    assert client.get("/documents/A101Z?rev=abcdef12").status_code == 404


def test_source_download(client: FlaskClient) -> None:
    login(client, "duzhe")
    response = client.get("/documents/A101Z/source")
    assert response.mimetype == "text/markdown"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).startswith("---\ncode: A101Z\n")


@pytest.mark.parametrize(
    "url", ["/documents/A108Z", "/documents/a101z", "/documents/A101Z%0A", "/items/A999", "/items/..", "/catalogue/Z9", "/nope"]
)
def test_not_found_pages_are_chinese(client: FlaskClient, url: str) -> None:
    login(client, "duzhe")
    response = client.get(url)
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient) -> None:
    login(client, "duzhe")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_home_shows_counts_and_my_department(client: FlaskClient) -> None:
    login(client, "jiaowu")
    text = visible_text(client.get("/").get_data(as_text=True))
    assert "本部门文档（教务处）" in text
    assert "A101Z 包头职业技术学院专业设置与调整管理办法" in text
    assert "60 个条目" in text

"""Sessions that end, sign-in limits that cannot be stepped around, and readable refusals.

Every test drives the real app through its test client: cookies are copied between clients the
way a thief or a second device would hold them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import inspect
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask_wtf.csrf
import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from flask_login.utils import encode_cookie
from sqlalchemy import select, text
from werkzeug.test import TestResponse

from tests.conftest import csrf_token, make_app
from tests.databases import DATABASES
from tests.html_reader import visible_text
from zhengai_docs.bootstrap import DEMO_PASSWORD
from zhengai_docs.db.database import Database, _alembic_config
from zhengai_docs.db.models import LoginAttempt, User
from zhengai_docs.users import address_key, normalise_username
from zhengai_docs.web.errors import CSRF_MESSAGES

JIAOWU_ID = 3  # demo users are created in order: admin, zhiliang, jiaowu, renshi, duzhe
REMEMBER = "remember_token"
HOME = "192.0.2.10"
AppFactory = Callable[..., Flask]


@pytest.fixture
def apps(instance: Path) -> Iterator[AppFactory]:
    """Apps on one instance folder, as worker processes share one; disposed afterwards."""
    made: list[Flask] = []

    def factory(**settings: Any) -> Flask:
        app = make_app(instance, **settings)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.extensions["zhengai"].close()


def attempt(
    app: Flask, username: str, password: str = DEMO_PASSWORD, *, address: str = HOME, remember: bool = False
) -> tuple[FlaskClient, TestResponse]:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    data = {"username": username, "password": password, "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "y"
    return client, client.post("/login", data=data)


def sign_in(app: Flask, username: str, password: str = DEMO_PASSWORD, *, remember: bool = False) -> FlaskClient:
    client, response = attempt(app, username, password, remember=remember)
    assert response.status_code == 302, visible_text(response.get_data(as_text=True))
    return client


def signed_in(client: FlaskClient) -> bool:
    """Does this browser act as a signed-in user? (/password needs one and sends others to sign in.)"""
    status = client.get("/password").status_code
    assert status in (200, 302)
    return status == 200


def cookie(client: FlaskClient, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def browser_with(app: Flask, **cookies: str) -> FlaskClient:
    """A fresh client holding only copies of the given cookies."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = HOME
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def post_form(client: FlaskClient, url: str, data: dict[str, Any]) -> TestResponse:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, url)})


def set_cookie_header(response: TestResponse, name: str) -> dict[str, str]:
    """The attributes of one Set-Cookie header, names lower-cased ('' for flags)."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            parts = [p.strip() for p in header.split(";")]
            return {"value": parts[0].split("=", 1)[1]} | {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getlist('Set-Cookie')}")


def flash_text(response: TestResponse) -> str:
    return visible_text(response.get_data(as_text=True))


# -- sessions end ----------------------------------------------------------------------------


def test_a_copied_session_cookie_is_refused_after_logout(apps: AppFactory) -> None:
    app = apps()
    laptop = sign_in(app, "jiaowu")
    phone = sign_in(app, "jiaowu")
    copy = browser_with(app, session=cookie(laptop, "session"))
    assert signed_in(copy) and signed_in(phone)
    stolen = cookie(laptop, "session")

    response = laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/password")})
    assert response.status_code == 302
    assert not signed_in(laptop)
    assert not signed_in(copy), "a copy of the session cookie outlived sign-out"
    assert not signed_in(browser_with(app, session=stolen))
    assert not signed_in(phone), "sign-out ends the user's sessions on every device"
    assert signed_in(sign_in(app, "jiaowu"))  # signing in again works


def test_a_password_change_ends_every_other_session_and_remember_cookie(apps: AppFactory) -> None:
    app = apps()
    laptop = sign_in(app, "jiaowu", remember=True)
    phone = sign_in(app, "jiaowu", remember=True)
    old_remember = cookie(laptop, REMEMBER)
    phone_remember = cookie(phone, REMEMBER)
    assert signed_in(browser_with(app, **{REMEMBER: old_remember}))

    response = post_form(laptop, "/password", {"current": DEMO_PASSWORD, "new": "new-pass-2026", "confirm": "new-pass-2026"})
    assert response.status_code == 302
    new_remember = set_cookie_header(response, REMEMBER)["value"]
    assert new_remember != old_remember, "the remember cookie must change with the password"

    assert signed_in(laptop), "the browser that changed the password stays signed in"
    assert signed_in(browser_with(app, **{REMEMBER: new_remember}))
    assert not signed_in(phone)
    for stale in (old_remember, phone_remember):
        assert not signed_in(browser_with(app, **{REMEMBER: stale}))
    assert not signed_in(browser_with(app, session=cookie(phone, "session"), **{REMEMBER: phone_remember}))


def _reset_password(admin: FlaskClient) -> TestResponse:
    return post_form(admin, f"/admin/users/{JIAOWU_ID}/password", {"password": "reset-by-admin", "confirm": "reset-by-admin"})


def edit_jiaowu(admin: FlaskClient, *, role: str = "editor", active: bool = True) -> TestResponse:
    data = {"display_name": "王老师", "role": role, "departments": "教务处"} | ({"active": "y"} if active else {})
    return post_form(admin, f"/admin/users/{JIAOWU_ID}", data)


def _make_reader(admin: FlaskClient) -> TestResponse:
    return edit_jiaowu(admin, role="reader")


def _deactivate(admin: FlaskClient) -> TestResponse:
    return edit_jiaowu(admin, active=False)


@pytest.mark.parametrize("action", [_reset_password, _make_reader, _deactivate], ids=["password-reset", "role-change", "deactivation"])
def test_an_administrator_ending_a_users_access_ends_their_sessions(
    apps: AppFactory, action: Callable[[FlaskClient], TestResponse]
) -> None:
    app = apps()
    victim = sign_in(app, "jiaowu", remember=True)
    remember, session = cookie(victim, REMEMBER), cookie(victim, "session")
    admin = sign_in(app, "admin")
    assert action(admin).status_code == 302
    assert signed_in(admin)
    assert not signed_in(victim)
    assert not signed_in(browser_with(app, **{REMEMBER: remember}))
    assert not signed_in(browser_with(app, session=session))
    if action is _deactivate:  # reactivating the account does not bring the old cookies back
        assert edit_jiaowu(admin).status_code == 302
        assert not signed_in(browser_with(app, **{REMEMBER: remember}))
        assert not signed_in(browser_with(app, session=session))


def test_editing_a_users_name_leaves_their_sessions_alone(apps: AppFactory) -> None:
    app = apps()
    user = sign_in(app, "jiaowu")
    admin = sign_in(app, "admin")
    assert edit_jiaowu(admin).status_code == 302  # a new name, the same role and status
    assert signed_in(user)


def test_an_administrator_resetting_their_own_password_stays_signed_in_here_only(apps: AppFactory) -> None:
    app = apps()
    here, elsewhere = sign_in(app, "admin"), sign_in(app, "admin")
    response = post_form(here, "/admin/users/1/password", {"password": "admin-new-pass", "confirm": "admin-new-pass"})
    assert response.status_code == 302
    assert signed_in(here) and not signed_in(elsewhere)


def test_a_cookie_forged_with_the_secret_key_alone_signs_nobody_in(apps: AppFactory) -> None:
    """The leaked-key attack: a remember cookie built from a user id and the key no longer works."""
    app = apps()
    with app.test_request_context():
        forged = [encode_cookie("1"), encode_cookie("1:" + "A" * 32), encode_cookie("1:")]
    for value in forged:
        assert not signed_in(browser_with(app, **{REMEMBER: value}))


def test_remember_and_session_cookies_are_same_site_http_only_and_expire(apps: AppFactory) -> None:
    app = apps()
    _, response = attempt(app, "jiaowu", remember=True)
    remember = set_cookie_header(response, REMEMBER)
    session = set_cookie_header(response, "session")
    assert remember["samesite"] == "Lax" and session["samesite"] == "Lax"
    assert "httponly" in remember and "httponly" in session
    assert "secure" not in remember and "secure" not in session
    expires = email.utils.parsedate_to_datetime(remember["expires"])
    assert abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=30))) < dt.timedelta(minutes=5)

    secure_app = apps(SESSION_COOKIE_SECURE=True, REMEMBER_DAYS=7)
    client = secure_app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "jiaowu", "password": DEMO_PASSWORD, "remember": "y", "csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
    )
    remember = set_cookie_header(response, REMEMBER)
    assert "secure" in remember and "secure" in set_cookie_header(response, "session")
    expires = email.utils.parsedate_to_datetime(remember["expires"])
    assert abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=7))) < dt.timedelta(minutes=5)


def test_migration_0006_gives_every_user_a_token_and_keeps_their_departments(tmp_path: Path) -> None:
    db = Database(DATABASES.fresh(tmp_path / "migrate.db"))
    config = _alembic_config()
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
            for user_id, name in ((1, "wang"), (2, "li")):
                connection.execute(
                    text(
                        "INSERT INTO users (id, username, display_name, password_hash, role, active, created_at) "
                        "VALUES (:id, :name, :name, 'x', 'editor', true, '2026-01-01 00:00:00')"
                    ),
                    {"id": user_id, "name": name},
                )
                connection.execute(text("INSERT INTO user_departments (user_id, department) VALUES (:id, '教务处')"), {"id": user_id})
            command.upgrade(config, "0006")
            tokens = connection.execute(text("SELECT session_token FROM users ORDER BY id")).scalars().all()
            assert len(set(tokens)) == 2 and all(len(t) >= 32 for t in tokens)
            assert connection.execute(text("SELECT count(*) FROM user_departments")).scalar() == 2
            command.downgrade(config, "0005")
            assert connection.execute(text("SELECT count(*) FROM user_departments")).scalar() == 2
            command.upgrade(config, "head")
    finally:
        db.dispose()


# -- sign-in limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [(" admin", "admin"), ("ADMIN\t", "admin"), ("ａｄｍｉｎ", "admin"), ("\u3000Ａｄｍｉｎ\u3000", "admin"), ("jiao.wu-1", "jiao.wu-1")],
)
def test_user_names_are_normalised_once_for_everyone(typed: str, expected: str) -> None:
    assert normalise_username(typed) == expected


VARIANTS = ["jiaowu", " jiaowu", "JIAOWU", "ｊｉａｏｗｕ", "\u3000JiaoWu ", "jiaowu\t"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_padded_or_folded_name_signs_in_as_the_account(apps: AppFactory, variant: str) -> None:
    app = apps()
    client, response = attempt(app, variant)
    assert response.status_code == 302 and signed_in(client)


def test_padded_and_folded_names_count_against_one_lock(apps: AppFactory) -> None:
    app = apps(LOGIN_MAX_FAILURES=len(VARIANTS) - 1, LOGIN_ADDRESS_FREE_FAILURES=100)
    for number, variant in enumerate(VARIANTS[1:]):  # every failure typed differently, from its own address
        _, response = attempt(app, variant, "wrong-password", address=f"198.51.100.{number}")
        assert response.status_code == 200 and "用户名或密码不正确" in flash_text(response)
    for number, variant in enumerate(VARIANTS):  # now locked, however the right password comes
        client, response = attempt(app, variant, address=f"203.0.113.{number}")
        assert response.status_code == 429, variant
        assert "该账号登录失败次数过多" in flash_text(response) and not signed_in(client)
        assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    _, response = attempt(app, "renshi", address="203.0.113.99")
    assert response.status_code == 302  # only that account is locked


def age_attempts(app: Flask, seconds: float) -> None:
    """Move every recorded sign-in attempt back in time, as if `seconds` had passed."""
    with app.extensions["zhengai"].db.transaction() as session:
        for row in session.scalars(select(LoginAttempt)):
            row.at -= dt.timedelta(seconds=seconds)


def test_one_address_is_slowed_down_not_locked_out(apps: AppFactory) -> None:
    """A campus NAT: one address, many people. Failures make it wait, growing; nobody is locked."""
    app = apps(LOGIN_ADDRESS_FREE_FAILURES=3, LOGIN_ADDRESS_MAX_DELAY_SECONDS=4)
    for name in ("zhiliang", "renshi", "duzhe"):
        _, response = attempt(app, name, "wrong-password")
        assert response.status_code == 200
    expected_waits = [1, 2, 4, 4]  # doubling from 1 s, capped at LOGIN_ADDRESS_MAX_DELAY_SECONDS
    for wait in expected_waits:
        client, response = attempt(app, "jiaowu")  # the right password, too early
        assert response.status_code == 429 and not signed_in(client)
        assert f"请稍候 {wait} 秒再试" in flash_text(response)
        assert response.headers["Retry-After"] == str(wait)
        _, other = attempt(app, "admin", address="192.0.2.77")
        assert other.status_code == 302, "another address is not slowed down"
        age_attempts(app, wait)
        _, response = attempt(app, "duzhe", "wrong-password")  # after the wait an attempt is checked
        assert response.status_code == 200 and "用户名或密码不正确" in flash_text(response)
    age_attempts(app, 4)
    client, response = attempt(app, "jiaowu")
    assert response.status_code == 302 and signed_in(client), "the address was slowed down, never locked out"
    for name in ("zhiliang", "renshi"):  # no account was locked by the address's failures
        assert attempt(app, name, address="192.0.2.78")[1].status_code == 302


def test_an_ipv6_slash_64_counts_as_one_address(apps: AppFactory) -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    app = apps(LOGIN_ADDRESS_FREE_FAILURES=2)
    attempt(app, "duzhe", "wrong-password", address="2001:db8:1:2::1")
    attempt(app, "duzhe", "wrong-password", address="2001:db8:1:2::2")
    assert attempt(app, "jiaowu", address="2001:db8:1:2::3")[1].status_code == 429
    assert attempt(app, "jiaowu", address="2001:db8:1:3::1")[1].status_code == 302


def test_limits_hold_across_worker_processes_and_parallel_guesses(apps: AppFactory) -> None:
    """Two apps on one database (two workers); eight guesses at once may check at most three passwords."""
    workers = [apps(LOGIN_MAX_FAILURES=3, LOGIN_ADDRESS_FREE_FAILURES=100) for _ in range(2)]
    tokens: list[tuple[FlaskClient, str]] = []
    for number in range(8):
        client = workers[number % 2].test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{number}"
        tokens.append((client, csrf_token(client)))
    statuses: list[int] = []
    start = threading.Barrier(len(tokens))

    def guess(client: FlaskClient, token: str) -> None:
        start.wait()
        statuses.append(client.post("/login", data={"username": "jiaowu", "password": "guess", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 429} and len(statuses) == 8
    assert statuses.count(200) <= 3, statuses
    with workers[0].extensions["zhengai"].db.session() as session:
        assert len(session.scalars(select(LoginAttempt).where(LoginAttempt.username == "jiaowu")).all()) <= 3
    if statuses.count(200) == 3:  # the name is locked in the other worker too
        assert attempt(workers[1], "jiaowu", address="192.0.2.201")[1].status_code == 429


def recorded_addresses(app: Flask) -> list[str]:
    with app.extensions["zhengai"].db.session() as session:
        return list(session.scalars(select(LoginAttempt.address)))


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.9.9.9"),  # no trusted proxy: the header is anyone's to forge
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "1.1.1.1, 203.0.113.9", "203.0.113.9"),  # a forged first entry is not believed
        (2, "1.1.1.1, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
    ],
)
def test_the_client_address_comes_from_forwarded_for_only_behind_trusted_proxies(
    apps: AppFactory, proxies: int, forwarded: str, expected: str
) -> None:
    app = apps(TRUSTED_PROXIES=proxies)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": "duzhe", "password": "wrong", "csrf_token": token}, headers={"X-Forwarded-For": forwarded}
    )
    assert response.status_code == 200
    assert recorded_addresses(app) == [expected]


# -- readable refusals -----------------------------------------------------------------------


def _flask_wtf_reasons() -> set[str]:
    source = inspect.getsource(flask_wtf.csrf)
    return set(re.findall(r'(?:ValidationError|_error_response)\("([^"]+)"\)', source))


def test_every_csrf_reason_flask_wtf_gives_has_a_chinese_message() -> None:
    reasons = _flask_wtf_reasons()
    assert len(reasons) >= 7
    assert reasons <= set(CSRF_MESSAGES)
    assert all(re.search(r"[\u4e00-\u9fff]", message) and "CSRF" not in message for message in CSRF_MESSAGES.values())


def _no_english_csrf(response: TestResponse) -> str:
    text = flash_text(response)
    assert response.status_code == 400 and "CSRF" not in text and "token" not in text.lower() and "referrer" not in text.lower()
    return text


def test_csrf_refusals_read_in_chinese(apps: AppFactory) -> None:
    app = apps()
    client = app.test_client()
    token = csrf_token(client)
    login = {"username": "jiaowu", "password": DEMO_PASSWORD}
    assert "表单缺少安全令牌" in _no_english_csrf(client.post("/login", data=login))
    assert "页面已过期，请刷新后重试" in _no_english_csrf(client.post("/login", data={**login, "csrf_token": "forged"}))
    stranger = app.test_client()  # a token from someone else's page, no session of its own
    assert "登录会话已过期" in _no_english_csrf(stranger.post("/login", data={**login, "csrf_token": token}))
    https = {"base_url": "https://localhost"}
    secure = app.test_client()
    token = csrf_token(secure)
    assert "来源页面" in _no_english_csrf(secure.post("/login", data={**login, "csrf_token": token}, **https))
    response = secure.post("/login", data={**login, "csrf_token": token}, headers={"Referer": "https://evil.example/"}, **https)
    assert "不是从本站页面发出" in _no_english_csrf(response)


def test_json_error_bodies_are_readable_utf8(apps: AppFactory) -> None:
    client = sign_in(apps(), "duzhe")
    for url in ("/api/no-such-thing", "/api/documents/A999Z"):
        response = client.get(url)
        raw = response.get_data()
        assert response.status_code == 404 and response.is_json
        assert "页面不存在".encode() in raw and b"\\u" not in raw, raw[:200]


def test_please_sign_in_is_flashed_once_however_many_redirects(apps: AppFactory) -> None:
    client = apps().test_client()
    for url in ("/password", "/drafts", "/admin/users", "/password"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert client.get("/password").headers["Location"] == "/login?next=%2Fpassword"
    page = flash_text(client.get("/login"))
    assert page.count("请先登录。") == 1, page
    assert "请先登录。" not in flash_text(client.get("/login"))  # shown, then gone
    assert client.get("/drafts").status_code == 302
    assert flash_text(client.get("/login")).count("请先登录。") == 1  # and it comes back next time


def test_users_table_has_the_token_column(apps: AppFactory) -> None:
    db = apps().extensions["zhengai"].db
    with db.session() as session:
        tokens = session.scalars(select(User.session_token)).all()
    assert tokens and all(len(token) >= 32 for token in tokens) and len(set(tokens)) == len(tokens)

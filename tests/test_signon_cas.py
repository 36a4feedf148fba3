"""CAS sign-in against a real CAS server (django-cas-server, backed by a real slapd), both started here.

The app runs on a fixed port of 127.0.0.1 (the CAS server's service pattern names its callback and
posts single-logout requests to it); a `requests.Session` plays the browser, following redirects
between the app and the CAS server's login form.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from tests.actors import account
from tests.html_reader import parse, visible_text
from tests.signon_servers import OTHER_SERVICE, CasServer, Person, Slapd, free_port, person, serving
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import CasTicket, User
from zhengai_docs.permissions import Actor
from zhengai_docs.signon import cas
from zhengai_docs.signon.mapping import RuleKind, add_rule
from zhengai_docs.users import Role

pytestmark = pytest.mark.xdist_group("signon_cas")  # --dist loadgroup: one slapd and one CAS server per worker that runs these tests

CALLBACK = "/signon/cas/callback"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def cas_server(directory: Slapd, app_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CasServer]:
    server = CasServer(tmp_path_factory.mktemp("cas") / "server", directory=directory, service_url=f"http://127.0.0.1:{app_port}{CALLBACK}")
    yield server
    server.close()


def cas_settings(server: CasServer, port: int, **more: object) -> dict[str, object]:
    return {"CAS_SERVER_URL": server.url, "SITE_URL": f"http://127.0.0.1:{port}", "REVIEW_REQUIRED": True, **more}


@pytest.fixture
def site(instance: Path, cas_server: CasServer, app_port: int, open_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with serving(open_app(instance, **cas_settings(cas_server, app_port)), app_port) as base:
        yield base


@pytest.fixture
def db(instance: Path, open_database) -> Database:  # type: ignore[no-untyped-def]
    return open_database(instance)


def sign_in_through_cas(
    base: str, who: Person, *, next_url: str | None = None, browser: requests.Session | None = None
) -> requests.Response:
    """Click 统一身份认证登录, fill in the CAS server's form, follow the redirects back to the app."""
    browser = browser or requests.Session()
    login_page = browser.get(f"{base}/login", timeout=10)
    link = parse(login_page.text).xpath("//a[normalize-space()='统一身份认证登录']/@href")
    assert link, "no 统一身份认证登录 on the sign-in page"
    start = f"{base}{link[0]}" + (f"?{urllib.parse.urlencode({'next': next_url})}" if next_url else "")
    form = browser.get(start, timeout=10)
    assert form.url.startswith(f"http://127.0.0.1:{urllib.parse.urlsplit(form.url).port}/cas/login"), form.url
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.text))
    fields.update({"username": who.uid, "password": who.password})
    return browser.post(form.url, data=fields, timeout=10)


def signed_in_as(browser: requests.Session, base: str) -> str | None:
    page = browser.get(f"{base}/password", timeout=10, allow_redirects=False)  # any page that needs a sign-in
    if page.status_code != 200:
        return None
    who = parse(page.text).xpath("//*[contains(concat(' ', normalize-space(@class), ' '), ' who ')]")
    return visible_text(who[0]) if who else None


def message(response: requests.Response) -> str:
    return " ".join(visible_text(e) for e in parse(response.text).xpath("//*[contains(@class, 'flash')]"))


def test_first_cas_sign_in_creates_a_reader_in_the_directory_department(site: str, db: Database) -> None:
    browser = requests.Session()
    landed = sign_in_through_cas(site, person("lisi"), next_url="/documents/A101Z", browser=browser)
    assert landed.status_code == 200 and urllib.parse.urlsplit(landed.url).path == "/documents/A101Z"
    assert "李四" in (signed_in_as(browser, site) or "")
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == "lisi")).one()
        assert (user.auth_source, user.staff_number, user.display_name, user.email) == (
            "directory",
            "20190002",
            "李四",
            "lisi@college.edu.cn",
        )
        assert (user.role, user.department_names, user.directory_department) == ("reader", ["学生工作处"], "学生工作处")


def test_group_mapping_makes_an_editor_of_jiaowu_at_every_sign_in(site: str, db: Database) -> None:
    admin = Actor.system()
    rule = add_rule(
        db, actor=admin, kind=RuleKind.GROUP, value="jiaowu-editors", role=Role.EDITOR, department="教务处", known_departments=("教务处",)
    )
    sign_in_through_cas(site, person("zhangsan"))
    assert (account(db, "zhangsan").role, account(db, "zhangsan").departments) == (Role.EDITOR, ("教务处",))
    from zhengai_docs.signon.mapping import remove_rule

    remove_rule(db, actor=admin, rule_id=rule.id)  # the rule goes: the next sign-in makes a reader again
    sign_in_through_cas(site, person("zhangsan"))
    assert (account(db, "zhangsan").role, account(db, "zhangsan").departments) == (Role.READER, ("教务处",))


def test_cas_2_0_validation_signs_in_with_its_attributes(
    instance: Path, cas_server: CasServer, app_port: int, open_app, db: Database
) -> None:  # type: ignore[no-untyped-def]
    with serving(open_app(instance, **cas_settings(cas_server, app_port, CAS_VERSION=2)), app_port) as base:
        browser = requests.Session()
        sign_in_through_cas(base, person("qianqi"), browser=browser)
        assert "钱七" in (signed_in_as(browser, base) or "")
    assert "GET /cas/serviceValidate?" in cas_server.log.read_text(errors="replace")
    assert account(db, "qianqi").departments == ("党委（院长）办公室",)


def test_a_replayed_ticket_is_refused(site: str, cas_server: CasServer, db: Database) -> None:
    ticket = cas_server.ticket(person("lisi"), service=f"{site}{CALLBACK}")
    first = requests.Session()
    assert first.get(f"{site}{CALLBACK}", params={"ticket": ticket}, timeout=10).status_code == 200
    assert signed_in_as(first, site) is not None
    replay = requests.Session()
    refused = replay.get(f"{site}{CALLBACK}", params={"ticket": ticket}, timeout=10)
    assert refused.status_code == 403
    assert "该登录票据已经使用过，不能再次用于登录" in message(refused)
    assert signed_in_as(replay, site) is None
    # The CAS server refuses it too: with our record of it gone, the server still says no.
    with db.transaction() as session:
        session.execute(CasTicket.__table__.delete().where(CasTicket.ticket == ticket))
    again = requests.Session().get(f"{site}{CALLBACK}", params={"ticket": ticket}, timeout=10)
    assert again.status_code == 403 and "登录票据无效或已过期" in message(again)


def test_a_ticket_for_another_service_is_refused(site: str, cas_server: CasServer) -> None:
    ticket = cas_server.ticket(person("lisi"), service=OTHER_SERVICE)  # a real ticket, issued to another application
    browser = requests.Session()
    refused = browser.get(f"{site}{CALLBACK}", params={"ticket": ticket}, timeout=10)
    assert refused.status_code == 403
    assert "该登录票据不是签发给本系统的（服务地址不符）" in message(refused)
    assert signed_in_as(browser, site) is None


def test_an_expired_ticket_is_refused(instance: Path, directory: Slapd, tmp_path: Path, open_app) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    short = CasServer(tmp_path / "cas-short", directory=directory, service_url=f"http://127.0.0.1:{port}{CALLBACK}", ticket_validity=1)
    try:
        with serving(open_app(instance, **cas_settings(short, port)), port) as base:
            ticket = short.ticket(person("lisi"))
            time.sleep(2.5)  # the server's ticket validity is 1 s
            browser = requests.Session()
            refused = browser.get(f"{base}{CALLBACK}", params={"ticket": ticket}, timeout=10)
            assert refused.status_code == 403
            assert "登录票据无效或已过期" in message(refused)
            assert signed_in_as(browser, base) is None
    finally:
        short.close()


def test_single_logout_from_the_cas_server_ends_the_session(site: str, cas_server: CasServer) -> None:
    browser = requests.Session()
    sign_in_through_cas(site, person("lisi"), browser=browser)
    assert signed_in_as(browser, site) is not None
    browser.get(f"{cas_server.url}logout", timeout=10)  # signed out at the CAS server (another application, say)
    deadline = time.monotonic() + 10
    while signed_in_as(browser, site) is not None:  # the server posts its logoutRequest asynchronously
        assert time.monotonic() < deadline, "the CAS server's single logout did not end the session"
        time.sleep(0.2)


def test_a_forged_logout_request_ends_nothing(site: str) -> None:
    browser = requests.Session()
    sign_in_through_cas(site, person("lisi"), browser=browser)
    forged = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">'
        '<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">lisi</saml:NameID>'
        "<samlp:SessionIndex>ST-guessed-ticket</samlp:SessionIndex></samlp:LogoutRequest>"
    )
    answer = requests.post(f"{site}{CALLBACK}", data={"logoutRequest": forged}, timeout=10)
    assert answer.status_code == 200  # no CSRF token needed, and no hint either way
    assert signed_in_as(browser, site) is not None


def test_signing_out_goes_on_to_the_cas_logout(site: str, cas_server: CasServer) -> None:
    browser = requests.Session()
    sign_in_through_cas(site, person("lisi"), browser=browser)
    page = browser.get(f"{site}/password", timeout=10).text
    token = parse(page).xpath("//input[@name='csrf_token']/@value")[0]
    out = browser.post(f"{site}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert out.status_code == 302
    assert out.headers["Location"] == f"{cas_server.url}logout?{urllib.parse.urlencode({'service': f'{site}/login'})}"
    browser.get(out.headers["Location"], timeout=10)
    assert signed_in_as(browser, site) is None
    form = browser.get(f"{cas_server.url}login", params={"service": f"{site}{CALLBACK}"}, allow_redirects=False, timeout=10)
    assert form.status_code == 200 and 'name="password"' in form.text  # the CAS session ended: it asks again


def test_the_service_url_comes_from_the_settings_not_the_host_header(site: str, app_port: int) -> None:
    start = requests.get(f"{site}/signon/cas/login", headers={"Host": "evil.example.com"}, allow_redirects=False, timeout=10)
    assert start.status_code == 302
    service = urllib.parse.parse_qs(urllib.parse.urlsplit(start.headers["Location"]).query)["service"]
    assert service == [f"http://127.0.0.1:{app_port}{CALLBACK}"]


def test_next_is_kept_on_the_site(site: str) -> None:
    landed = sign_in_through_cas(site, person("lisi"), next_url="//evil.example.com/steal")
    assert urllib.parse.urlsplit(landed.url).netloc == urllib.parse.urlsplit(site).netloc
    assert urllib.parse.urlsplit(landed.url).path == "/"


def test_a_disabled_account_is_refused(site: str, db: Database) -> None:
    sign_in_through_cas(site, person("lisi"))
    with db.transaction() as session:
        session.execute(update(User).where(User.username == "lisi").values(active=False))
    browser = requests.Session()
    refused = sign_in_through_cas(site, person("lisi"), browser=browser)
    assert refused.status_code == 403 and "您的账号已停用" in message(refused)
    assert signed_in_as(browser, site) is None


def test_a_directory_user_named_like_a_local_account_is_refused(db: Database) -> None:
    """No take-over of break-glass accounts: the directory's `jiaowu` is not our local `jiaowu`."""
    from zhengai_docs.signon.accounts import provision
    from zhengai_docs.signon.identity import DirectoryIdentity, SignOnRefused

    with pytest.raises(SignOnRefused, match="属于本系统的本地账号"):
        provision(db, identity=DirectoryIdentity(username="jiaowu", name="冒名"), known_departments=("教务处",))
    assert account(db, "jiaowu").name == "教务处 王老师"


def test_failure_codes_are_read_without_entities() -> None:
    assert (
        cas.failure_code(
            b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="INVALID_SERVICE">x'
            b"</cas:authenticationFailure></cas:serviceResponse>"
        )
        == "INVALID_SERVICE"
    )
    assert cas.failure_code(b"not xml") is None

"""LDAP sign-in against a real OpenLDAP slapd started here (tests/signon_servers.py): the directory
layer (`LdapDirectory`) in both modes, and the password form of the real app on top of it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import account
from tests.conftest import csrf_token
from tests.html_reader import find_all, has_class, visible_text
from tests.signon_servers import ADMIN_DN, ADMIN_PASSWORD, LDAPWHOAMI, Slapd, free_port, person
from zhengai_docs.bootstrap import DEMO_PASSWORD
from zhengai_docs.config import SETTINGS
from zhengai_docs.db.database import Database
from zhengai_docs.permissions import Actor
from zhengai_docs.signon.identity import SignOnRefused
from zhengai_docs.signon.ldap import DISABLED, EMPTY_PASSWORD, UNREACHABLE, LdapConfig
from zhengai_docs.signon.ldap_directory import LdapDirectory, ldap3  # imported quietly there
from zhengai_docs.signon.mapping import RuleKind, add_rule
from zhengai_docs.signon.switch import set_local_passwords
from zhengai_docs.users import Role

pytestmark = pytest.mark.xdist_group("signon_ldap")  # --dist loadgroup: one slapd per worker that runs these tests

INJECTION = "*)(uid=*"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.close()


def ldap(server: Slapd, *, search: bool = True) -> LdapDirectory:
    config = LdapConfig.from_settings({**DEFAULTS, **server.settings(search=search)})
    assert config is not None
    return LdapDirectory(config)


DEFAULTS = {s.name: s.default for s in SETTINGS}


# -- the directory layer -------------------------------------------------------------------------


@pytest.mark.parametrize("search", [True, False], ids=["search-then-bind", "bind-as-user"])
def test_a_person_signs_in_with_name_staff_number_department_and_groups(directory: Slapd, search: bool) -> None:
    who = person("zhangsan")
    identity = ldap(directory, search=search).authenticate(username=who.uid, password=who.password)
    assert identity is not None
    assert (identity.username, identity.name, identity.staff_number, identity.department, identity.email) == (
        "zhangsan",
        "张三",
        "20190001",
        "教务处",
        "zhangsan@college.edu.cn",
    )
    assert set(identity.groups) == {"jiaowu-editors", "all-staff"}


@pytest.mark.parametrize("search", [True, False], ids=["search-then-bind", "bind-as-user"])
def test_a_wrong_password_is_nobody(directory: Slapd, search: bool) -> None:
    assert ldap(directory, search=search).authenticate(username="zhangsan", password="wrong-password") is None


@pytest.mark.parametrize("search", [True, False], ids=["search-then-bind", "bind-as-user"])
def test_an_empty_password_never_counts_as_a_login(directory: Slapd, search: bool) -> None:
    """A DN with an empty password is an unauthenticated bind, which this directory answers with success."""
    if LDAPWHOAMI is not None:  # ldap-utils: the server does accept it, so the check must be ours
        command = [LDAPWHOAMI, "-x", "-H", directory.url, "-D", person("zhangsan").dn, "-w", ""]
        bind = subprocess.run(command, capture_output=True, text=True, check=False)
        assert bind.returncode == 0, bind.stderr
    with pytest.raises(SignOnRefused) as refused:
        ldap(directory, search=search).authenticate(username="zhangsan", password="")
    assert str(refused.value) == EMPTY_PASSWORD == "请输入密码（统一身份认证不接受空密码）。"


@pytest.mark.parametrize("name", [INJECTION, "aaro*", "*"])
def test_filter_characters_in_the_user_name_match_nobody(directory: Slapd, name: str) -> None:
    """`aaro*` pasted into `(uid={username})` would find exactly aaron, and his password would sign in."""
    assert ldap(directory).authenticate(username=name, password=person("aaron").password) is None
    assert ldap(directory, search=False).authenticate(username=name, password=person("aaron").password) is None


def test_a_disabled_account_is_refused_with_the_reason(directory: Slapd) -> None:
    who = person("zhaoliu")  # pwdAccountLockedTime set; LDAP_DISABLED_FILTER names it
    with pytest.raises(SignOnRefused) as refused:
        ldap(directory).authenticate(username=who.uid, password=who.password)
    assert str(refused.value) == DISABLED
    # Bound as the user, slapd's password policy refuses the bind itself.
    assert ldap(directory, search=False).authenticate(username=who.uid, password=who.password) is None


def test_an_unreachable_server_is_said_so() -> None:
    config = LdapConfig(url=f"ldap://127.0.0.1:{free_port()}", user_dn_template="uid={username},dc=x", timeout=2)
    with pytest.raises(SignOnRefused) as refused:
        LdapDirectory(config).authenticate(username="zhangsan", password="x")
    assert str(refused.value) == UNREACHABLE


def test_department_from_group_membership(directory: Slapd) -> None:
    settings = {
        **DEFAULTS,
        **directory.settings(),
        "LDAP_DEPARTMENT_ATTRIBUTE": "",
        "LDAP_DEPARTMENT_GROUP_BASE": "ou=groups,dc=college,dc=edu,dc=cn",
    }
    config = LdapConfig.from_settings(settings)
    assert config is not None
    identity = LdapDirectory(config).authenticate(username="qianqi", password=person("qianqi").password)
    assert identity is not None and identity.department in {"zhiliang-office", "all-staff"}


# -- the password form ---------------------------------------------------------------------------


@pytest.fixture
def ldap_app(instance: Path, directory: Slapd, open_app: Callable[..., Flask]) -> Flask:
    return open_app(instance, **directory.settings())


@pytest.fixture
def db(ldap_app: Flask) -> Database:
    return ldap_app.extensions["zhengai"].db


def form_sign_in(client: FlaskClient, username: str, password: str) -> tuple[int, str]:
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})
    if answer.status_code == 302:
        return 302, ""
    page = answer.get_data(as_text=True)
    said = [visible_text(e) for e in find_all(page, f"//*[{has_class('flash')}] | //p[{has_class('error')}]")]
    return answer.status_code, " ".join(said)


def test_first_ldap_sign_in_creates_the_account_and_the_mapping_applies(ldap_app: Flask, db: Database) -> None:
    add_rule(
        db,
        actor=Actor.system(),
        kind=RuleKind.GROUP,
        value="jiaowu-editors",
        role=Role.EDITOR,
        department="教务处",
        known_departments=("教务处",),
    )
    who = person("zhangsan")
    assert form_sign_in(ldap_app.test_client(), who.uid, who.password)[0] == 302
    actor = account(db, "zhangsan")
    assert (actor.name, actor.role, actor.departments) == ("张三", Role.EDITOR, ("教务处",))


def test_a_changed_department_changes_the_scope_at_the_next_sign_in(ldap_app: Flask, db: Database, directory: Slapd) -> None:
    add_rule(
        db,
        actor=Actor.system(),
        kind=RuleKind.DEPARTMENT,
        value="学生工作处",
        role=Role.EDITOR,
        department="",
        known_departments=("学生工作处",),
    )
    who = person("lisi")
    assert form_sign_in(ldap_app.test_client(), who.uid, who.password)[0] == 302
    assert (account(db, "lisi").role, account(db, "lisi").departments) == (Role.EDITOR, ("学生工作处",))
    admin = ldap3.Connection(directory.url, ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)
    try:
        admin.modify(who.dn, {"departmentNumber": [(ldap3.MODIFY_REPLACE, ["教务处"])]})  # moved to 教务处
        assert form_sign_in(ldap_app.test_client(), who.uid, who.password)[0] == 302
        assert (account(db, "lisi").role, account(db, "lisi").departments) == (Role.READER, ("教务处",))
    finally:
        admin.modify(who.dn, {"departmentNumber": [(ldap3.MODIFY_REPLACE, [who.department])]})
        admin.unbind()


def test_a_department_unknown_to_the_catalogue_gives_no_scope_and_is_listed(ldap_app: Flask, db: Database, signed_in) -> None:  # type: ignore[no-untyped-def]
    who = person("wangwu")  # 后勤保障部: not on the demo catalogue's department list
    assert form_sign_in(ldap_app.test_client(), who.uid, who.password)[0] == 302
    assert (account(db, "wangwu").role, account(db, "wangwu").departments) == (Role.READER, ())
    admin = ldap_app.test_client()
    assert form_sign_in(admin, "admin", DEMO_PASSWORD)[0] == 302
    page = admin.get("/admin/signon").get_data(as_text=True)
    assert "后勤保障部（1 人）" in [visible_text(li) for li in find_all(page, "//ul[@class='unknown-departments']/li")]


def test_ldap_refusals_through_the_form(ldap_app: Flask) -> None:
    client = ldap_app.test_client()
    assert form_sign_in(client, INJECTION, person("aaron").password) == (200, "用户名或密码不正确。")
    assert form_sign_in(client, "zhangsan", "") == (200, "请输入密码")  # the form refuses before anyone is asked
    assert form_sign_in(client, "zhaoliu", person("zhaoliu").password) == (403, DISABLED)
    assert client.get("/", follow_redirects=False).status_code == 302  # nobody signed in


def test_local_passwords_off_leaves_administrators_and_the_directory(ldap_app: Flask, db: Database) -> None:
    set_local_passwords(db, actor=Actor.system(), enabled=False)
    assert form_sign_in(ldap_app.test_client(), "duzhe", DEMO_PASSWORD) == (403, "本系统已关闭本地密码登录，请使用“统一身份认证登录”。")
    assert form_sign_in(ldap_app.test_client(), "duzhe", "wrong-password") == (200, "用户名或密码不正确。")  # no hint without the password
    assert form_sign_in(ldap_app.test_client(), "admin", DEMO_PASSWORD)[0] == 302  # break-glass administrator
    who = person("lisi")
    assert form_sign_in(ldap_app.test_client(), who.uid, who.password)[0] == 302


def test_ldap_failures_count_towards_the_lock(instance: Path, directory: Slapd, open_app: Callable[..., Flask]) -> None:
    app = open_app(instance, LOGIN_MAX_FAILURES=2, **directory.settings())
    who = person("lisi")
    for _ in range(2):
        assert form_sign_in(app.test_client(), who.uid, "wrong-password")[0] == 200
    status, said = form_sign_in(app.test_client(), who.uid, who.password)
    assert status == 429 and "已暂时锁定" in said

"""The directory → role rules (signon/mapping.py) and the 统一身份认证 admin page that keeps them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import account
from tests.conftest import csrf_token, login
from tests.html_reader import find_all, table_rows
from zhengai_docs.bootstrap import DEMO_PASSWORD
from zhengai_docs.errors import NotAllowed
from zhengai_docs.permissions import Actor
from zhengai_docs.signon.accounts import provision
from zhengai_docs.signon.identity import DirectoryIdentity
from zhengai_docs.signon.mapping import MappingRule, RuleKind, add_rule, grant_for, list_rules
from zhengai_docs.signon.switch import local_passwords_on, set_local_passwords
from zhengai_docs.users import Role, UserError, session_id

KNOWN = ("教务处", "学生工作处", "组织人事处")


def rule(kind: RuleKind, value: str, role: Role, department: str = "") -> MappingRule:
    return MappingRule(id=0, kind=kind, value=value, role=role, department=department)


def test_a_group_rule_makes_an_editor_of_the_named_department_only() -> None:
    grant = grant_for(
        department="组织人事处",
        groups=("jiaowu-editors",),
        rules=[rule(RuleKind.GROUP, "jiaowu-editors", Role.EDITOR, "教务处")],
        known_departments=KNOWN,
    )
    assert (grant.role, grant.departments) == (Role.EDITOR, ("教务处",))  # not editor of 组织人事处 too


def test_no_rule_makes_a_reader_of_the_own_department_and_the_highest_role_wins() -> None:
    assert grant_for(department="教务处", groups=(), rules=[], known_departments=KNOWN).departments == ("教务处",)
    rules = [rule(RuleKind.DEPARTMENT, "教务处", Role.EDITOR), rule(RuleKind.GROUP, "zhiliang", Role.QUALITY)]
    assert grant_for(department="教务处", groups=("zhiliang",), rules=rules, known_departments=KNOWN).role is Role.QUALITY


def test_unknown_departments_give_no_scope_and_an_editor_without_one_reads() -> None:
    grant = grant_for(
        department="后勤保障部", groups=(), rules=[rule(RuleKind.DEPARTMENT, "后勤保障部", Role.EDITOR)], known_departments=KNOWN
    )
    assert (grant.role, grant.departments, grant.home) == (Role.READER, (), None)
    alias = [rule(RuleKind.DEPARTMENT, "后勤保障部", Role.READER, "组织人事处")]
    assert grant_for(department="后勤保障部", groups=(), rules=alias, known_departments=KNOWN).departments == ("组织人事处",)


def test_rules_are_written_by_administrators_only(instance_db: Callable[[], object]) -> None:
    db = instance_db()
    editor = Actor(user_id=3, username="jiaowu", name="x", email="x@x.cn", role=Role.EDITOR, departments=("教务处",))
    with pytest.raises(NotAllowed):
        add_rule(db, actor=editor, kind=RuleKind.GROUP, value="g", role=Role.ADMIN, department="", known_departments=KNOWN)  # type: ignore[arg-type]
    with pytest.raises(NotAllowed):
        set_local_passwords(db, actor=editor, enabled=False)  # type: ignore[arg-type]
    add_rule(db, actor=Actor.system(), kind=RuleKind.GROUP, value="g", role=Role.EDITOR, department="教务处", known_departments=KNOWN)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="已有相同的映射规则"):
        add_rule(db, actor=Actor.system(), kind=RuleKind.GROUP, value=" g ", role=Role.EDITOR, department="教务处", known_departments=KNOWN)  # type: ignore[arg-type]


@pytest.fixture
def instance_db(app: Flask) -> Callable[[], object]:
    return lambda: app.extensions["zhengai"].db


def admin_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, "admin")
    return client


def test_the_admin_page_adds_and_removes_rules_with_csrf(app: Flask) -> None:
    client = admin_client(app)
    token = csrf_token(client, "/admin/signon")
    data = {"kind": "group", "value": "jiaowu-editors", "role": "editor", "department": "教务处"}
    assert client.post("/admin/signon/rules", data=data).status_code == 400  # no CSRF token: refused
    added = client.post("/admin/signon/rules", data={**data, "csrf_token": token}, follow_redirects=True)
    assert added.status_code == 200
    page = added.get_data(as_text=True)
    table = find_all(page, "//table[contains(@class, 'signon-rules')]")[0]
    assert table_rows(table)[1:] == [["目录组", "jiaowu-editors", "部门编辑", "教务处", "删除"]]
    db = app.extensions["zhengai"].db
    (saved,) = list_rules(db)
    assert client.post(f"/admin/signon/rules/{saved.id}/remove").status_code == 400  # no token
    assert client.post(f"/admin/signon/rules/{saved.id}/remove", data={"csrf_token": token}).status_code == 302
    assert list_rules(db) == []


def test_the_admin_switch_turns_local_passwords_off_for_all_but_administrators(app: Flask) -> None:
    client = admin_client(app)
    token = csrf_token(client, "/admin/signon")
    assert client.post("/admin/signon/local-passwords", data={"csrf_token": token}).status_code == 302  # box unticked: off
    db = app.extensions["zhengai"].db
    assert not local_passwords_on(db)
    reader = app.test_client()
    refused = reader.post("/login", data={"username": "duzhe", "password": DEMO_PASSWORD, "csrf_token": csrf_token(reader)})
    assert refused.status_code == 403 and "本系统已关闭本地密码登录" in refused.get_data(as_text=True)
    login(app.test_client(), "admin")  # the break-glass administrator still signs in
    assert account(db, "duzhe").role is Role.READER


@pytest.mark.parametrize("username", ["jiaowu", "zhiliang", "duzhe"])
def test_the_admin_page_is_for_administrators(app: Flask, username: str) -> None:
    client = app.test_client()
    login(client, username)
    assert client.get("/admin/signon").status_code == 403
    assert client.post("/admin/signon/local-passwords", data={"csrf_token": csrf_token(client, "/")}).status_code == 403
    assert local_passwords_on(app.extensions["zhengai"].db)


def test_a_directory_account_is_sent_to_the_campus_platform_for_its_password(app: Flask) -> None:
    """No 修改密码 link in the header and no password form: this system keeps no password for it."""
    db = app.extensions["zhengai"].db
    person = DirectoryIdentity(username="wangwu", name="王五", department="教务处", source="cas")
    user = provision(db, identity=person, known_departments=KNOWN)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id(user)
        session["_fresh"] = True
    home = client.get("/").get_data(as_text=True)
    assert "王五" in home and "/password" not in home
    page = client.get("/password").get_data(as_text=True)
    assert "统一身份认证平台修改密码" in page and 'name="new"' not in page
    login(client, "duzhe")  # a local account keeps both
    assert "/password" in client.get("/").get_data(as_text=True)
    assert 'name="new"' in client.get("/password").get_data(as_text=True)

"""Administration pages: access, users, departments and catalogue edits as single commits."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import EDITOR, csrf_token, login
from tests.html_reader import attributes, find_all, visible_text
from zhengai_docs.catalogue.document import parse_document
from zhengai_docs.catalogue.model import parse_catalogue
from zhengai_docs.library import Library
from zhengai_docs.storage.paths import CATALOGUE_PATH
from zhengai_docs.users import Role, list_users, user_view

JIAOWU_ID = 3  # demo users are created in order: admin, zhiliang, jiaowu, renshi, duzhe
DUZHE_ID = 5


def library(app: Flask) -> Library:
    return app.extensions["zhengai"].library


def head(app: Flask) -> str:
    return library(app).repo.require_head()


def text_of(response: TestResponse) -> str:
    return visible_text(response.get_data(as_text=True))


def commits_since(app: Flask, old: str) -> list[tuple[str, set[str]]]:
    """(message, changed paths) of each commit after `old`."""
    return [(e.revision.message, {c.path for c in e.changes}) for e in library(app).repo.log(since=old)]


def admin(client: FlaskClient) -> str:
    """Sign in as the demo administrator; returns a CSRF token for posts."""
    login(client, "admin")
    return csrf_token(client, "/admin/catalogue")


# -- access: every route, every role ---------------------------------------------------------


def admin_requests(base: str) -> list[tuple[str, str, dict[str, object]]]:
    """One request per admin route, with data that would succeed for an administrator."""
    return [
        ("GET", "/admin/", {}),
        ("GET", "/admin/users", {}),
        ("GET", "/admin/users/new", {}),
        (
            "POST",
            "/admin/users/new",
            {"username": "xinren", "display_name": "新人", "role": "admin", "password": "long-enough-1", "confirm": "long-enough-1"},
        ),
        ("GET", f"/admin/users/{DUZHE_ID}", {}),
        ("POST", f"/admin/users/{DUZHE_ID}", {"display_name": "普通教职工", "role": "admin", "active": "y"}),
        ("GET", f"/admin/users/{DUZHE_ID}/password", {}),
        ("POST", f"/admin/users/{DUZHE_ID}/password", {"password": "taken-over-1", "confirm": "taken-over-1"}),
        ("GET", "/admin/departments", {}),
        ("POST", "/admin/departments", {"name": "新部门", "base": base}),
        ("POST", "/admin/departments/rename", {"old": "校友办", "new": "校友工作办", "base": base}),
        ("POST", "/admin/departments/remove", {"name": "校友办", "base": base}),
        ("GET", "/admin/catalogue", {}),
        ("POST", "/admin/catalogue/headings", {"code": "G", "name": "新一级", "base": base}),
        ("POST", "/admin/catalogue/headings/A", {"name": "改名", "base": base}),
        ("POST", "/admin/catalogue/items", {"group": "A1", "code": "A109", "name": "新条目", "departments": "教务处", "base": base}),
        ("GET", "/admin/catalogue/items/A101", {}),
        ("POST", "/admin/catalogue/items/A101", {"name": "改名", "departments": "教务处", "base": base}),
        ("POST", "/admin/catalogue/items/A101/move", {"group": "A1", "new_code": "A109", "base": base}),
        ("GET", "/admin/signon", {}),
        ("POST", "/admin/signon/rules", {"kind": "group", "value": "g", "role": "admin", "department": ""}),
        ("POST", "/admin/signon/rules/1/remove", {}),
        ("POST", "/admin/signon/local-passwords", {}),
    ]


def test_every_admin_route_is_in_the_access_matrix(app: Flask) -> None:
    covered = {(method, url) for method, url, _ in admin_requests("0" * 40)}
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        values = {"user_id": DUZHE_ID, "code": "A101" if "items" in rule.rule else "A", "rule_id": 1}
        url = adapter.build(rule.endpoint, {k: v for k, v in values.items() if k in rule.arguments})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, url) in covered, (method, url)


@pytest.mark.parametrize("user", [None, "duzhe", "jiaowu", "renshi", "zhiliang"])
def test_only_administrators_reach_admin_routes(app: Flask, client: FlaskClient, user: str | None) -> None:
    if user is not None:
        login(client, user)
    token = csrf_token(client, "/" if user else "/login")
    before_head, before_users = head(app), list_users(library(app).db)
    for method, url, data in admin_requests(before_head):
        response = client.open(url, method=method, data={**data, "csrf_token": token})
        if user is None:
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), (method, url)
        else:
            assert response.status_code == 403, (method, url)
    assert head(app) == before_head
    assert list_users(library(app).db) == before_users


def test_admin_link_shown_to_administrators_only(client: FlaskClient) -> None:
    login(client, "zhiliang")
    links = [a.get("href") for a in attributes(client.get("/").get_data(as_text=True), "//a")]
    assert "/admin/" not in links
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "admin")
    links = [a.get("href") for a in attributes(client.get("/").get_data(as_text=True), "//a")]
    assert "/admin/" in links


def test_admin_pages_render_for_administrators(client: FlaskClient) -> None:
    admin(client)
    for method, url, _ in admin_requests("0" * 40):
        if method == "GET":
            assert client.get(url).status_code == 200, url


def test_posts_without_csrf_token_are_refused(app: Flask, client: FlaskClient) -> None:
    admin(client)
    before = head(app)
    response = client.post("/admin/departments", data={"name": "无令牌部门", "base": before})
    assert response.status_code == 400
    assert head(app) == before


# -- users -----------------------------------------------------------------------------------


def new_user(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": "zhangsan",
        "display_name": "教务处 张三",
        "email": "zhangsan@example.edu.cn",
        "role": "editor",
        "departments": ["教务处", "组织人事处"],
        "password": "zhangsan-pass",
        "confirm": "zhangsan-pass",
    }
    return {**data, **changes}


def test_create_user_who_can_then_sign_in(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    response = client.post("/admin/users/new", data={**new_user(), "csrf_token": token})
    assert response.status_code == 302
    created = next(u for u in list_users(library(app).db) if u.username == "zhangsan")
    assert created.role is Role.EDITOR and set(created.departments) == {"教务处", "组织人事处"} and created.active
    assert created.display_name == "教务处 张三" and created.email == "zhangsan@example.edu.cn"
    listing = text_of(client.get("/admin/users"))
    assert "zhangsan" in listing and "部门编辑" in listing
    other = app.test_client()
    login(other, "zhangsan", "zhangsan-pass")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "张三"}, "用户名只能包含"),
        ({"username": "jiaowu"}, "已存在"),
        ({"password": "short", "confirm": "short"}, "密码至少"),
        ({"confirm": "different-pass"}, "两次输入的密码不一致"),
        ({"departments": []}, "部门编辑至少需要一个所属部门"),
        ({"departments": ["不存在的部门"]}, "不在部门列表中"),
        ({"role": "superuser"}, "请选择有效的角色"),
        ({"email": "not-an-address"}, "电子邮箱格式不正确"),
        ({"display_name": "<script>"}, "不能包含 < >"),
    ],
)
def test_create_user_refuses_bad_input(app: Flask, client: FlaskClient, changes: dict[str, object], message: str) -> None:
    token = admin(client)
    before = list_users(library(app).db)
    response = client.post("/admin/users/new", data={**new_user(**changes), "csrf_token": token})
    assert response.status_code == 400
    assert message in text_of(response)
    assert list_users(library(app).db) == before


def test_edit_role_and_departments(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    data = {
        "display_name": "王老师",
        "email": "",
        "role": "editor",
        "departments": ["组织人事处", "教务处"],
        "active": "y",
        "csrf_token": token,
    }
    assert client.post(f"/admin/users/{JIAOWU_ID}", data=data).status_code == 302
    user = user_view(library(app).db, JIAOWU_ID)
    assert user is not None and user.display_name == "王老师" and set(user.departments) == {"组织人事处", "教务处"}
    data = {**data, "role": "quality", "departments": []}
    assert client.post(f"/admin/users/{JIAOWU_ID}", data=data).status_code == 302
    user = user_view(library(app).db, JIAOWU_ID)
    assert user is not None and user.role is Role.QUALITY and user.departments == ()


def test_deactivated_user_cannot_sign_in_and_loses_session(app: Flask, client: FlaskClient) -> None:
    reader = app.test_client()
    login(reader, "duzhe")
    assert reader.get("/catalogue").status_code == 200
    token = admin(client)
    response = client.post(f"/admin/users/{DUZHE_ID}", data={"display_name": "普通教职工", "role": "reader", "csrf_token": token})
    assert response.status_code == 302
    user = user_view(library(app).db, DUZHE_ID)
    assert user is not None and not user.active
    assert reader.get("/catalogue").status_code == 302  # the open session no longer counts
    fresh = app.test_client()
    attempt = fresh.post("/login", data={"username": "duzhe", "password": "zhengai-demo", "csrf_token": csrf_token(fresh)})
    assert attempt.status_code == 200 and "用户名或密码不正确" in text_of(attempt)
    assert "停用" in text_of(client.get("/admin/users"))


@pytest.mark.parametrize("data", [{"role": "reader", "active": "y"}, {"role": "admin"}])
def test_administrators_cannot_demote_or_deactivate_themselves(app: Flask, client: FlaskClient, data: dict[str, str]) -> None:
    token = admin(client)
    response = client.post("/admin/users/1", data={"display_name": "系统管理员", **data, "csrf_token": token})
    assert response.status_code == 400
    assert "不能取消自己的管理员角色" in text_of(response)
    user = user_view(library(app).db, 1)
    assert user is not None and user.role is Role.ADMIN and user.active


def test_reset_password(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    url = f"/admin/users/{JIAOWU_ID}/password"
    assert client.post(url, data={"password": "short", "confirm": "short", "csrf_token": token}).status_code == 400
    assert client.post(url, data={"password": "brand-new-pass", "confirm": "brand-new-pass", "csrf_token": token}).status_code == 302
    old = app.test_client()
    response = old.post("/login", data={"username": "jiaowu", "password": "zhengai-demo", "csrf_token": csrf_token(old)})
    assert response.status_code == 200
    login(app.test_client(), "jiaowu", "brand-new-pass")


def test_unknown_user_is_404(client: FlaskClient) -> None:
    admin(client)
    assert client.get("/admin/users/999").status_code == 404
    assert client.get("/admin/users/999/password").status_code == 404


# -- departments -----------------------------------------------------------------------------


def test_department_rename_is_one_commit_over_catalogue_documents_and_users(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    lib = library(app)
    before = head(app)
    naming = {
        path
        for path, blob in lib.repo.list_files(before).items()
        if path.endswith(".md") and "教务处" in parse_document(lib.repo.read(path).text, path=path).meta.departments
    }
    assert len(naming) > 5
    response = client.post("/admin/departments/rename", data={"old": "教务处", "new": "教学工作处", "base": before, "csrf_token": token})
    assert response.status_code == 302
    [(message, paths)] = commits_since(app, before)
    assert paths == {CATALOGUE_PATH} | naming
    assert "教务处 → 教学工作处" in message
    catalogue = parse_catalogue(lib.repo.read(CATALOGUE_PATH).text)
    assert "教务处" not in catalogue.departments and "教学工作处" in catalogue.departments
    a104 = catalogue.item("A104")
    assert a104 is not None and a104.departments == ("组织人事处", "教学工作处")
    for path in naming:
        departments = parse_document(lib.repo.read(path).text, path=path).meta.departments
        assert "教学工作处" in departments and "教务处" not in departments
    jiaowu = user_view(lib.db, JIAOWU_ID)
    assert jiaowu is not None and jiaowu.departments == ("教学工作处",)
    [revision] = [e.revision for e in lib.repo.log(since=before)]
    assert revision.author_name == "系统管理员"
    assert "教学工作处" in text_of(client.get("/documents/A101Z"))


def test_department_rename_refusals(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    before = head(app)
    for old, new, message in [
        ("教务处", "组织人事处", "已存在"),
        ("教务处", "教务处", "相同"),
        ("教务处", "教、务", "不能包含"),
        ("没有", "新", "不存在"),
    ]:
        response = client.post("/admin/departments/rename", data={"old": old, "new": new, "base": before, "csrf_token": token})
        assert response.status_code == 400 and message in text_of(response), (old, new)
    assert head(app) == before
    assert user_view(library(app).db, JIAOWU_ID).departments == ("教务处",)


def test_department_add_and_remove_only_when_unused(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    base = head(app)
    assert client.post("/admin/departments", data={"name": " 督导室 ", "base": base, "csrf_token": token}).status_code == 302
    page = client.get("/admin/departments")
    rows = find_all(page.get_data(as_text=True), "//tr")
    assert len(rows) == 1 + 21
    duplicate = client.post("/admin/departments", data={"name": "督导室", "base": head(app), "csrf_token": token})
    assert duplicate.status_code == 400 and "已存在" in text_of(duplicate)
    for used in ("教务处", "校友办"):  # leads items and documents / leads an item
        before = head(app)
        refused = client.post("/admin/departments/remove", data={"name": used, "base": before, "csrf_token": token})
        assert refused.status_code == 400 and "不能删除" in text_of(refused)
        assert head(app) == before
    assert client.post("/admin/departments/remove", data={"name": "督导室", "base": head(app), "csrf_token": token}).status_code == 302
    assert "督导室" not in parse_catalogue(library(app).repo.read(CATALOGUE_PATH).text).departments


def test_department_used_only_by_a_user_cannot_be_removed(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    client.post("/admin/departments", data={"name": "督导室", "base": head(app), "csrf_token": token})
    user = new_user(username="dudao", departments=["督导室"])
    assert client.post("/admin/users/new", data={**user, "csrf_token": token}).status_code == 302
    refused = client.post("/admin/departments/remove", data={"name": "督导室", "base": head(app), "csrf_token": token})
    assert refused.status_code == 400 and "1 个用户" in text_of(refused)


# -- catalogue items -------------------------------------------------------------------------


def add_item(client: FlaskClient, token: str, base: str, **changes: object) -> TestResponse:
    data = {"group": "A1", "code": "A109", "name": "产教融合", "departments": ["教务处", "校企合作办"], "base": base, **changes}
    return client.post("/admin/catalogue/items", data={**data, "csrf_token": token})


def test_add_item(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    before = head(app)
    response = add_item(client, token, before)
    assert response.status_code == 302
    [(message, paths)] = commits_since(app, before)
    assert paths == {CATALOGUE_PATH} and message == "新增条目：A109 产教融合"
    item = parse_catalogue(library(app).repo.read(CATALOGUE_PATH).text).item("A109")
    assert item is not None and item.departments == ("教务处", "校企合作办")
    page = client.get("/items/A109")
    assert page.status_code == 200 and "产教融合" in text_of(page)


@pytest.mark.parametrize(
    ("group", "code", "message"),
    [
        ("A1", "A1011", "无效的三级条目代码"),
        ("A1", "a101", "无效的三级条目代码"),
        ("A1", "A201", "不属于二级 A1"),
        ("A1", "../x", "无效的三级条目代码"),
        ("A1", "Ａ109", "无效的三级条目代码"),  # full-width letter
        ("A1", "A101", "已存在"),
        ("A9", "A901", "二级 A9 不存在"),
        ("../", "A109", "无效的二级代码"),
    ],
)
def test_add_item_rejects_invalid_codes(app: Flask, client: FlaskClient, group: str, code: str, message: str) -> None:
    token = admin(client)
    before = head(app)
    response = add_item(client, token, before, group=group, code=code)
    assert response.status_code == 400
    assert message in text_of(response)
    assert head(app) == before


@pytest.mark.parametrize(
    ("changes", "message"), [({"departments": []}, "至少需要一个牵头部门"), ({"departments": ["不存在的部门"]}, "不在部门列表中")]
)
def test_add_item_checks_departments(app: Flask, client: FlaskClient, changes: dict[str, object], message: str) -> None:
    token = admin(client)
    before = head(app)
    response = add_item(client, token, before, **changes)
    assert response.status_code == 400 and message in text_of(response)
    assert head(app) == before


def test_add_level_group_and_item(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    for code, name in (("G", "质量保证"), ("G1", "诊断与改进")):
        response = client.post("/admin/catalogue/headings", data={"code": code, "name": name, "base": head(app), "csrf_token": token})
        assert response.status_code == 302, text_of(response)
    assert add_item(client, token, head(app), group="G1", code="G101", name="年度质量报告").status_code == 302
    catalogue = parse_catalogue(library(app).repo.read(CATALOGUE_PATH).text)
    assert [lv.code for lv in catalogue.levels][-1] == "G" and catalogue.item("G101") is not None
    assert "诊断与改进" in text_of(client.get("/catalogue/G"))


@pytest.mark.parametrize(
    ("code", "message"), [("AA", "无效的二级代码"), ("g", "无效的一级代码"), ("A12", "无效"), ("A", "已存在"), ("H1", "一级 H 不存在")]
)
def test_add_heading_refusals(app: Flask, client: FlaskClient, code: str, message: str) -> None:
    token = admin(client)
    before = head(app)
    response = client.post("/admin/catalogue/headings", data={"code": code, "name": "名称", "base": before, "csrf_token": token})
    assert response.status_code == 400 and message in text_of(response)
    assert head(app) == before


def test_rename_heading(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    response = client.post("/admin/catalogue/headings/A1", data={"name": "人才培养与教学", "base": head(app), "csrf_token": token})
    assert response.status_code == 302
    catalogue = parse_catalogue(library(app).repo.read(CATALOGUE_PATH).text)
    assert catalogue.group("A1").name == "人才培养与教学"


def test_rename_item_and_change_lead_departments(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    data = {"name": "专业设置与动态调整", "departments": ["教务处", "招生就业处"], "base": head(app), "csrf_token": token}
    assert client.post("/admin/catalogue/items/A101", data=data).status_code == 302
    item = parse_catalogue(library(app).repo.read(CATALOGUE_PATH).text).item("A101")
    assert item is not None and item.name == "专业设置与动态调整" and item.departments == ("教务处", "招生就业处")
    empty = client.post("/admin/catalogue/items/A101", data={**data, "name": "  ", "base": head(app)})
    assert empty.status_code == 400


def test_move_item_with_documents(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    lib = library(app)
    before = head(app)
    response = client.post(
        "/admin/catalogue/items/A101/move", data={"group": "A1", "new_code": "A109", "base": before, "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/catalogue/items/A109"
    [(message, paths)] = commits_since(app, before)
    old = {f"regulations/A/A1/A101{t}.md" for t in "ZL"} | {"standards/A/A1/A101B.md"}
    new = {p.replace("A101", "A109") for p in old}
    referring = {"standards/A/A1/A102B.md", "standards/A/A1/A106B.md", "standards/A/A1/A108B.md"}  # related: A101B
    assert paths == {CATALOGUE_PATH} | old | new | referring
    assert "A101 → A109" in message
    files = lib.repo.list_files(head(app))
    assert not old & files.keys() and new <= files.keys()
    moved = parse_document(lib.repo.read("regulations/A/A1/A109Z.md").text, path="regulations/A/A1/A109Z.md").meta
    assert str(moved.code) == "A109Z" and [str(r) for r in moved.related] == ["A109L", "A109B"]
    a102b = parse_document(lib.repo.read("standards/A/A1/A102B.md").text, path="standards/A/A1/A102B.md").meta
    assert "A109B" in [str(r) for r in a102b.related]
    catalogue = parse_catalogue(lib.repo.read(CATALOGUE_PATH).text)
    assert catalogue.item("A101") is None and catalogue.item("A109").name == "专业设置及调整"
    for url in ("/documents/A101Z", "/documents/A101L", "/documents/A101B", "/items/A101"):
        assert client.get(url).status_code == 404, url
    for url in ("/documents/A109Z", "/documents/A109L", "/documents/A109B", "/items/A109"):
        assert client.get(url).status_code == 200, url
    assert "包头职业技术学院专业设置与调整管理办法" in text_of(client.get("/documents/A109Z"))


def test_move_item_to_another_group(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    before = head(app)
    response = client.post(
        "/admin/catalogue/items/A102/move", data={"group": "A2", "new_code": "A203", "base": before, "csrf_token": token}
    )
    assert response.status_code == 302
    catalogue = parse_catalogue(library(app).repo.read(CATALOGUE_PATH).text)
    assert catalogue.item("A203") in catalogue.group("A2").items
    assert client.get("/documents/A203B").status_code == 200
    assert client.get("/documents/A102B").status_code == 404


@pytest.mark.parametrize(
    ("group", "new_code", "message"),
    [
        ("A1", "A102", "已存在"),
        ("A2", "A109", "不属于二级 A2"),
        ("A1", "A101", "相同"),
        ("A1", "A10", "无效的三级条目代码"),
        ("Z9", "Z901", "不存在"),
    ],
)
def test_move_refusals(app: Flask, client: FlaskClient, group: str, new_code: str, message: str) -> None:
    token = admin(client)
    before = head(app)
    data = {"group": group, "new_code": new_code, "base": before, "csrf_token": token}
    response = client.post("/admin/catalogue/items/A101/move", data=data)
    assert response.status_code == 400 and message in text_of(response)
    assert head(app) == before
    assert client.get("/documents/A101Z").status_code == 200


def test_move_refuses_when_target_files_exist(app: Flask, client: FlaskClient) -> None:
    """A document file with no catalogue item (e.g. pushed with git) is never overwritten."""
    token = admin(client)
    lib = library(app)
    text = lib.repo.read("regulations/A/A1/A101Z.md").text.replace("code: A101Z", "code: A109Z")
    lib.repo.write("regulations/A/A1/A109Z.md", text, author=EDITOR, message="孤立文件", base=head(app))
    before = head(app)
    response = client.post(
        "/admin/catalogue/items/A101/move", data={"group": "A1", "new_code": "A109", "base": before, "csrf_token": token}
    )
    assert response.status_code == 400 and "已有 A109 的文档文件" in text_of(response)
    assert head(app) == before


def test_unknown_or_invalid_item_is_404(client: FlaskClient) -> None:
    admin(client)
    assert client.get("/admin/catalogue/items/A199").status_code == 404
    assert client.get("/admin/catalogue/items/a101").status_code == 404


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_catalogue_edits_conflict(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    opened = head(app)  # both administrators opened their page at this commit
    other = app.test_client()
    login(other, "admin")
    first = add_item(other, csrf_token(other, "/admin/catalogue"), opened)
    assert first.status_code == 302
    after_first = head(app)
    for url, data in [
        ("/admin/catalogue/items", {"group": "A1", "code": "A110", "name": "另一条目", "departments": "教务处"}),
        ("/admin/departments/rename", {"old": "教务处", "new": "教学工作处"}),
        ("/admin/catalogue/items/A101/move", {"group": "A1", "new_code": "A111"}),
        ("/admin/departments/remove", {"name": "校友办"}),
    ]:
        response = client.post(url, data={**data, "base": opened, "csrf_token": token})
        assert response.status_code == 409, url
        assert "目录已被他人修改" in text_of(response)
    assert head(app) == after_first
    assert user_view(library(app).db, JIAOWU_ID).departments == ("教务处",)


def test_document_edits_since_the_page_opened_do_not_block_catalogue_edits(app: Flask, client: FlaskClient) -> None:
    token = admin(client)
    lib = library(app)
    opened = head(app)
    path = "regulations/B/B2/B202Z.md"
    lib.repo.write(path, lib.repo.read(path).text + "\n补充条款。\n", author=EDITOR, message="补充", base=opened)
    assert add_item(client, token, opened).status_code == 302
    response = client.post(
        "/admin/catalogue/items/A101/move", data={"group": "A1", "new_code": "A110", "base": opened, "csrf_token": token}
    )
    assert response.status_code == 409  # the catalogue itself changed (A109 was added)

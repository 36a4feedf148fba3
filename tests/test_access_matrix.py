"""Every route × every role: who may read, edit and administer, and that refusals change nothing.

A route missing from ROUTES fails `test_every_route_is_in_the_matrix`, so a new page cannot
ship without someone deciding who may use it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import OpenApp, csrf_token, login, make_app
from tests.databases import clone_instance
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DraftEvent, DraftRow, User
from zhengai_docs.users import Role
from zhengai_docs.workflow import Actor

pytestmark = pytest.mark.xdist_group("access_matrix")  # --dist loadgroup: the signed-in clients of every role are made once per worker

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "duzhe", "jiaowu", "renshi", "zhiliang", "admin")
SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
EVERYONE = frozenset(ROLES)
A101Z_EDITORS = frozenset({"jiaowu", "admin"})  # A101Z is led by 教务处
ADMINS = frozenset({"admin"})
EDITORS = frozenset({"jiaowu", "renshi", "admin"})  # who may open an editor (and its preview) at all
QUALITY = frozenset({"zhiliang", "admin"})
A101Z_REVIEWERS = A101Z_EDITORS | QUALITY  # "reviewed, no change": the owning editors and the quality office


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


def _review_data(client: FlaskClient, app: Flask) -> dict[str, str]:
    head = app.extensions["zhengai"].library.repo.head() or ""
    return {"csrf_token": csrf_token(client, "/login"), "reason": "越权确认审核未修订", "base": head}


# admin.department_remove answers 400 for a department still in use: authorised, but refused on content.
def _admin(fields: dict[str, str]) -> Callable[[FlaskClient, Flask], dict[str, str]]:
    """Form data that succeeds for an administrator (a fresh base commit for catalogue edits)."""

    def data(client: FlaskClient, app: Flask) -> dict[str, str]:
        base = app.extensions["zhengai"].library.repo.head() or ""
        return {"csrf_token": csrf_token(client, "/login"), **{k: v.replace("HEAD", base) for k, v in fields.items()}}

    return data


def _framework_upload(client: FlaskClient, app: Flask) -> dict[str, object]:  # type: ignore[misc]
    text = app.extensions["zhengai"].library.repo.read("frameworks/moe-2015.yaml").text.replace("id: moe-2015", "id: matrix-1", 1)
    return {"csrf_token": csrf_token(client, "/login"), "file": (io.BytesIO(text.encode()), "matrix.yaml")}


def _indicator_value(client: FlaskClient, app: Flask) -> dict[str, str]:
    """A101B (led by 教务处) has no 2025-2026 value for this indicator in the demo."""
    return {"csrf_token": csrf_token(client, "/login"), "period": "2025-2026", "value": "58"}


def _indicator_upload(client: FlaskClient, app: Flask) -> dict[str, object]:  # type: ignore[misc]
    table = "标准,指标,周期,数值\nA101B,生师比,2025-2026,17.5\n".encode()
    return {"csrf_token": csrf_token(client, "/login"), "file": (io.BytesIO(table), "values.csv"), "apply": "0"}


def _finding(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/login"), "agrees": "1", "expected": "0"}


def _word_upload(client: FlaskClient, app: Flask) -> dict[str, object]:  # type: ignore[misc]
    text = "# 包头职业技术学院专业设置与调整管理办法\n\n**第一条** 越权导入。\n"
    return {"csrf_token": csrf_token(client, "/login"), "file": (io.BytesIO(text.encode()), "A101Z.md")}


def _word_confirm(client: FlaskClient, app: Flask) -> dict[str, str]:
    head = app.extensions["zhengai"].library.repo.head() or ""
    body = "# 包头职业技术学院专业设置与调整管理办法\n\n**第一条** 越权导入。\n"
    fields = {"title": "包头职业技术学院专业设置与调整管理办法", "body": body, "message": "越权导入", "base": head, "source": "A101Z.md"}
    return {"csrf_token": csrf_token(client, "/login"), **fields}


def _self_diagnosis(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/login"), "opinion": "意见", "measures": "措施", "effects": "成效"}


def _token_only(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/login")}


def _with_draft(app: Flask) -> None:
    """Draft 1: a revision of A101Z opened by 教务处, for the draft routes to act on."""
    workflow = app.extensions["zhengai"].workflow
    if not workflow.listing():
        with app.extensions["zhengai"].db.session() as session:
            user = session.scalars(select(User).where(User.username == "jiaowu")).one()
            actor = Actor(user.id, user.username, user.display_name, user.email or "", Role.EDITOR, tuple(user.department_names))
        workflow.open(code=document_code("A101Z"), kind="revise", reason="矩阵测试", actor=actor)


def _draft_edit(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {**_edit_data(client, app), "base": app.extensions["zhengai"].workflow.get(1).tip}


def _note(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/login"), "text": "意见"}


def _approval(client: FlaskClient, app: Flask) -> dict[str, str]:
    fields = {"approving_body": "院长办公会", "meeting_date": "2026-11-20", "doc_number": "包职院发〔2026〕1号", "issue_date": "2026-11-25"}
    return {"csrf_token": csrf_token(client, "/login"), **fields}


def _attachment_upload(client: FlaskClient, app: Flask) -> dict[str, object]:  # type: ignore[misc]
    from docx import Document as WordDocument

    form, out = WordDocument(), io.BytesIO()
    form.add_paragraph("越权上传的申报表")
    form.save(out)
    services = app.extensions["zhengai"]
    fields = {"csrf_token": csrf_token(client, "/login"), "attachment_action": "add", "base": services.library.repo.head()}
    return {**fields, "expected": services.workflow.get(1).tip, "attachment_file": (io.BytesIO(out.getvalue()), "申报表.docx")}


def _picture(client: FlaskClient, app: Flask, *, base: str) -> dict[str, object]:  # type: ignore[misc]
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 0, 0)).save(out, "PNG")
    return {"csrf_token": csrf_token(client, "/login"), "base": base, "picture": (io.BytesIO(out.getvalue()), "越权插入.png")}


def _document_picture(client: FlaskClient, app: Flask) -> dict[str, object]:  # type: ignore[misc]
    return _picture(client, app, base=app.extensions["zhengai"].library.repo.head())


def _draft_picture(client: FlaskClient, app: Flask) -> dict[str, object]:  # type: ignore[misc]
    return _picture(client, app, base=app.extensions["zhengai"].workflow.get(1).tip)


def _open_revision(client: FlaskClient, app: Flask) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/login"), "kind": "revise", "reason": "越权发起修订"}


ROUTES = (
    Route("auth.login", "GET", "/login", EVERYONE),
    Route("favicon", "GET", "/favicon.ico", EVERYONE, ok=(301,)),
    Route("health.healthz", "GET", "/healthz", EVERYONE),  # monitoring: no sign-in, says nothing about content
    Route("auth.change_password", "GET", "/password", SIGNED_IN),
    Route("auth.logout", "POST", "/logout", EVERYONE, data=_token_only, ok=(302,)),
    # Campus sign-on (tests/test_signon_cas.py runs them against a real CAS server): 404 while CAS is off.
    Route("signon.cas_login", "GET", "/signon/cas/login", EVERYONE, ok=(404,)),
    Route("signon.cas_callback", "GET", "/signon/cas/callback?ticket=ST-1", EVERYONE, ok=(404,)),
    Route("signon.cas_single_logout", "POST", "/signon/cas/callback", EVERYONE, ok=(200,)),  # the CAS server's POST: no token
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
    Route("editing.preview", "POST", "/preview", EDITORS, json={"body": "# 预览"}),
    Route("editing.clauses", "POST", "/editor/clauses", EDITORS, json={"action": "renumber", "body": "**第二条** 内容\n"}),
    Route("cycles.dashboard", "GET", "/cycles/", SIGNED_IN),
    Route("cycles.mine", "GET", "/cycles/mine", SIGNED_IN),
    Route("cycles.listing", "GET", "/cycles/list?state=overdue", SIGNED_IN),
    Route("cycles.ontime", "GET", "/cycles/ontime", SIGNED_IN),
    Route("cycles.export_report", "GET", "/cycles/export.csv", SIGNED_IN),
    Route("cycles.export_report", "GET", "/cycles/export.docx", SIGNED_IN),
    Route("cycles.document", "GET", "/cycles/documents/A101Z", SIGNED_IN),
    Route("cycles.review", "POST", "/cycles/documents/A101Z/review", A101Z_REVIEWERS, data=_review_data, ok=(302,)),
    Route("search.page", "GET", "/search", SIGNED_IN),
    Route("search.api", "GET", "/api/search", SIGNED_IN, api=True),
    Route("api.catalogue", "GET", "/api/catalogue", SIGNED_IN, api=True),
    Route("api.document", "GET", "/api/documents/A101Z", SIGNED_IN, api=True),
    Route("api.history", "GET", "/api/documents/A101Z/history", SIGNED_IN, api=True),
    Route("audit.overview", "GET", "/audit/", SIGNED_IN),
    Route("audit.coverage_tree", "GET", "/audit/coverage?format=csv", SIGNED_IN),
    Route("audit.gaps", "GET", "/audit/gaps?dept=教务处", SIGNED_IN),
    Route("audit.matrix", "GET", "/audit/matrix?format=xlsx", SIGNED_IN),
    Route("audit.completeness", "GET", "/audit/completeness", SIGNED_IN),
    Route("audit.flags", "GET", "/audit/flags", SIGNED_IN),
    Route("audit.point", "GET", "/audit/points/2.1.1", SIGNED_IN),
    Route("audit.frameworks", "GET", "/audit/frameworks", SIGNED_IN),
    Route("audit.framework", "GET", "/audit/frameworks/beijing-2016", SIGNED_IN),
    Route("audit.import_framework", "POST", "/audit/frameworks/import", QUALITY, data=_framework_upload, ok=(302,)),
    Route("admin.index", "GET", "/admin/", ADMINS),
    Route("admin.users", "GET", "/admin/users", ADMINS),
    Route("admin.user_new", "GET", "/admin/users/new", ADMINS),
    Route(
        "admin.user_new",
        "POST",
        "/admin/users/new",
        ADMINS,
        ok=(302,),
        data=_admin(
            {"username": "xinren", "display_name": "新人", "role": "reader", "password": "long-enough-1", "confirm": "long-enough-1"}
        ),
    ),
    Route("admin.user_edit", "GET", "/admin/users/1", ADMINS),
    Route(
        "admin.user_edit",
        "POST",
        "/admin/users/5",
        ADMINS,
        ok=(302,),
        data=_admin({"display_name": "普通教职工", "role": "reader", "active": "y"}),
    ),
    Route("admin.user_password", "GET", "/admin/users/5/password", ADMINS),
    Route(
        "admin.user_password",
        "POST",
        "/admin/users/5/password",
        ADMINS,
        ok=(302,),
        data=_admin({"password": "taken-over-1", "confirm": "taken-over-1"}),
    ),
    Route("admin.departments", "GET", "/admin/departments", ADMINS),
    Route("admin.department_add", "POST", "/admin/departments", ADMINS, ok=(302,), data=_admin({"name": "新部门", "base": "HEAD"})),
    Route(
        "admin.department_rename",
        "POST",
        "/admin/departments/rename",
        ADMINS,
        ok=(302,),
        data=_admin({"old": "校友办", "new": "校友工作办", "base": "HEAD"}),
    ),
    Route(
        "admin.department_remove",
        "POST",
        "/admin/departments/remove",
        ADMINS,
        ok=(302, 400),
        data=_admin({"name": "校友办", "base": "HEAD"}),
    ),
    Route("admin.catalogue", "GET", "/admin/catalogue", ADMINS),
    Route("admin.signon", "GET", "/admin/signon", ADMINS),
    Route(
        "admin.signon_rule_add",
        "POST",
        "/admin/signon/rules",
        ADMINS,
        ok=(302,),
        data=_admin({"kind": "group", "value": "jiaowu-editors", "role": "editor", "department": "教务处"}),
    ),
    Route("admin.signon_rule_remove", "POST", "/admin/signon/rules/1/remove", ADMINS, data=_token_only, ok=(302,)),
    Route("admin.signon_local_passwords", "POST", "/admin/signon/local-passwords", ADMINS, data=_admin({"enabled": "y"}), ok=(302,)),
    Route(
        "admin.heading_add",
        "POST",
        "/admin/catalogue/headings",
        ADMINS,
        ok=(302,),
        data=_admin({"code": "G", "name": "新一级", "base": "HEAD"}),
    ),
    Route("admin.heading_rename", "POST", "/admin/catalogue/headings/A", ADMINS, ok=(302,), data=_admin({"name": "改名", "base": "HEAD"})),
    Route(
        "admin.item_add",
        "POST",
        "/admin/catalogue/items",
        ADMINS,
        ok=(302,),
        data=_admin({"group": "A1", "code": "A109", "name": "新条目", "departments": "教务处", "base": "HEAD"}),
    ),
    Route("admin.item", "GET", "/admin/catalogue/items/A101", ADMINS),
    Route(
        "admin.item",
        "POST",
        "/admin/catalogue/items/A101",
        ADMINS,
        ok=(302,),
        data=_admin({"name": "改名", "departments": "教务处", "base": "HEAD"}),
    ),
    Route(
        "admin.item_move",
        "POST",
        "/admin/catalogue/items/A102/move",
        ADMINS,
        ok=(302,),
        data=_admin({"group": "A1", "new_code": "A109", "base": "HEAD"}),
    ),
    Route("word.import_document", "GET", "/documents/A101Z/import", A101Z_EDITORS),
    Route("word.import_document", "POST", "/documents/A101Z/import", A101Z_EDITORS, data=_word_upload),
    Route("word.confirm_import", "POST", "/documents/A101Z/import/confirm", A101Z_EDITORS, data=_word_confirm, ok=(302,)),
    Route("word.export_document", "GET", "/documents/A101Z/export.docx", SIGNED_IN),
    Route("word.flowchart", "GET", "/documents/A101L/flowcharts/1.svg", SIGNED_IN),  # needs Graphviz (503 without)
    Route("word.handbook", "GET", "/handbook?level=B", SIGNED_IN),
    Route("word.handbook_docx", "GET", "/handbook.docx?level=B", SIGNED_IN),
    Route("word.self_diagnosis", "GET", "/reports/self-diagnosis?year=2026", QUALITY),
    Route("word.edit_self_diagnosis", "GET", "/reports/self-diagnosis/2026/1.1", QUALITY),
    Route("word.edit_self_diagnosis", "POST", "/reports/self-diagnosis/2026/1.1", QUALITY, data=_self_diagnosis, ok=(302,)),
    Route("word.self_diagnosis_docx", "GET", "/reports/self-diagnosis/2026.docx", QUALITY),
    Route("drafts.open_revision", "GET", "/documents/A101Z/revise", A101Z_EDITORS, ok=(200, 302)),
    Route("drafts.open_revision", "POST", "/documents/A101Z/revise", A101Z_EDITORS, data=_open_revision, ok=(302,)),
    Route("drafts.index", "GET", "/drafts", SIGNED_IN),
    Route("drafts.view", "GET", "/drafts/1", A101Z_EDITORS | QUALITY),
    Route("drafts.edit", "GET", "/drafts/1/edit", A101Z_EDITORS),
    Route("drafts.edit", "POST", "/drafts/1/edit", A101Z_EDITORS, data=_draft_edit, ok=(302,)),
    Route("drafts.submit", "POST", "/drafts/1/submit", A101Z_EDITORS, data=_note, ok=(302,)),
    Route("drafts.comment", "POST", "/drafts/1/comment", A101Z_EDITORS | QUALITY, data=_note, ok=(302,)),
    Route("drafts.request_changes", "POST", "/drafts/1/request-changes", QUALITY, data=_note, ok=(302,)),
    Route("drafts.approve", "POST", "/drafts/1/approve", QUALITY, data=_approval, ok=(302,)),
    Route("drafts.publish", "POST", "/drafts/1/publish", QUALITY, data=_note, ok=(302,)),
    Route("drafts.update", "POST", "/drafts/1/update", A101Z_EDITORS | QUALITY, data=_note, ok=(302,)),
    Route("drafts.discard", "POST", "/drafts/1/discard", A101Z_EDITORS | QUALITY, data=_note, ok=(302,)),
    Route("drafts.notifications", "GET", "/notifications", SIGNED_IN),
    Route("drafts.mark_read", "POST", "/notifications/read", SIGNED_IN, data=_token_only, ok=(302,)),
    Route("drafts.open_notification", "GET", "/notifications/1", SIGNED_IN, ok=(404,)),  # message 1 is nobody's here
    Route("drafts.confirm_read", "POST", "/documents/A101Z/confirm-read", SIGNED_IN, data=_token_only, ok=(302,)),
    Route("drafts.readers", "GET", "/documents/A101Z/readers", A101Z_EDITORS | QUALITY),
    # Issue 19: the demo has no 附件, so reading one is a 404 for whoever may read (tests/test_attachments.py reads real ones).
    Route("attachments.download", "GET", "/documents/A101Z/attachments/附件1-申报表.docx", SIGNED_IN, ok=(404,)),
    Route("attachments.picture", "GET", "/documents/A101Z/images/image-3f2a9c1b7d4e.png", SIGNED_IN, ok=(404,)),
    Route("attachments.draft_download", "GET", "/drafts/1/attachments/附件1-申报表.docx", A101Z_EDITORS | QUALITY, ok=(404,)),
    Route("attachments.draft_picture", "GET", "/drafts/1/images/image-3f2a9c1b7d4e.png", A101Z_EDITORS | QUALITY, ok=(404,)),
    Route("attachments.change", "POST", "/documents/A101Z/attachments", A101Z_EDITORS, data=_attachment_upload, ok=(302,)),
    Route("attachments.change_in_draft", "POST", "/drafts/1/attachments", A101Z_EDITORS, data=_attachment_upload, ok=(302,)),
    Route("editor_pictures.insert_in_document", "POST", "/documents/A101Z/pictures", A101Z_EDITORS, data=_document_picture),
    Route("editor_pictures.insert_in_draft", "POST", "/drafts/1/pictures", A101Z_EDITORS, data=_draft_picture),
    Route(
        "editor_pictures.draft_picture_by_reference",
        "GET",
        "/drafts/1/files/A101Z/images/image-3f2a9c1b7d4e.png",
        A101Z_EDITORS | QUALITY,
        ok=(302,),
    ),
    Route("indicators.overview", "GET", "/indicators/?dept=教务处&status=warning", SIGNED_IN),
    Route("indicators.points", "GET", "/indicators/points?format=csv", SIGNED_IN),
    Route("indicators.document", "GET", "/indicators/documents/A101B", SIGNED_IN),
    Route("indicators.indicator", "GET", "/indicators/documents/A101B/生师比", SIGNED_IN),
    Route(
        "indicators.indicator",
        "POST",
        "/indicators/documents/A101B/专任教师中双师型教师比例",
        A101Z_EDITORS,
        data=_indicator_value,
        ok=(302,),
    ),
    Route("indicators.import_values", "GET", "/indicators/import", EDITORS),
    Route("indicators.import_values", "POST", "/indicators/import", EDITORS, data=_indicator_upload),
    Route("indicators.review", "POST", "/indicators/reports/self-diagnosis/2026/1.1/review", QUALITY, data=_finding, ok=(302,)),
)


def _state(app: Flask) -> tuple[object, ...]:
    """What a refused request must leave untouched: the content head, the users, the drafts."""
    db: Database = app.extensions["zhengai"].db
    with db.session() as session:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        events = session.scalar(select(func.count()).select_from(DraftEvent)) or 0
        drafts = tuple(session.execute(select(DraftRow.id, DraftRow.status, DraftRow.tip)).all())
    return app.extensions["zhengai"].library.repo.head(), users, events, drafts


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    covered = {route.endpoint for route in ROUTES}
    assert endpoints - covered == set(), "routes nobody has decided access for"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[tuple[Flask, dict[str, FlaskClient]]]:
    """One app and one signed-in client per role for every request that must not change
    anything (reads, and writes by roles that are refused); logging in hashes a password,
    so doing it once per role instead of once per test saves minutes."""
    target = clone_instance(demo_template, tmp_path_factory.mktemp("matrix") / "instance")
    app = make_app(target)
    _with_draft(app)
    clients = {}
    for role in ROLES:
        clients[role] = app.test_client()
        if role != ANONYMOUS:
            login(clients[role], role)
    yield app, clients
    app.extensions["zhengai"].close()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.url}")
def test_route_by_role(route: Route, role: str, instance: Path, open_app: OpenApp, shared: tuple[Flask, dict[str, FlaskClient]]) -> None:
    writes = route.method != "GET" and role in route.allowed
    if writes:  # a successful write gets its own instance, so later tests see the demo state
        app = open_app(instance)
        _with_draft(app)
        client = app.test_client()
        if role != ANONYMOUS:
            login(client, role)
    else:
        app, clients = shared
        client = clients[role]
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


PERSONAL = {"/password", "/drafts", "/notifications", "/notifications/1"}  # pages about the signed-in user, never anonymous


def test_anonymous_reading_when_the_setting_allows_it(instance: Path, open_app: OpenApp) -> None:
    app = open_app(instance, ANONYMOUS_READ=True)
    client = app.test_client()
    for route in ROUTES:
        if route.method == "GET" and route.allowed == SIGNED_IN and route.url not in PERSONAL:
            url = route.url.replace("HEAD_COMMIT", app.extensions["zhengai"].library.repo.head() or "")
            assert client.get(url).status_code in route.ok, url
    assert client.get("/documents/A101Z/edit").status_code == 302  # writing still needs sign-in

"""Creating, editing, conflicts, diffs and restore through the real app and a real repository."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.actors import AS_EDITOR
from tests.conftest import OpenApp, csrf_token, login
from tests.html_reader import form_fields, visible_text
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.library import Library

A101Z = document_code("A101Z")


def _library(app: Flask) -> Library:
    return app.extensions["zhengai"].library


def _open_editor(client: FlaskClient, code: str = "A101Z") -> dict[str, str | list[str]]:
    page = client.get(f"/documents/{code}/edit")
    assert page.status_code == 200
    return form_fields(page.get_data(as_text=True), "document-form")


def test_editor_saves_with_message_and_author(app: Flask, client: FlaskClient) -> None:
    login(client, "jiaowu")
    fields = _open_editor(client)
    assert fields["title"] == "包头职业技术学院专业设置与调整管理办法"
    assert fields["departments"] == "教务处"
    fields["body"] = str(fields["body"]).replace("第一条", "第一条（修订）", 1)
    fields["message"] = "依据新版专业目录修订第一条"
    response = client.post("/documents/A101Z/edit", data=fields)
    assert response.status_code == 302 and response.location.endswith("/documents/A101Z")
    saved = _library(app).load(A101Z).document
    assert "第一条（修订）" in saved.body
    assert saved.meta.title == "包头职业技术学院专业设置与调整管理办法"
    history = client.get("/documents/A101Z/history").get_data(as_text=True)
    assert "依据新版专业目录修订第一条" in history and "教务处 王老师" in history


def test_saving_an_unchanged_form_keeps_the_file_byte_for_byte(app: Flask, client: FlaskClient) -> None:
    before = _library(app).repo.read(A101Z.path)
    login(client, "jiaowu")
    fields = _open_editor(client)
    fields["message"] = "核对，无修改"
    assert client.post("/documents/A101Z/edit", data=fields).status_code == 302
    after = _library(app).repo.read(A101Z.path)
    assert after.text == before.text and after.commit == before.commit


def test_missing_revision_note_is_refused_and_nothing_changes(app: Flask, client: FlaskClient) -> None:
    head = _library(app).repo.head()
    login(client, "jiaowu")
    fields = _open_editor(client)
    fields["body"] = "改了正文\n"
    fields["message"] = ""
    response = client.post("/documents/A101Z/edit", data=fields)
    assert response.status_code == 200
    assert "请填写修订说明" in visible_text(response.get_data(as_text=True))
    assert _library(app).repo.head() == head


def test_invalid_related_code_and_point_are_field_errors(app: Flask, client: FlaskClient) -> None:
    head = _library(app).repo.head()
    login(client, "jiaowu")
    fields = _open_editor(client)
    fields.update(related="A101L ../etc", points="2.1.1 abc", message="改关联")
    text = visible_text(client.post("/documents/A101Z/edit", data=fields).get_data(as_text=True))
    assert "不是有效的文档代码：../etc" in text
    assert "诊断点编号格式不正确：abc" in text
    assert _library(app).repo.head() == head


def test_editor_cannot_hand_the_document_to_other_departments_only(app: Flask, client: FlaskClient) -> None:
    head = _library(app).repo.head()
    login(client, "jiaowu")
    fields = _open_editor(client)
    fields.update(departments="组织人事处", message="移交")
    response = client.post("/documents/A101Z/edit", data=fields)
    assert "牵头部门须包含您所在的部门" in visible_text(response.get_data(as_text=True))
    assert _library(app).repo.head() == head


def test_other_department_reader_and_anonymous_cannot_edit(app: Flask, client: FlaskClient) -> None:
    assert client.get("/documents/A101Z/edit").status_code == 302
    head = _library(app).repo.head()
    for user in ("renshi", "duzhe", "zhiliang"):
        login(client, user)
        assert client.get("/documents/A101Z/edit").status_code == 403
        token = csrf_token(client, "/documents/A101Z")
        response = client.post("/documents/A101Z/edit", data={"csrf_token": token, "title": "x", "departments": "教务处", "message": "x"})
        assert response.status_code == 403
        assert "编辑此文档" not in client.get("/documents/A101Z").get_data(as_text=True)
        client.post("/logout", data={"csrf_token": token})
    assert _library(app).repo.head() == head


def test_admin_may_edit_any_document(client: FlaskClient) -> None:
    login(client, "admin")
    assert client.get("/documents/B101Z/edit").status_code in (200, 404)
    assert client.get("/documents/A101Z/edit").status_code == 200


def test_create_missing_regulation_from_its_skeleton(app: Flask, client: FlaskClient) -> None:
    login(client, "jiaowu")
    item = client.get("/items/A108").get_data(as_text=True)
    assert "/items/A108/new/Z" in item
    page = client.get("/items/A108/new/Z")
    assert page.status_code == 200
    fields = form_fields(page.get_data(as_text=True), "document-form")
    assert "第一章" in str(fields["body"]) or "第一条" in str(fields["body"])
    assert fields["status"] == "草稿" and fields["departments"] == "教务处"
    fields["title"] = "包头职业技术学院招生录取工作管理办法"
    response = client.post("/items/A108/new/Z", data=fields)
    assert response.status_code == 302, visible_text(response.get_data(as_text=True))
    created = _library(app).load(document_code("A108Z")).document
    assert created.meta.title == "包头职业技术学院招生录取工作管理办法"
    assert created.body.startswith("# 包头职业技术学院招生录取工作管理办法\n")
    assert "A108Z" in client.get("/items/A108").get_data(as_text=True)
    assert client.get("/items/A108/new/Z").status_code == 302  # exists now: goes to the editor


def test_create_is_refused_outside_my_departments_and_for_bad_codes(client: FlaskClient) -> None:
    login(client, "renshi")
    assert client.get("/items/A108/new/Z").status_code == 403
    assert "/items/A108/new/Z" not in client.get("/items/A108").get_data(as_text=True)
    for bad in ("/items/A108/new/X", "/items/A1080/new/Z", "/items/a108/new/z", "/items/Z999/new/Z"):
        assert client.get(bad).status_code == 404, bad


def test_two_creators_of_the_same_document_get_a_conflict(app: Flask, client: FlaskClient) -> None:
    login(client, "jiaowu")
    fields = form_fields(client.get("/items/A108/new/Z").get_data(as_text=True), "document-form")
    other = _library(app).load(document_code("A101Z")).document
    rival = other.with_changes(body="# 他人先建的制度\n", code=document_code("A108Z"), title="他人先建的制度")
    _library(app).save(rival, actor=AS_EDITOR, message="抢先新建", base=None)
    fields.update(title="我的制度", body="# 我的制度\n\n第一条 我的内容。\n")
    response = client.post("/items/A108/new/Z", data=fields)
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "保存冲突" in visible_text(text) and "第一条 我的内容。" in text
    assert _library(app).load(document_code("A108Z")).document.meta.title == "他人先建的制度"


def test_conflict_page_merges_both_edits_and_saving_it_keeps_both(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    login(client, "jiaowu")
    mine = _open_editor(client)
    # Someone else saves a change to the last paragraph after my editor opened.
    theirs = library.load(A101Z)
    their_body = theirs.document.body.rstrip("\n") + "\n\n他人追加的一段。\n"
    library.save(theirs.document.with_changes(body=their_body), actor=AS_EDITOR, message="他人的修订", base=theirs.version.commit)
    head_after_theirs = library.repo.head()
    # My change touches the first lines and the document number.
    mine["body"] = "> 我加的说明。\n\n" + str(mine["body"])
    mine.update(doc_number="包职院发〔2024〕1号", message="我的修订")
    response = client.post("/documents/A101Z/edit", data=mine)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert library.repo.head() == head_after_theirs  # nothing overwritten
    assert "保存冲突" in visible_text(page) and "他人的修订" in visible_text(page)
    proposal = form_fields(page, "document-form")
    assert "我加的说明" in str(proposal["body"]) and "他人追加的一段" in str(proposal["body"])
    assert proposal["doc_number"] == "包职院发〔2024〕1号"
    assert proposal["base"] == head_after_theirs
    assert client.post("/documents/A101Z/edit", data=proposal).status_code == 302
    final = library.load(A101Z).document
    assert "我加的说明" in final.body and "他人追加的一段" in final.body
    assert final.meta.doc_number == "包职院发〔2024〕1号"


def test_overlapping_edits_are_marked_for_the_user(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    login(client, "jiaowu")
    mine = _open_editor(client)
    theirs = library.load(A101Z)
    first = theirs.document.body.split("\n")[0]
    library.save(
        theirs.document.with_changes(body=theirs.document.body.replace(first, first + "（他人改）", 1)),
        actor=AS_EDITOR,
        message="他人改标题行",
        base=theirs.version.commit,
    )
    mine["body"] = str(mine["body"]).replace(first, first + "（我改）", 1)
    mine["message"] = "我改标题行"
    page = client.post("/documents/A101Z/edit", data=mine).get_data(as_text=True)
    proposal = str(form_fields(page, "document-form")["body"])
    assert "<<<<<<< 你的修改" in proposal and ">>>>>>> 他人已保存的版本" in proposal
    assert "（我改）" in proposal and "（他人改）" in proposal
    assert "处双方改了同一段落" in visible_text(page)


def test_preview_renders_sanitised_html_and_needs_csrf(client: FlaskClient) -> None:
    login(client, "jiaowu")
    token = csrf_token(client, "/documents/A101Z/edit")
    body = {"body": "## 第一章\n\n| 指标 | 目标值 |\n|---|---|\n| 就业率 | ≥ 90% |\n\n<script>alert(1)</script>"}
    response = client.post("/preview", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert "<table>" in html and "<script" not in html and 'id="第一章"' in html
    assert client.post("/preview", json=body).status_code == 400  # no CSRF token
    assert client.post("/preview", json={"body": 5}, headers={"X-CSRFToken": token}).status_code == 400


def test_preview_needs_sign_in(client: FlaskClient) -> None:
    assert client.post("/preview", json={"body": "x"}).status_code in (302, 400)


def test_diff_between_any_two_versions_marks_changed_characters(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    first = library.load(A101Z)
    changed = first.document.with_changes(body=first.document.body.replace("专业", "专业群", 1))
    library.save(changed, actor=AS_EDITOR, message="一改", base=first.version.commit)
    second = library.load(A101Z)
    extended = second.document.with_changes(body=second.document.body + "\n新增一条。\n")
    library.save(extended, actor=AS_EDITOR, message="二改", base=second.version.commit)
    login(client, "duzhe")
    history = client.get("/documents/A101Z/history").get_data(as_text=True)
    assert 'form="compare-form"' in history and "恢复为此版本" not in history
    page = client.get(f"/documents/A101Z/diff?from={first.version.commit}&to={library.repo.head()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<ins>群</ins>" in html and "<ins>新增一条。</ins>" in html
    assert client.get("/documents/A101Z/diff?from=--output=x").status_code == 400
    assert client.get("/documents/A101Z/diff?from=deadbeef").status_code == 404
    assert client.get("/documents/A101Z/diff").status_code == 400


def test_restore_brings_an_old_version_back_as_a_new_commit(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    original = library.load(A101Z)
    library.save(original.document.with_changes(body="被误改的正文\n"), actor=AS_EDITOR, message="误改", base=original.version.commit)
    login(client, "jiaowu")
    history = client.get("/documents/A101Z/history").get_data(as_text=True)
    assert "恢复为此版本" in history
    token = csrf_token(client, "/documents/A101Z/history")
    response = client.post(
        "/documents/A101Z/restore", data={"csrf_token": token, "revision": original.version.commit, "base": library.repo.head()}
    )
    assert response.status_code == 302
    assert library.load(A101Z).document.body == original.document.body
    assert len(library.repo.history(A101Z.path)) == 3


def test_restore_is_refused_for_readers_and_stale_bases(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    original = library.load(A101Z)
    library.save(original.document.with_changes(body="新正文\n"), actor=AS_EDITOR, message="改", base=original.version.commit)
    head = library.repo.head()
    login(client, "duzhe")
    token = csrf_token(client, "/documents/A101Z/history")
    data = {"csrf_token": token, "revision": original.version.commit, "base": head}
    assert client.post("/documents/A101Z/restore", data=data).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "jiaowu")
    token = csrf_token(client, "/documents/A101Z/history")
    stale = {"csrf_token": token, "revision": original.version.commit, "base": original.version.commit}
    assert client.post("/documents/A101Z/restore", data=stale).status_code == 409
    assert library.repo.head() == head


def test_flowchart_documents_load_the_vendored_mermaid(client: FlaskClient) -> None:
    login(client, "duzhe")
    response = client.get("/documents/A101L")
    html = response.get_data(as_text=True)
    assert 'class="language-mermaid"' in html and re.search(r"/static/vendor/mermaid-11\.17\.2\.min\.[0-9a-f]{12}\.js", html)
    assert "'unsafe-inline'" in response.headers["Content-Security-Policy"].split("style-src")[1]
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    plain = client.get("/documents/A101Z")
    assert "mermaid" not in plain.get_data(as_text=True)
    assert "unsafe-inline" not in plain.headers["Content-Security-Policy"]
    with client.get("/static/vendor/mermaid-11.17.2.LICENSE.txt") as licence:
        assert licence.status_code == 200 and b"MIT" in licence.data


def test_a_body_git_could_not_store_back_shows_the_editor_again_with_the_text(app: Flask, client: FlaskClient) -> None:
    """A control character pasted from an old system is refused by the storage rule; the clerk
    gets the editor back with every character typed and the reason, never an error page."""
    login(client, "jiaowu")
    head = _library(app).repo.head()
    fields = _open_editor(client)
    typed = str(fields["body"]).replace("第一条", "第一条（新增\x0b内容）", 1)
    fields["body"], fields["message"] = typed, "修订第一条"
    response = client.post("/documents/A101Z/edit", data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "控制字符 U+000B" in visible_text(page)
    assert form_fields(page, "document-form")["body"] == typed.replace("\r\n", "\n")
    assert _library(app).repo.head() == head


def test_a_refused_new_document_draft_keeps_the_text(instance: Path, open_app: OpenApp) -> None:
    client = open_app(instance, REVIEW_REQUIRED=True).test_client()
    login(client, "jiaowu")
    fields = form_fields(client.get("/items/A108/new/Z").get_data(as_text=True), "document-form")
    fields["title"] = "招生录取工作管理办法"
    fields["body"] = str(fields["body"]) + "\n附则\x0c内容\n"
    response = client.post("/items/A108/new/Z", data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "控制字符 U+000C" in visible_text(page)
    assert "附则\x0c内容" in str(form_fields(page, "document-form")["body"])

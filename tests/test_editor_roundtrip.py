"""Opening a document, or a draft, in the editor and saving it untouched changes nothing.

The form is posted exactly as the page would send it (tests/html_reader.py's `form_fields`),
for every demo document: no commit, no diff. What the editor's script does to the body is
checked in the browser (tests/test_browser.py); this is the server's half of the promise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from tests.conftest import client_for, csrf_token
from tests.html_reader import form_fields
from tests.test_drafts_web import open_revision
from zhengai_docs.catalogue.codes import document_code


def _services(app: Flask) -> Any:
    return app.extensions["zhengai"]


def _demo_codes(app: Flask) -> list[str]:
    repo = _services(app).library.repo
    paths = [*repo.list_files(repo.require_head(), under="regulations"), *repo.list_files(repo.require_head(), under="standards")]
    return sorted(Path(p).stem for p in paths)


def test_every_demo_document_saved_unchanged_makes_no_commit(app: Flask) -> None:
    admin = client_for(app, "admin")  # may edit every document
    repo = _services(app).library.repo
    codes = _demo_codes(app)
    assert len(codes) == 30
    committed = []
    for code in codes:
        head = repo.require_head()
        page = admin.get(f"/documents/{code}/edit")
        assert page.status_code == 200, code
        fields = form_fields(page.get_data(as_text=True), "document-form")
        response = admin.post(f"/documents/{code}/edit", data={**fields, "message": "只是打开后保存"})
        assert response.status_code == 302, (code, response.status_code)
        if repo.require_head() != head:
            committed.append(code)
    assert committed == []


def test_departments_keep_their_stored_order_when_another_is_ticked(app: Flask) -> None:
    """A104Z is led by 组织人事处 then 教务处 (catalogue order is the other way round)."""
    admin = client_for(app, "admin")
    library = _services(app).library
    fields = form_fields(admin.get("/documents/A104Z/edit").get_data(as_text=True), "document-form")
    assert fields["departments"] == ["教务处", "组织人事处"]  # the checkboxes, in the catalogue's order
    ticked = [*fields["departments"], "招生就业处"]
    response = admin.post("/documents/A104Z/edit", data={**fields, "departments": ticked, "message": "增加牵头部门"})
    assert response.status_code == 302
    assert library.load(document_code("A104Z")).document.meta.departments == ("组织人事处", "教务处", "招生就业处")


def test_a_draft_saved_unchanged_makes_no_commit_and_no_event(open_app: Any, instance: Path) -> None:
    app = open_app(instance, REVIEW_REQUIRED=True)
    editor = client_for(app, "jiaowu")
    workflow = _services(app).workflow
    for code in ("A104Z", "A101Z"):  # two lead departments in their own order; one
        draft_id = open_revision(editor, code)
        before = workflow.get(draft_id)
        events = len(workflow.events(draft_id))
        fields = form_fields(editor.get(f"/drafts/{draft_id}/edit").get_data(as_text=True), "document-form")
        response = editor.post(f"/drafts/{draft_id}/edit", data={**fields, "message": "只是打开后保存"}, follow_redirects=True)
        assert response.status_code == 200
        assert "内容没有变化" in response.get_data(as_text=True)
        after = workflow.get(draft_id)
        assert after.tip == before.tip, code
        assert len(workflow.events(draft_id)) == events


def test_a_changed_draft_is_still_saved(open_app: Any, instance: Path) -> None:
    app = open_app(instance, REVIEW_REQUIRED=True)
    editor = client_for(app, "jiaowu")
    workflow = _services(app).workflow
    draft_id = open_revision(editor, "A104Z")
    before = workflow.get(draft_id)
    fields = form_fields(editor.get(f"/drafts/{draft_id}/edit").get_data(as_text=True), "document-form")
    body = str(fields["body"]) + "\n**第九十九条** 本办法自发布之日起施行。\n"
    response = editor.post(f"/drafts/{draft_id}/edit", data={**fields, "body": body, "message": "补充施行日期"})
    assert response.status_code == 302
    after = workflow.get(draft_id)
    assert after.tip != before.tip
    assert "第九十九条" in workflow.document(after).body
    assert workflow.document(after).meta.departments == ("组织人事处", "教务处")


def test_clause_endpoint_renumbers_and_lists_the_changes(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    editor.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(editor, "/")
    body = "## 第一章 总则\n\n**第一条** 甲。\n\n**第二条** 乙，依照本办法第一条。\n"
    response = editor.post("/editor/clauses", json={"action": "insert_clause", "body": body, "position": 0})
    assert response.status_code == 200
    data = response.get_json()
    assert [c["label"] for c in data["clauses"]] == ["第一条", "第二条"]
    assert data["body"].startswith("## 第一章 总则\n\n**第一条** 【请填写条文内容】\n\n**第二条** 甲。")
    assert [(c["old"], c["new"]) for c in data["changes"]] == [
        ("（新增）", "第一条"),
        ("第一条", "第二条"),
        ("第二条", "第三条"),
        ("本办法第一条", "本办法第二条"),
    ]
    assert editor.post("/editor/clauses", json={"action": "drop", "body": body}).status_code == 400
    assert editor.post("/editor/clauses", json={"action": "renumber", "body": "x" * 500_001}).status_code == 413
    reader = client_for(app, "duzhe")
    reader.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(reader, "/")
    assert reader.post("/editor/clauses", json={"action": "renumber", "body": body}).status_code == 403

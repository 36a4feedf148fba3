"""Drafts, review and publication through the web app with REVIEW_REQUIRED on (the default).

Readers never see draft text — pages, search, API, exports — until it is published; every
transition checks the role on the server; publication carries the approval into history.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document as WordDocument
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import client_for, csrf_token, make_app
from tests.html_reader import form_fields

SENTENCE = "第九条 专业设置须经专业建设指导委员会论证后报院长办公会审定。"
APPROVAL = {"approving_body": "院长办公会", "meeting_date": "2026-11-20", "doc_number": "包职院发〔2026〕12号", "issue_date": "2026-11-25"}


@pytest.fixture
def app(indexed_instance: Path) -> Iterator[Flask]:
    application = make_app(indexed_instance, REVIEW_REQUIRED=True)
    yield application
    application.extensions["zhengai"].close()


def token(client: FlaskClient, url: str) -> str:
    return csrf_token(client, url)


def open_revision(editor: FlaskClient, code: str = "A101Z", kind: str = "revise") -> int:
    response = editor.post(
        f"/documents/{code}/revise",
        data={"kind": kind, "reason": "落实新版专业目录", "csrf_token": token(editor, f"/documents/{code}/revise")},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/drafts/(\d+)", response.headers["Location"])[1])  # type: ignore[index]


def save_draft(editor: FlaskClient, draft_id: int, addition: str, *, base: str | None = None) -> TestResponse:
    data = form_fields(editor.get(f"/drafts/{draft_id}/edit").get_data(as_text=True), "document-form")
    data.update(body=f"{data['body']}\n{addition}\n", message="补充专业论证条款")
    if base is not None:
        data["base"] = base
    return editor.post(f"/drafts/{draft_id}/edit", data=data)


def post(client: FlaskClient, url: str, page: str, **data: str) -> str:
    response = client.post(url, data={**data, "csrf_token": token(client, page)}, follow_redirects=True)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def docx_text(data: bytes) -> str:
    return "\n".join(p.text for p in WordDocument(io.BytesIO(data)).paragraphs)


def test_editors_revise_through_drafts_not_in_place(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    page = editor.get("/documents/A101Z").get_data(as_text=True)
    assert "发起修订" in page and "发起废止" in page and "编辑此文档" not in page
    assert editor.get("/documents/A101Z/edit").headers["Location"].endswith("/documents/A101Z/revise")
    admin = client_for(app, "admin")
    assert "直接修改（勘误）" in admin.get("/documents/A101Z").get_data(as_text=True)
    assert admin.get("/documents/A101Z/edit").status_code == 200


def test_readers_never_see_draft_text_until_it_is_published(app: Flask) -> None:
    editor, reader, quality = client_for(app, "jiaowu"), client_for(app, "duzhe"), client_for(app, "zhiliang")
    draft_id = open_revision(editor)
    assert save_draft(editor, draft_id, SENTENCE).status_code == 302
    assert SENTENCE in editor.get(f"/drafts/{draft_id}").get_data(as_text=True)
    hidden = SENTENCE[4:20]

    def visible_to_readers() -> list[str]:
        seen = []
        if hidden in reader.get("/documents/A101Z").get_data(as_text=True):
            seen.append("page")
        if hidden in reader.get("/documents/A101Z/source").get_data(as_text=True):
            seen.append("source")
        if hidden in reader.get("/api/documents/A101Z").get_data(as_text=True):
            seen.append("api")
        if reader.get(f"/api/search?q={hidden}").get_json()["total"]:
            seen.append("search")
        if hidden in docx_text(reader.get("/documents/A101Z/export.docx").data):
            seen.append("export")
        if hidden in docx_text(reader.get("/handbook.docx").data):
            seen.append("handbook")
        return seen

    assert visible_to_readers() == []
    assert reader.get(f"/drafts/{draft_id}").status_code == 403
    assert client_for(app, "renshi").get(f"/drafts/{draft_id}").status_code == 403
    tip = app.extensions["zhengai"].workflow.get(draft_id).tip
    for url in (
        f"/documents/A101Z?rev={tip}",
        f"/documents/A101Z/source?rev={tip}",
        f"/api/documents/A101Z?rev={tip}",
        f"/documents/A101Z/export.docx?rev={tip}",
    ):
        assert reader.get(url).status_code == 404, url  # a draft commit is not a version of the document
    assert reader.get(f"/documents/A101Z/diff?from={tip}").status_code == 404

    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL)
    assert visible_to_readers() == []  # approved is not yet published
    post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    assert visible_to_readers() == ["page", "source", "api", "search", "export", "handbook"]


def test_review_round_trip_records_the_approval_in_history(app: Flask) -> None:
    editor, quality, reader = client_for(app, "jiaowu"), client_for(app, "zhiliang"), client_for(app, "duzhe")
    draft_id = open_revision(editor)
    save_draft(editor, draft_id, SENTENCE)
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    assert "待我审核（1）" in quality.get("/drafts").get_data(as_text=True)
    assert '<span class="badge"' in quality.get("/").get_data(as_text=True)
    assert (
        editor.post(f"/drafts/{draft_id}/approve", data={**APPROVAL, "csrf_token": token(editor, f"/drafts/{draft_id}")}).status_code == 403
    )
    page = post(quality, f"/drafts/{draft_id}/request-changes", f"/drafts/{draft_id}", text="请写明论证程序")
    assert "需修改" in page and "请写明论证程序" in page
    assert "退回修改" in editor.get("/notifications").get_data(as_text=True)
    save_draft(editor, draft_id, "论证程序见附件。")
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    page = post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **{**APPROVAL, "doc_number": ""})
    assert "请填写文号" in page and "待审核" in page
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL)
    assert editor.post(f"/drafts/{draft_id}/publish", data={"csrf_token": token(editor, f"/drafts/{draft_id}")}).status_code == 403
    page = post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    assert "已发布为现行版本" in page and SENTENCE in page and "包职院发〔2026〕12号" in page
    history = reader.get("/documents/A101Z/history").get_data(as_text=True)
    assert "审批：院长办公会（2026-11-20 审议），文号 包职院发〔2026〕12号，2026-11-25 发布" in history
    assert "修订发布：A101Z" in history and "Approved-by" not in history
    latest = reader.get("/api/documents/A101Z/history").get_json()["revisions"][0]
    assert latest["approval"] == {
        "approving_body": "院长办公会",
        "meeting_date": "2026-11-20",
        "doc_number": "包职院发〔2026〕12号",
        "issue_date": "2026-11-25",
        "reviewed_by": "质量管理办公室",
        "published_by": "质量管理办公室",
    }
    assert reader.get("/api/documents/A101Z/history").get_json()["revisions"][1]["approval"] is None


def test_publication_refused_after_a_change_in_force_then_merged(app: Flask) -> None:
    editor, quality, admin = client_for(app, "jiaowu"), client_for(app, "zhiliang"), client_for(app, "admin")
    draft_id = open_revision(editor)
    save_draft(editor, draft_id, SENTENCE)
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL)
    library = app.extensions["zhengai"].library
    from zhengai_docs.catalogue.codes import document_code
    from zhengai_docs.permissions import Actor

    loaded = library.load(document_code("A101Z"))
    corrected = loaded.document.meta.title + "（勘误）"
    library.save(
        loaded.document.with_changes(title=corrected), actor=Actor.system(name="管理员"), message="勘误", base=loaded.version.commit
    )
    page = post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    assert "发布被拒绝" in page and "同步现行版本" in page
    assert SENTENCE not in admin.get("/documents/A101Z").get_data(as_text=True)
    page = post(editor, f"/drafts/{draft_id}/update", f"/drafts/{draft_id}")
    assert "没有冲突" in page and "需修改" in page
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL)
    post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    page = admin.get("/documents/A101Z").get_data(as_text=True)
    assert SENTENCE in page and corrected in page


def test_a_stale_draft_save_shows_the_conflict_page_and_loses_nothing(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    draft_id = open_revision(editor)
    opened_at = app.extensions["zhengai"].workflow.get(draft_id).tip
    assert save_draft(editor, draft_id, "第一个标签页的修改。").status_code == 302
    response = save_draft(editor, draft_id, "第二个标签页的修改。", base=opened_at)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "保存冲突" in page and "第一个标签页的修改。" in page and "第二个标签页的修改。" in page
    assert "第一个标签页的修改。" in editor.get(f"/drafts/{draft_id}").get_data(as_text=True)


def test_a_new_document_is_a_draft_until_published(app: Flask) -> None:
    editor, reader, quality = client_for(app, "jiaowu"), client_for(app, "duzhe"), client_for(app, "zhiliang")
    page = editor.get("/items/A108/new/Z").get_data(as_text=True)
    assert "保存草稿" in page
    data = form_fields(page, "document-form")
    data.update(title="课程标准管理办法", message="补齐目录缺项")
    response = editor.post("/items/A108/new/Z", data=data)
    assert response.status_code == 302 and "/drafts/" in response.headers["Location"]
    draft_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert reader.get("/documents/A108Z").status_code == 404
    assert editor.get("/items/A108/new/Z").headers["Location"].endswith(f"/drafts/{draft_id}")
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL)
    post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    page = reader.get("/documents/A108Z").get_data(as_text=True)
    assert "课程标准管理办法" in page and "现行" in page


def test_repeal_is_reviewed_and_found_with_the_filter(app: Flask) -> None:
    editor, quality, reader = client_for(app, "jiaowu"), client_for(app, "zhiliang"), client_for(app, "duzhe")
    draft_id = open_revision(editor, kind="repeal")
    assert editor.get(f"/drafts/{draft_id}/edit").status_code == 302
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL)
    post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    assert "废止" in reader.get("/documents/A101Z").get_data(as_text=True)
    title = (
        app.extensions["zhengai"]
        .library.load(__import__("zhengai_docs.catalogue.codes", fromlist=["x"]).document_code("A101Z"))
        .document.meta.title
    )
    assert all(h["code"] != "A101Z" for h in reader.get(f"/api/search?q={title}").get_json()["hits"])
    assert any(h["code"] == "A101Z" for h in reader.get(f"/api/search?q={title}&status=废止").get_json()["hits"])


def test_restore_goes_through_review_for_editors(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    history = editor.get("/documents/A101Z/history").get_data(as_text=True)
    assert "恢复" not in history or "restore-form" not in history
    response = editor.post(
        "/documents/A101Z/restore", data={"revision": "0" * 40, "base": "0" * 40, "csrf_token": token(editor, "/documents/A101Z")}
    )
    assert response.status_code in (403, 404)


def test_read_confirmations(app: Flask) -> None:
    editor, quality, other = client_for(app, "jiaowu"), client_for(app, "zhiliang"), client_for(app, "renshi")
    draft_id = open_revision(editor)
    save_draft(editor, draft_id, SENTENCE)
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL, require_ack="y")
    post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    assert "我已阅读" in editor.get("/documents/A101Z").get_data(as_text=True)
    assert "我已阅读" not in other.get("/documents/A101Z").get_data(as_text=True)
    readers = quality.get("/documents/A101Z/readers").get_data(as_text=True)
    assert "教务处 王老师" in readers and "未确认 1 人" in readers
    assert other.get("/documents/A101Z/readers").status_code == 403
    assert "待确认阅读" in editor.get("/notifications").get_data(as_text=True)
    assert "待确认阅读" not in other.get("/notifications").get_data(as_text=True)
    page = post(editor, "/documents/A101Z/confirm-read", "/documents/A101Z")
    assert "待确认阅读" not in editor.get("/notifications").get_data(as_text=True)
    assert "已确认阅读" in page and "我已阅读" not in page
    assert "未确认 0 人" in quality.get("/documents/A101Z/readers").get_data(as_text=True)
    second = open_revision(editor)  # the next revision asks for confirmations again by default
    post(editor, f"/drafts/{second}/submit", f"/drafts/{second}")
    review_page = quality.get(f"/drafts/{second}").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*name="require_ack"|name="require_ack"[^>]*checked', review_page)


def test_discard_and_lists(app: Flask) -> None:
    editor, quality = client_for(app, "jiaowu"), client_for(app, "zhiliang")
    draft_id = open_revision(editor)
    lists = editor.get("/drafts").get_data(as_text=True)
    assert f"/drafts/{draft_id}" in lists and "本部门的（1）" in lists
    assert f"/drafts/{draft_id}" in quality.get("/drafts").get_data(as_text=True)
    page = post(editor, f"/drafts/{draft_id}/discard", f"/drafts/{draft_id}", text="不再需要")
    assert "已放弃" in page
    assert f"/drafts/{draft_id}" not in editor.get("/drafts").get_data(as_text=True)
    assert f"/drafts/{draft_id}" in editor.get("/drafts?all=1").get_data(as_text=True)
    assert open_revision(editor) != draft_id
    mark = post(editor, "/notifications/read", "/notifications")
    assert "未读</span>" not in mark


def test_every_draft_form_needs_its_csrf_token(app: Flask) -> None:
    assert app.config["WTF_CSRF_ENABLED"]
    editor, quality = client_for(app, "jiaowu"), client_for(app, "zhiliang")
    draft_id = open_revision(editor)
    before = app.extensions["zhengai"].workflow.events(draft_id)
    for client, step in (
        (editor, "submit"),
        (editor, "comment"),
        (editor, "discard"),
        (quality, "request-changes"),
        (quality, "approve"),
        (quality, "publish"),
    ):
        assert client.post(f"/drafts/{draft_id}/{step}", data={"text": "意见", **APPROVAL}).status_code == 400, step
    assert editor.post("/documents/A101Z/revise", data={"kind": "revise", "reason": "无令牌"}).status_code == 400
    assert editor.post("/notifications/read").status_code == 400
    assert app.extensions["zhengai"].workflow.events(draft_id) == before


def test_word_import_becomes_a_draft_and_never_overwrites_one(app: Flask) -> None:
    from tests import word_fixtures as fx

    editor, reader = client_for(app, "jiaowu"), client_for(app, "duzhe")
    document = WordDocument()
    fx.bold_line(document, "包头职业技术学院专业设置与调整管理办法")
    document.add_paragraph("第一条　从 Word 定稿导入的新条文。")
    upload = editor.post(
        "/documents/A101Z/import",
        data={"csrf_token": token(editor, "/documents/A101Z/import"), "file": (io.BytesIO(fx.save(document)), "定稿.docx")},
        content_type="multipart/form-data",
    )
    fields = form_fields(upload.get_data(as_text=True), "confirm-form")
    fields["message"] = "依据院长办公会决定修订"
    head = app.extensions["zhengai"].library.repo.head()
    response = editor.post("/documents/A101Z/import/confirm", data=fields)
    assert response.status_code == 302 and "/drafts/" in response.location
    assert app.extensions["zhengai"].library.repo.head() == head
    assert "从 Word 定稿导入的新条文" in editor.get(response.location).get_data(as_text=True)
    assert "从 Word 定稿导入的新条文" not in reader.get("/documents/A101Z").get_data(as_text=True)
    again = editor.post("/documents/A101Z/import/confirm", data=fields, follow_redirects=True)
    assert "已有进行中的草稿" in again.get_data(as_text=True)


def test_publication_moves_the_revision_clock_and_flags_the_items_other_documents(app: Flask) -> None:
    editor, quality, reader = client_for(app, "jiaowu"), client_for(app, "zhiliang"), client_for(app, "duzhe")
    assert "cycle-overdue" in reader.get("/documents/A101Z").get_data(as_text=True)  # issued 2019-03-15
    assert "需复核" not in reader.get("/documents/A101B").get_data(as_text=True)
    draft_id = open_revision(editor)
    save_draft(editor, draft_id, SENTENCE)
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    post(quality, f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}", **APPROVAL)
    assert "cycle-overdue" in reader.get("/documents/A101Z").get_data(as_text=True)  # approved is not in force yet
    post(quality, f"/drafts/{draft_id}/publish", f"/drafts/{draft_id}")
    page = reader.get("/documents/A101Z").get_data(as_text=True)
    assert "cycle-overdue" not in page and "cycle-current" in page
    assert "同条目的制度已修订，本文档需复核：A101Z" in reader.get("/documents/A101B").get_data(as_text=True)


def test_an_item_with_an_open_draft_cannot_be_moved(app: Flask) -> None:
    editor, admin = client_for(app, "jiaowu"), client_for(app, "admin")
    draft_id = open_revision(editor)
    head = app.extensions["zhengai"].library.repo.head()
    data = {"group": "A1", "new_code": "A109", "base": head or "", "csrf_token": token(admin, "/admin/catalogue/items/A101")}
    response = admin.post("/admin/catalogue/items/A101/move", data=data)
    assert response.status_code == 400 and f"A101Z（草稿 #{draft_id}） 正在修订中" in response.get_data(as_text=True)
    assert app.extensions["zhengai"].library.repo.head() == head


def test_a_department_with_open_drafts_cannot_be_renamed(app: Flask) -> None:
    editor, admin = client_for(app, "jiaowu"), client_for(app, "admin")
    draft_id = open_revision(editor)
    head = app.extensions["zhengai"].library.repo.head()
    data = {"old": "教务处", "new": "教务部", "base": head or "", "csrf_token": token(admin, "/admin/departments")}
    response = admin.post("/admin/departments/rename", data=data)
    assert f"A101Z（草稿 #{draft_id}） 正在修订中" in response.get_data(as_text=True)
    assert app.extensions["zhengai"].library.repo.head() == head

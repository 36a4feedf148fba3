"""A document's 附件 (issue 19): versioned beside it in git, changed through drafts (readers see
them only once published) or straight to the version in force, downloaded at any revision with
safe headers, and refused — with nothing written and the editor's text kept — when an upload is
hostile, too large, from the wrong role or without its CSRF token.

The checks of each hostile kind are tests/test_attachments_inspect.py's (engineer D's): here the
wiring is tested, with real uploads through the real app.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document as WordDocument
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import account
from tests.conftest import client_for, csrf_token, make_app
from tests.html_reader import find_all, form_fields, visible_text
from tests.review_steps import publish, submit
from zhengai_docs.attachments.store import AttachmentEdit, Upload
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.errors import Conflict, InvalidCode, NotAllowed
from zhengai_docs.services import Services
from zhengai_docs.storage.files import document_files

A101Z = document_code("A101Z")
FORM_NAME = "专业设置申报表.docx"
STORED_NAME = "附件1-专业设置申报表.docx"
FOLDER = "regulations/A/A1/A101Z"


@functools.cache  # python-docx stamps the time into the zip: one file per text, compared byte for byte
def word_file(*paragraphs: str) -> bytes:
    document = WordDocument()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def svc(app: Flask) -> Services:
    return app.extensions["zhengai"]


@pytest.fixture
def reviewed(instance: Path) -> Iterator[Flask]:
    application = make_app(instance, REVIEW_REQUIRED=True)
    yield application
    svc(application).close()


@pytest.fixture
def direct(instance: Path) -> Iterator[Flask]:
    application = make_app(instance)  # REVIEW_REQUIRED off: editors save straight to the version in force
    yield application
    svc(application).close()


def open_draft(app: Flask) -> int:
    return svc(app).workflow.open(code=A101Z, kind="revise", reason="增加申报表", actor=account(svc(app).db, "jiaowu")).id


def upload_to_draft(client: FlaskClient, draft_id: int, data: bytes, *, filename: str = FORM_NAME, **fields: str) -> int:
    page = client.get(f"/drafts/{draft_id}").get_data(as_text=True)
    expected = re.search(r'name="expected" value="([0-9a-f]{40})"', page)
    assert expected is not None, "the draft page offers no attachment form"
    form = {"csrf_token": csrf_token(client, f"/drafts/{draft_id}"), "expected": expected[1], "attachment_action": "add", **fields}
    form["attachment_file"] = (io.BytesIO(data), filename)  # type: ignore[assignment]
    return client.post(f"/drafts/{draft_id}/attachments", data=form, content_type="multipart/form-data").status_code


def direct_change(client: FlaskClient, base: str, action: str, **files: tuple[bytes, str] | str) -> int:
    form: dict[str, object] = {"csrf_token": csrf_token(client, "/documents/A101Z"), "base": base, "attachment_action": action}
    for name, value in files.items():
        form[name] = (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
    return client.post("/documents/A101Z/attachments", data=form, content_type="multipart/form-data").status_code


def test_an_attachment_reaches_readers_only_with_its_publication(reviewed: Flask) -> None:
    editor, reader, quality = client_for(reviewed, "jiaowu"), client_for(reviewed, "duzhe"), client_for(reviewed, "zhiliang")
    head = svc(reviewed).library.repo.head()
    draft_id = open_draft(reviewed)
    assert upload_to_draft(editor, draft_id, word_file("专业名称", "申报理由")) == 302
    assert svc(reviewed).library.repo.head() == head  # nothing on the branch yet
    assert STORED_NAME not in visible_text(reader.get("/documents/A101Z").get_data(as_text=True))
    assert reader.get(f"/documents/A101Z/attachments/{STORED_NAME}").status_code == 404
    assert reader.get(f"/drafts/{draft_id}/attachments/{STORED_NAME}").status_code == 403
    submit(reviewed, draft_id)
    review = quality.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert [li.text_content() for li in find_all(review, "//li[contains(@class, 'attachment-change')]")] == [f"附件1 已添加：{STORED_NAME}"]
    assert quality.get(f"/drafts/{draft_id}/attachments/{STORED_NAME}").data == word_file("专业名称", "申报理由")
    published = publish(reviewed, draft_id)
    page = reader.get("/documents/A101Z").get_data(as_text=True)
    links = [a.get("href") for a in find_all(page, "//section[contains(@class, 'attachments')]//a")]
    assert links == [f"/documents/A101Z/attachments/{urllib.parse.quote(STORED_NAME)}"]
    assert "Word 文档" in visible_text(page)
    assert reader.get(links[0]).data == word_file("专业名称", "申报理由")
    assert [f.name for f in document_files(svc(reviewed).library.repo, A101Z.path, published)] == [STORED_NAME]


def test_an_old_revision_downloads_the_attachment_as_it_was(direct: Flask) -> None:
    editor, reader = client_for(direct, "jiaowu"), client_for(direct, "duzhe")
    repo = svc(direct).library.repo
    assert direct_change(editor, repo.require_head(), "add", attachment_file=(word_file("第一版"), FORM_NAME)) == 302
    first = repo.require_head()
    assert direct_change(editor, first, "replace:1", attachment_file_1=(word_file("第二版"), "新表.docx")) == 302
    second = repo.require_head()
    url = f"/documents/A101Z/attachments/{urllib.parse.quote(STORED_NAME)}"
    assert reader.get(url, query_string={"rev": first}).data == word_file("第一版")
    assert reader.get(url).data == word_file("第二版")
    old_page = reader.get("/documents/A101Z", query_string={"rev": first}).get_data(as_text=True)
    assert [a.get("href") for a in find_all(old_page, "//section[contains(@class, 'attachments')]//a")] == [f"{url}?rev={first}"]
    history = visible_text(reader.get("/documents/A101Z/history").get_data(as_text=True))
    assert f"附件1 已添加：{STORED_NAME}" in history and f"附件1 已更新：{STORED_NAME}" in history
    assert second != first


def test_rename_renumber_and_remove_keep_the_history(direct: Flask) -> None:
    editor = client_for(direct, "jiaowu")
    repo = svc(direct).library.repo
    assert direct_change(editor, repo.require_head(), "add", attachment_file=(word_file("表"), FORM_NAME)) == 302
    assert direct_change(editor, repo.require_head(), "add", attachment_file=(word_file("细则"), "评分细则.docx")) == 302
    renamed = repo.require_head()
    status = direct_change(editor, renamed, "rename:2", attachment_title_2="评分细则（2026版）", attachment_number_2="3")
    assert status == 302
    names = [f.name for f in document_files(repo, A101Z.path, repo.require_head())]
    assert names == [STORED_NAME, "附件3-评分细则（2026版）.docx"]
    assert direct_change(editor, repo.require_head(), "remove:1") == 302
    assert [f.name for f in document_files(repo, A101Z.path, repo.require_head())] == ["附件3-评分细则（2026版）.docx"]
    reader = client_for(direct, "duzhe")
    diff = reader.get("/documents/A101Z/diff", query_string={"from": renamed, "to": repo.require_head()}).get_data(as_text=True)
    changes = [li.text_content() for li in find_all(diff, "//li[contains(@class, 'attachment-change')]")]
    assert changes == [f"附件1 已删除：{STORED_NAME}", "附件2 已删除：附件2-评分细则.docx", "附件3 已添加：附件3-评分细则（2026版）.docx"]
    history = visible_text(reader.get("/documents/A101Z/history").get_data(as_text=True))
    assert "附件2 已删除：附件2-评分细则.docx" in history and f"附件1 已删除：{STORED_NAME}" in history


def test_the_same_attachment_changed_twice_from_one_base_is_a_conflict(direct: Flask) -> None:
    attachments, repo = svc(direct).attachments, svc(direct).library.repo
    editor = account(svc(direct).db, "jiaowu")
    attachments.change(
        A101Z, AttachmentEdit(action="add", upload=Upload(FORM_NAME, word_file("原表"))), actor=editor, base=repo.require_head()
    )
    base = repo.require_head()
    mine = AttachmentEdit(action="replace", number=1, upload=Upload(FORM_NAME, word_file("我的修改")))
    theirs = AttachmentEdit(action="replace", number=1, upload=Upload(FORM_NAME, word_file("同事的修改")))
    attachments.change(A101Z, theirs, actor=editor, base=base)
    head = repo.require_head()
    with pytest.raises(Conflict):
        attachments.change(A101Z, mine, actor=editor, base=base)
    assert repo.require_head() == head
    # Two people adding "the next number" from one page: the second is refused, not a second 附件2.
    first = AttachmentEdit(action="add", upload=Upload("甲表.docx", word_file("甲")))
    second = AttachmentEdit(action="add", upload=Upload("乙表.docx", word_file("乙")))
    attachments.change(A101Z, first, actor=editor, base=head)
    with pytest.raises(Conflict):
        attachments.change(A101Z, second, actor=editor, base=head)
    assert [f.name for f in document_files(repo, A101Z.path, repo.require_head())] == [STORED_NAME, "附件2-甲表.docx"]


def test_a_draft_attachment_changed_on_the_branch_meanwhile_blocks_publication(reviewed: Flask) -> None:
    """The draft replaces 附件1 while an administrator's correction replaced it on the branch."""
    services = svc(reviewed)
    admin, editor, quality = (account(services.db, n) for n in ("admin", "jiaowu", "zhiliang"))
    add = AttachmentEdit(action="add", upload=Upload(FORM_NAME, word_file("原表")))
    services.attachments.change(A101Z, add, actor=admin, base=services.library.repo.require_head())
    draft_id = open_draft(reviewed)
    draft = services.workflow.get(draft_id)
    mine = AttachmentEdit(action="replace", number=1, upload=Upload(FORM_NAME, word_file("草稿中的表")))
    services.attachments.change_in_draft(draft_id, mine, actor=editor, expected=draft.tip)
    correction = AttachmentEdit(action="replace", number=1, upload=Upload(FORM_NAME, word_file("勘误后的表")))
    services.attachments.change(A101Z, correction, actor=admin, base=services.library.repo.require_head())
    head = services.library.repo.require_head()
    submit(reviewed, draft_id)
    assert services.workflow.changed_on_branch(services.workflow.get(draft_id))
    with pytest.raises(Conflict):
        publish(reviewed, draft_id)
    assert services.library.repo.require_head() == head
    services.workflow.bring_up_to_date(draft_id, actor=quality)  # the draft's 附件 change is carried onto the new head
    draft = services.workflow.get(draft_id)
    assert services.attachments.draft_file(draft, STORED_NAME)[1] == word_file("草稿中的表")
    submit(reviewed, draft_id)
    publish(reviewed, draft_id)
    assert services.attachments.file(A101Z, STORED_NAME)[1] == word_file("草稿中的表")


def test_chinese_names_are_served_as_downloads_with_safe_headers(direct: Flask) -> None:
    editor, reader = client_for(direct, "jiaowu"), client_for(direct, "duzhe")
    assert direct_change(editor, svc(direct).library.repo.require_head(), "add", attachment_file=(word_file("表"), FORM_NAME)) == 302
    response = reader.get(f"/documents/A101Z/attachments/{urllib.parse.quote(STORED_NAME)}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="1-.docx"') or disposition.startswith("attachment; filename=")
    assert f"filename*=UTF-8''{urllib.parse.quote(STORED_NAME, safe='')}" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert reader.get("/documents/A101Z/attachments/..%2F..%2FA101Z.md").status_code == 404
    assert reader.get("/documents/A101Z/attachments/A101Z.md").status_code == 404


def test_a_reader_may_not_upload_and_a_form_needs_its_csrf_token(direct: Flask) -> None:
    repo = svc(direct).library.repo
    head = repo.require_head()
    reader = client_for(direct, "duzhe")
    form = {"base": head, "attachment_action": "add", "csrf_token": csrf_token(reader, "/documents/A101Z")}
    form["attachment_file"] = (io.BytesIO(word_file("表")), FORM_NAME)  # type: ignore[assignment]
    assert reader.post("/documents/A101Z/attachments", data=form, content_type="multipart/form-data").status_code == 403
    other = client_for(direct, "renshi")  # an editor of another department
    assert direct_change(other, head, "add", attachment_file=(word_file("表"), FORM_NAME)) == 403
    editor = client_for(direct, "jiaowu")
    no_token = {"base": head, "attachment_action": "add", "attachment_file": (io.BytesIO(word_file("表")), FORM_NAME)}
    assert editor.post("/documents/A101Z/attachments", data=no_token, content_type="multipart/form-data").status_code == 400
    with pytest.raises(NotAllowed):
        svc(direct).attachments.change(
            A101Z,
            AttachmentEdit(action="add", upload=Upload(FORM_NAME, word_file("表"))),
            actor=account(svc(direct).db, "duzhe"),
            base=head,
        )
    assert repo.require_head() == head


def test_a_refused_upload_in_the_editor_writes_nothing_and_keeps_the_typed_text(reviewed: Flask) -> None:
    editor = client_for(reviewed, "jiaowu")
    draft_id = open_draft(reviewed)
    tip = svc(reviewed).workflow.get(draft_id).tip
    typed = "第二十条 本办法自发布之日起施行，尚未保存的一句。"
    data: dict[str, object] = dict(form_fields(editor.get(f"/drafts/{draft_id}/edit").get_data(as_text=True), "document-form"))
    data.update(body=f"{data['body']}\n{typed}\n", message="", attachment_action="add")
    data["attachment_file"] = (io.BytesIO(b"MZ\x90\x00\x03" + b"\x00" * 200 + b"This program cannot be run in DOS mode"), FORM_NAME)
    response = editor.post(f"/drafts/{draft_id}/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert typed in form_fields(page, "document-form")["body"]
    assert FORM_NAME in visible_text(page)  # the message names the file
    assert svc(reviewed).workflow.get(draft_id).tip == tip
    # The same button with a real form saves the typed text and the attachment in one commit.
    data["attachment_file"] = (io.BytesIO(word_file("申报表")), FORM_NAME)
    response = editor.post(f"/drafts/{draft_id}/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/drafts/{draft_id}/edit")
    draft = svc(reviewed).workflow.get(draft_id)
    assert typed in svc(reviewed).workflow.document(draft).body
    assert [a.name for a in svc(reviewed).attachments.in_draft(draft)] == [STORED_NAME]
    assert len(svc(reviewed).workflow.store.commits_between(tip, draft.tip)) == 1


def test_an_oversized_upload_is_a_chinese_413_page_with_nothing_written(instance: Path) -> None:
    app = make_app(instance, ATTACHMENT_MAX_BYTES=64 * 1024, MAX_UPLOAD_MB=1)
    try:
        editor = client_for(app, "jiaowu")
        head = svc(app).library.repo.require_head()
        big = word_file(*(hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)))  # hardly compressible
        assert len(big) > 64 * 1024
        assert direct_change(editor, head, "add", attachment_file=(big, FORM_NAME)) == 413
        form = {"csrf_token": csrf_token(editor, "/documents/A101Z"), "base": head, "attachment_action": "add"}
        form["attachment_file"] = (io.BytesIO(big), FORM_NAME)
        refused = editor.post("/documents/A101Z/attachments", data=form, content_type="multipart/form-data")
        page = visible_text(refused.get_data(as_text=True))
        assert "413 · 文件过大" in page and f"“{FORM_NAME}”" in page and "超过附件大小上限" in page
        body = (
            b"--x\r\nContent-Disposition: form-data; name=attachment_file; filename=a.docx\r\n\r\n" + b"\0" * (4 << 20) + b"\r\n--x--\r\n"
        )
        whole = editor.post("/documents/A101Z/attachments", data=body, content_type="multipart/form-data; boundary=x")
        assert whole.status_code == 413 and "文件过大" in visible_text(whole.get_data(as_text=True))
        assert svc(app).library.repo.require_head() == head
    finally:
        svc(app).close()


def test_storage_refuses_paths_built_from_hostile_names(direct: Flask) -> None:
    repo = svc(direct).library.repo
    head = repo.require_head()
    editor = account(svc(direct).db, "jiaowu")
    for name in (
        "../A102Z.md",
        "附件1-../../x.docx",
        "-附件1.docx",
        "附件1-a\u202egpj.docx",
        "附件1-x.exe",
        "附件1-x.docx\n",
        ".git/config",
    ):
        with pytest.raises(InvalidCode):
            repo.commit({f"{FOLDER}/{name}": b"x"}, author=editor.author, message="攻击", base=head)
    assert repo.require_head() == head
    hostile = AttachmentEdit(action="add", upload=Upload("../../../etc/passwd/附件9-..\u202e表.docx", word_file("表")), number=2)
    svc(direct).attachments.change(A101Z, hostile, actor=editor, base=head)
    assert [f.name for f in document_files(repo, A101Z.path, repo.require_head())] == ["附件2-表.docx"]


def test_a_resubmitted_draft_shows_the_attachments_changed_since_it_was_sent_back(reviewed: Flask) -> None:
    services = svc(reviewed)
    editor, quality = account(services.db, "jiaowu"), account(services.db, "zhiliang")
    draft_id = open_draft(reviewed)
    services.attachments.change_in_draft(
        draft_id,
        AttachmentEdit(action="add", upload=Upload(FORM_NAME, word_file("初稿"))),
        actor=editor,
        expected=services.workflow.get(draft_id).tip,
    )
    submit(reviewed, draft_id)
    services.workflow.request_changes(draft_id, actor=quality, text="申报表缺少论证意见栏")
    replace = AttachmentEdit(action="replace", number=1, upload=Upload(FORM_NAME, word_file("初稿", "论证意见")))
    services.attachments.change_in_draft(draft_id, replace, actor=editor, expected=services.workflow.get(draft_id).tip)
    submit(reviewed, draft_id)
    page = client_for(reviewed, "zhiliang").get(f"/drafts/{draft_id}").get_data(as_text=True)
    since = find_all(page, "//section[contains(@class, 'since-review')]")
    assert len(since) == 1
    assert [li.text_content() for li in find_all(since[0], ".//li[contains(@class, 'attachment-change')]")] == [
        f"附件1 已更新：{STORED_NAME}"
    ]
    assert find_all(since[0], ".//p[contains(@class, 'since-unchanged')]") == []


def test_the_direct_editor_keeps_the_typed_text_when_an_upload_is_refused(direct: Flask) -> None:
    editor = client_for(direct, "jiaowu")
    head = svc(direct).library.repo.require_head()
    typed = "第二十一条 直接编辑时输入但尚未保存的一句。"
    data: dict[str, object] = dict(form_fields(editor.get("/documents/A101Z/edit").get_data(as_text=True), "document-form"))
    data.update(body=f"{data['body']}\n{typed}\n", message="", attachment_action="add")
    data["attachment_file"] = (io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"), "组织架构图.png")
    response = editor.post("/documents/A101Z/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert typed in form_fields(response.get_data(as_text=True), "document-form")["body"]
    assert svc(direct).library.repo.require_head() == head
    data["attachment_file"] = (io.BytesIO(word_file("表")), FORM_NAME)
    response = editor.post("/documents/A101Z/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    assert typed in svc(direct).library.load(A101Z).document.body
    assert [a.name for a in svc(direct).attachments.in_force(A101Z)] == [STORED_NAME]

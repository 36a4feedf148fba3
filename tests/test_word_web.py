"""Word through the web: import with preview, diff and 修订说明; export; handbook; self-diagnosis report."""

from __future__ import annotations

import io

from docx import Document
from flask import Flask
from flask.testing import FlaskClient

from tests import word_fixtures as fx
from tests.actors import AS_EDITOR
from tests.conftest import csrf_token, login
from tests.html_reader import form_fields, visible_text
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.library import Library


def _library(app: Flask) -> Library:
    return app.extensions["zhengai"].library


def _upload(client: FlaskClient, code: str, data: bytes, name: str = "定稿.docx") -> tuple[int, str]:
    token = csrf_token(client, f"/documents/{code}/import")
    response = client.post(
        f"/documents/{code}/import", data={"csrf_token": token, "file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )
    return response.status_code, response.get_data(as_text=True)


def _revised_a101z() -> bytes:
    document = Document()
    fx.bold_line(document, "包头职业技术学院专业设置与调整管理办法")
    fx.bold_line(document, "第一章　总则")
    document.add_paragraph("第一条　为主动适应产业结构调整，规范专业设置与调整工作，制定本办法。")
    return fx.save(document)


def test_import_shows_preview_and_diff_then_commits_with_the_message(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    head = library.repo.head()
    login(client, "jiaowu")
    status, page = _upload(client, "A101Z", _revised_a101z(), "专业设置管理办法（2026修订）.docx")
    assert status == 200
    text = visible_text(page)
    assert "导入预览" in text and "来源文件：专业设置管理办法（2026修订）.docx" in text
    assert "增加" in text and "删除" in text  # the diff against the current version
    assert library.repo.head() == head  # nothing written yet
    fields = form_fields(page, "confirm-form")
    assert "**第一条** 为主动适应产业结构调整" in str(fields["body"])
    assert fields["base"] == head and fields["title"] == "包头职业技术学院专业设置与调整管理办法"

    fields["message"] = ""
    refused = client.post("/documents/A101Z/import/confirm", data=fields)
    assert refused.status_code == 400 and "请填写修订说明" in visible_text(refused.get_data(as_text=True))
    assert library.repo.head() == head

    fields["message"] = "依据2026年院长办公会决定修订，从 Word 定稿导入"
    saved = client.post("/documents/A101Z/import/confirm", data=fields)
    assert saved.status_code == 302 and saved.location.endswith("/documents/A101Z")
    document = library.load(document_code("A101Z")).document
    assert document.body.startswith("# 包头职业技术学院专业设置与调整管理办法\n\n## 第一章 总则\n\n**第一条** 为主动适应")
    assert document.meta.doc_number == "包职院发〔2019〕12号"  # front matter kept
    revision = library.repo.history("regulations/A/A1/A101Z.md")[0]
    assert revision.message == "依据2026年院长办公会决定修订，从 Word 定稿导入"
    assert revision.author_name == "教务处 王老师"


def test_a_save_in_between_is_a_conflict_and_overwrites_nothing(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    login(client, "jiaowu")
    _status, page = _upload(client, "A101Z", _revised_a101z())
    fields = form_fields(page, "confirm-form")
    fields["message"] = "从 Word 导入"
    current = library.load(document_code("A101Z"))
    other = current.document.with_changes(body=current.document.body + "\n**第十五条** 他人新增的条款。\n")

    library.save(other, actor=AS_EDITOR, message="他人同时修改", base=current.version.commit)
    head = library.repo.head()
    response = client.post("/documents/A101Z/import/confirm", data=fields)
    assert response.status_code == 409
    text = visible_text(response.get_data(as_text=True))
    assert "已被他人修改" in text and "第十五条" in text  # the diff is now against their version
    assert library.repo.head() == head
    again = form_fields(response.get_data(as_text=True), "confirm-form")
    assert again["base"] == head


def test_import_into_an_empty_slot_creates_a_draft(app: Flask, client: FlaskClient) -> None:
    login(client, "jiaowu")
    item = client.get("/items/A108").get_data(as_text=True)
    assert "/documents/A108Z/import" in item  # the 从 Word 导入 link beside 新建
    status, page = _upload(client, "A108Z", fx.unstyled_regulation(), "A108Z 招生工作管理办法.docx")
    assert status == 200 and "空白文档" in visible_text(page)
    fields = form_fields(page, "confirm-form")
    fields["message"] = "新建：从 Word 导入"
    assert client.post("/documents/A108Z/import/confirm", data=fields).status_code == 302
    document = _library(app).load(document_code("A108Z")).document
    assert document.meta.status.value == "草稿" and document.meta.title == "包头职业技术学院招生工作管理办法"
    assert document.meta.departments == ("教务处",)


def test_markdown_files_import_too(app: Flask, client: FlaskClient) -> None:
    login(client, "jiaowu")
    status, page = _upload(client, "A101Z", "# 标题\n\n**第一条** 新文本。\n".encode(), "A101Z.md")
    assert status == 200 and "新文本" in form_fields(page, "confirm-form")["body"]


def test_only_the_owning_editors_may_import(app: Flask, client: FlaskClient) -> None:
    login(client, "renshi")
    assert client.get("/documents/A101Z/import").status_code == 403
    page = client.get("/documents/A101Z").get_data(as_text=True)
    assert "/documents/A101Z/import" not in page and "/documents/A101Z/export.docx" in page


def test_export_any_revision_to_word(app: Flask, client: FlaskClient) -> None:
    library = _library(app)
    first = library.repo.history("regulations/A/A1/A101Z.md")[-1].commit
    login(client, "duzhe")
    response = client.get("/documents/A101Z/export.docx")
    assert response.status_code == 200 and response.mimetype.endswith("wordprocessingml.document")
    assert "filename*=UTF-8''A101Z" in response.headers["Content-Disposition"]
    document = Document(io.BytesIO(response.data))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "包头职业技术学院专业设置与调整管理办法" and texts[1] == "包职院发〔2019〕12号　2019年3月15日发布"
    assert "第一章 总则" in texts
    old = client.get(f"/documents/A101Z/export.docx?rev={first}")
    assert old.status_code == 200 and first[:10] in old.headers["Content-Disposition"]
    assert client.get("/documents/A101Z/export.docx?rev=zzzz").status_code == 404


def test_handbook_page_and_download(app: Flask, client: FlaskClient) -> None:
    login(client, "duzhe")
    page = client.get("/handbook?level=A&type=Z").get_data(as_text=True)
    assert "A101Z" in visible_text(page) and "A101L" not in visible_text(page)
    response = client.get("/handbook.docx?level=A&type=Z")
    assert response.status_code == 200
    document = Document(io.BytesIO(response.data))
    titles = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Document Title"]
    assert titles and titles[0] == "包头职业技术学院专业设置与调整管理办法"
    assert client.get("/handbook.docx?level=AA").status_code == 400


def test_self_diagnosis_entries_with_length_limits(app: Flask, client: FlaskClient) -> None:
    login(client, "zhiliang")
    page = client.get("/reports/self-diagnosis?year=2026").get_data(as_text=True)
    text = visible_text(page)
    assert "1.1 质量保证理念" in text and "5.4" in text
    url = "/reports/self-diagnosis/2026/2.1"
    form = form_fields(client.get(url).get_data(as_text=True), "self-diagnosis-form")
    form.update({"opinion": "问" * 501, "measures": "措施", "effects": "成效"})
    refused = client.post(url, data=form)
    assert refused.status_code == 400 and "自我诊断意见不能超过 500 字（现为 501 字）" in visible_text(refused.get_data(as_text=True))
    form["opinion"] = "专业设置与产业对接不够紧密，原因是调研不足。" + "问" * 400
    assert client.post(url, data=form).status_code == 302
    report = client.get("/reports/self-diagnosis/2026.docx")
    assert report.status_code == 200
    document = Document(io.BytesIO(report.data))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "专业设置与产业对接不够紧密，原因是调研不足。" + "问" * 400 in cells
    assert any("A101Z《包头职业技术学院专业设置与调整管理办法》（现行" in c for c in cells)  # governing documents pre-filled
    assert len(document.tables) == 15  # one table per element of the national framework


def test_self_diagnosis_is_for_the_quality_office(client: FlaskClient) -> None:
    login(client, "jiaowu")
    assert client.get("/reports/self-diagnosis").status_code == 403
    assert client.get("/reports/self-diagnosis/2026.docx").status_code == 403

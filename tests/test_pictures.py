"""Pictures end to end (issue 19): a Word file's pictures land with its text in one commit (or
one draft commit) through the real import pages, are shown from the picture route, and go back
out in the Word export byte for byte; the editors insert a picture (checked, committed at once
with a compare-and-swap, the typed text untouched) and a save drops the pictures its text no
longer shows; hostile pictures, stale pages, readers and missing CSRF tokens write nothing."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document as WordDocument
from docx.shared import Cm
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.actors import account
from tests.conftest import Runner, client_for, csrf_token, make_app
from tests.html_reader import attributes, form_fields, visible_text
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.services import Services
from zhengai_docs.storage.files import document_files

A101Z = document_code("A101Z")
IMAGES = "regulations/A/A1/A101Z/images"


def svc(app: Flask) -> Services:
    return app.extensions["zhengai"]


@pytest.fixture
def direct(instance: Path) -> Iterator[Flask]:
    application = make_app(instance)  # review off: editors save straight to the version in force
    yield application
    svc(application).close()


@pytest.fixture
def reviewed(instance: Path) -> Iterator[Flask]:
    application = make_app(instance, REVIEW_REQUIRED=True)
    yield application
    svc(application).close()


def picture(fmt: str, colour: tuple[int, int, int], size: tuple[int, int] = (480, 320)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    image.paste((255, 255, 255), (10, 10, 200, 100))
    image.save(out, fmt)
    return out.getvalue()


def word_file() -> bytes:
    """A real .docx: a title, two clauses each followed by a picture (PNG, JPEG), and a table."""
    document = WordDocument()
    document.add_heading("专业设置与调整管理办法", 0)
    document.add_paragraph("第一条 学院专业设置工作流程如下图。")
    document.add_picture(io.BytesIO(picture("PNG", (200, 30, 30))), width=Cm(12))
    document.add_paragraph("第二条 专业布局示意图。")
    document.add_picture(io.BytesIO(picture("JPEG", (30, 30, 200))), width=Cm(8))
    table = document.add_table(rows=3, cols=2)
    for row, cells in enumerate((("部门", "职责"), ("教务处", "专业设置审核"), ("质量管理办公室", "诊改工作统筹"))):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def media_hashes(docx: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist() if n.startswith("word/media/")}


def changed_paths(repo_path: Path, commit: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo_path), "diff-tree", "--no-commit-id", "-r", "--name-only", "-z", commit],
        check=True,
        capture_output=True,
    ).stdout
    return sorted(p.decode() for p in out.split(b"\0") if p)


def parent(repo_path: Path, commit: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo_path), "rev-parse", f"{commit}^"], check=True, capture_output=True, text=True
    ).stdout.strip()


def upload_for_import(client: FlaskClient, data: bytes) -> str:
    token = csrf_token(client, "/documents/A101Z/import")
    response = client.post(
        "/documents/A101Z/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), "A101Z 专业设置与调整管理办法.docx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_a_word_file_with_two_pictures_and_a_table_round_trips_through_the_app(direct: Flask) -> None:
    editor, reader = client_for(direct, "jiaowu"), client_for(direct, "duzhe")
    repo = svc(direct).library.repo
    before = repo.require_head()
    preview = upload_for_import(editor, word_file())
    assert "图片：将保留 2 张" in visible_text(preview)
    assert before == repo.require_head()  # the preview writes nothing
    fields = form_fields(preview, "confirm-form")
    assert isinstance(fields["picture"], list) and len(fields["picture"]) == 2
    fields["message"] = "从 Word 定稿导入（含图片）"
    assert editor.post("/documents/A101Z/import/confirm", data=fields).status_code == 302

    head = repo.require_head()
    assert parent(Path(repo.path), head) == before  # one commit
    changed = changed_paths(Path(repo.path), head)
    pictures = [p for p in changed if p.startswith(IMAGES + "/")]
    assert changed == sorted(["regulations/A/A1/A101Z.md", *pictures]) and len(pictures) == 2
    body = svc(direct).library.load(A101Z).document.body
    assert "| 教务处 | 专业设置审核 |" in body
    for path in pictures:
        assert f"(A101Z/images/{path.rsplit('/', 1)[1]})" in body

    page = reader.get("/documents/A101Z").get_data(as_text=True)
    sources = [a["src"] for a in attributes(page, "//article//img")]
    assert sorted(s.rsplit("/", 1)[1] for s in sources) == sorted(p.rsplit("/", 1)[1] for p in pictures)
    stored = {}
    for source in sources:
        assert source.startswith("/documents/A101Z/images/image-")
        served = reader.get(source)
        assert served.status_code == 200 and served.mimetype in ("image/png", "image/jpeg")
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        stored[source] = hashlib.sha256(served.data).hexdigest()

    exported = reader.get("/documents/A101Z/export.docx")
    assert exported.status_code == 200
    assert media_hashes(exported.data) == set(stored.values())  # both pictures, byte for byte


def test_a_word_import_under_review_puts_text_and_pictures_in_one_draft_commit(reviewed: Flask) -> None:
    editor, quality = client_for(reviewed, "jiaowu"), client_for(reviewed, "zhiliang")
    repo = svc(reviewed).library.repo
    head = repo.require_head()
    fields = form_fields(upload_for_import(editor, word_file()), "confirm-form")
    fields["message"] = "依据2026年院长办公会决定修订"
    response = editor.post("/documents/A101Z/import/confirm", data=fields)
    assert response.status_code == 302 and "/drafts/" in response.headers["Location"]
    assert repo.require_head() == head  # nothing reaches the version in force
    draft = svc(reviewed).workflow.open_for(A101Z)[0]
    changed = changed_paths(Path(repo.path), draft.tip)
    assert "regulations/A/A1/A101Z.md" in changed and len([p for p in changed if p.startswith(IMAGES + "/")]) == 2
    page = quality.get(f"/drafts/{draft.id}").get_data(as_text=True)
    sources = [a.get("src", "") for a in attributes(page, "//img[starts-with(@src, '/drafts/')]")]
    assert len(sources) == 2 and all(quality.get(s).status_code == 200 for s in sources)


def editor_page(client: FlaskClient, url: str) -> tuple[str, dict[str, str | list[str]]]:
    page = client.get(url).get_data(as_text=True)
    return page, form_fields(page, "document-form")


def insert(client: FlaskClient, url: str, data: bytes, *, base: str, filename: str = "粘贴的图片.png") -> tuple[int, dict[str, str]]:
    response = client.post(url, data={"picture": (io.BytesIO(data), filename), "base": base}, content_type="multipart/form-data")
    return response.status_code, json.loads(response.get_data(as_text=True)) if response.is_json else {}


def test_the_editor_inserts_a_picture_and_a_save_removes_one_no_longer_shown(direct: Flask) -> None:
    client = client_for(direct, "jiaowu")
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client, "/")
    repo = svc(direct).library.repo
    page, fields = editor_page(client, "/documents/A101Z/edit")
    assert attributes(page, "//form[@id='document-form']")[0]["data-pictures-url"] == "/documents/A101Z/pictures"
    before = repo.require_head()
    status, answer = insert(client, "/documents/A101Z/pictures", picture("PNG", (10, 120, 10)), base=str(fields["base"]))
    assert status == 200, answer
    assert re.fullmatch(r"A101Z/images/image-[0-9a-f]{12}\.png", answer["reference"])
    assert answer["base"] == repo.require_head() != before
    assert changed_paths(Path(repo.path), answer["base"]) == [f"regulations/A/A1/{answer['reference']}"]  # the picture alone

    typed = f"{fields['body']}\n第九条 新增的流程图：\n\n![流程图]({answer['reference']})\n"
    saved = client.post("/documents/A101Z/edit", data={**fields, "body": typed, "base": answer["base"], "message": "增加流程图"})
    assert saved.status_code == 302
    shown = client.get("/documents/A101Z").get_data(as_text=True)
    [img] = attributes(shown, "//article//img")
    assert img["src"] == f"/documents/A101Z/images/{answer['name']}" and img["alt"] == "流程图"

    # the preview knows the document: it shows the picture from the same route
    preview = client.post("/preview", json={"body": typed, "code": "A101Z"}).get_json()
    assert f'src="/documents/A101Z/images/{answer["name"]}"' in preview["html"]
    assert 'src="' not in client.post("/preview", json={"body": typed}).get_json()["html"]

    _, fields = editor_page(client, "/documents/A101Z/edit")
    without = str(fields["body"]).replace(f"![流程图]({answer['reference']})", "（图略）")
    assert client.post("/documents/A101Z/edit", data={**fields, "body": without, "message": "删去流程图"}).status_code == 302
    head = repo.require_head()
    assert [f.name for f in document_files(repo, A101Z.path, head) if f.name.startswith("images/")] == []
    assert (
        client.get(f"/documents/A101Z/images/{answer['name']}", query_string={"rev": answer["base"]}).status_code == 200
    )  # history keeps it


@pytest.mark.parametrize(
    ("data", "filename", "said"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "图.png", "SVG 可以包含脚本"),
        (b"MZ\x90\x00" + b"\x00" * 200, "截图.png", "可执行程序"),
        (b"", "空.png", "空文件"),
    ],
    ids=["svg-with-script", "program-named-png", "empty"],
)
def test_a_hostile_picture_is_refused_in_chinese_and_nothing_is_written(direct: Flask, data: bytes, filename: str, said: str) -> None:
    client = client_for(direct, "jiaowu")
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client, "/")
    repo = svc(direct).library.repo
    head = repo.require_head()
    status, answer = insert(client, "/documents/A101Z/pictures", data, base=head, filename=filename)
    assert status == 400 and said in answer["error"]
    assert repo.require_head() == head


def test_a_stale_editor_a_reader_and_a_missing_token_write_nothing(direct: Flask) -> None:
    editor, reader = client_for(direct, "jiaowu"), client_for(direct, "duzhe")
    editor.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(editor, "/")
    repo = svc(direct).library.repo
    _page, fields = editor_page(editor, "/documents/A101Z/edit")
    base = str(fields["base"])
    changed = {**fields, "body": str(fields["body"]) + "\n补充一段。\n", "message": "补充"}
    assert editor.post("/documents/A101Z/edit", data=changed).status_code == 302
    head = repo.require_head()
    status, answer = insert(editor, "/documents/A101Z/pictures", picture("PNG", (1, 2, 3)), base=base)  # the editor opened before that save
    assert status == 409 and "已被他人修改" in answer["error"]
    reader.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(reader, "/")
    assert insert(reader, "/documents/A101Z/pictures", picture("PNG", (1, 2, 3)), base=head)[0] == 403
    without_token = client_for(direct, "jiaowu")  # signed in, but sends no CSRF token
    assert insert(without_token, "/documents/A101Z/pictures", picture("PNG", (1, 2, 3)), base=head)[0] == 400  # no CSRF token
    assert repo.require_head() == head


def test_the_draft_editor_commits_the_picture_to_the_draft_only(reviewed: Flask) -> None:
    editor, reader = client_for(reviewed, "jiaowu"), client_for(reviewed, "duzhe")
    editor.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(editor, "/")
    services = svc(reviewed)
    repo = services.library.repo
    head = repo.require_head()
    draft_id = services.workflow.open(code=A101Z, kind="revise", reason="增加示意图", actor=account(services.db, "jiaowu")).id
    page, fields = editor_page(editor, f"/drafts/{draft_id}/edit")
    form = attributes(page, "//form[@id='document-form']")[0]
    assert form["data-pictures-url"] == f"/drafts/{draft_id}/pictures" and form["data-link-base"] == f"/drafts/{draft_id}/files/"
    status, answer = insert(editor, f"/drafts/{draft_id}/pictures", picture("JPEG", (90, 90, 10)), base=str(fields["base"]))
    assert status == 200, answer
    assert repo.require_head() == head  # readers see nothing until publication
    assert services.workflow.get(draft_id).tip == answer["base"]
    typed = f"{fields['body']}\n![示意图]({answer['reference']})\n"
    assert (
        editor.post(f"/drafts/{draft_id}/edit", data={**fields, "body": typed, "base": answer["base"], "message": "示意图"}).status_code
        == 302
    )
    draft_page = editor.get(f"/drafts/{draft_id}").get_data(as_text=True)
    [shown] = attributes(draft_page, "//img[@alt='示意图']")
    assert shown["src"].startswith(f"/drafts/{draft_id}/images/{answer['name']}")
    by_reference = editor.get(f"/drafts/{draft_id}/files/A101Z/images/{answer['name']}")  # what Vditor's linkBase asks for
    assert by_reference.status_code == 302 and editor.get(by_reference.headers["Location"]).status_code == 200
    assert reader.get(f"/drafts/{draft_id}/images/{answer['name']}").status_code == 403
    preview = editor.post("/preview", json={"body": typed, "draft": draft_id}).get_json()
    assert f"/drafts/{draft_id}/images/{answer['name']}" in preview["html"]


def test_the_api_and_the_command_line_export_carry_the_pictures(direct: Flask, instance: Path) -> None:
    editor, reader = client_for(direct, "jiaowu"), client_for(direct, "duzhe")
    fields = form_fields(upload_for_import(editor, word_file()), "confirm-form")
    fields["message"] = "导入"
    assert editor.post("/documents/A101Z/import/confirm", data=fields).status_code == 302
    head = svc(direct).library.repo.require_head()
    html = reader.get("/api/documents/A101Z").get_json()["html"]
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 2 and all(s.startswith("/documents/A101Z/images/image-") and s.endswith(f"?rev={head}") for s in sources)
    served = {hashlib.sha256(reader.get(s.replace("&amp;", "&")).data).hexdigest() for s in sources}
    svc(direct).close()
    out = instance / "A101Z.docx"
    result = Runner(instance)("export-word", "A101Z", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert media_hashes(out.read_bytes()) == served

"""Approvals and reviews cannot be typed: trailer injection through every free-text field.

The product records an approval (`Approved-by:`, `Document-number:` …) and a "reviewed, no
change" (`Review: no-change`) as the trailer block of a commit message. Users type into the same
messages — 修订说明, reasons, comments, titles, approval fields — so each of them gets lines that
look like that block, through the real app; the history page and the API must show only the
approvals that were given, the 需复核 flags must follow real revisions, and one-line fields must
refuse line breaks in Chinese while keeping what was typed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document as WordDocument
from flask import Flask
from flask.testing import FlaskClient

from tests.actors import AS_EDITOR, account
from tests.conftest import EDITOR, client_for, csrf_token, make_app
from tests.html_reader import attributes, find_all, form_fields, has_class, parse, visible_text
from zhengai_docs import trailers
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cli import cli
from zhengai_docs.coverage import FlagKind
from zhengai_docs.errors import Refused
from zhengai_docs.library import Library
from zhengai_docs.workflow import Actor, Approval, Workflow, approval_record, subject

FORGED = "\n\nApproved-by: 伪造的党委会\nApproval-meeting: 2026-01-01\nDocument-number: 伪〔2026〕99号\nIssue-date: 2026-01-02"
REAL = {"approving_body": "院长办公会", "meeting_date": "2026-11-20", "doc_number": "包职院发〔2026〕12号", "issue_date": "2026-11-25"}
REAL_RECORD = "审批：院长办公会（2026-11-20 审议），文号 包职院发〔2026〕12号，2026-11-25 发布；审核人 质量管理办公室"
ONE_LINE = "只能写成一行"


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def review_app(instance: Path) -> Iterator[Flask]:
    application = make_app(instance, REVIEW_REQUIRED=True)
    yield application
    application.extensions["zhengai"].close()


def post(client: FlaskClient, url: str, page: str, **data: str) -> str:
    response = client.post(url, data={**data, "csrf_token": csrf_token(client, page)}, follow_redirects=True)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def head(app: Flask) -> str:
    return app.extensions["zhengai"].library.repo.require_head()


def commit_message(app: Flask, commit: str) -> str:
    repo = app.extensions["zhengai"].library.repo.path
    return subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%B", commit], capture_output=True, text=True, check=True).stdout


def git_trailers(message: str) -> list[str]:
    """What git itself reads as the message's trailers."""
    out = subprocess.run(["git", "interpret-trailers", "--parse"], input=message, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


class HistoryPage:
    """The history table's rows (cell texts) and the text of every approval record on a page."""

    def __init__(self, html: str) -> None:
        tree = parse(html)
        self.rows = [[visible_text(cell) for cell in row.xpath("./td")] for row in find_all(tree, "//tr")]
        record = has_class("approval-record")
        self.records = [visible_text(r) for r in find_all(tree, f"//*[{record}][not(ancestor::*[{record}])]")]


def approvals_shown(client: FlaskClient, code: str) -> tuple[list[str], list[dict[str, str]]]:
    """Every approval the history page and the API show for a document."""
    page = HistoryPage(client.get(f"/documents/{code}/history").get_data(as_text=True))
    revisions = client.get(f"/api/documents/{code}/history").get_json()["revisions"]
    return page.records, [r["approval"] for r in revisions if r["approval"] is not None]


def assert_nothing_forged(client: FlaskClient, code: str) -> None:
    records, api = approvals_shown(client, code)
    assert all("伪" not in record for record in records), records
    assert all("伪" not in value for approval in api for value in approval.values()), api


def flagged_for_review(client: FlaskClient) -> set[str]:
    """Documents the audit marks 需复核 because their item's regulation was revised."""
    data = client.get("/audit/flags?format=csv").data.decode("utf-8-sig")
    return {row[0] for row in csv.reader(io.StringIO(data)) if row[2:3] == [FlagKind.REGULATION_REVISED.label]}


def actor(app: Flask, username: str) -> Actor:
    """A user as the workflow sees them, for steps taken without the forms."""
    return account(app.extensions["zhengai"].db, username)


def input_values(html: str) -> dict[str, str]:
    """name -> value of every text input on a page (the approval form has no id of its own)."""
    return {a["name"]: a.get("value", "") for a in attributes(html, "//input[@name][not(@type) or @type='text']")}


def open_revision(editor: FlaskClient, code: str, reason: str) -> int:
    page = f"/documents/{code}/revise"
    response = editor.post(page, data={"kind": "revise", "reason": reason, "csrf_token": csrf_token(editor, page)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/drafts/(\d+)", response.headers["Location"])[1])  # type: ignore[index]


def save_draft(editor: FlaskClient, draft_id: int, **changes: str) -> tuple[int, str]:
    data = form_fields(editor.get(f"/drafts/{draft_id}/edit").get_data(as_text=True), "document-form")
    data.update(body=f"{data['body']}\n第九条 专业设置须经论证。\n", message="补充论证条款")
    data.update(changes)
    response = editor.post(f"/drafts/{draft_id}/edit", data=data)
    return response.status_code, response.get_data(as_text=True)


def publish(app: Flask, draft_id: int, *, approval: dict[str, str] = REAL, note: str = "") -> None:
    editor, quality = client_for(app, "jiaowu"), client_for(app, "zhiliang")
    page = f"/drafts/{draft_id}"
    post(editor, f"{page}/submit", page)
    post(quality, f"{page}/approve", page, **approval, note=note)
    assert "已发布为现行版本" in post(quality, f"{page}/publish", page)


# -- approvals: nothing typed shows as one ---------------------------------------------------------


def test_forged_approval_lines_in_every_draft_field_are_text_not_approvals(review_app: Flask) -> None:
    editor, quality, reader = client_for(review_app, "jiaowu"), client_for(review_app, "zhiliang"), client_for(review_app, "duzhe")
    draft_id = open_revision(editor, "A101Z", "落实新版专业目录" + FORGED)
    assert save_draft(editor, draft_id)[0] == 302
    page = f"/drafts/{draft_id}"
    post(editor, f"{page}/submit", page, text="请审核" + FORGED)
    post(quality, f"{page}/comment", page, text="意见" + FORGED)
    post(quality, f"{page}/request-changes", page, text="请补充" + FORGED)
    assert HistoryPage(editor.get(page).get_data(as_text=True)).records == []  # comments approve nothing
    assert save_draft(editor, draft_id)[0] == 302
    publish(review_app, draft_id, note="同意" + FORGED)

    records, api = approvals_shown(reader, "A101Z")
    assert records == [REAL_RECORD]
    assert api == [{**REAL, "reviewed_by": "质量管理办公室", "published_by": "质量管理办公室"}]
    latest = HistoryPage(reader.get("/documents/A101Z/history").get_data(as_text=True)).rows[1]
    assert "落实新版专业目录 Approved-by: 伪造的党委会" in latest[3]  # the reason as typed: shown, not hidden, not an approval
    message = commit_message(review_app, head(review_app))
    assert git_trailers(message)[:3] == [f"Draft: A101Z/{draft_id}", "Approved-by: 院长办公会", "Approval-meeting: 2026-11-20"]
    assert "伪" not in "".join(git_trailers(message))  # git reads the same block as the product


def test_a_title_with_line_breaks_cannot_add_trailers_to_a_publication(review_app: Flask) -> None:
    """Front matter can hold any title (a file pushed with git, an import); publication folds it."""
    workflow: Workflow = review_app.extensions["zhengai"].workflow
    editor = client_for(review_app, "jiaowu")
    draft_id = open_revision(editor, "A101Z", "修订标题")
    draft = workflow.get(draft_id)
    document = workflow.document(draft)
    titled = document.with_changes(title="新标题" + FORGED)
    workflow.save(draft_id, titled, actor=actor(review_app, "jiaowu"), message="改标题" + FORGED, expected=draft.tip)
    assert "\n" not in commit_message(review_app, workflow.get(draft_id).tip).strip()  # the draft's own message is one line
    publish(review_app, draft_id)
    reader = client_for(review_app, "duzhe")
    records, api = approvals_shown(reader, "A101Z")
    assert records == [REAL_RECORD] and api[0]["approving_body"] == "院长办公会"
    assert_nothing_forged(reader, "A101Z")


def test_direct_saves_and_command_line_messages_never_form_a_trailer_block(app: Flask, tmp_path: Path) -> None:
    """Messages that skip the forms (an import's file name, `-m` on the command line) are folded."""
    library: Library = app.extensions["zhengai"].library
    loaded = library.load(document_code("A101B"))
    result = library.save(
        loaded.document.with_changes(body=loaded.document.body + "\n补充。\n"),
        actor=AS_EDITOR,
        message="A101B 导入.md" + FORGED,
        base=loaded.version.commit,
    )
    message = commit_message(app, result.commit)
    assert (
        message.strip()
        == "A101B 导入.md Approved-by: 伪造的党委会 Approval-meeting: 2026-01-01 Document-number: 伪〔2026〕99号 Issue-date: 2026-01-02"
    )
    assert git_trailers(message) == []

    word = tmp_path / "A101L.docx"
    document = WordDocument()
    document.add_heading("专业设置与调整工作流程", level=1)
    document.add_paragraph("第一条 新的流程。")
    document.save(str(word))
    instance = Path(app.instance_path)
    outcome = CliRunner().invoke(cli, ["--instance", str(instance), "import-word", "A101L", str(word), "-m", "从 Word 导入" + FORGED])
    assert outcome.exit_code == 0, outcome.output
    library.sync()
    reader = client_for(app, "duzhe")
    for code in ("A101B", "A101L"):
        records, api = approvals_shown(reader, code)
        assert records == [] and api == [], code
    latest = reader.get("/api/documents/A101L/history").get_json()["revisions"][0]
    assert latest["message"].startswith("从 Word 导入 Approved-by: 伪造的党委会")


def test_commits_pushed_with_plain_git_are_read_by_the_same_rule(app: Flask) -> None:
    """A message the product did not write (a `git push`, an old commit) counts only by its last paragraph."""
    library: Library = app.extensions["zhengai"].library
    for code, message in (
        ("A101B", "勘误\n\nApproved-by: 伪造的党委会\nDocument-number: 伪〔2026〕99号\n\n（以上为引用）"),
        ("A101Z", "依据新版目录修订\n\nReview: no-change\nReviewed-by: 某人\n\n第九条已改写"),
    ):
        loaded = library.load(document_code(code))
        text = loaded.document.with_changes(body=loaded.document.body + "\n补充。\n").dump()
        library.repo.write(document_code(code).path, text, author=EDITOR, message=message, base=loaded.version.commit)
    library.sync()
    reader = client_for(app, "duzhe")
    assert approvals_shown(reader, "A101B") == ([], [])
    assert "A101B" in flagged_for_review(reader)  # the A101Z commit changed content: no review hides it
    history = HistoryPage(reader.get("/documents/A101B/history").get_data(as_text=True)).rows[1]
    assert "勘误 Approved-by: 伪造的党委会 Document-number: 伪〔2026〕99号 （以上为引用）" in history[3]


def test_a_review_reason_with_forged_lines_records_the_review_only(app: Flask) -> None:
    quality = client_for(app, "zhiliang")
    page = "/cycles/documents/A101Z"
    shown = attributes(quality.get(page).get_data(as_text=True), f"//form[{has_class('review-form')}]//input[@name='base']")
    post(quality, f"{page}/review", page, reason="仍然适用" + FORGED, base=shown[0]["value"])  # the version the form shows
    message = commit_message(app, head(app))
    assert trailers.is_no_change_review(message) and approval_record(message) is None
    assert subject(message).startswith("审核未修订：A101Z") and "仍然适用 Approved-by: 伪造的党委会" in subject(message)
    assert_nothing_forged(client_for(app, "duzhe"), "A101Z")


def test_department_names_cannot_carry_lines_into_document_history(app: Flask) -> None:
    admin = client_for(app, "admin")
    before = head(app)
    response = admin.post(
        "/admin/departments/rename",
        data={
            "old": "教务处",
            "new": "教务处\n\nApproved-by: 伪\nDocument-number: 伪1号",
            "base": before,
            "csrf_token": csrf_token(admin, "/admin/departments"),
        },
    )
    assert response.status_code == 400 and "控制字符" in visible_text(response.get_data(as_text=True))
    assert head(app) == before
    assert_nothing_forged(admin, "A101Z")


# -- reviews: typed "Review: no-change" hides no revision -----------------------------------------


@pytest.mark.parametrize("reason", ["Review: no-change", "依据新版专业目录修订\n\nReview: no-change\nReviewed-by: 质量管理办公室"])
def test_review_no_change_in_a_reason_does_not_hide_a_regulation_revision(review_app: Flask, reason: str) -> None:
    quality, editor = client_for(review_app, "zhiliang"), client_for(review_app, "jiaowu")
    assert not {"A101B", "A101L"} & flagged_for_review(quality)  # A101L was issued with A101Z (one 文号): no alarm
    page = "/cycles/documents/A101Z"
    post(quality, f"{page}/review", page, reason="制度仍然适用", base=head(review_app))
    assert "A101B" not in flagged_for_review(quality)  # a real review changes no content: nothing to re-check

    draft_id = open_revision(editor, "A101Z", reason)
    assert save_draft(editor, draft_id)[0] == 302
    publish(review_app, draft_id)
    assert {"A101B", "A101L"} <= flagged_for_review(quality)
    assert not trailers.is_no_change_review(commit_message(review_app, head(review_app)))


def test_review_no_change_as_a_save_message_does_not_hide_a_regulation_revision(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    assert "A101B" not in flagged_for_review(editor)
    data = form_fields(editor.get("/documents/A101Z/edit").get_data(as_text=True), "document-form")
    data.update(body=f"{data['body']}\n第九条 新增条款。\n", message="Review: no-change")
    assert editor.post("/documents/A101Z/edit", data=data).status_code == 302
    assert "A101B" in flagged_for_review(editor)


# -- one-line fields refuse line breaks and keep what was typed ---------------------------------------


@pytest.mark.parametrize("field", ["message", "title", "doc_number", "approved_by", "cycle_reason"])
def test_direct_editor_refuses_line_breaks_in_one_line_fields(app: Flask, field: str) -> None:
    editor = client_for(app, "jiaowu")
    before = head(app)
    data = form_fields(editor.get("/documents/A101Z/edit").get_data(as_text=True), "document-form")
    typed = "院长办公会" + FORGED
    data.update({"message": "修订", field: typed})
    if field == "cycle_reason":
        data["cycle_years"] = "2"
    response = editor.post("/documents/A101Z/edit", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and ONE_LINE in visible_text(html)
    assert form_fields(html, "document-form")[field] == typed
    assert head(app) == before


def test_new_document_refuses_a_multi_line_message(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    data = form_fields(editor.get("/items/A103/new/Z").get_data(as_text=True), "document-form")
    data["message"] = "新建制度" + FORGED
    response = editor.post("/items/A103/new/Z", data=data)
    assert response.status_code == 200 and "修订说明只能写成一行" in visible_text(response.get_data(as_text=True))
    assert form_fields(response.get_data(as_text=True), "document-form")["message"] == data["message"]


@pytest.mark.parametrize("field", ["message", "title"])
def test_draft_editor_refuses_line_breaks_in_one_line_fields(review_app: Flask, field: str) -> None:
    editor = client_for(review_app, "jiaowu")
    draft_id = open_revision(editor, "A101Z", "修订")
    tip = review_app.extensions["zhengai"].workflow.get(draft_id).tip
    typed = "补充条款" + FORGED
    status, html = save_draft(editor, draft_id, **{field: typed})
    assert status == 200 and ONE_LINE in visible_text(html)
    assert form_fields(html, "document-form")[field] == typed
    assert review_app.extensions["zhengai"].workflow.get(draft_id).tip == tip


@pytest.mark.parametrize("field", ["approving_body", "doc_number"])
def test_approval_refuses_line_breaks_and_keeps_what_the_reviewer_typed(review_app: Flask, field: str) -> None:
    editor, quality = client_for(review_app, "jiaowu"), client_for(review_app, "zhiliang")
    draft_id = open_revision(editor, "A101Z", "修订")
    save_draft(editor, draft_id)
    page = f"/drafts/{draft_id}"
    post(editor, f"{page}/submit", page)
    typed = REAL[field] + FORGED
    html = post(quality, f"{page}/approve", page, **{**REAL, field: typed})
    label = {"approving_body": "审批机构", "doc_number": "文号"}[field]
    assert f"{label}只能写成一行" in visible_text(html) and "待审核" in visible_text(html)
    assert input_values(html)[field] == typed
    assert review_app.extensions["zhengai"].workflow.get(draft_id).approval is None


def test_workflow_refuses_multi_line_approval_fields_without_the_form(review_app: Flask) -> None:
    workflow: Workflow = review_app.extensions["zhengai"].workflow
    editor = client_for(review_app, "jiaowu")
    draft_id = open_revision(editor, "A101Z", "修订")
    save_draft(editor, draft_id)
    post(editor, f"/drafts/{draft_id}/submit", f"/drafts/{draft_id}")
    meeting, issued = dt.date(2026, 11, 20), dt.date(2026, 11, 25)
    for body, number, label in (
        ("院长办公会" + FORGED, "包职院发〔2026〕12号", "审批机构"),
        ("院长办公会", "包〔2026〕12号\r\nReview: no-change", "文号"),
    ):
        approval = Approval(approving_body=body, meeting_date=meeting, doc_number=number, issue_date=issued)
        with pytest.raises(Refused, match=f"{label}只能写成一行"):
            workflow.approve(draft_id, actor=actor(review_app, "zhiliang"), approval=approval)
    assert workflow.get(draft_id).approval is None


@pytest.mark.parametrize("field", ["message", "title"])
def test_word_import_confirmation_refuses_line_breaks(app: Flask, field: str) -> None:
    editor = client_for(app, "jiaowu")
    before = head(app)
    typed = "从 Word 导入" + FORGED
    data = {
        "title": "专业设置与调整管理办法",
        "body": "# 标题\n\n正文。\n",
        "message": "从 Word 导入",
        "base": before,
        "source": "A101Z.docx",
    }
    data[field] = typed
    response = editor.post("/documents/A101Z/import/confirm", data={**data, "csrf_token": csrf_token(editor, "/documents/A101Z/import")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and ONE_LINE in visible_text(html)
    assert form_fields(html, "confirm-form")[field] == typed
    assert head(app) == before


def test_restore_refuses_a_multi_line_message(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    revisions = editor.get("/api/documents/A101Z/history").get_json()["revisions"]
    library: Library = app.extensions["zhengai"].library
    loaded = library.load(document_code("A101Z"))
    library.save(
        loaded.document.with_changes(body=loaded.document.body + "\n新增。\n"), actor=AS_EDITOR, message="改", base=loaded.version.commit
    )
    before = head(app)
    response = editor.post(
        "/documents/A101Z/restore",
        data={
            "revision": revisions[0]["commit"],
            "base": before,
            "message": "恢复" + FORGED,
            "csrf_token": csrf_token(editor, "/documents/A101Z/history"),
        },
    )
    assert response.status_code == 400 and "恢复说明只能写成一行" in visible_text(response.get_data(as_text=True))
    assert head(app) == before


# -- the reader and the writer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "block"),
    [
        ("修订发布：A101Z 标题\n\n原因\n\nDraft: A101Z/1\nApproved-by: 院长办公会", {"Draft": "A101Z/1", "Approved-by": "院长办公会"}),
        ("审核未修订：A101Z\n\n理由\n\nReview: no-change\nReview-date: 2026-11-23", {"Review": "no-change", "Review-date": "2026-11-23"}),
        ("Approved-by: 伪造\nDocument-number: 伪", {}),  # one paragraph is a subject
        ("勘误\n\nApproved-by: 伪造\n\n补充说明", {}),  # not the last paragraph
        ("勘误\n\nApproved-by: 伪造\n另起一行", {}),  # a line that is no trailer
        ("勘误\n\nApproved-by: 伪造\nSigned-off-by: 某人", {}),  # a key the product does not write
        ("勘误\n\nApproved-by: 一\nApproved-by: 二", {}),  # the product never repeats a key
        ("勘误\n\napproved-by: 伪造", {}),  # spelled otherwise
    ],
)
def test_only_a_last_paragraph_of_known_trailers_is_read(message: str, block: dict[str, str]) -> None:
    assert dict(trailers.trailer_block(message)) == block


def test_the_writer_appends_the_block_and_folds_look_alikes() -> None:
    forged = "改动说明" + FORGED
    assert trailers.commit_message(forged) == trailers.one_line(forged)
    assert trailers.trailer_block(trailers.commit_message(forged)) == {}
    assert trailers.commit_message("普通说明\n\n第二段") == "普通说明\n\n第二段"  # prose without trailers stays as written
    written = trailers.commit_message("标题\n\n原因" + FORGED, trailers=[(trailers.APPROVED_BY, "院长\n办公会")])
    assert trailers.trailer_block(written) == {"Approved-by": "院长 办公会"}
    assert trailers.without_trailer_block(written) == "标题\n\n原因" + FORGED
    with pytest.raises(ValueError, match="not a trailer"):
        trailers.commit_message("标题", trailers=[("Signed-off-by", "某人")])

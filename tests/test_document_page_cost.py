"""What a document page costs once its version has been read: no git process, and a fixed,
small number of database questions whatever the document links (points, related documents,
attachments, flags) — document pages are most of a reader's requests."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from tests.conftest import client_for
from tests.git_processes import GitProcesses
from tests.html_reader import visible_text

# the session user (one join), the item's name, the flags (6), the related titles, the open
# draft, the read confirmation, the unread count, the revision-cycle chip
QUESTIONS_PER_PAGE = 13


@contextmanager
def counted_statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    statements: list[str] = []
    engine = app.extensions["zhengai"].db.engine

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _with_attachment(app: Flask, client: FlaskClient) -> None:
    """A101Z gets an attachment through the page's own form, so the page lists one."""
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "姓名"
    data = io.BytesIO()
    workbook.save(data)
    head = app.extensions["zhengai"].library.repo.require_head()
    page = client.get("/documents/A101Z")
    token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/documents/A101Z/attachments",
        data={
            "csrf_token": token,
            "base": head,
            "attachment_action": "add",
            "attachment_title": "报名登记表",
            "attachment_file": (io.BytesIO(data.getvalue()), "报名登记表.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_a_document_page_seen_again_starts_no_git_process(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's attachments are listed at the commit the page already read, not after a
    `rev-parse` of it; the text and the listing of a commit are remembered."""
    client = client_for(app, "admin")
    _with_attachment(app, client)
    _page(client, "/documents/A101Z")  # shows "附件已保存。" once
    first = _page(client, "/documents/A101Z")
    git = GitProcesses(monkeypatch)
    again = _page(client, "/documents/A101Z")
    assert git.started == []
    assert "报名登记表" in visible_text(again)
    assert visible_text(again) == visible_text(first)


@pytest.mark.parametrize("code", ["A101Z", "A101L", "A101B"])
def test_a_document_page_asks_the_database_a_fixed_number_of_questions(app: Flask, code: str) -> None:
    """However many points, related documents and flags a document has, its page asks the same
    few questions: nothing per related document, no whole item, no whole catalogue."""
    client = client_for(app, "jiaowu")
    _page(client, f"/documents/{code}")  # the cache followed the head; the version is read
    with counted_statements(app) as statements:
        page = _page(client, f"/documents/{code}")
    assert len(statements) <= QUESTIONS_PER_PAGE, "\n".join(statements)
    assert "修订周期" in visible_text(page)

"""One front-matter reader (issue 13): a version pushed with plain git is read by the cache exactly
as the document page reads it, in every YAML form.

The cache once read each revision's `issued` and `reviewed` with regular expressions of its own;
a valid flow mapping (`reviewed: {date: …, by: …, reason: …}`) then gave the document page one
clock and the 修订周期记录 table, the closed cycles and the on-time ratios another. Each test
pushes one form with plain git and checks the revision row, the document row and the pages.

Decided here: `issued` and `reviewed.date` are calendar dates (发文日期). A quoted date is a
string, and a date with a time or a time zone (`2024-05-01T08:00:00+08:00`) names a moment, not
the day on the document: the parser refuses both and names the line. Such a version, like any
version that does not parse, carries no dates and no clock in the cache — it moves nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import make_app
from tests.databases import instance_database_url
from tests.html_reader import find_all, parse, visible_text
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DocumentRow, RevisionRow
from zhengai_docs.db.sync import cached_commit, rebuild, sync
from zhengai_docs.storage.repository import ContentRepository

A101Z_PATH = "regulations/A/A1/A101Z.md"
ISSUED_LINE = "issued: 2019-03-15\n"  # A101Z in the demo content
D = dt.date


@dataclass(frozen=True)
class Form:
    """What replaces A101Z's `issued` line (or, with `whole`, its whole front matter)."""

    front: str
    whole: bool = False
    crlf_bom: bool = False


@dataclass(frozen=True)
class Read:
    issued: D | None
    reviewed: D | None

    @property
    def clock(self) -> D:
        return max(d for d in (self.issued, self.reviewed) if d is not None)


REVIEWED = Read(issued=D(2019, 3, 15), reviewed=D(2024, 5, 1))
BLOCK = ISSUED_LINE + "reviewed:\n  date: 2024-05-01\n  by: 教务处\n  reason: 仍适用\n"
FLOW = "{date: 2024-05-01, by: 教务处, reason: 仍适用}"
REISSUED = Read(issued=D(2024, 2, 1), reviewed=None)

ACCEPTED: dict[str, tuple[Form, Read]] = {
    "block mapping": (Form(BLOCK), REVIEWED),
    "flow mapping": (Form(ISSUED_LINE + f"reviewed: {FLOW}\n"), REVIEWED),
    "flow mapping over lines": (Form(ISSUED_LINE + "reviewed: {\n    date: 2024-05-01,\n    by: 教务处,\n    reason: 仍适用}\n"), REVIEWED),
    "block, date after a reason quoting a date": (
        Form(ISSUED_LINE + "reviewed:\n  by: 教务处\n  reason: |\n    date: 2019-01-01 的规定仍适用\n  date: 2024-05-01\n"),
        REVIEWED,
    ),
    "JSON-style quoted keys": (
        Form('"issued": 2019-03-15\n"reviewed": {"date": 2024-05-01, "by": "教务处", "reason": "仍适用"}\n'),
        REVIEWED,
    ),
    "CRLF line ends and a BOM": (Form(BLOCK, crlf_bom=True), REVIEWED),
    "explicit !!timestamp tag": (Form("issued: !!timestamp 2024-02-01\n"), REISSUED),
    "date with a comment": (Form("issued: 2024-02-01  # 发文日期\n"), REISSUED),
    "whole front matter as one flow mapping": (
        Form(
            "{code: A101Z, title: 包头职业技术学院专业设置与调整管理办法, type: 制度, departments: [教务处],\n"
            " status: 现行, issued: 2024-02-01}\n",
            whole=True,
        ),
        REISSUED,
    ),
}
REFUSED: dict[str, tuple[Form, str]] = {
    "quoted date": (Form("issued: '2024-02-01'\n"), "issued"),
    "date with time zone": (Form("issued: 2024-05-01T08:00:00+08:00\n"), "issued"),
    "date with time": (Form("issued: 2024-05-01 08:00:00\n"), "issued"),
    "review date with time zone": (Form(ISSUED_LINE + f"reviewed: {FLOW.replace('05-01', '05-01T08:00:00+08:00')}\n"), "reviewed"),
    "broken YAML": (Form("issued: [2024-05-01\n"), "YAML"),
}


def pushed_text(original: str, form: Form) -> str:
    if form.whole:
        body = original.split("\n---\n", 1)[1]
        text = "---\n" + form.front + "---\n" + body
    else:
        assert ISSUED_LINE in original
        text = original.replace(ISSUED_LINE, form.front)
    return "\ufeff" + text.replace("\n", "\r\n") if form.crlf_bom else text


class Facts:
    """The 起算日期 fact and the rows of the 修订周期记录 table of /cycles/documents/<code>."""

    def __init__(self, html: str) -> None:
        tree = parse(html)
        self.facts: dict[str, str] = {}
        term: str | None = None
        for element in find_all(tree, "//dt | //dd"):  # document order: each dd describes the dt before it
            if element.tag == "dt":
                term = visible_text(element)
            elif term:
                self.facts[term] = visible_text(element)
        rows = find_all(tree, "//table[@id='cycle-events']//tr[td]")
        self.events = [[visible_text(cell) for cell in row.xpath("./td")] for row in rows]


def run_git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "外部提交者", "GIT_AUTHOR_EMAIL": "ext@example.edu.cn"}
    env |= {"GIT_COMMITTER_NAME": "外部提交者", "GIT_COMMITTER_EMAIL": "ext@example.edu.cn"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


class Clone:
    """A colleague's clone of the content repository, pushing with plain git."""

    def __init__(self, instance: Path, work: Path) -> None:
        run_git(work.parent, "clone", "-q", str(instance / "content.git"), work.name)
        self.work = work

    def read(self, path: str) -> str:
        return (self.work / path).read_bytes().decode("utf-8")

    def push(self, files: dict[str, str], message: str) -> None:
        for path, text in files.items():
            (self.work / path).write_bytes(text.encode("utf-8"))
        run_git(self.work, "commit", "-q", "-a", "-m", message)
        run_git(self.work, "push", "-q", "origin", "main")


@pytest.fixture
def clone(instance: Path, tmp_path: Path) -> Clone:
    return Clone(instance, tmp_path / "work")


@pytest.fixture
def database(instance: Path) -> Iterator[Database]:
    database = Database(instance_database_url(instance))
    yield database
    database.dispose()


@pytest.fixture
def site(instance: Path) -> Iterator[Flask]:
    app = make_app(instance, ANONYMOUS_READ=True)
    yield app
    app.extensions["zhengai"].close()


@dataclass(frozen=True)
class Row:
    issued: D | None
    reviewed: D | None
    clock: D | None
    error: str | None = None
    commit: str | None = None


def _revision(database: Database, code: str) -> Row:
    """The newest revision row of `code`."""
    with database.session() as session:
        found = session.scalars(select(RevisionRow).where(RevisionRow.code == code).order_by(RevisionRow.seq.desc()).limit(1)).one()
        return Row(issued=found.issued, reviewed=found.reviewed, clock=found.clock, commit=found.commit)


def _document(database: Database, code: str) -> Row:
    with database.session() as session:
        found = session.scalars(select(DocumentRow).where(DocumentRow.code == code)).one()
        return Row(issued=found.issued, reviewed=found.reviewed, clock=found.clock, error=found.error)


def _revision_rows(database: Database) -> list[tuple[object, ...]]:
    with database.session() as session:
        rows = session.execute(
            select(RevisionRow.code, RevisionRow.seq, RevisionRow.issued, RevisionRow.reviewed, RevisionRow.clock).order_by(
                RevisionRow.seq, RevisionRow.code
            )
        )
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_every_accepted_form_gives_the_revision_the_dates_the_document_page_shows(
    name: str, clone: Clone, database: Database, site: Flask
) -> None:
    form, expected = ACCEPTED[name]
    clone.push({A101Z_PATH: pushed_text(clone.read(A101Z_PATH), form)}, f"线下修订（{name}）")
    client: FlaskClient = site.test_client()
    assert client.get("/documents/A101Z").status_code == 200  # the page parses it, and the request syncs the cache

    revision, document = _revision(database, "A101Z"), _document(database, "A101Z")
    assert (revision.issued, revision.reviewed, revision.clock) == (expected.issued, expected.reviewed, expected.clock)
    assert document == Row(issued=expected.issued, reviewed=expected.reviewed, clock=expected.clock, error=None)

    page = Facts(client.get("/cycles/documents/A101Z").get_data(as_text=True))
    source = "审核未修订" if expected.reviewed else "发布/修订日期"
    assert page.facts["起算日期"] == f"{expected.clock}（{source}）"
    newest = page.events[0]
    assert newest[0] == str(expected.clock) and newest[1] == ("审核未修订" if expected.reviewed else "修订")
    assert newest[3] == "2022-03-15"  # the cycle it closed: 2019-03-15 + 3 years


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_refused_form_carries_no_dates_and_moves_no_clock(name: str, clone: Clone, database: Database, site: Flask) -> None:
    client: FlaskClient = site.test_client()
    before = Facts(client.get("/cycles/documents/A101Z").get_data(as_text=True)).events
    original = clone.read(A101Z_PATH)
    form, field = REFUSED[name]
    clone.push({A101Z_PATH: pushed_text(original, form)}, f"线下修订（{name}）")

    page = client.get("/documents/A101Z")
    assert page.status_code == 400 and f"{A101Z_PATH}:" in page.get_data(as_text=True)  # the page names file and line
    revision, document = _revision(database, "A101Z"), _document(database, "A101Z")
    assert (revision.issued, revision.reviewed, revision.clock) == (None, None, None)
    assert document.error is not None and field in document.error and document.issued is None

    clone.push({A101Z_PATH: original}, "改正格式")
    assert client.get("/documents/A101Z").status_code == 200
    after = Facts(client.get("/cycles/documents/A101Z").get_data(as_text=True)).events
    assert after == before  # neither the refused version nor its fix closed or opened a cycle


def test_a_push_with_broken_front_matter_does_not_stop_the_sync(clone: Clone, database: Database, instance: Path) -> None:
    """The broken file becomes an error row; the other files of its commit and the commits after
    it are read; a full rebuild reads every version the same way the incremental sync did."""
    repo = ContentRepository(instance / "content.git")
    sync(database, repo)
    a101l = clone.read("regulations/A/A1/A101L.md")
    assert "issued: " in a101l
    issued_line = next(line for line in a101l.splitlines(keepends=True) if line.startswith("issued: "))
    reviewed = f"reviewed: {FLOW.replace('2024-05-01', '2026-06-01')}\n"
    clone.push(
        {
            A101Z_PATH: "---\ncode: A101Z\ntitle: [未闭合\n---\n正文\n",
            "regulations/A/A1/A101L.md": a101l.replace(issued_line, issued_line + reviewed),
        },
        "一次提交：一份格式错误，一份审核未修订",
    )
    a101b = clone.read("standards/A/A1/A101B.md")
    clone.push({"standards/A/A1/A101B.md": a101b.replace("\n---\n", "\n---\n\n补充说明。\n", 1)}, "之后的提交")

    result = sync(database, repo)
    assert result.mode == "incremental" and cached_commit(database) == repo.head()
    assert _document(database, "A101Z").error is not None
    assert _revision(database, "A101Z").clock is None
    assert (_revision(database, "A101L").reviewed, _document(database, "A101L").reviewed) == (D(2026, 6, 1), D(2026, 6, 1))
    assert _revision(database, "A101B").commit == repo.head()

    incremental = _revision_rows(database)
    rebuild(database, repo, expected=repo.head())
    assert _revision_rows(database) == incremental

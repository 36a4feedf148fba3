"""Revision-cycle pages on the demo content, as of a fixed day (never the wall clock)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import docx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import OpenApp, csrf_token, login
from tests.html_reader import attributes, find_all, has_class, parse, table_rows, text_nodes, visible_text
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.cycles import rules

TODAY = dt.date(2026, 11, 23)
OVERDUE = ["B601Z", "A105Z", "A101L", "A101Z", "F101Z", "E201Z", "D203Z", "E303Z", "A106B"]  # most overdue first
DUE_SOON = ["B202Z", "A104B", "C204Z", "A105B", "D203L"]  # soonest first


class Page:
    """Text per element id and the rows of every table, so tests assert on parsed HTML."""

    def __init__(self, html: str) -> None:
        tree = parse(html)
        tables = find_all(tree, "//table")
        self.tables = {table.get("id") or f"table{n}": table_rows(table) for n, table in enumerate(tables, start=1)}
        self.chips = [(chip.get("class", ""), visible_text(chip)) for chip in find_all(tree, f"//span[{has_class('cycle-chip')}]")]
        self.rects = attributes(tree, "//rect")
        self.forms = attributes(tree, "//form")
        self.text = text_nodes(tree)

    def first_column(self) -> list[str]:
        """The codes in the page's first table."""
        return self.column(next(iter(self.tables)))

    def column(self, table: str, index: int = 0) -> list[str]:
        return [row[index] for row in self.tables[table][1:]]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "today", lambda now=None: TODAY)  # the one clock the app reads


def get(client: FlaskClient, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return Page(response.get_data(as_text=True))


def test_dashboard_lists_overdue_and_due_soon_by_department_and_level(client: FlaskClient) -> None:
    login(client, "zhiliang")
    page = get(client, "/cycles/")
    tables = list(page.tables)
    overdue, due_soon = page.tables[tables[0]], page.tables[tables[1]]
    assert [row[0] for row in overdue[1:]] == OVERDUE
    assert [row[0] for row in due_soon[1:]] == DUE_SOON
    assert overdue[1][5] == "2021-04-26" and "已逾期" in overdue[1][6] and "逾期 2037 天" in overdue[1][6]
    assert due_soon[1][5] == "2026-11-30" and "即将到期" in due_soon[1][6] and "剩 7 天" in due_soon[1][6]
    by_department = {row[0]: row[1:] for row in page.tables["by-department"][1:]}
    assert by_department["教务处"] == ["9", "2", "4", "0", "15"]  # 正常, 即将到期, 已逾期, 未发布, 合计
    by_level = {row[0]: row[1:] for row in page.tables["by-level"][1:]}
    assert by_level["A 办学活动"] == ["9", "2", "4", "0", "15"]
    assert sum(int(row[-1]) for row in by_level.values()) == 29  # 30 documents, one repealed
    assert ("chip cycle-chip cycle-overdue", "已逾期") in page.chips and ("chip cycle-chip cycle-due_soon", "即将到期") in page.chips


def test_due_date_chart_by_month_and_quarter(client: FlaskClient) -> None:
    login(client, "duzhe")
    monthly = get(client, "/cycles/")
    bars = [r for r in monthly.rects if r.get("class") == "bar"]
    assert len(bars) == 36
    assert float(bars[0]["height"] or 0) > 0  # B202Z falls due this month
    quarterly = get(client, "/cycles/?by=quarter")
    bars = [r for r in quarterly.rects if r.get("class") == "bar"]
    assert len(bars) == 12
    # the busiest quarter has 4 documents due, on an axis that ends at 5 (1-2-5 steps) and 188 px tall
    assert max(float(b["height"] or 0) for b in bars) == pytest.approx(188 * 4 / 5)


def test_filters_my_department_and_lists(client: FlaskClient) -> None:
    login(client, "renshi")
    mine = get(client, "/cycles/mine")
    assert "没有逾期文档。" in mine.text and "by-department" not in mine.tables
    assert mine.first_column() == ["A104B", "C204Z"]  # 组织人事处 leads A104B (with 教务处) and C204Z: both due soon
    filtered = get(client, "/cycles/?dept=教务处&level=A")
    assert filtered.first_column() == ["A105Z", "A101L", "A101Z", "A106B"]
    listing = get(client, "/cycles/list?state=due_soon&dept=组织人事处")
    assert listing.first_column() == ["A104B", "C204Z"]
    assert client.get("/cycles/list?state=nonsense").status_code == 400
    assert client.get("/cycles/?level=../x").status_code == 400
    assert client.get("/cycles/list?state=overdue&page=9").status_code == 404


def test_readers_without_department_see_the_overview(client: FlaskClient) -> None:
    login(client, "duzhe")
    page = get(client, "/cycles/mine")
    assert "您的账号没有所属部门，下面显示全部文档的修订周期。" in page.text
    assert page.first_column() == OVERDUE and "by-department" in page.tables


def test_pages_need_sign_in_unless_anonymous_reading(client: FlaskClient, instance: Path, open_app: OpenApp) -> None:
    assert client.get("/cycles/").status_code == 302
    assert client.get("/cycles/export.csv").status_code == 302
    app = open_app(instance, ANONYMOUS_READ=True)
    assert app.test_client().get("/cycles/").status_code == 200
    assert app.test_client().get("/cycles/mine").status_code == 200  # no account, no department: the overview


def test_chips_on_document_and_item_pages(client: FlaskClient) -> None:
    login(client, "duzhe")
    document = get(client, "/documents/A101Z")
    assert ("chip cycle-chip cycle-overdue", "已逾期") in document.chips
    assert not document.forms or all("review" not in (f.get("action") or "") for f in document.forms)  # readers cannot review
    item = get(client, "/items/A104")
    assert [text for _, text in item.chips] == ["正常", "正常", "即将到期"]  # A104Z, A104L, A104B
    draft = get(client, "/documents/C204L")
    assert ("chip cycle-chip cycle-never_issued", "未发布") in draft.chips


def test_document_cycles_page_shows_revisions_as_cycles(client: FlaskClient) -> None:
    login(client, "duzhe")
    page = get(client, "/cycles/documents/A101B")
    rows = page.tables["cycle-events"][1:]
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("2025-06-18", "修订", "2025-05-10", "超期"),
        ("2022-05-10", "修订", "2022-06-20", "按时"),
        ("2019-06-20", "发布", "—", "—"),
    ]
    assert rows[0][2] == "3 年 39 天"
    leap = get(client, "/cycles/documents/F101Z").tables["cycle-events"][1:]
    assert (leap[0][0], leap[0][3], leap[0][4]) == ("2019-11-20", "2019-02-28", "超期")  # 2016-02-29 + 3 years
    assert client.get("/cycles/documents/A999Z").status_code == 404
    assert client.get("/cycles/documents/a101z").status_code == 404


def test_on_time_ratio_per_department(client: FlaskClient) -> None:
    login(client, "zhiliang")
    page = get(client, "/cycles/ontime?years=5")
    rows = {row[0]: row[1:] for row in page.tables["ontime"][1:-1]}
    assert rows["组织人事处"] == ["1", "2", "0", "33%"]  # A104Z on time; A104B and C204B late
    totals = page.tables["ontime"][-1]
    assert totals[0].startswith("全校") and int(totals[1]) + int(totals[2]) + int(totals[3]) > 0
    narrow = get(client, "/cycles/ontime?years=1")
    assert {row[0]: row[1:] for row in narrow.tables["ontime"][1:-1]}["组织人事处"] == ["0", "1", "0", "0%"]  # C204B, 2025-12-10


def test_exports_parse_back(client: FlaskClient) -> None:
    login(client, "zhiliang")
    response = client.get("/cycles/export.csv?dept=教务处")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel on Chinese Windows reads UTF-8
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["代码", "标题", "类型", "牵头部门", "周期状态"]
    assert [r[0] for r in rows[1:]] == ["A105Z", "A101L", "A101Z", "A106B", "A104B", "A105B"]
    assert rows[1][4] == "已逾期" and rows[1][8] == "2021-09-05" and rows[1][9] == "-1905"
    only_soon = list(csv.reader(io.StringIO(client.get("/cycles/export.csv?state=due_soon").data.decode("utf-8-sig"))))
    assert [r[0] for r in only_soon[1:]] == DUE_SOON
    word = client.get("/cycles/export.docx?dept=教务处")
    assert word.status_code == 200 and word.mimetype.endswith("wordprocessingml.document")
    document = docx.Document(io.BytesIO(word.data))
    assert "修订周期报告" in document.paragraphs[0].text and "教务处" in document.paragraphs[1].text
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells][:2] == ["代码", "标题"]
    assert [row.cells[0].text for row in table.rows[1:]] == ["A105Z", "A101L", "A101Z", "A106B", "A104B", "A105B"]
    assert client.get("/cycles/export.pdf").status_code == 404


# -- reviewed, no change --------------------------------------------------------------------


def _review(
    client: FlaskClient, code: str, reason: str = "经审核，现行条款仍符合上级文件要求，无需修订。", **extra: str
) -> tuple[int, str]:
    token = csrf_token(client, f"/cycles/documents/{code}")
    page = client.get(f"/cycles/documents/{code}").get_data(as_text=True)
    base = page.split('name="base" value="', 1)[1].split('"', 1)[0] if 'name="base"' in page else ""
    response = client.post(f"/cycles/documents/{code}/review", data={"reason": reason, "base": base, "csrf_token": token, **extra})
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize(("user", "code"), [("duzhe", "A101Z"), ("renshi", "A101Z"), ("jiaowu", "C204Z"), ("jiaowu", "B601Z")])
def test_review_refused_without_permission(app: Flask, client: FlaskClient, user: str, code: str) -> None:
    login(client, user)
    library = app.extensions["zhengai"].library
    before = library.repo.head()
    token = csrf_token(client, "/cycles/")
    response = client.post(f"/cycles/documents/{code}/review", data={"reason": "越权尝试", "base": before, "csrf_token": token})
    assert response.status_code == 403
    assert library.repo.head() == before  # nothing written
    assert "确认审核未修订" not in client.get(f"/cycles/documents/{code}").get_data(as_text=True)


def test_review_needs_sign_in_and_csrf(app: Flask, client: FlaskClient) -> None:
    library = app.extensions["zhengai"].library
    before = library.repo.head()
    anonymous = client.post("/cycles/documents/A101Z/review", data={"reason": "x", "csrf_token": csrf_token(client)})
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    login(client, "jiaowu")
    assert client.post("/cycles/documents/A101Z/review", data={"reason": "无令牌", "base": before}).status_code == 400
    assert library.repo.head() == before


def test_editor_reviews_own_document_without_changing_its_text(app: Flask, client: FlaskClient) -> None:
    library = app.extensions["zhengai"].library
    before = library.load(document_code("A101Z"))
    login(client, "jiaowu")
    form = get(client, "/cycles/documents/A101Z")
    assert any(f.get("action") == "/cycles/documents/A101Z/review" for f in form.forms)
    status, _ = _review(client, "A101Z")
    assert status == 302
    after = library.load(document_code("A101Z"))
    assert after.document.body == before.document.body  # the text is unchanged
    assert after.document.meta.reviewed is not None and after.document.meta.reviewed.date == TODAY
    assert after.document.meta.reviewed.by == "教务处 王老师"
    assert after.document.meta.issued == before.document.meta.issued
    commit = library.repo.history("regulations/A/A1/A101Z.md", limit=1)[0]
    assert commit.summary.startswith("审核未修订：A101Z") and "Review: no-change" in commit.message
    assert "Reviewed-by: 教务处 王老师 <jiaowu@example.edu.cn>" in commit.message and commit.author_name == "教务处 王老师"
    cycle = get(client, "/cycles/documents/A101Z")
    assert cycle.tables["cycle-events"][1][:2] == ["2026-11-23", "审核未修订"] and cycle.tables["cycle-events"][1][4] == "超期"
    assert ("chip cycle-chip cycle-current", "正常") in cycle.chips  # the clock restarted: due 2029-11-23
    overview = get(client, "/cycles/")
    assert "A101Z" not in overview.first_column()
    history = client.get("/documents/A101Z/history").get_data(as_text=True)
    assert "审核未修订：A101Z" in history


def test_quality_office_reviews_any_document(app: Flask, client: FlaskClient) -> None:
    login(client, "zhiliang")
    assert _review(client, "B601Z")[0] == 302
    assert app.extensions["zhengai"].library.load(document_code("B601Z")).document.meta.reviewed is not None


def test_review_problems_change_nothing(app: Flask, client: FlaskClient) -> None:
    library = app.extensions["zhengai"].library
    before = library.repo.head()
    login(client, "jiaowu")
    status, _ = _review(client, "A101Z", reason="   ")
    assert status == 302 and library.repo.head() == before
    assert "请填写理由" in client.get("/cycles/documents/A101Z").get_data(as_text=True)
    token = csrf_token(client, "/cycles/")
    draft = client.post("/cycles/documents/F101L/review", data={"reason": "草稿", "base": before, "csrf_token": token})
    assert draft.status_code == 403  # F101L is 党委（院长）办公室's
    login(client, "zhiliang")
    token = csrf_token(client, "/cycles/")
    draft = client.post("/cycles/documents/C204L/review", data={"reason": "草稿不能审核", "base": before, "csrf_token": token})
    assert draft.status_code == 400 and "只有现行文档" in draft.get_data(as_text=True)
    old_base = library.repo.history("standards/A/A1/A101B.md")[-1].commit  # the 2019 version
    conflict = client.post("/cycles/documents/A101B/review", data={"reason": "过期版本", "base": old_base, "csrf_token": token})
    assert conflict.status_code == 409
    assert library.repo.head() == before

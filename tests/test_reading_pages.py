"""What readers and reviewers see (issue 18): the version comparison in Chinese, the review page,
the home page by role, banners on repealed and draft documents, notifications read when opened,
the header's and footer's words, the demo's college name, suspect links of documents issued
together, and the cycle chart's year labels.

Drafts are taken through the workflow service as the people would (tests/actors.py); what each
person then sees is read from the pages with a parser (tests/html_reader.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml.html import HtmlElement
from sqlalchemy import select

from tests.conftest import Runner, client_for, csrf_token, login, make_app
from tests.html_reader import find_all, has_class, table_rows, visible_text
from tests.review_steps import DEMO_TODAY, SENTENCE, add, publish, revise, send_back, submit, svc
from zhengai_docs import coverage
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.catalogue.comparison import compare_texts, display
from zhengai_docs.catalogue.document import Status
from zhengai_docs.config import load_settings
from zhengai_docs.cycles.chart import YEAR_LABEL_WIDTH, bar_chart
from zhengai_docs.cycles.report import Bucket
from zhengai_docs.db.models import DocumentRow, Notification
from zhengai_docs.web.review_changes import reviewed_commit

A101Z = document_code("A101Z")


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    """The app as installed (REVIEW_REQUIRED on), on the demo's "today"."""
    application = make_app(instance, REVIEW_REQUIRED=True)
    application.extensions["zhengai"].state.clock = lambda: DEMO_TODAY
    yield application
    application.extensions["zhengai"].close()


def inserted(section: HtmlElement) -> list[str]:
    """The text a diff table in `section` marks as added (blank lines aside)."""
    return [text for e in find_all(section, ".//table[contains(@class, 'diff')]//ins") if (text := visible_text(e))]


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# -- the version comparison ----------------------------------------------------------------------


def test_comparison_shows_changed_metadata_as_labelled_rows_and_the_approval_in_words(app: Flask) -> None:
    before = svc(app).library.repo.require_head()
    draft_id = revise(app)
    submit(app, draft_id)
    after = publish(app, draft_id)
    html = page(client_for(app, "duzhe"), f"/documents/A101Z/diff?from={before}&to={after}")
    rows = {row[0]: (row[1], row[3]) for row in table_rows(find_all(html, "//table[contains(@class, 'meta-changes-table')]")[0])[1:]}
    assert rows["发布/修订日期"] == ("2019-03-15", "2026-11-25")  # whole dates, not digits struck out
    assert rows["文号"] == ("包职院发〔2019〕12号", "包职院发〔2026〕12号")
    text = visible_text(html)
    for machinery in ("issued:", "doc_number:", "status:", "Approved-by", "Document-number", "Issue-date", "Published-by", "---"):
        assert machinery not in text, machinery
    newer = visible_text(find_all(html, f"//*[{has_class('compare-new')}]")[0])
    assert "审批：院长办公会（2026-11-20 审议），文号 包职院发〔2026〕12号，2026-11-25 发布" in newer
    body = find_all(html, f"//section[{has_class('body-changes')}]")[0]
    assert inserted(body) == [SENTENCE]
    assert "2019" not in visible_text(body)  # the front matter is not part of the body's diff


def test_metadata_only_change_says_the_body_is_unchanged() -> None:
    old = "---\ncode: A101Z\ntitle: 标题\ntype: 制度\ndepartments:\n  - 教务处\nstatus: 现行\nissued: 2019-03-15\n---\n正文。\n"
    new = old.replace("issued: 2019-03-15", "issued: 2026-12-01").replace("  - 教务处\n", "  - 教务处\n  - 组织人事处\n")
    compared = compare_texts(old, new, path=A101Z.path)
    assert [(f.label, f.old, f.new) for f in compared.fields] == [
        ("牵头部门", "教务处", "教务处、组织人事处"),
        ("发布/修订日期", "2019-03-15", "2026-12-01"),
    ]
    assert not compared.body.changed and not compared.raw
    assert display(None) == display(()) == "（无）" and display(Status.REPEALED) == "废止"
    broken = compare_texts("---\n: [\n---\n", new, path=A101Z.path)
    assert broken.raw and broken.body.changed  # a file that does not parse is compared as it is


def test_migrated_versions_are_authored_by_the_system_in_words(app: Flask) -> None:
    html = page(client_for(app, "duzhe"), "/documents/A101Z/history")
    authors = [row[2] for row in table_rows(find_all(html, "//table[contains(@class, 'history')]")[0])[1:]]
    assert authors and set(authors) == {"系统"}
    assert "zhengai-docs" not in visible_text(html)


# -- the review page -----------------------------------------------------------------------------


def _order(html: str, *classes: str) -> list[str]:
    """The classes among `classes` of the page's elements, in document order."""
    predicate = " or ".join(has_class(name) for name in classes)
    found = find_all(html, f"//*[{predicate}]")
    return [next(name for name in classes if name in (e.get("class") or "").split()) for e in found]


def test_the_review_page_puts_the_diff_first_and_the_decision_beside_it(app: Flask) -> None:
    draft_id = revise(app)
    submit(app, draft_id)
    html = page(client_for(app, "zhiliang"), f"/drafts/{draft_id}")
    assert _order(html, "in-force-changes", "decision-panel") == ["in-force-changes", "decision-panel"]
    panel = find_all(html, f"//aside[{has_class('decision-panel')}]")[0]
    assert {f.get("action") for f in find_all(panel, ".//form")} == {f"/drafts/{draft_id}/approve", f"/drafts/{draft_id}/request-changes"}
    assert find_all(html, f"//div[{has_class('review-layout')} and {has_class('with-panel')}]")
    author = page(client_for(app, "jiaowu"), f"/drafts/{draft_id}")
    assert not find_all(author, f"//*[{has_class('decision-panel')}]")  # nothing to decide for the author


def test_a_sent_back_draft_says_why_at_the_top_and_the_resubmission_shows_what_changed(app: Flask) -> None:
    draft_id = revise(app)
    submit(app, draft_id)
    send_back(app, draft_id, "请写明复核的组织方式")
    workflow = svc(app).workflow
    sent_back_at = workflow.get(draft_id).tip
    author = page(client_for(app, "jiaowu"), f"/drafts/{draft_id}")
    assert _order(author, "sent-back", "draft-actions", "in-force-changes") == ["sent-back", "draft-actions", "in-force-changes"]
    assert visible_text(find_all(author, f"//*[{has_class('sent-back-reason')}]")[0]) == "请写明复核的组织方式"

    add(app, draft_id, "第九条之一 新设专业须经行业专家组现场复核。", replacing=SENTENCE)
    add(app, draft_id, "第九条之二 复核意见存档备查。")
    submit(app, draft_id)
    draft = workflow.get(draft_id)
    assert reviewed_commit(workflow, draft, workflow.events(draft_id)) == sent_back_at != draft.tip
    html = page(client_for(app, "zhiliang"), f"/drafts/{draft_id}")
    assert _order(html, "since-review", "in-force-changes", "decision-panel") == ["since-review", "in-force-changes", "decision-panel"]
    since = find_all(html, f"//section[{has_class('since-review')}]")[0]
    assert "请写明复核的组织方式" in visible_text(since)
    assert inserted(since) == ["现场", "第九条之二 复核意见存档备查。"]
    assert not find_all(html, f"//*[{has_class('sent-back')}]")  # resubmitted: the reason moved into "since"


def test_a_resubmission_without_changes_says_so(app: Flask) -> None:
    draft_id = revise(app)
    submit(app, draft_id)
    send_back(app, draft_id, "请再斟酌")
    submit(app, draft_id)
    html = page(client_for(app, "zhiliang"), f"/drafts/{draft_id}")
    assert "退回后草稿没有修改。" in visible_text(find_all(html, f"//section[{has_class('since-review')}]")[0])


def test_a_draft_never_sent_back_has_no_since_view(app: Flask) -> None:
    draft_id = revise(app)
    submit(app, draft_id)
    workflow = svc(app).workflow
    assert reviewed_commit(workflow, workflow.get(draft_id), workflow.events(draft_id)) is None
    assert not find_all(page(client_for(app, "zhiliang"), f"/drafts/{draft_id}"), f"//*[{has_class('since-review')}]")


# -- the home page by role -----------------------------------------------------------------------


def _todo(html: str, name: str) -> str:
    found = find_all(html, f"//div[{has_class('todo')} and {has_class(name)}]")
    return visible_text(found[0]) if found else ""


def test_home_shows_each_person_what_to_do_next(app: Flask) -> None:
    draft_id = revise(app)
    submit(app, draft_id)
    quality = page(client_for(app, "zhiliang"), "/")
    assert "A101Z" in _todo(quality, "todo-review") and _todo(quality, "todo-review").startswith("待我审核 1")
    assert _todo(quality, "todo-college").startswith("全校 9 份已逾期")  # the demo on 2026-11-23 (README)

    editor = page(client_for(app, "jiaowu"), "/")
    overdue = _todo(editor, "todo-overdue")
    assert overdue.startswith("本部门 ") and "份已逾期" in overdue and "A101Z" in overdue
    assert "A104Z" not in overdue and _todo(editor, "todo-review") == ""
    assert "A101Z" not in _todo(page(client_for(app, "renshi"), "/"), "todo-overdue")  # 组织人事处's are its own
    assert find_all(editor, f"//section[{has_class('home-indicators')}]")  # the warnings stay

    send_back(app, draft_id, "请补充依据")
    assert "A101Z" in _todo(page(client_for(app, "jiaowu"), "/"), "todo-sent-back")
    submit(app, draft_id)
    publish(app, draft_id, require_ack=True)
    assert "A101Z" in _todo(page(client_for(app, "jiaowu"), "/"), "todo-confirm")

    reader = page(client_for(app, "duzhe"), "/")
    assert "目前没有需要您处理的事项。" in visible_text(reader)


def test_the_menu_offers_the_handbook_and_the_report_to_those_who_may_use_them(app: Flask) -> None:
    def menu(client: FlaskClient) -> dict[str, str]:
        return {visible_text(a): a.get("href") or "" for a in find_all(page(client, "/catalogue"), "//nav[@aria-label='主菜单']//a")}

    quality, reader = menu(client_for(app, "zhiliang")), menu(client_for(app, "duzhe"))
    assert quality["制度汇编"] == "/handbook" and quality["自我诊改报告"] == "/reports/self-diagnosis"
    assert reader["制度汇编"] == "/handbook" and "自我诊改报告" not in reader and "草稿与审核" not in reader
    assert menu(client_for(app, "admin"))["自我诊改报告"] == "/reports/self-diagnosis"
    assert menu(client_for(app, "jiaowu"))["草稿与审核"] == "/drafts"
    current = find_all(page(client_for(app, "duzhe"), "/handbook"), "//nav[@aria-label='主菜单']//a[@aria-current='page']")
    assert [visible_text(a) for a in current] == ["制度汇编"]


# -- the document page ---------------------------------------------------------------------------


def _with_status(app: Flask, status: Status) -> str:
    with svc(app).db.session() as session:
        return session.scalars(select(DocumentRow.code).where(DocumentRow.status == status.value).order_by(DocumentRow.code)).first() or ""


def test_repealed_and_draft_documents_carry_a_banner(app: Flask) -> None:
    reader = client_for(app, "duzhe")
    repealed, draft = _with_status(app, Status.REPEALED), _with_status(app, Status.DRAFT)
    assert repealed and draft
    banner = find_all(page(reader, f"/documents/{repealed}"), f"//*[{has_class('doc-banner-repealed')}]")
    assert len(banner) == 1 and visible_text(banner[0]).startswith("本文档已废止，不再执行，仅供查阅。")
    banner = find_all(page(reader, f"/documents/{draft}"), f"//*[{has_class('doc-banner-draft')}]")
    assert len(banner) == 1 and visible_text(banner[0]) == "本文档为草稿，尚未审批发布，不具效力。"
    assert not find_all(page(reader, "/documents/A101Z"), f"//*[{has_class('doc-banner')}]")


def test_the_document_page_has_the_number_and_date_under_the_title_and_a_print_button(app: Flask) -> None:
    html = page(client_for(app, "duzhe"), "/documents/A101Z")
    article = find_all(html, "//article[contains(@class, 'document')]")[0]
    first, second = list(article)[:2]
    assert first.tag == "h1" and "专业设置" in visible_text(first)
    assert second.get("class") == "doc-issue" and visible_text(second) == "包职院发〔2019〕12号 2019-03-15 发布"
    assert [visible_text(b) for b in find_all(html, "//button[@data-print]")] == ["打印"]


# -- notifications, header, footer, words --------------------------------------------------------


def test_opening_a_notification_marks_it_read(app: Flask) -> None:
    draft_id = revise(app)
    submit(app, draft_id)  # tells the quality office
    quality, other = client_for(app, "zhiliang"), client_for(app, "admin")
    links = find_all(page(quality, "/notifications"), "//ul[contains(@class, 'notifications')]//a")
    assert len(links) == 1 and visible_text(find_all(page(quality, "/"), "//a[@class='inbox']")[0]) == "通知1"
    href = links[0].get("href") or ""
    with svc(app).db.session() as session:
        mine = session.scalars(select(Notification).where(Notification.url == f"/drafts/{draft_id}")).all()
    admins = [n.id for n in mine if f"/notifications/{n.id}" != href]
    assert other.get(href).status_code == 404  # someone else's message is not opened (nor marked) for them
    opened = quality.get(href)
    assert opened.status_code == 302 and opened.location.endswith(f"/drafts/{draft_id}")
    assert visible_text(find_all(page(quality, "/"), "//a[@class='inbox']")[0]) == "通知"
    assert "未读" not in visible_text(page(quality, "/notifications"))
    assert quality.get(href).status_code == 302  # opening it again is harmless
    with svc(app).db.session() as session:
        assert all(not session.get(Notification, n).read for n in admins)  # the administrator's copy is still unread


def test_the_header_says_a_name_once_and_the_footer_has_no_program_name(app: Flask) -> None:
    def who(username: str) -> str:
        return visible_text(find_all(page(client_for(app, username), "/"), "//*[@class='who']")[0])

    assert who("admin") == "系统管理员" and who("zhiliang") == "质量管理办公室"
    assert who("jiaowu") == "教务处 王老师（部门编辑）"
    home = page(client_for(app, "duzhe"), "/")
    assert visible_text(find_all(home, "//footer")[0]) == "诊改制度标准库 · 制度—流程—标准 一体化管理"
    assert "zhengai-docs" not in visible_text(home)
    assert "ACTIVE_FRAMEWORK" not in visible_text(page(client_for(app, "zhiliang"), "/audit/frameworks"))


CAS_LOGOUT = "signon.cas_single_logout"  # the CAS server's call: exempt, it cannot hold our token
SAMPLE_ARGUMENTS = {"code": "A101Z", "draft_id": 1, "message_id": 1, "year": 2026, "element_id": "1.1", "fid": "moe-2015"}


def test_every_form_refused_for_a_stale_token_says_so_in_chinese(app: Flask) -> None:
    """Every POST route, sent a token that is not valid (an old tab, a forged form), answers with
    the Chinese page, never Flask-WTF's English reason ("The CSRF token is invalid.")."""
    revise(app)  # draft 1 exists
    client = client_for(app, "admin")
    urls = app.url_map.bind("localhost")
    checked = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.endpoint == CAS_LOGOUT:
            continue
        try:
            url = urls.build(rule.endpoint, {name: SAMPLE_ARGUMENTS.get(name, "x") for name in rule.arguments}, method="POST")
        except ValueError:  # an <int:…> argument
            url = urls.build(rule.endpoint, {name: SAMPLE_ARGUMENTS.get(name, 1) for name in rule.arguments}, method="POST")
        response = client.post(url, data={"csrf_token": "stale-or-forged", "text": "x"})
        text = visible_text(response.get_data(as_text=True))
        assert response.status_code == 400, (url, response.status_code)
        assert "页面已过期，请刷新后重试。" in text and "CSRF" not in text and "token" not in text.lower(), (url, text[:200])
        checked += 1
    assert checked >= 30
    fresh = client.post("/notifications/read", data={"csrf_token": csrf_token(client, "/notifications")})
    assert fresh.status_code == 302


# -- the demo's college --------------------------------------------------------------------------


def test_init_demo_names_the_college_of_the_demo_documents(blank_instance: Path) -> None:
    config = blank_instance / "config.toml"
    before = config.read_text(encoding="utf-8") if config.exists() else ""
    result = Runner(blank_instance)("init", "--demo")
    assert result.exit_code == 0, result.output
    assert "已在 config.toml 中设置学校名称：包头职业技术学院" in result.output
    text = config.read_text(encoding="utf-8")
    assert text.endswith(before) and tomllib.loads(text)["COLLEGE_NAME"] == "包头职业技术学院"
    assert load_settings(blank_instance)["COLLEGE_NAME"] == "包头职业技术学院"
    again = Runner(blank_instance)("init", "--demo")
    assert again.exit_code == 0 and config.read_text(encoding="utf-8") == text  # a name already there is kept
    app = make_app(blank_instance)
    try:
        client = app.test_client()
        login(client, "duzhe")
        assert "包头职业技术学院 制度标准库" in visible_text(find_all(page(client, "/"), "//title")[0])
    finally:
        app.extensions["zhengai"].close()


# -- suspect links -------------------------------------------------------------------------------


def _flagged(client: FlaskClient) -> set[str]:
    data = client.get("/audit/flags?format=csv").data.decode("utf-8-sig")
    return {row[0] for row in csv.reader(io.StringIO(data)) if row[2:3] == [coverage.FlagKind.REGULATION_REVISED.label]}


def test_documents_issued_with_their_regulation_are_not_suspect(app: Flask) -> None:
    quality = client_for(app, "zhiliang")
    flagged = _flagged(quality)
    assert not {"A101L", "A104L", "A106L"} & flagged  # one 文号 with their 制度: issued together
    assert flagged, "the demo keeps real 需复核 flags"
    draft_id = revise(app)  # A101Z revised and published under a new number: A101L must be looked at again
    submit(app, draft_id)
    publish(app, draft_id)
    assert "A101L" in _flagged(quality)


def test_issued_together_means_one_number_or_one_date_and_approving_body() -> None:
    def record(code: str, **meta: object) -> coverage.DocRecord:
        return coverage.DocRecord(
            code=code,
            item=code[:4],
            doc_type=code[4],
            title=code,
            status="现行",
            departments=(),
            points=(),
            last_seq=1,
            cycle_state=None,
            **meta,
        )  # type: ignore[arg-type]

    day = dt.date(2024, 3, 20)
    regulation = record("A104Z", issued=day, doc_number="包职院党发〔2024〕6号", approved_by="党委会")
    assert coverage.issued_together(record("A104L", doc_number=" 包职院党发〔2024〕6号"), regulation)
    assert coverage.issued_together(record("A104L", issued=day, approved_by="党委会"), regulation)
    assert not coverage.issued_together(record("A104L", issued=day, approved_by="院长办公会"), regulation)
    assert not coverage.issued_together(record("A104L", issued=day), record("A104Z", issued=day))  # a date alone is not an approval
    assert not coverage.issued_together(record("A104L", doc_number=""), record("A104Z", doc_number=""))


# -- the cycle chart -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_month", "months", "quarterly", "labelled"),
    [
        (12, 36, False, ["2026年", "2027年", "2028年", "2029年"]),  # December first: two labels used to collide
        (1, 36, False, ["2026年", "2027年", "2028年"]),
        (10, 12, True, ["2026年", "2027年", "2028年", "2029年"]),
        (12, 2, False, ["2026年", "2027年"]),
        (12, 120, False, ["2027年", "2028年", "2029年", "2030年", "2031年", "2032年", "2033年", "2034年", "2035年", "2036年"]),
    ],
)
def test_year_labels_never_overlap(first_month: int, months: int, quarterly: bool, labelled: list[str]) -> None:
    step = 3 if quarterly else 1
    buckets = []
    for index in range(months):
        month = first_month - 1 + index * step
        buckets.append(Bucket(label=f"m{index}", start=dt.date(2026 + month // 12, month % 12 + 1, 1), count=index % 3))
    chart = bar_chart(buckets, quarterly=quarterly)
    shown = [y for y in chart.years if y.text]
    assert [y.text for y in shown] == labelled  # a one-month year beside a long one gives way
    assert all(b.x - a.x >= YEAR_LABEL_WIDTH for a, b in itertools.pairwise(shown))
    assert all(chart.left <= y.x - YEAR_LABEL_WIDTH / 2 and y.x + YEAR_LABEL_WIDTH / 2 <= chart.width for y in shown)
    assert len(chart.years) == len({b.start.year for b in buckets})  # every year keeps the rule marking its start

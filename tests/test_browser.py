"""Key user journeys in a real browser: Playwright driving Debian's chromium against a live server.

Screenshots of the main pages are kept in `test-artefacts/screenshots/` (or $ZHENGAI_ARTEFACTS).
Without chromium these tests are skipped, unless ZHENGAI_REQUIRE_BROWSER=1 (set by .ci/run),
which turns a missing browser into a failure.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests import review_steps
from tests.conftest import make_app
from tests.signon_servers import CasServer, Slapd, free_port, person, serving
from zhengai_docs.bootstrap import DEMO_PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api")
Page = playwright_api.Page
expect = playwright_api.expect

_CANDIDATES = ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
CHROMIUM = next((p for p in _CANDIDATES if p and Path(p).exists()), None)
if CHROMIUM is None:
    if os.environ.get("ZHENGAI_REQUIRE_BROWSER") == "1":
        raise RuntimeError("chromium is required for the browser tests (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

ARTEFACTS = Path(os.environ.get("ZHENGAI_ARTEFACTS", Path(__file__).resolve().parent.parent / "test-artefacts")) / "screenshots"


def _serve(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    app.extensions["zhengai"].db.dispose()


@pytest.fixture
def live_server(instance: Path) -> Iterator[str]:
    yield from _serve(make_app(instance))


@pytest.fixture
def reviewed_server(instance: Path) -> Iterator[str]:
    """The app with REVIEW_REQUIRED on, as installed: changes go through drafts."""
    yield from _serve(make_app(instance, REVIEW_REQUIRED=True))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield chromium
        chromium.close()


def _tab(browser: object, viewport: dict[str, int]) -> Iterator[Page]:
    """A fresh tab of that size (a fixture's body) that fails the test on any JavaScript error."""
    context = browser.new_context(locale="zh-CN", viewport=viewport)  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser: object) -> Iterator[Page]:
    yield from _tab(browser, {"width": 1400, "height": 1000})


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名", exact=True).fill(username)
    page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who")).to_be_attached()  # on a phone it sits in the folded menu


def shot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def wysiwyg(page: Page) -> object:
    """The editor's WYSIWYG area (Vditor), once the editor is ready."""
    expect(page.locator("#document-form[data-editor-ready=true]")).to_be_attached()
    return page.locator(".vditor-wysiwyg .vditor-reset")


def caret_after(page: Page, text: str) -> None:
    """The caret at the end of the first paragraph (or heading) holding `text`, however it wraps."""
    wysiwyg(page)
    page.evaluate(
        """(text) => { const area = document.querySelector('.vditor-wysiwyg .vditor-reset');
             const block = [...area.querySelectorAll('p, h1, h2, h3, li')].find((b) => b.textContent.includes(text));
             area.focus(); const range = document.createRange(); range.selectNodeContents(block); range.collapse(false);
             const selection = getSelection(); selection.removeAllRanges(); selection.addRange(range); }""",
        text,
    )


def type_at_end(page: Page, text: str) -> None:
    """A new paragraph at the end of the body, typed."""
    area = wysiwyg(page)
    area.locator(":scope > *").last.click()  # type: ignore[attr-defined]
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(text)


def test_editor_creates_edits_and_compares(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "jiaowu")
    shot(page, "01-home")
    page.goto(f"{live_server}/catalogue/A")
    shot(page, "02-catalogue")
    page.goto(f"{live_server}/items/A108")
    shot(page, "03-item")
    page.get_by_role("link", name="新建制度").click()
    page.locator("#title").fill("包头职业技术学院招生录取工作管理办法")
    expect(wysiwyg(page).locator("h2").first).to_be_visible()  # the skeleton, as it will look
    # A chapter heading typed the Markdown way (the editor turns it into a heading), then a table.
    type_at_end(page, "## 附则补充")
    page.keyboard.press("Enter")
    page.locator(".vditor-toolbar [data-type=zh-table]").click()
    expect(wysiwyg(page).locator("h2", has_text="附则补充")).to_be_visible()
    expect(wysiwyg(page).locator("table th", has_text="列2").last).to_be_visible()
    page.locator("#message").fill("新建招生录取管理办法")
    shot(page, "04-editor")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("h1").first).to_have_text("包头职业技术学院招生录取工作管理办法")
    expect(page.locator(".document h2", has_text="附则补充")).to_be_visible()
    expect(page.locator(".document table th", has_text="列2").last).to_be_visible()
    shot(page, "05-document")
    # A second revision, then history and the diff between the two.
    page.get_by_role("link", name="编辑此文档").click()
    page.locator("#meta-step > summary").click()
    page.locator("#doc_number").fill("包职院发〔2026〕8号")
    caret_after(page, "附则补充")
    page.keyboard.type("说明")
    page.locator("#message").fill("补充附则标题")
    page.get_by_role("button", name="保存").click()
    page.get_by_role("link", name="修订历史").click()
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    expect(page.locator("table.history")).to_contain_text("补充附则标题")
    shot(page, "06-history")
    page.get_by_role("button", name="比较所选版本").click()
    expect(page.locator("table.diff ins", has_text="说明").first).to_be_visible()
    expect(page.locator(".meta-changes-table tr", has_text="文号").locator("td.new")).to_have_text("包职院发〔2026〕8号")
    shot(page, "07-diff")


def test_two_tabs_conflict_is_resolved_with_both_changes(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "jiaowu")
    other = page.context.new_page()
    page.goto(f"{live_server}/documents/A101Z/edit")
    other.goto(f"{live_server}/documents/A101Z/edit")
    caret_after(page, "第二条")
    page.keyboard.type("第一个标签页加的说明。")
    page.locator("#message").fill("第一个标签页的修改")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash-success")).to_be_visible()
    type_at_end(other, "第二个标签页追加的条款。")
    other.locator("#message").fill("第二个标签页的修改")
    other.get_by_role("button", name="保存").click()
    expect(other.locator(".conflict h2")).to_have_text("保存冲突：该文档在您编辑期间已被他人修改")
    shot(other, "08-conflict")
    merged = other.locator("textarea.body-input").input_value()
    assert "第一个标签页加的说明" in merged and "第二个标签页追加的条款" in merged
    other.get_by_role("button", name="保存").click()
    expect(other.locator(".flash-success")).to_be_visible()
    expect(other.locator(".document")).to_contain_text("第一个标签页加的说明")
    expect(other.locator(".document")).to_contain_text("第二个标签页追加的条款")


def test_reader_sees_no_edit_button_and_is_refused(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "duzhe")
    page.goto(f"{live_server}/documents/A101Z")
    expect(page.locator(".document")).to_be_visible()
    expect(page.get_by_role("link", name="编辑此文档")).to_have_count(0)
    response = page.goto(f"{live_server}/documents/A101Z/edit")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_contain_text("没有权限")
    shot(page, "09-forbidden")


def test_process_flowchart_is_drawn(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "duzhe")
    page.goto(f"{live_server}/documents/A101L")
    expect(page.locator(".flowchart svg").first).to_be_visible()
    shot(page, "10-flowchart")


def test_quality_office_filters_gaps_and_exports(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "zhiliang")
    page.goto(f"{live_server}/audit/gaps")
    page.locator("select[name=dept]").select_option("教务处")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("p.muted", has_text="只统计 教务处 牵头的文档")).to_be_visible()
    shot(page, "11-gaps")
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel").click()
    saved = download.value
    assert saved.suggested_filename == "诊断点缺口-教务处.xlsx"
    assert Path(saved.path()).stat().st_size > 1000


def test_editor_links_points_with_the_picker_and_coverage_follows(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "jiaowu")
    page.goto(f"{live_server}/audit/points/5.1.1")
    expect(page.locator("section", has_text="关联文档")).not_to_contain_text("A101B")
    page.goto(f"{live_server}/documents/A101B/edit")
    page.locator("#points-step > summary").click()
    page.locator("#point-picker summary").click()
    page.get_by_placeholder("输入关键词筛选诊断点").fill("环境")
    expect(page.locator("li[data-text^='1.1.1 ']")).to_be_hidden()
    page.locator("input[data-point='5.1.1']").check()
    page.locator("input[data-point='5.1.2']").check()
    assert "5.1.1" in page.locator("#points").input_value() and "5.1.2" in page.locator("#points").input_value()
    shot(page, "12-point-picker")
    page.locator("#message").fill("关联政策与资源环境诊断点")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash-success")).to_be_visible()
    page.goto(f"{live_server}/audit/points/5.1.1")
    expect(page.locator("section", has_text="关联文档").first).to_contain_text("A101B")
    page.goto(f"{live_server}/audit/coverage")
    expect(page.locator("tr", has_text="5.1.2").first).to_contain_text("A101B")
    shot(page, "13-coverage")


@pytest.fixture
def dated_server(instance: Path) -> Iterator[str]:
    """The app as of 2026-11-23, the demo's "today": its latest indicator values are for 2025-2026."""
    app = make_app(instance)
    app.extensions["zhengai"].state.clock = lambda: dt.date(2026, 11, 23)
    yield from _serve(app)


def test_a_value_past_the_warning_line_reaches_the_quality_office(browser: object, dated_server: str) -> None:
    """教务处 enters 2025-2026's 双师型 ratio of A101B below its 50% warning value; the quality
    office sees the warning on the point's page, in the coverage view and in the self-diagnosis report."""
    editor = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = editor.new_page()
    sign_in(page, dated_server, "jiaowu")
    expect(page.locator(".home-indicators")).to_contain_text("专任教师中双师型教师比例")
    page.goto(f"{dated_server}/indicators/documents/A101B")
    row = page.locator("tr", has_text="专任教师中双师型教师比例")
    expect(row).to_contain_text("未填报")
    row.get_by_role("link", name="专任教师中双师型教师比例").click()
    expect(page.locator(".ind-chart")).to_be_visible()
    expect(page.get_by_label("统计周期")).to_have_value("2025-2026")
    page.get_by_label("测量结果", exact=True).fill("48.5")
    page.get_by_label("备注（数据来源、更正原因等）").fill("人事管理系统 2026 年 9 月数据")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("h1 .ind-chip")).to_have_text("预警")
    expect(page.locator(".ind-values tbody tr").first).to_contain_text("48.5%")
    shot(page, "40-indicator-entered")
    editor.close()

    office = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = office.new_page()
    sign_in(page, dated_server, "zhiliang")
    page.goto(f"{dated_server}/audit/points/2.1.2")
    warned = page.locator(".point-indicators tr", has_text="专任教师中双师型教师比例").filter(has_text="A101B")
    expect(warned).to_contain_text("48.5%")
    expect(warned.locator(".ind-chip")).to_have_text("预警")
    shot(page, "41-point-with-warning")
    page.goto(f"{dated_server}/audit/coverage")
    expect(page.locator("tr", has_text="2.1.2").first.locator(".point-indicators")).to_contain_text("预警 2")
    page.goto(f"{dated_server}/indicators/points")
    expect(page.locator(".ind-points tr", has_text="2.1.2 ").first).to_contain_text("A101B 专任教师中双师型教师比例")
    page.goto(f"{dated_server}/reports/self-diagnosis?year=2026")
    element = page.locator("#e-2\\.1")
    line = element.locator(".ind-report li", has_text="专任教师中双师型教师比例").filter(has_text="A101B")
    expect(line).to_contain_text("48.5%")
    expect(line.locator(".ind-chip")).to_have_text("预警")
    shot(page, "42-self-diagnosis-with-indicators")
    office.close()


def test_draft_review_and_publication(browser: object, reviewed_server: str) -> None:
    """Editor drafts and submits; the quality office sends it back; the editor revises and
    resubmits; the quality office approves and publishes; a reader sees it and its approval."""
    base = reviewed_server
    contexts = []

    def tab(username: str) -> Page:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, base, username)
        return page

    editor, quality, reader = tab("jiaowu"), tab("zhiliang"), tab("duzhe")
    editor.goto(f"{base}/documents/A101Z")
    editor.get_by_role("link", name="发起修订").click()
    editor.get_by_label("原因").fill("依据新版专业目录修订")
    editor.get_by_role("button", name="创建草稿").click()
    type_at_end(editor, "第九条之一 新设专业须经行业专家组复核。")
    editor.locator("#message").fill("新增论证条款")
    shot(editor, "20-draft-editor")
    editor.get_by_role("button", name="保存草稿").click()
    expect(editor.locator("#draft-status")).to_have_text("草稿中")
    reader.goto(f"{base}/documents/A101Z")
    expect(reader.locator(".document")).not_to_contain_text("行业专家组")
    editor.get_by_role("button", name="提交审核").click()
    expect(editor.locator("#draft-status")).to_have_text("待审核")

    quality.goto(f"{base}/notifications")
    quality.get_by_role("link", name="已提交审核").first.click()
    expect(quality.locator("table.diff ins", has_text="行业专家组").first).to_be_visible()
    shot(quality, "21-draft-review")
    quality.get_by_label("退回意见").fill("请写明论证的组织方式")
    quality.get_by_role("button", name="退回修改").click()
    expect(quality.locator("#draft-status")).to_have_text("需修改")

    editor.goto(f"{base}/notifications")
    editor.get_by_role("link", name="退回修改").first.click()
    expect(editor.locator(".timeline")).to_contain_text("请写明论证的组织方式")
    editor.get_by_role("link", name="编辑草稿").click()
    caret_after(editor, "行业专家组复核。")
    for _ in "复核。":
        editor.keyboard.press("ArrowLeft")
    editor.keyboard.type("现场")
    editor.locator("#message").fill("写明论证方式")
    editor.get_by_role("button", name="保存草稿").click()
    editor.get_by_role("button", name="提交审核").click()
    expect(editor.locator("#draft-status")).to_have_text("待审核")

    quality.reload()
    quality.get_by_label("审批机构").fill("院长办公会")
    quality.get_by_label("会议日期").fill("2026-11-20")
    quality.get_by_label("文号").fill("包职院发〔2026〕12号")
    quality.get_by_label("发布日期").fill("2026-11-25")
    quality.get_by_role("button", name="批准").click()
    expect(quality.locator("#draft-status")).to_have_text("已批准")
    quality.get_by_role("button", name="发布为现行版本").click()
    expect(quality.locator(".document")).to_contain_text("行业专家组现场复核")

    reader.goto(f"{base}/documents/A101Z")
    expect(reader.locator(".document")).to_contain_text("新设专业须经行业专家组现场复核")
    expect(reader.locator(".meta-panel")).to_contain_text("包职院发〔2026〕12号")
    reader.get_by_role("link", name="修订历史").click()
    record = reader.locator("table.history .approval-record").first
    expect(record).to_contain_text("院长办公会（2026-11-20 审议），文号 包职院发〔2026〕12号")
    shot(reader, "22-history-with-approval")
    for context in contexts:
        context.close()


@pytest.fixture
def campus_site(instance: Path, tmp_path: Path) -> Iterator[tuple[str, CasServer]]:
    """The app (REVIEW_REQUIRED on) behind a real CAS server backed by a real slapd, with the rule
    "directory group jiaowu-editors → 部门编辑 of 教务处" that an administrator would add."""
    from zhengai_docs.permissions import Actor
    from zhengai_docs.signon.mapping import RuleKind, add_rule
    from zhengai_docs.users import Role

    directory = Slapd(tmp_path / "slapd")
    port = free_port()
    cas = CasServer(tmp_path / "cas", directory=directory, service_url=f"http://127.0.0.1:{port}/signon/cas/callback")
    app = make_app(instance, REVIEW_REQUIRED=True, CAS_SERVER_URL=cas.url, SITE_URL=f"http://127.0.0.1:{port}")
    add_rule(
        app.extensions["zhengai"].db,
        actor=Actor.system(),
        kind=RuleKind.GROUP,
        value="jiaowu-editors",
        role=Role.EDITOR,
        department="教务处",
        known_departments=("教务处",),
    )
    try:
        with serving(app, port) as base:
            yield base, cas
    finally:
        app.extensions["zhengai"].close()
        cas.close()
        directory.close()


def test_campus_sign_on_editor_drafts_and_signs_out(browser: object, campus_site: tuple[str, CasServer]) -> None:
    """张三 signs in on the CAS server's own form, lands as 部门编辑 of 教务处 through the group
    mapping, drafts a revision of A101Z, signs out — and the CAS session ends with it."""
    base, cas = campus_site
    who = person("zhangsan")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []  # ours only: the CAS server's pages expect jQuery from a CDN this machine cannot reach
    page.on("pageerror", lambda error: errors.append(str(error)) if page.url.startswith(base) else None)
    page.goto(f"{base}/login?next=/documents/A101Z")
    shot(page, "30-login-with-campus-sign-on")
    page.get_by_role("link", name="统一身份认证登录").click()
    expect(page.locator("#id_username")).to_be_visible()  # django-cas-server's login form
    assert page.url.startswith(cas.url + "login")
    page.locator("#id_username").fill(who.uid)
    page.locator("#id_password").fill(who.password)
    shot(page, "31-cas-login-form")
    page.locator("form button[type=submit]").click()
    expect(page.locator(".who")).to_have_text("张三（部门编辑）")
    assert page.url == f"{base}/documents/A101Z"
    page.get_by_role("link", name="发起修订").click()
    page.get_by_label("原因").fill("统一身份认证登录后发起的修订")
    page.get_by_role("button", name="创建草稿").click()
    type_at_end(page, "第十条之一 教务处统一受理。")
    page.locator("#message").fill("补充受理条款")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("#draft-status")).to_have_text("草稿中")
    shot(page, "32-campus-editor-draft")
    with page.expect_request(lambda request: request.url.startswith(cas.url + "logout")):  # sign-out goes on to the CAS logout,
        page.get_by_role("button", name="退出").click()
    page.wait_for_url(f"{base}/login")  # which sends the browser back to our sign-in page
    expect(page.locator(".flash-info")).to_contain_text("您已退出登录")
    page.goto(f"{base}/drafts")
    assert page.url.startswith(f"{base}/login")
    page.goto(f"{cas.url}login?service={base}/signon/cas/callback")
    expect(page.locator("#id_password")).to_be_visible()  # the CAS session ended too: it asks again
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


# --- The editor for people who have never heard of Markdown (Vditor; issue 18, item 1) ---

WORD_LIST_ITEM = (
    "<p class=MsoListParagraphCxSpMiddle style='mso-list:l0 level1 lfo1'><![if !supportLists]>"
    "<span style='mso-list:Ignore'>{n}.<span>&nbsp;&nbsp;</span></span><![endif]>{text}<o:p></o:p></p>"
)
WORD_CELL = "<td><p class=MsoNormal>{}<o:p></o:p></p></td>"
WORD_PASTE = (
    '<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word">'
    '<head><meta name=Generator content="Microsoft Word 15"><style>p.MsoNormal {mso-style-parent:"";}</style></head>'
    "<body><!--StartFragment--><h2>第八章 附则</h2>"
    + WORD_LIST_ITEM.format(n=1, text="申报材料一式两份")
    + WORD_LIST_ITEM.format(n=2, text="论证报告")
    + "<table class=MsoTableGrid border=1 cellspacing=0 cellpadding=0>"
    + "<tr>" + "".join(WORD_CELL.format(f"<b>{h}</b>") for h in ("材料", "份数", "报送部门")) + "</tr>"
    + "<tr>" + WORD_CELL.format("申报表") + WORD_CELL.format("2")
    + "<td rowspan=2><p class=MsoNormal>教务处<o:p></o:p></p></td></tr>"
    + "<tr>" + WORD_CELL.format("论证报告") + WORD_CELL.format("1") + "</tr>"
    + "</table><!--EndFragment--></body></html>"
)

VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=sorted(VIEWPORTS))
def sized_page(browser: object, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A tab at 1366×768 or 390×844 that fails the test on any JavaScript error."""
    yield from _tab(browser, VIEWPORTS[request.param])


def editor_markdown(page: Page) -> str:
    """What the editor would save now (the textarea is written from it on submit)."""
    return str(page.evaluate("() => window.zhengaiEditor.getValue()"))


def markdown_once_applied(page: Page, inserted: str) -> str:
    """The editor's Markdown after 应用: the dialog applies on its `close` event, which the browser
    dispatches in a later task than the click, so wait for `inserted` rather than read at once."""
    page.wait_for_function("(text) => window.zhengaiEditor.getValue().includes(text)", arg=inserted)
    return editor_markdown(page)


def compose(page: Page, text: str) -> None:
    """Type `text` as a Chinese input method does: composition events around the insertion."""
    page.evaluate(
        """(data) => { const el = document.activeElement;
             el.dispatchEvent(new CompositionEvent('compositionstart', {data: '', bubbles: true}));
             el.dispatchEvent(new CompositionEvent('compositionupdate', {data: 'tiaowen', bubbles: true})); }""",
        text,
    )
    page.keyboard.insert_text(text)
    page.evaluate(
        "(data) => document.activeElement.dispatchEvent(new CompositionEvent('compositionend', {data: data, bubbles: true}))", text
    )


def test_a_clause_document_is_edited_in_the_wysiwyg_editor(sized_page: Page, live_server: str) -> None:
    page = sized_page
    name = "desktop" if (page.viewport_size or {"width": 0})["width"] > 800 else "phone"
    sign_in(page, live_server, "jiaowu")
    page.goto(f"{live_server}/documents/A101Z/edit")
    area = wysiwyg(page)
    # The body comes first: its text is on the first screen, above (or left of) the metadata.
    box, side = area.bounding_box(), page.locator(".editor-side").bounding_box()  # type: ignore[attr-defined]
    shot(page, f"50-editor-{name}")
    assert box is not None and side is not None
    assert box["y"] < (768 * 0.5 if name == "desktop" else 844 * 0.6), box
    assert side["x"] > box["x"] + box["width"] - 1 or side["y"] > box["y"]
    expect(area).not_to_contain_text("**第一条**")  # type: ignore[arg-type]  # no Markdown in sight
    expect(area.locator("strong", has_text="第一条")).to_be_visible()  # type: ignore[attr-defined]
    assert page.evaluate("() => !!document.getElementById('vditorMermaidScript')") is False  # no flowchart, no Mermaid

    # Chinese typed through an input method, at the end of 第二条.
    caret_after(page, "第二条")
    compose(page, "含中外合作办学专业。")
    expect(area.locator("p", has_text="第二条")).to_contain_text("撤销。含中外合作办学专业。")  # type: ignore[attr-defined]
    assert "暂停招生和撤销。含中外合作办学专业。" in editor_markdown(page)

    # Insert a clause after 第三条: the dialog lists the renumbering before anything changes.
    page.locator(".vditor-toolbar [data-type=clause]").click()
    dialog = page.locator("#clause-dialog")
    expect(dialog.locator("select[name=position] option")).not_to_have_count(0)
    dialog.locator("select[name=position]").select_option("3")
    expect(dialog.locator(".clause-change").first).to_contain_text("（新增） → 第四条")
    expect(dialog.locator(".clause-change", has_text="第四条 → 第五条")).to_have_count(1)
    shot(page, f"51-clause-preview-{name}")
    assert "【请填写条文内容】" not in editor_markdown(page)
    dialog.get_by_role("button", name="应用").click()
    text = markdown_once_applied(page, "【请填写条文内容】")
    assert "**第四条** 【请填写条文内容】" in text
    assert "**第五条** 专业建设指导委员会负责" in text
    assert "**第一条** 为主动适应" in text and "暂停招生和撤销。含中外合作办学专业。" in text

    # A table, a row added right after inserting it: the table stays a table.
    type_at_end(page, "附表")
    page.keyboard.press("Enter")
    page.locator(".vditor-toolbar [data-type=zh-table]").click()
    table = area.locator("table").last  # type: ignore[attr-defined]
    table.locator("th").first.click()
    page.locator(".vditor-panel [aria-label^='在下方插入一行']").click()
    expect(table.locator("tbody tr")).to_have_count(3)
    lines = [line for line in editor_markdown(page).splitlines() if line.startswith("|")][-5:]
    assert lines[0].replace(" ", "") == "|列1|列2|列3|" and set(lines[1].replace(" ", "")) <= set("|-:"), lines
    assert len(lines) == 5 and all(line.count("|") == 4 for line in lines)

    # A table (with a merged cell), a heading and a numbered list pasted from Word.
    type_at_end(page, "粘贴的材料清单：")
    page.evaluate(
        """(html) => { const data = new DataTransfer(); data.setData('text/html', html); data.setData('text/plain', '材料');
             const paste = new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
             document.activeElement.dispatchEvent(paste); }""",
        WORD_PASTE,
    )
    expect(area.locator("table", has_text="报送部门")).to_be_visible()  # type: ignore[attr-defined]
    text = editor_markdown(page)
    assert "## 第八章 附则" in text
    assert "1. 申报材料一式两份" in text and "2. 论证报告" in text
    cells = [line.replace(" ", "") for line in text.splitlines()]  # the editor pads columns to one width
    assert "|材料|份数|报送部门|" in cells
    assert "|论证报告|1|教务处|" in cells  # the merged cell read on its own row
    shot(page, f"52-editor-pasted-{name}")

    # Saved with Ctrl+S after the 修订说明; no "leave the page?" question on the way.
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))
    page.locator("#message").fill("新增条文并粘贴材料清单")
    page.locator("#message").press("Control+s")
    expect(page.locator(".flash-success")).to_have_text("已保存。")
    assert dialogs == []
    document = page.locator(".document")
    expect(document).to_contain_text("第四条 【请填写条文内容】")
    expect(document.locator("table", has_text="报送部门")).to_be_visible()
    shot(page, f"53-document-after-editor-{name}")


def test_a_late_numbering_answer_does_not_move_the_chosen_position(browser: object, live_server: str) -> None:
    """插入条: the clerk picks 第三条之后 while the answer for the default position (the end) is still
    on its way. That late answer neither replaces the preview nor decides where 应用 inserts."""
    held: list[object] = []

    def hold_the_first_insert(route: object) -> None:
        payload = json.loads(route.request.post_data or "{}")  # type: ignore[attr-defined]
        if payload.get("action") == "insert_clause" and not held:
            held.append(route)
        else:
            route.continue_()  # type: ignore[attr-defined]

    for page in _tab(browser, VIEWPORTS["desktop"]):
        sign_in(page, live_server, "jiaowu")
        page.route("**/editor/clauses", hold_the_first_insert)
        page.goto(f"{live_server}/documents/A101Z/edit")
        wysiwyg(page)
        page.locator(".vditor-toolbar [data-type=clause]").click()
        dialog = page.locator("#clause-dialog")
        apply = dialog.get_by_role("button", name="应用")
        expect(dialog.locator("select[name=position] option")).not_to_have_count(0)
        expect(apply).to_be_disabled()  # nothing computed yet: 应用 cannot silently do nothing
        assert len(held) == 1
        dialog.locator("select[name=position]").select_option("3")
        expect(dialog.locator(".clause-change").first).to_contain_text("（新增） → 第四条")
        expect(apply).to_be_enabled()
        with page.expect_response(lambda response: response.url.endswith("/editor/clauses")):
            held[0].continue_()  # type: ignore[attr-defined]  # the answer for the end arrives last
        page.evaluate("() => new Promise((settled) => setTimeout(settled, 300))")  # its .then() has run
        expect(dialog.locator(".clause-change").first).to_contain_text("（新增） → 第四条")
        apply.click()
        text = markdown_once_applied(page, "【请填写条文内容】")
        assert "**第四条** 【请填写条文内容】" in text and "**第五条** 专业建设指导委员会负责" in text


def test_opening_and_saving_without_a_change_makes_no_commit(sized_page: Page, live_server: str) -> None:
    page = sized_page
    sign_in(page, live_server, "jiaowu")
    for code in ("A104Z", "A101L", "A101B"):  # two departments in their own order; a flowchart; tables
        page.goto(f"{live_server}/documents/{code}/history")
        versions = page.locator("table.history tbody tr").count()
        page.goto(f"{live_server}/documents/{code}/edit")
        wysiwyg(page).click()  # clicking around is not editing
        page.locator("#message").fill("只是打开看看")
        page.get_by_role("button", name="保存").click()
        expect(page.locator(".flash-success")).to_have_text("内容没有变化，未产生新版本。")
        page.goto(f"{live_server}/documents/{code}/history")
        expect(page.locator("table.history tbody tr")).to_have_count(versions)


def test_the_editor_loads_mermaid_only_for_a_flowchart(sized_page: Page, live_server: str) -> None:
    page = sized_page
    sign_in(page, live_server, "jiaowu")
    page.goto(f"{live_server}/documents/A101L/edit")
    expect(wysiwyg(page).locator("svg").first).to_be_visible()  # the 流程 body's flowchart, drawn
    page.goto(f"{live_server}/documents/A101Z/edit")
    wysiwyg(page)
    assert page.evaluate("() => typeof window.mermaid") == "undefined"
    type_at_end(page, "流程：")
    page.locator(".vditor-toolbar [data-type=flowchart]").click()
    expect(wysiwyg(page).locator("svg").first).to_be_visible()
    assert "```mermaid" in editor_markdown(page)


def test_leaving_with_unsaved_edits_asks_first(sized_page: Page, live_server: str) -> None:
    page = sized_page
    sign_in(page, live_server, "jiaowu")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
    page.goto(f"{live_server}/documents/A101Z/edit")
    wysiwyg(page).click()  # type: ignore[attr-defined]
    page.goto(f"{live_server}/documents/A101Z")  # untouched: nothing to lose, no question
    assert dialogs == []
    page.goto(f"{live_server}/documents/A101Z/edit")
    type_at_end(page, "尚未保存的一句话。")
    with page.expect_event("dialog") as caught:
        page.close(run_before_unload=True)
    assert caught.value.type == "beforeunload"
    assert dialogs == ["beforeunload"]
    assert not page.is_closed()  # dismissed: the page and its text stay
    assert "尚未保存的一句话。" in editor_markdown(page)


def test_one_edited_sentence_is_a_one_line_change(sized_page: Page, live_server: str) -> None:
    """A standard with tables and lists: the editor would spell them its own way, but only the
    edited paragraph changes in the stored text."""
    page = sized_page
    sign_in(page, live_server, "jiaowu")
    page.goto(f"{live_server}/documents/A101B/edit")
    caret_after(page, "本标准适用于学院全部在招")
    compose(page, "（本次修订）")
    page.locator("#message").fill("改一句话")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash-success")).to_have_text("已保存。")
    page.get_by_role("link", name="修订历史").click()
    page.get_by_role("button", name="比较所选版本").click()
    expect(page.locator("tr.diff-add-line")).to_have_count(1)
    expect(page.locator("tr.diff-del-line")).to_have_count(1)
    expect(page.locator("tr.diff-add-line ins")).to_have_text("（本次修订）")


# -- issue 18: the review page, the comparison, home by role, print, phones ------------------------


@pytest.fixture
def review_site(instance: Path) -> Iterator[tuple[str, Flask]]:
    """The app as installed (REVIEW_REQUIRED on) on the demo's "today", served, with the app at
    hand so that a test can take drafts through the workflow service (tests/review_steps.py)."""
    app = make_app(instance, REVIEW_REQUIRED=True)
    app.extensions["zhengai"].state.clock = lambda: review_steps.DEMO_TODAY
    served = _serve(app)
    yield next(served), app
    next(served, None)


def sized_tab(browser: object, base: str, username: str | None, size: str) -> Page:
    """A signed-in tab at one of VIEWPORTS (its context closes with the browser's module)."""
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[size])  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    if username is not None:
        sign_in(tab, base, username)
    return tab


def fits_the_width(page: Page) -> None:
    """Nothing on the page makes the whole page scroll sideways (wide tables scroll in their box)."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the window"


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_review_page_puts_the_diff_first(browser: object, review_site: tuple[str, Flask], size: str) -> None:
    base, app = review_site
    draft_id = review_steps.revise(app)
    review_steps.submit(app, draft_id)
    quality = sized_tab(browser, base, "zhiliang", size)
    quality.goto(f"{base}/drafts/{draft_id}")
    diff, panel = quality.locator("section.in-force-changes"), quality.locator("aside.decision-panel")
    expect(diff.locator("table.diff ins", has_text="行业专家组").first).to_be_visible()
    shown, decision = diff.bounding_box(), panel.bounding_box()
    assert shown is not None and decision is not None
    if size == "desktop":
        assert decision["x"] >= shown["x"] + shown["width"]  # beside the diff
        assert decision["y"] < VIEWPORTS[size]["height"]  # and on the first screen
    else:
        assert decision["y"] >= shown["y"] + shown["height"]  # after it
    fits_the_width(quality)
    shot(quality, f"70-review-{size}")
    quality.get_by_label("退回意见").fill("请写明复核的组织方式")
    quality.get_by_role("button", name="退回修改").click()
    expect(quality.locator("#draft-status")).to_have_text("需修改")

    author = sized_tab(browser, base, "jiaowu", size)
    author.goto(f"{base}/drafts/{draft_id}")
    reason = author.locator(".sent-back")
    expect(reason).to_contain_text("请写明复核的组织方式")
    top = reason.bounding_box()
    assert top is not None and top["y"] + top["height"] <= VIEWPORTS[size]["height"]  # read without scrolling
    shot(author, f"71-sent-back-{size}")

    review_steps.add(app, draft_id, "第九条之一 新设专业须经行业专家组现场复核。", replacing=review_steps.SENTENCE)
    review_steps.submit(app, draft_id)
    quality.reload()
    since = quality.locator("section.since-review")
    expect(since).to_contain_text("请写明复核的组织方式")
    expect(since.locator("table.diff ins")).to_have_text(["现场"])
    fits_the_width(quality)
    shot(quality, f"72-since-last-review-{size}")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_comparison_reads_in_chinese(browser: object, review_site: tuple[str, Flask], size: str) -> None:
    base, app = review_site
    draft_id = review_steps.revise(app)
    review_steps.submit(app, draft_id)
    review_steps.publish(app, draft_id)
    page = sized_tab(browser, base, "duzhe", size)
    page.goto(f"{base}/documents/A101Z/history")
    page.get_by_role("button", name="比较所选版本").click()
    issued = page.locator(".meta-changes-table tbody tr", has_text="发布/修订日期")
    expect(issued.locator("td.old")).to_have_text("2019-03-15")
    expect(issued.locator("td.new")).to_have_text("2026-11-25")
    expect(page.locator(".meta-changes-table tbody tr", has_text="文号").locator("td.new")).to_have_text("包职院发〔2026〕12号")
    expect(page.locator(".compare-new .approval-record")).to_contain_text("院长办公会（2026-11-20 审议），文号 包职院发〔2026〕12号")
    expect(page.locator(".compare-old")).to_contain_text("系统")
    expect(page.locator("section.body-changes table.diff ins").filter(has_text=re.compile(r"\S"))).to_have_text([review_steps.SENTENCE])
    for machinery in ("Approved-by", "Document-number", "issued:", "doc_number:", "zhengai-docs"):
        expect(page.locator("main")).not_to_contain_text(machinery)
    fits_the_width(page)
    shot(page, f"73-comparison-{size}")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_home_page_shows_each_role_what_to_do_next(browser: object, review_site: tuple[str, Flask], size: str) -> None:
    base, app = review_site
    draft_id = review_steps.revise(app)
    review_steps.submit(app, draft_id)
    quality = sized_tab(browser, base, "zhiliang", size)
    expect(quality.locator(".todo-review")).to_contain_text("待我审核")
    quality.locator(".todo-review").get_by_role("link", name="A101Z").click()
    expect(quality.locator("aside.decision-panel")).to_be_attached()
    quality.goto(f"{base}/")
    expect(quality.locator(".todo-college")).to_contain_text("全校 9 份已逾期")
    fits_the_width(quality)
    shot(quality, f"74-home-quality-{size}")

    editor = sized_tab(browser, base, "jiaowu", size)
    expect(editor.locator(".todo-overdue h3")).to_have_text(re.compile(r"本部门 \d+ 份已逾期"))
    expect(editor.locator(".todo-overdue")).to_contain_text("A101Z")
    expect(editor.locator(".home-indicators")).to_be_visible()  # the indicator warnings stay
    fits_the_width(editor)
    shot(editor, f"75-home-editor-{size}")

    reader = sized_tab(browser, base, "duzhe", size)
    expect(reader.locator(".nothing-to-do")).to_have_text("目前没有需要您处理的事项。")
    fits_the_width(reader)
    shot(reader, f"76-home-reader-{size}")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_print_view_is_the_title_number_date_and_body(browser: object, live_server: str, size: str) -> None:
    page = sized_tab(browser, live_server, "duzhe", size)
    page.goto(f"{live_server}/documents/A101L")  # a 流程: its flowchart prints as drawn
    expect(page.locator(".flowchart svg").first).to_be_visible()
    page.evaluate("() => { window.print = () => { window.printed = true; }; }")
    page.get_by_role("button", name="打印").click()
    page.wait_for_function("() => window.printed === true")
    page.emulate_media(media="print")
    for hidden in (".site-header", ".meta-panel", ".crumbs", ".site-footer", "button[data-print]"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator(".document h1").first).to_be_visible()
    expect(page.locator(".doc-issue")).to_contain_text("包职院发〔2019〕12号")
    expect(page.locator(".doc-issue")).to_contain_text("2019-03-15 发布")
    expect(page.locator(".flowchart svg").first).to_be_visible()
    layout = page.locator(".document").bounding_box()
    assert layout is not None and layout["x"] < 40  # the body takes the page, no side panel beside it
    shot(page, f"77-print-{size}")
    if size == "desktop":
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        pdf = page.pdf(path=str(ARTEFACTS / "77-print-A101L.pdf"), format="A4")
        assert pdf.startswith(b"%PDF")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_menu_folds_on_a_phone_and_wide_tables_keep_their_first_column(browser: object, live_server: str, size: str) -> None:
    page = sized_tab(browser, live_server, "zhiliang", size)
    menu = page.get_by_role("button", name="菜单")
    cycles = page.locator(".site-header nav").get_by_role("link", name="修订周期")
    if size == "desktop":
        expect(menu).to_be_hidden()
        expect(cycles).to_be_visible()
        expect(page.locator(".site-header nav").get_by_role("link", name="制度汇编")).to_be_visible()
    else:
        header = page.locator(".site-header").bounding_box()
        assert header is not None and header["height"] < 64  # one line: the name and 菜单
        expect(cycles).to_be_hidden()
        shot(page, "78-menu-folded-phone")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(page.locator(".site-header nav").get_by_role("link", name="自我诊改报告")).to_be_visible()
        shot(page, "79-menu-open-phone")
        cycles.click()
        expect(page.locator("h1")).to_contain_text("修订周期")
        expect(page.get_by_role("button", name="菜单")).to_have_attribute("aria-expanded", "false")
    fits_the_width(page)

    page.goto(f"{live_server}/cycles/list?state=overdue")
    heads = page.evaluate(
        """() => [...document.querySelectorAll('table.cycle-table thead th')].map(
             (th) => th.getBoundingClientRect().height / parseFloat(getComputedStyle(th).lineHeight))"""
    )
    assert heads and max(heads) < 2, heads  # no header cell broken over two lines
    first = page.locator("table.cycle-table tbody tr").first.locator("td").first
    before = first.bounding_box()
    page.locator("table.cycle-table").evaluate("(table) => { table.scrollLeft = 400; }")
    after = first.bounding_box()
    assert before is not None and after is not None and abs(after["x"] - before["x"]) < 1  # held in place (or nothing to scroll)
    fits_the_width(page)
    shot(page, f"80-cycle-list-{size}")

    page.goto(f"{live_server}/audit/matrix")
    item = page.locator("table.matrix tbody th").first
    before = item.bounding_box()
    page.locator(".matrix-wrap").evaluate("(wrap) => { wrap.scrollLeft = 600; }")
    assert page.locator(".matrix-wrap").evaluate("(wrap) => wrap.scrollLeft") > 0  # the matrix is wider than the window
    after = item.bounding_box()
    assert before is not None and after is not None and abs(after["x"] - before["x"]) < 1
    fits_the_width(page)
    shot(page, f"81-matrix-{size}")

    page.goto(f"{live_server}/cycles/")
    expect(page.locator(".cycle-chart text.year").first).to_be_visible()
    boxes = page.locator(".cycle-chart text.year").evaluate_all("(labels) => labels.map((t) => t.getBoundingClientRect().toJSON())")
    assert all(a["right"] <= b["left"] for a, b in itertools.pairwise(boxes)), boxes  # year labels never overlap
    font = page.locator(".cycle-chart text.tick").first.evaluate("(t) => t.getBoundingClientRect().height")
    assert font >= 9, font  # readable on a phone: the chart scrolls instead of shrinking
    fits_the_width(page)
    shot(page, f"82-cycle-chart-{size}")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_a_clerk_attaches_a_form_the_reviewer_sees_it_and_a_reader_downloads_it(
    browser: object, review_site: tuple[str, Flask], size: str
) -> None:
    """Issue 19: 附件1 added to a draft, listed in the review's comparison, downloaded once published."""
    import io

    from docx import Document as WordDocument

    base, app = review_site
    draft_id = review_steps.revise(app)
    form = WordDocument()
    form.add_paragraph("专业设置申报表：专业名称、申报理由")
    buffer = io.BytesIO()
    form.save(buffer)
    data = buffer.getvalue()
    clerk = sized_tab(browser, base, "jiaowu", size)
    clerk.goto(f"{base}/drafts/{draft_id}")
    clerk.get_by_label("添加附件").set_input_files({"name": "专业设置申报表.docx", "mimeType": "application/octet-stream", "buffer": data})
    clerk.get_by_role("button", name="上传附件").click()
    expect(clerk.locator(".flash")).to_contain_text("附件已保存到草稿")
    expect(clerk.locator("section.attachments li.attachment")).to_contain_text("附件1 专业设置申报表.docx")
    fits_the_width(clerk)
    shot(clerk, f"90-draft-attachment-{size}")
    clerk.get_by_role("button", name="提交审核").click()
    expect(clerk.locator("#draft-status")).to_have_text("待审核")

    quality = sized_tab(browser, base, "zhiliang", size)
    quality.goto(f"{base}/drafts/{draft_id}")
    expect(quality.locator("section.in-force-changes .attachment-change")).to_have_text(["附件1 已添加：附件1-专业设置申报表.docx"])
    fits_the_width(quality)
    shot(quality, f"91-review-attachment-{size}")
    review_steps.publish(app, draft_id)

    reader = sized_tab(browser, base, "duzhe", size)
    reader.goto(f"{base}/documents/A101Z")
    link = reader.locator("section.attachments a", has_text="附件1 专业设置申报表.docx")
    expect(link).to_be_visible()
    with reader.expect_download() as arrival:
        link.click()
    download = arrival.value
    assert download.suggested_filename == "附件1-专业设置申报表.docx"
    assert Path(download.path()).read_bytes() == data
    fits_the_width(reader)
    shot(reader, f"92-reader-attachment-{size}")


def loaded_width(page: Page, picture: object) -> int:
    """The natural width of a picture once the browser has finished loading it (0 when broken):
    the element appears before its bytes arrive."""
    handle = picture.element_handle()  # type: ignore[attr-defined]
    page.wait_for_function("(img) => img.complete", arg=handle)
    return int(page.evaluate("(img) => img.naturalWidth", handle))


def test_a_picture_uploaded_in_the_editor_is_saved_with_the_text(browser: object, live_server: str, tmp_path: Path) -> None:
    """插入图片 at 1366×768: the picture is checked and stored at once, shown in the editor from the
    picture route, and the text typed before it is saved with its reference."""
    import io

    from PIL import Image

    png = tmp_path / "组织架构图.png"
    picture = Image.new("RGB", (320, 200), (30, 120, 200))
    picture.paste((255, 255, 255), (20, 20, 160, 90))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    png.write_bytes(buffer.getvalue())
    for page in _tab(browser, VIEWPORTS["desktop"]):
        sign_in(page, live_server, "jiaowu")
        page.goto(f"{live_server}/documents/A101Z/edit")
        type_at_end(page, "第九条 学院组织架构见下图。")
        page.locator(".vditor-toolbar input[type=file]").set_input_files(str(png))
        shown = wysiwyg(page).locator("img[src*='/documents/A101Z/images/image-']")  # type: ignore[attr-defined]
        expect(shown).to_have_count(1)
        assert loaded_width(page, shown) == 320
        markdown = editor_markdown(page)
        assert "第九条 学院组织架构见下图。" in markdown and re.search(r"!\[图片\]\(A101Z/images/image-[0-9a-f]{12}\.png\)", markdown)
        page.locator("#message").fill("增加组织架构图")
        page.get_by_role("button", name="保存").click()
        expect(page.locator(".flash-success")).to_have_text("已保存。")
        article = page.locator("article.document")
        expect(article).to_contain_text("第九条 学院组织架构见下图。")
        saved = article.locator("img[src^='/documents/A101Z/images/image-']")
        expect(saved).to_have_count(1)
        assert loaded_width(page, saved) == 320
        shot(page, "editor-picture-saved")

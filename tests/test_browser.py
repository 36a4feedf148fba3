"""Key user journeys in a real browser: Playwright driving Debian's chromium against a live server.

Screenshots of the main pages are kept in `test-artefacts/screenshots/` (or $ZHENGAI_ARTEFACTS).
Without chromium these tests are skipped, unless ZHENGAI_REQUIRE_BROWSER=1 (set by .ci/run),
which turns a missing browser into a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

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


@pytest.fixture
def page(browser: object) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名", exact=True).fill(username)
    page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who")).to_be_visible()


def shot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def test_editor_creates_edits_and_compares(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "jiaowu")
    shot(page, "01-home")
    page.goto(f"{live_server}/catalogue/A")
    shot(page, "02-catalogue")
    page.goto(f"{live_server}/items/A108")
    shot(page, "03-item")
    page.get_by_role("link", name="新建制度").click()
    page.locator("#title").fill("包头职业技术学院招生录取工作管理办法")
    body = page.locator("textarea.body-input")
    expect(page.locator("#preview h2").first).to_be_visible()  # the skeleton, rendered by the server
    # Toolbar: turn a new line into a chapter heading, then insert a table through the dialog.
    body.press("Control+End")
    body.press_sequentially("\n附则补充")
    page.get_by_role("button", name="章标题").click()
    page.get_by_role("button", name="插入表格").click()
    page.locator("#table-dialog input[name=cols]").fill("2")
    page.locator("#table-dialog input[name=rows]").fill("1")
    page.locator("#table-dialog").get_by_role("button", name="插入").click()
    expect(page.locator("#preview h2", has_text="附则补充")).to_be_visible()
    expect(page.locator("#preview table th", has_text="列2").last).to_be_visible()
    page.locator("#message").fill("新建招生录取管理办法")
    shot(page, "04-editor")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("h1").first).to_have_text("包头职业技术学院招生录取工作管理办法")
    expect(page.locator(".document h2", has_text="附则补充")).to_be_visible()
    expect(page.locator(".document table th", has_text="列2").last).to_be_visible()
    shot(page, "05-document")
    # A second revision, then history and the diff between the two.
    page.get_by_role("link", name="编辑此文档").click()
    page.locator("#doc_number").fill("包职院发〔2026〕8号")
    text = body.input_value().replace("附则补充", "附则补充说明")
    body.fill(text)
    page.locator("#message").fill("补充附则标题")
    page.get_by_role("button", name="保存").click()
    page.get_by_role("link", name="修订历史").click()
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    expect(page.locator("table.history")).to_contain_text("补充附则标题")
    shot(page, "06-history")
    page.get_by_role("button", name="比较所选版本").click()
    expect(page.locator("table.diff ins", has_text="说明").first).to_be_visible()
    expect(page.locator("table.diff ins", has_text="2026〕8").first).to_be_visible()
    shot(page, "07-diff")


def test_two_tabs_conflict_is_resolved_with_both_changes(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "jiaowu")
    other = page.context.new_page()
    page.goto(f"{live_server}/documents/A101Z/edit")
    other.goto(f"{live_server}/documents/A101Z/edit")
    first = page.locator("textarea.body-input")
    first.fill("> 第一个标签页加的说明。\n\n" + first.input_value())
    page.locator("#message").fill("第一个标签页的修改")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash-success")).to_be_visible()
    second = other.locator("textarea.body-input")
    second.fill(second.input_value() + "\n第二个标签页追加的条款。\n")
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
    body = editor.locator("textarea.body-input")
    body.press("Control+End")
    body.press_sequentially("\n第九条之一 新设专业须经行业专家组复核。")
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
    body = editor.locator("textarea.body-input")
    body.fill(body.input_value().replace("行业专家组复核。", "行业专家组现场复核。"))
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
    body = page.locator("textarea.body-input")
    body.press("Control+End")
    body.press_sequentially("\n第十条之一 教务处统一受理。")
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

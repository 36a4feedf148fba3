"""Rendering with bounded cost (issue 12).

Every pathological class of Python-Markdown found in the review renders in linear time or is
refused: at save time with what and on which line (the editor keeps the text), and, for a body
already in git, as plain text under a note on the page, in the API, the Word export and the
handbook — never a 500, never for more than that document. The preview is for those who may
edit. Links lose control characters; images from other sites are dropped, their alt text kept.
"""

from __future__ import annotations

import gc
import io
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import markdown
import pytest
from docx import Document as WordDocument
from flask import Flask
from flask.testing import FlaskClient

from benchmarks.render_limits_bench import CLASSES, WORST_PREVIEWS, contend, serve
from tests.actors import AS_EDITOR, account
from tests.conftest import OpenApp, csrf_token, login, make_app
from tests.databases import clone_instance
from tests.html_reader import attributes, form_fields, visible_text
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.catalogue.document import DocumentMeta, Status, new_document
from zhengai_docs.errors import TooComplex
from zhengai_docs.library import Library
from zhengai_docs.publishing.handbook import HandbookFilter, select_documents
from zhengai_docs.render import html as render_html
from zhengai_docs.render import worker
from zhengai_docs.render.docx_export import export_markdown
from zhengai_docs.render.html import render_markdown, render_uncached
from zhengai_docs.render.sandbox import LimitExceeded

A101Z = document_code("A101Z")
DEEP_LIST = "- " * 10_000 + "x\n"  # the reported 20 KB body
INTRO = "# 测试文档\n\n## 第一章 总则\n\n第一条 为规范管理，制定本办法。\n\n"  # the bad part starts on line 7


# -- cost ----------------------------------------------------------------------------------------


GROWTH_LIMIT = 8  # for 4× the text: halfway, on a log scale, between linear (4×) and quadratic (16×)


def _cpu_seconds(render: Callable[[str], object], text: str, *, runs: int = 5) -> float:
    """The least CPU time of a few renders: robust to other processes on a loaded machine, and,
    with the garbage collector held off, to the heap earlier tests left in this worker (a full
    collection landing in one of two ~10 ms timings decides their ratio)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            start = time.process_time()
            render(text)
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


@pytest.mark.solo  # a ratio of two timings of a few ms: the other worker's load on shared caches skews it
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_render_cost_grows_linearly_for_every_pathological_class(name: str) -> None:
    make = CLASSES[name][1]
    small = _cpu_seconds(render_uncached, make(4_000))
    large = _cpu_seconds(render_uncached, make(16_000))
    assert large < 1.0, f"{name}: {large:.2f} s for 16,000 characters"
    assert large < max(GROWTH_LIMIT * small, 0.05), f"{name}: {small:.3f} s → {large:.3f} s for 4× the text (quadratic is 16×)"


def test_the_cost_test_fails_on_python_markdown_alone() -> None:
    """The same measure on the unguarded renderer: a run of `[` four times longer costs more than the limit."""

    def unguarded(text: str) -> str:
        return markdown.Markdown(extensions=render_html._EXTENSIONS, extension_configs=render_html._EXTENSION_CONFIGS).convert(text)

    small = _cpu_seconds(unguarded, "[" * 800)
    large = _cpu_seconds(unguarded, "[" * 3_200, runs=1)
    assert large > GROWTH_LIMIT * small


def test_bundled_documents_and_templates_are_within_the_limits() -> None:
    root = Path(__file__).resolve().parent.parent
    files = [*root.glob("regulations/**/*.md"), *root.glob("standards/**/*.md"), *root.glob("templates/*.md")]
    assert len(files) > 30
    assert [f.name for f in files if render_markdown(f.read_text(encoding="utf-8")).problem is not None] == []


# -- refused at save time ------------------------------------------------------------------------

# class -> (body, the line reported, a phrase of the message); written from the classes above
REFUSED = {
    "deep list": (INTRO + DEEP_LIST, 7, "嵌套超过 16 层"),
    "deep ordered list": (INTRO + "1. " * 40 + "x\n", 7, "嵌套超过 16 层"),
    "deep quote": (INTRO + "> " * 40 + "x\n", 7, "嵌套超过 16 层"),
    "indented lists": (INTRO + "".join("    " * i + "- x\n" for i in range(40)), 23, "嵌套超过 16 层"),
    "unpaired brackets": (INTRO + "[" * 8_000 + "\n", 7, "方括号"),
    "unpaired images": (INTRO + "![" * 4_000 + "\n", 7, "方括号"),
    "unclosed link targets": (INTRO + "[a](" * 4_000 + "\n", 7, "括号"),
    "unpaired backticks": (INTRO + "".join("`" * k + "a" for k in range(1, 21)) + "中" * 150_000 + "\n", 7, "反引号"),
    "unended tags": (INTRO + "<a " * 8_000 + "\n", 7, "HTML 标记没有结束"),
    "cdata sections": (INTRO + "<![CDATA[" * 2_000 + "\n", 7, "HTML 标记没有结束"),
    "raw HTML nesting": (INTRO + "<div>" * 100 + "\n", 7, "HTML 标签嵌套"),
    "unclosed fences": (INTRO + "```a\n" * 3_000, 7, "代码块"),
    "fence hl_lines": (INTRO + '```a hl_lines="1"\nx\n```\n', 7, "hl_lines"),
    "headings without blank lines": (INTRO + "第一条\n" + "## 第一条\n" * 3_000, 8, "没有空行"),
    "definitions without blank lines": (INTRO + "说明\n" + "[r]: /x\n" * 3_000, 8, "没有空行"),
    "wide table": (INTRO + "|a" * 2_000 + "|\n" + "|-" * 2_000 + "|\n" + "|x|\n" * 20, 7, "单元格"),
    "marks in one paragraph": (INTRO + "`a` " * 20_000 + "\n", 7, "格式符号"),
    "nested emphasis": (INTRO + "**甲 " * 200 + "乙" + " 乙**" * 200 + "\n", 7, "嵌套超过"),
    "reference copies": (INTRO + "[r]: /" + "x" * 10_000 + "\n\n" + "[r] " * 100 + "\n", 9, "链接引用"),
    "too many characters": ("中" * 200_001 + "\n", None, "字符，超过上限"),
    "too many lines": ("中\n" * 20_001, None, "行，超过上限"),
}


@pytest.fixture(scope="module")
def shared_editor(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, FlaskClient]]:
    """One app and a signed-in editor for refusals, which change nothing."""
    app = make_app(clone_instance(demo_template, tmp_path_factory.mktemp("limits") / "instance"))
    client = app.test_client()
    login(client, "jiaowu")
    yield app, client
    app.extensions["zhengai"].close()


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_every_class_is_refused_at_save_with_its_line_and_the_text_kept(case: str, shared_editor: tuple[Flask, FlaskClient]) -> None:
    app, client = shared_editor
    body, line, phrase = REFUSED[case]
    head = app.extensions["zhengai"].library.repo.head()
    fields = form_fields(client.get("/documents/A101Z/edit").get_data(as_text=True), "document-form")
    fields.update(body=body, message="测试渲染上限")
    response = client.post("/documents/A101Z/edit", data=fields)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    where = f"正文第 {line} 行：" if line is not None else "正文："
    assert any(where in text and phrase in text for text in visible_text(page).split("\n")), visible_text(page)[:2000]
    assert form_fields(page, "document-form")["body"] == body  # the editor keeps what was typed
    assert app.extensions["zhengai"].library.repo.head() == head


def test_the_library_and_the_draft_workflow_refuse_too(shared_editor: tuple[Flask, FlaskClient]) -> None:
    """Every writer (Word import, CLI, drafts) goes through them, not only the form."""
    app, _client = shared_editor
    services = app.extensions["zhengai"]
    library: Library = services.library
    head = library.repo.head()
    document = library.load(A101Z).document.with_changes(body=INTRO + DEEP_LIST)
    with pytest.raises(TooComplex, match="正文第 7 行：列表或引用嵌套超过 16 层"):
        library.save(document, actor=AS_EDITOR, message="直接保存", base=head)
    editor = account(library.db, "jiaowu")
    draft = services.workflow.open(code=A101Z, kind="revise", reason="测试", actor=editor)
    with pytest.raises(TooComplex):
        services.workflow.save(draft.id, document, actor=editor, message="保存草稿", expected=draft.tip)
    assert services.workflow.get(draft.id).tip == draft.tip
    services.workflow.discard(draft.id, actor=editor)
    missing = DocumentMeta(code=document_code("A108Z"), title="新建制度", departments=("教务处",), status=Status.DRAFT)
    with pytest.raises(TooComplex):
        services.workflow.open_new(new_document(missing, "[" * 9_000), item_departments=("教务处",), reason="新建", actor=editor)
    assert library.repo.head() == head


def test_a_draft_save_is_refused_in_the_draft_editor_and_keeps_the_text(indexed_instance: Path, open_app: OpenApp) -> None:
    client = open_app(indexed_instance, REVIEW_REQUIRED=True).test_client()
    login(client, "jiaowu")
    opened = client.post(
        "/documents/A101Z/revise", data={"kind": "revise", "reason": "测试", "csrf_token": csrf_token(client, "/documents/A101Z/revise")}
    )
    editor_url = opened.headers["Location"]
    fields = form_fields(client.get(editor_url).get_data(as_text=True), "document-form")
    fields.update(body=INTRO + "> " * 30 + "x\n", message="保存草稿")
    response = client.post(editor_url, data=fields)
    assert response.status_code == 200
    assert "正文第 7 行：列表或引用嵌套超过 16 层" in visible_text(response.get_data(as_text=True))
    assert form_fields(response.get_data(as_text=True), "document-form")["body"] == fields["body"]


# -- a body already in git -----------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "外部提交者", "GIT_AUTHOR_EMAIL": "ext@example.edu.cn"}
    env |= {"GIT_COMMITTER_NAME": "外部提交者", "GIT_COMMITTER_EMAIL": "ext@example.edu.cn"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def _push_body(instance: Path, path: str, body: str, work: Path) -> None:
    """A clerk's plain `git push` of a new body for a document in force (nothing checks it)."""
    _git(work.parent, "clone", "-q", str(instance / "content.git"), work.name)
    text = (work / path).read_text(encoding="utf-8")
    front, _, _old = text.partition("\n---\n")
    (work / path).write_text(f"{front}\n---\n{body}", encoding="utf-8")
    _git(work, "commit", "-qam", "整段粘贴")
    _git(work, "push", "-q", "origin", "main")


def _docx_text(data: bytes) -> str:
    return "\n".join(p.text for p in WordDocument(io.BytesIO(data)).paragraphs)


def test_a_deep_list_in_force_costs_only_its_own_rendering(indexed_instance: Path, tmp_path: Path, open_app: OpenApp) -> None:
    _push_body(indexed_instance, A101Z.path, DEEP_LIST, tmp_path / "clone")
    app = open_app(indexed_instance)
    client = app.test_client()
    login(client, "duzhe")
    note = "本文档的正文无法按格式显示，以下为原文"

    page = client.get("/documents/A101Z")
    assert page.status_code == 200
    text = visible_text(page.get_data(as_text=True))
    assert note in text and "列表或引用嵌套超过 16 层" in text and "- - - - x" in text

    api = client.get("/api/documents/A101Z")
    assert api.status_code == 200
    assert "嵌套超过 16 层" in api.get_json()["render_problem"] and note in api.get_json()["html"]
    assert client.get("/api/documents/A101L").get_json()["render_problem"] is None

    export = client.get("/documents/A101Z/export.docx")
    assert export.status_code == 200 and note in _docx_text(export.data)

    handbook = client.get("/handbook.docx")
    assert handbook.status_code == 200
    compiled = _docx_text(handbook.data)
    others = [e.title for e in select_documents(app.extensions["zhengai"].db, HandbookFilter()) if e.code != "A101Z"]
    assert len(others) > 10 and [title for title in others if title not in compiled] == []
    assert note in compiled
    for url in ("/", "/handbook", "/documents/A101Z/history", "/search?q=专业"):
        assert client.get(url).status_code == 200, url


def test_a_body_python_markdown_cannot_handle_becomes_plain_text_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: markdown.Markdown, text: str) -> str:
        raise IndexError("a Markdown bug")

    monkeypatch.setattr(markdown.Markdown, "convert", broken)
    rendered = render_uncached("# 标题\n\n正文 <b>x</b>\n")
    assert rendered.problem is not None and "排版程序无法处理" in rendered.html
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered.html  # escaped, as typed


def test_renders_are_kept_and_bounded_by_the_characters_they_hold() -> None:
    body = "# 标题\n\n正文" + "。" * 1_000 + "\n"
    assert render_markdown(body) is render_markdown(body)  # the page, its API twin and its export
    cache = render_html._RenderCache(max_chars=80_000)
    for n in range(20):
        text = f"{n}\n" + "中" * 4_000
        cache.put(text, render_uncached(text))
    assert cache.get("0\n" + "中" * 4_000) is None and cache.get("19\n" + "中" * 4_000) is not None
    assert cache._chars <= 80_000


def test_word_export_drops_characters_xml_cannot_hold() -> None:
    template = Path(__file__).resolve().parent.parent / "templates" / "reference.docx"
    data = export_markdown("# 标题\n\n甲\x01乙\x0b丙\x1f丁\n", template=template)
    assert "甲乙丙丁" in _docx_text(data)


# -- the preview ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "status"), [("duzhe", 403), ("zhiliang", 403), ("jiaowu", 200), ("renshi", 200), ("admin", 200)])
def test_the_preview_is_for_those_who_may_edit(app: Flask, username: str, status: int) -> None:
    client = app.test_client()
    login(client, username)
    response = client.post("/preview", json={"body": "# 预览"}, headers={"X-CSRFToken": csrf_token(client, "/")})
    assert response.status_code == status


def test_the_preview_says_why_a_body_would_be_refused(client: FlaskClient) -> None:
    login(client, "jiaowu")
    token = csrf_token(client, "/")
    answer = client.post("/preview", json={"body": INTRO + DEEP_LIST}, headers={"X-CSRFToken": token}).get_json()
    assert answer["problem"].startswith("正文第 7 行：列表或引用嵌套超过 16 层") and "无法按格式显示" in answer["html"]
    assert client.post("/preview", json={"body": INTRO}, headers={"X-CSRFToken": token}).get_json()["problem"] is None


def test_a_second_preview_meanwhile_is_told_to_retry(client: FlaskClient) -> None:
    login(client, "jiaowu")
    token = csrf_token(client, "/")
    for _ in range(worker.PREVIEW_SLOTS):  # every slot is rendering
        assert worker._slots.acquire(timeout=1)
    try:
        assert client.post("/preview", json={"body": "# 预览"}, headers={"X-CSRFToken": token}).status_code == 429
    finally:
        for _ in range(worker.PREVIEW_SLOTS):
            worker._slots.release()
    assert client.post("/preview", json={"body": "# 预览"}, headers={"X-CSRFToken": token}).status_code == 200


def test_a_render_stopped_by_its_limits_shows_the_text_and_the_next_one_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child is stopped by `render.sandbox` (its own tests hold it to time and memory); the
    preview then shows the text as it is, with the reason."""

    def stopped(*_args: object, **_kwargs: object) -> None:
        raise LimitExceeded("time", "no answer within 5 s")

    with monkeypatch.context() as patch:
        patch.setattr(worker, "run_limited", stopped)
        late = worker.render_preview(WORST_PREVIEWS["list items"])
    assert late is not None and late.problem is not None and "排版超过" in late.problem.message
    assert "无法按格式显示" in late.html
    again = worker.render_preview("# 标题\n\n正文\n")
    assert again is not None and again.problem is None and again.html.startswith("<h1")


@pytest.mark.slow
@pytest.mark.solo  # a second xdist worker on the other core is not what this bound is about
def test_pages_answer_within_a_second_while_eight_editors_send_the_worst_previews(app: Flask) -> None:
    """The acceptance check: a real waitress server. The eight attacking clients run in this test's
    own process and compete with the server for its interpreter lock, so the bound here leaves
    room for a loaded CI machine; `benchmarks/render_limits_bench.py` measures the same on a quiet
    machine (p50 0.18 s, max 0.31 s)."""
    with serve(app) as base:
        result = contend(base, attackers=8, seconds=6, bodies=list(WORST_PREVIEWS.values()), page="/documents/A104L")
    assert set(result.page_statuses) == {200} and len(result.page_seconds) >= 5
    assert statistics.median(result.page_seconds) < 1.5 and max(result.page_seconds) < 3.0, result.report()
    assert result.preview_statuses[200] >= 2 and result.preview_statuses[429] > 0  # the attack was real


# -- links and images ----------------------------------------------------------------------------


def _elements(html: str, tag: str) -> list[dict[str, str]]:
    return attributes(html, f"//{tag}")


CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\x7f", "\x85", "\x9f", "%01", "%1F", "%7f", "%C2%85"]


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("template", ["[链接](/documents/A1{c}01Z)", '<a href="/documents/A1{c}01Z">链接</a>'])
def test_link_addresses_lose_control_characters(template: str, control: str) -> None:
    html = render_markdown(template.format(c=control)).html
    assert [a.get("href") for a in _elements(html, "a")] == ["/documents/A101Z"]


@pytest.mark.parametrize(
    "body", ["[点我](java\x01script:alert(1))", '<a href="java&#1;script:alert(1)">点我</a>', "[点我](java%09script:alert(1))"]
)
def test_a_scheme_that_appears_once_controls_are_gone_is_checked_again(body: str) -> None:
    hrefs = [a.get("href") or "" for a in _elements(render_markdown(body).html, "a")]
    assert not any(href.lower().lstrip().startswith("javascript") for href in hrefs)


OFF_SITE = [
    "https://tracker.example/p.gif",
    "http://tracker.example/p.gif",
    "//tracker.example/p.gif",
    "/\\tracker.example/p.gif",
    "\\\\tracker.example/p.gif",
    "HTTPS://tracker.example/p.gif",
    "\x01https://tracker.example/p.gif",
]


@pytest.mark.parametrize("src", OFF_SITE)
@pytest.mark.parametrize("template", ["![学院标志]({src})", '<img src="{src}" alt="学院标志">'])
def test_images_from_other_sites_are_dropped_and_their_alt_text_kept(template: str, src: str) -> None:
    written = src.replace("\\", "\\\\") if template.startswith("!") else src  # Markdown reads "\\" as one "\"
    images = _elements(render_markdown("正文 " + template.format(src=written)).html, "img")
    assert [image.get("src") for image in images] == [None]
    assert [image.get("alt") for image in images] == ["学院标志"]


@pytest.mark.parametrize("src", ["/static/logo.png", "images/logo.png", "../logo.png"])
def test_images_on_this_site_stay(src: str) -> None:
    """Where the page's caller says a picture is served (issue 19); without one, alt text only."""
    body = f"![学院标志]({src})"
    assert [i.get("src") for i in _elements(render_markdown(body, image_url=lambda path: path).html, "img")] == [src]
    assert [(i.get("src"), i.get("alt")) for i in _elements(render_markdown(body).html, "img")] == [(None, "学院标志")]


def test_the_render_cache_keeps_recent_renders_by_text_within_its_bound() -> None:
    """Renders are kept by a digest of their text, the least recently used leaving first once the
    HTML held passes the bound; a render larger than an eighth of it is not kept."""
    from zhengai_docs.render.html import Rendered, _RenderCache

    cache = _RenderCache(max_chars=1_000)

    def rendered(size: int) -> Rendered:
        return Rendered(html="段" * size, headings=(), has_mermaid=False)

    first = rendered(100)
    cache.put("第一条", first)
    assert cache.get("第一条") is first and cache.get("第二条") is None
    for n in range(12):
        cache.put(f"条款{n}", rendered(100))
        assert cache.get("第一条") is first  # used again: stays
    assert cache.get("条款0") is None and cache.get("条款11") is not None  # the oldest left
    cache.put("很长的条款", rendered(200))
    assert cache.get("很长的条款") is None

"""Text inside attachments (附件) is searched with the body's exactness, on every backend, and a
hit found only there says which attachment (见附件2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, render_template

from tests.html_reader import find_all, parse
from tests.search_backends import BACKENDS, open_backend
from zhengai_docs.search.backend import AttachmentText, IndexedDocument, SearchBackend, SearchHit, SearchRequest


def _document(code: str, body: str, *attachments: tuple[str, str]) -> IndexedDocument:
    return IndexedDocument(
        code=code,
        title=f"{code}管理办法",
        doc_type=code[4],
        status="现行",
        departments=("教务处",),
        points=("1.1.1",),
        issued=dt.date(2021, 3, 1),
        doc_number=None,
        body_text=body,
        attachments=tuple(AttachmentText(label=label, text=text) for label, text in attachments),
    )


DOCUMENTS = (
    _document(
        "A101Z",
        "第一条 本办法规定专业设置程序，正文结尾甲",
        ("附件1 专业设置申报表.docx", "乙开头 专业设置申报表\n填报说明：各系部于每年 9 月前填报。"),
        ("附件2 评分细则.xlsx", "评分细则 指标 满分100分 权重 30% ＫＰＩ"),
    ),
    _document("A102Z", "第一条 按评分细则考核。"),
    _document("A103Z", "第一条 教师队伍建设。", ("附件1 名单.pdf", "双师型教师名单")),
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    with open_backend(request.param, tmp_path) as opened:
        with opened.rebuild(list(DOCUMENTS), commit=None, total=len(DOCUMENTS), timeout=5):
            pass
        yield opened


def _hits(backend: SearchBackend, query: str) -> dict[str, SearchHit]:
    return {h.code: h for h in backend.search(SearchRequest(text=query, per_page=100)).hits}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("评分细则", {"A102Z", "A101Z"}),
        ("满分100分", {"A101Z"}),
        ("kpi", {"A101Z"}),  # folded like the body: ＫＰＩ = kpi
        ("填报说明：各系部", {"A101Z"}),  # line breaks inside an attachment are spaces, as in the body
        ("正文结尾甲 权重", {"A101Z"}),  # each term anywhere: body and attachment
        ("甲乙", set()),  # never across the end of the body and an attachment
        ("申报表.docx", set()),  # the label names the file; only the text is searched
        ("双师型", {"A103Z"}),
        ("双师型 评分", set()),
    ],
)
def test_attachment_text_matches_exactly(backend: SearchBackend, query: str, expected: set[str]) -> None:
    results = backend.search(SearchRequest(text=query, per_page=100))
    assert {h.code for h in results.hits} == expected and results.total == len(expected)


def test_a_hit_found_only_in_an_attachment_names_it(backend: SearchBackend) -> None:
    hits = _hits(backend, "评分细则")
    assert hits["A101Z"].attachment == "附件2 评分细则.xlsx"
    assert '<mark class="hl">评分细则</mark>' in hits["A101Z"].snippet_html
    assert hits["A102Z"].attachment is None and "<mark" in hits["A102Z"].snippet_html
    assert _hits(backend, "专业设置")["A101Z"].attachment is None  # in the body too: the body's snippet


@pytest.mark.parametrize("kind", BACKENDS)
def test_occurrences_in_attachments_do_not_outrank_the_text(kind: str, tmp_path: Path) -> None:
    """Ranking counts a word in the title, issuing number and body: a form repeating it ranks after
    a regulation that rules on it, and a document found in its attachments alone comes last."""
    documents = (
        _document("A101Z", "第一条 校企合作。", ("附件1 协议.docx", "校企合作 " * 50)),
        _document("A102Z", "第一条 校企合作。第二条 校企合作。第三条 校企合作。"),
        _document("A103Z", "第一条 总则。", ("附件1 协议.docx", "校企合作 " * 80)),
    )
    with open_backend(kind, tmp_path) as opened:
        with opened.rebuild(list(documents), commit=None, total=len(documents), timeout=5):
            pass
        assert [h.code for h in opened.search(SearchRequest(text="校企合作")).hits] == ["A102Z", "A101Z", "A103Z"]


def test_an_update_replaces_the_attachments(backend: SearchBackend) -> None:
    changed = _document("A101Z", "第一条 本办法规定专业设置程序。", ("附件2 评分细则.xlsx", "新版评分表 满分120分"))
    with backend.writer(timeout=5) as writer:
        writer.upsert(changed)
        writer.finish("0" * 40)
    assert _hits(backend, "满分100分") == {}
    assert _hits(backend, "满分120分")["A101Z"].attachment == "附件2 评分细则.xlsx"
    assert backend.state().documents == 3  # replaced, not added
    with backend.writer(timeout=5) as writer:
        writer.delete("A103Z")
        writer.finish("1" * 40)
    assert backend.state().documents == 2 and _hits(backend, "双师型") == {}


def test_the_results_page_says_which_attachment(indexed_app: Flask) -> None:
    hit = SearchHit(
        code="A101Z",
        title="专业设置管理办法",
        title_html="专业设置管理办法",
        snippet_html='<mark class="hl">评分细则</mark> 满分100分',
        doc_number_html="",
        doc_type="Z",
        status="现行",
        departments=("教务处",),
        points=(),
        issued=None,
        doc_number=None,
        score=1.0,
        title_match=False,
        attachment="附件2 评分细则.xlsx",
    )
    with indexed_app.test_request_context("/search?q=评分细则"):
        html = render_template("search/_hit.html", hit=hit, type_labels={"Z": "制度"})
    [note] = find_all(parse(html), "//*[@class='search-hit-attachment']")
    assert note.text_content().strip() == "见附件2 评分细则.xlsx"

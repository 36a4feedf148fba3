"""Search finds text that is only inside a document's attachments (issue 19): real .docx, .xlsx
and .pdf files uploaded through the app, on every search backend; the hit says which 附件; the
index follows attachment changes; each file's text is extracted once, not at every reindex."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from flask import Flask

from tests import document_tools
from tests.conftest import client_for, make_app
from tests.html_reader import find_all, parse, visible_text
from tests.search_backends import BACKENDS
from tests.test_attachments import direct_change, word_file
from zhengai_docs.attachments import texts
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.permissions import Actor
from zhengai_docs.search.backend import SearchRequest
from zhengai_docs.services import Services

DOCX_WORD = "校企共建实训基地申报"  # only in 附件1
XLSX_WORD = "双师素质教师占比"  # only in 附件2


def _workbook(*rows: tuple[object, ...]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "评分细则"
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, instance: Path) -> Iterator[Flask]:
    application = make_app(instance, SEARCH_BACKEND=request.param)
    svc(application).library.search.rebuild()  # type: ignore[union-attr]
    yield application
    svc(application).close()


def svc(app: Flask) -> Services:
    return app.extensions["zhengai"]


def _head(app: Flask) -> str:
    return svc(app).library.repo.require_head()


def _hits(app: Flask, text: str) -> list[tuple[str, str | None]]:
    results = svc(app).library.search.backend.search(SearchRequest(text=text))  # type: ignore[union-attr]
    return [(hit.code, hit.attachment) for hit in results.hits]


def test_words_only_in_attachments_are_found_and_the_hit_names_the_attachment(app: Flask) -> None:
    editor = client_for(app, "jiaowu")
    assert _hits(app, DOCX_WORD) == []
    form = word_file("附件1", f"{DOCX_WORD}表", "填报说明：各系部于每年9月前填报。")
    assert direct_change(editor, _head(app), "add", attachment_file=(form, "实训基地申报表.docx")) == 302
    sheet = _workbook(("指标", "分值"), (XLSX_WORD, 30))
    assert direct_change(editor, _head(app), "add", attachment_file=(sheet, "评分细则.xlsx")) == 302

    assert _hits(app, DOCX_WORD) == [("A101Z", "附件1 实训基地申报表.docx")]
    assert _hits(app, XLSX_WORD) == [("A101Z", "附件2 评分细则.xlsx")]
    assert _hits(app, "共建实训") == [("A101Z", "附件1 实训基地申报表.docx")]  # a substring, as in the body
    assert _hits(app, DOCX_WORD + "书") == []  # exactness: no near misses

    page = parse(client_for(app, "duzhe").get("/search", query_string={"q": XLSX_WORD}).get_data(as_text=True))
    [hit] = find_all(page, "//li[contains(concat(' ', @class, ' '), ' search-hit ')]")
    assert "见附件2 评分细则.xlsx" in visible_text(hit)

    assert direct_change(editor, _head(app), "remove:1") == 302
    assert _hits(app, DOCX_WORD) == []  # an attachment-only commit re-indexes its document
    assert _hits(app, XLSX_WORD) == [("A101Z", "附件2 评分细则.xlsx")]


def test_a_chinese_pdf_attachment_is_searchable(app: Flask, tmp_path: Path) -> None:
    pdf = document_tools.to_pdf(word_file("附件", "顶岗实习巡查记录表"), tmp_path)  # as LibreOffice writes it
    editor = client_for(app, "jiaowu")
    assert direct_change(editor, _head(app), "add", attachment_file=(pdf.read_bytes(), "巡查记录表.pdf")) == 302
    assert _hits(app, "顶岗实习巡查") == [("A101Z", "附件1 巡查记录表.pdf")]


def test_each_attachment_is_read_once_however_often_the_index_is_rebuilt(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    extracted: list[str] = []
    real = texts.extract_text

    def counting(data: bytes, *, suffix: str) -> str:
        extracted.append(suffix)
        return real(data, suffix=suffix)

    monkeypatch.setattr(texts, "extract_text", counting)
    editor = client_for(app, "jiaowu")
    assert direct_change(editor, _head(app), "add", attachment_file=(word_file(DOCX_WORD), "申报表.docx")) == 302
    assert extracted == [".docx"]
    library = svc(app).library
    loaded = library.load(document_code("A101Z"))
    changed = loaded.document.with_changes(body=loaded.document.body + "\n第九条 本办法自发布之日起施行。\n")
    library.save(changed, actor=Actor.system(), message="补充施行日期", base=loaded.version.commit)
    library.search.rebuild()  # type: ignore[union-attr]
    assert extracted == [".docx"]  # the text save and the rebuild took the kept text
    assert _hits(app, DOCX_WORD) == [("A101Z", "附件1 申报表.docx")]

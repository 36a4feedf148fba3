"""Hostile and broken files: a clear Chinese message, nothing committed, memory bounded."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import word_fixtures as fx
from tests.conftest import csrf_token, login
from tests.html_reader import visible_text
from zhengai_docs.render.docx_import import import_docx
from zhengai_docs.render.docx_package import Limits, WordImportError

HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "not a zip": (fx.not_a_zip, "不是有效的 Word 文档"),
    "old .doc renamed": (fx.old_doc, "旧版 Word 97-2003 文档（.doc）"),
    "truncated zip": (lambda: fx.truncated(fx.styled_standard()), "文件已损坏或不完整"),
    "zip bomb": (lambda: fx.zip_bomb(unzipped_mb=160), "疑似“压缩炸弹”"),
    "zip bomb lying about its size": (lambda: fx.lying_zip_bomb(unzipped_mb=96), "压缩数据校验失败"),
    "enormous table": (fx.huge_table, "超过上限 20000"),
    "macro-enabled .docm": (fx.macro_document, "启用宏的 Word 文档（.docm）"),
    "password-protected": (fx.encrypted_docx, "设置了打开密码"),
    "entity expansion": (fx.entity_expansion, "含有 DTD 声明"),
    "empty file": (lambda: b"", "文件是空的"),
}
MEMORY_BOUND = 40 * 1024 * 1024  # far below what the bombs would inflate to


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {name: build() for name, (build, _message) in HOSTILE.items()}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_refused_with_a_clear_message_and_bounded_memory(kind: str, files: dict[str, bytes]) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(WordImportError) as caught:
            import_docx(files[kind])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert HOSTILE[kind][1] in caught.value.message
    assert peak < MEMORY_BOUND


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_web_upload_is_refused_and_nothing_is_committed(kind: str, files: dict[str, bytes], app: Flask, client: FlaskClient) -> None:
    head = app.extensions["zhengai"].library.repo.head()
    login(client, "jiaowu")
    data = {"csrf_token": csrf_token(client, "/documents/A101Z/import"), "file": (io.BytesIO(files[kind]), "A101Z 管理办法.docx")}
    response = client.post("/documents/A101Z/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert HOSTILE[kind][1] in visible_text(response.get_data(as_text=True))
    assert app.extensions["zhengai"].library.repo.head() == head


def test_size_and_time_limits() -> None:
    document = fx.fifty_pages(chapters=2, clauses=10)
    with pytest.raises(WordImportError, match="超过导入上限"):
        import_docx(document, limits=Limits(max_bytes=len(document) - 1))
    with pytest.raises(WordImportError, match="处理超过"):
        import_docx(document, limits=Limits(max_seconds=0))
    with pytest.raises(WordImportError, match="超过上限"):
        import_docx(document, limits=Limits(max_unzipped_bytes=100 * 1024))

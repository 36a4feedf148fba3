"""Front matter: validation with file and line, and byte-for-byte round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from zhengai_docs.bootstrap import bundled
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.catalogue.document import DocumentMeta, Status, new_document, parse_document
from zhengai_docs.errors import InvalidFrontMatter

PATH = "regulations/A/A1/A101Z.md"
GOOD = """---
code: A101Z
title: 专业设置与调整管理办法
type: 制度
departments:
  - 教务处
status: 现行
issued: 2019-03-15
doc_number: 包职院发〔2019〕12号
approved_by: 院长办公会
points:
  - '2.1.1'
  - '1.10'
related:
  - A101L
---
# 专业设置与调整管理办法

**第一条** 为规范专业设置，制定本办法。
"""


def bundled_documents() -> list[tuple[str, Path]]:
    found = []
    for folder in ("regulations", "standards"):
        root = bundled(folder)
        found += [(f"{folder}/{p.relative_to(root).as_posix()}", p) for p in sorted(root.rglob("*.md"))]
    return found


def test_parse_fields() -> None:
    meta = parse_document(GOOD, path=PATH).meta
    assert meta.code == document_code("A101Z")
    assert meta.title == "专业设置与调整管理办法"
    assert meta.departments == ("教务处",)
    assert meta.status is Status.IN_FORCE
    assert meta.issued == dt.date(2019, 3, 15)
    assert meta.doc_number == "包职院发〔2019〕12号"
    assert meta.points == ("2.1.1", "1.10")
    assert [str(c) for c in meta.related] == ["A101L"]


@pytest.mark.parametrize("path,source", bundled_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_bundled_documents_round_trip_byte_for_byte(path: str, source: Path) -> None:
    text = source.read_text(encoding="utf-8")
    document = parse_document(text, path=path)
    assert document.dump() == text
    # A canonical rendering of the same metadata is also what the author wrote.
    assert new_document(document.meta, document.body).dump() == text


@pytest.mark.parametrize("variant", ["\ufeff" + GOOD, GOOD.replace("\n", "\r\n"), GOOD.replace("status: 现行", "status: '现行'  # 状态")])
def test_unusual_bytes_round_trip(variant: str) -> None:
    assert parse_document(variant, path=PATH).dump() == variant


def test_changed_metadata_is_written_canonically_and_parses_back() -> None:
    document = parse_document(GOOD.replace("status: 现行", "status: '现行'"), path=PATH)
    changed = document.with_changes(title="专业设置与调整管理办法（修订）")
    text = changed.dump()
    assert "title: 专业设置与调整管理办法（修订）\n" in text
    assert "  - '1.10'\n" in text  # point ids stay quoted so YAML cannot turn 1.10 into 1.1
    assert parse_document(text, path=PATH).meta == changed.meta
    assert parse_document(text, path=PATH).body == document.body


def test_new_document_dump() -> None:
    meta = DocumentMeta(code=document_code("A108Z"), title="招生工作管理办法", departments=("招生就业处", "教务处"), status=Status.DRAFT)
    text = new_document(meta, "# 招生工作管理办法\n").dump()
    front = "code: A108Z\ntitle: 招生工作管理办法\ntype: 制度\ndepartments:\n  - 招生就业处\n  - 教务处\nstatus: 草稿\n"
    assert text == "---\n" + front + "---\n# 招生工作管理办法\n"


@pytest.mark.parametrize(
    "change,line,fragment",
    [
        (("code: A101Z", "code: A102Z"), 2, "与文件位置不符"),
        (("code: A101Z", "code: ../A101Z"), 2, "无效的文档代码"),
        (("type: 制度", "type: 标准"), 4, "与代码 A101Z 不符"),
        (("status: 现行", "status: 生效"), 7, "状态"),
        (("issued: 2019-03-15", "issued: 2019-13-45"), 8, "issued"),
        (("issued: 2019-03-15", "issued: 2019年3月"), 8, "日期"),
        (("  - '1.10'", "  - 1.10"), 13, "请加引号"),
        (("  - '1.10'", "  - '1.x'"), 13, "诊断点编号"),
        (("  - A101L", "  - A101Q"), 15, "无效的文档代码"),
        (("approved_by: 院长办公会", "approved_by: 院长办公会\ncolour: red"), 11, "未知字段 colour"),
        (("approved_by: 院长办公会", "approved_by: 院长办公会\ntitle: again"), 11, "重复"),
        (("title: 专业设置与调整管理办法", "title: [unclosed"), 3, "YAML 语法错误"),
        (("departments:\n  - 教务处", "departments: []"), 5, "牵头部门"),
    ],
)
def test_errors_name_file_and_line(change: tuple[str, str], line: int, fragment: str) -> None:
    with pytest.raises(InvalidFrontMatter) as caught:
        parse_document(GOOD.replace(*change), path=PATH)
    assert caught.value.line == line, str(caught.value)
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"{PATH}:{line}: ")


def test_missing_front_matter_and_required_fields() -> None:
    with pytest.raises(InvalidFrontMatter, match="必须以 ---"):
        parse_document("# 没有头信息\n", path=PATH)
    with pytest.raises(InvalidFrontMatter, match="没有以 --- 结束"):
        parse_document("---\ncode: A101Z\n", path=PATH)
    with pytest.raises(InvalidFrontMatter, match="缺少必填字段 title"):
        parse_document(GOOD.replace("title: 专业设置与调整管理办法\n", ""), path=PATH)


def test_file_in_wrong_place() -> None:
    with pytest.raises(InvalidFrontMatter, match="规定位置"):
        parse_document(GOOD, path="standards/A/A1/A101Z.md")

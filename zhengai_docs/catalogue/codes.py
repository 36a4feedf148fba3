"""Catalogue codes (A, A1, A101, A101Z) and the repository paths derived from them.

Every code is checked against an ASCII allow-list with a full match before any path is
built from it: full-width letters, trailing newlines, dots and slashes are all rejected.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from zhengai_docs.errors import InvalidCode

_LEVEL1 = re.compile(r"[A-Z]")
_LEVEL2 = re.compile(r"[A-Z][0-9]")
_ITEM = re.compile(r"[A-Z][0-9]{3}")
_DOCUMENT = re.compile(r"([A-Z])([0-9])([0-9]{2})([ZLB])")


_TYPE_LABELS = {"Z": "制度", "L": "流程", "B": "标准"}


class DocType(enum.Enum):
    """The three documents an item may have; value is the code suffix."""

    Z = "Z"
    L = "L"
    B = "B"

    @property
    def label(self) -> str:
        return _TYPE_LABELS[self._value_]

    @property
    def folder(self) -> str:
        """Regulations and processes live in regulations/, standards in standards/."""
        return "standards" if self is DocType.B else "regulations"

    @classmethod
    def from_label(cls, label: str) -> DocType:
        for doc_type in cls:
            if doc_type.label == label:
                return doc_type
        raise InvalidCode(f"未知的文档类型：{label!r}（应为 制度、流程 或 标准）")


@dataclass(frozen=True)
class DocumentCode:
    """A validated document code such as A101Z."""

    item: str
    doc_type: DocType

    def __str__(self) -> str:
        return self.item + self.doc_type.value

    @property
    def level1(self) -> str:
        return self.item[0]

    @property
    def level2(self) -> str:
        return self.item[:2]

    @property
    def path(self) -> str:
        return f"{self.doc_type.folder}/{self.level1}/{self.level2}/{self}.md"

    @property
    def sort_key(self) -> tuple[str, int]:
        """Catalogue order: A101Z, A101L, A101B, A102Z …"""
        return (self.item, _TYPE_ORDER[self.doc_type])


_TYPE_ORDER = {DocType.Z: 0, DocType.L: 1, DocType.B: 2}


def _require(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidCode(f"无效的{what}代码：{value!r}")
    return value


def level1_code(value: object) -> str:
    return _require(_LEVEL1, value, "一级")


def level2_code(value: object) -> str:
    return _require(_LEVEL2, value, "二级")


def item_code(value: object) -> str:
    return _require(_ITEM, value, "三级条目")


def document_code(value: object) -> DocumentCode:
    text = _require(_DOCUMENT, value, "文档")
    return DocumentCode(item=text[:4], doc_type=DocType(text[4]))


def is_document_code(value: str) -> bool:
    return _DOCUMENT.fullmatch(value) is not None


def document_code_from_path(path: str) -> DocumentCode | None:
    """The code a repository path stands for, or None if the path is not a document's."""
    match = re.fullmatch(r"(regulations|standards)/([A-Z])/([A-Z][0-9])/([A-Z][0-9]{3}[ZLB])\.md", path)
    if match is None:
        return None
    code = document_code(match.group(4))
    if code.path != path:
        return None
    return code

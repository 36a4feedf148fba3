"""Documents: Markdown with YAML front matter.

`parse_document` validates the front matter field by field and names the file and line of the
first problem. `Document.dump` returns the original bytes when the metadata was not changed
(so parse -> dump round-trips byte for byte, BOM and line endings included) and a canonical
rendering when it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from zhengai_docs.catalogue import yaml_input
from zhengai_docs.catalogue.codes import DocType, DocumentCode, document_code, document_code_from_path
from zhengai_docs.errors import InvalidCode, InvalidFrontMatter
from zhengai_docs.storage.text import require_text

BOM = "\ufeff"
_POINT_ID = re.compile(r"[0-9]+(\.[0-9]+)*")
_FIELD_ORDER = (
    "code",
    "title",
    "type",
    "departments",
    "status",
    "issued",
    "doc_number",
    "approved_by",
    "points",
    "review_cycle",
    "reviewed",
    "related",
)
_REQUIRED = ("code", "title", "type", "departments", "status")


class Status(enum.Enum):
    DRAFT = "草稿"
    IN_FORCE = "现行"
    REPEALED = "废止"

    @property
    def label(self) -> str:
        """What pages and exports show (the value written in front matter is the word itself)."""
        return self.value


@dataclass(frozen=True)
class ReviewCycle:
    """A per-document override of the revision cycle, with the reason it was granted."""

    years: int
    reason: str


@dataclass(frozen=True)
class Review:
    """The latest "reviewed, no change" (审核未修订): the text stays valid; restarts the clock."""

    date: dt.date
    by: str
    reason: str


@dataclass(frozen=True)
class DocumentMeta:
    code: DocumentCode
    title: str
    departments: tuple[str, ...]
    status: Status
    issued: dt.date | None = None
    doc_number: str | None = None
    approved_by: str | None = None
    points: tuple[str, ...] = ()
    review_cycle: ReviewCycle | None = None
    related: tuple[DocumentCode, ...] = ()
    reviewed: Review | None = None

    @property
    def doc_type(self) -> DocType:
        return self.code.doc_type


@dataclass(frozen=True)
class Document:
    meta: DocumentMeta
    body: str
    _source: str | None = field(default=None, repr=False, compare=False)
    _source_meta: DocumentMeta | None = field(default=None, repr=False, compare=False)

    def with_changes(self, *, body: str | None = None, **meta_changes: Any) -> Document:
        meta = dataclasses.replace(self.meta, **meta_changes) if meta_changes else self.meta
        return Document(
            meta=meta,
            body=self.body if body is None else body,
            _source=self._source if body is None else None,
            _source_meta=self._source_meta,
        )

    def dump(self) -> str:
        if self._source is not None and self.meta == self._source_meta:
            return self._source
        return "---\n" + dump_front_matter(self.meta) + "---\n" + self.body


def new_document(meta: DocumentMeta, body: str) -> Document:
    return Document(meta=meta, body=body)


def dump_front_matter(meta: DocumentMeta) -> str:
    """Canonical YAML: fixed field order, strings quoted where YAML 1.1 would misread them."""
    data: dict[str, Any] = {
        "code": str(meta.code),
        "title": meta.title,
        "type": meta.doc_type.label,
        "departments": list(meta.departments),
        "status": meta.status.value,
    }
    if meta.issued is not None:
        data["issued"] = meta.issued
    if meta.doc_number:
        data["doc_number"] = meta.doc_number
    if meta.approved_by:
        data["approved_by"] = meta.approved_by
    if meta.points:
        data["points"] = list(meta.points)
    if meta.review_cycle is not None:
        data["review_cycle"] = {"years": meta.review_cycle.years, "reason": meta.review_cycle.reason}
    if meta.reviewed is not None:
        data["reviewed"] = {"date": meta.reviewed.date, "by": meta.reviewed.by, "reason": meta.reviewed.reason}
    if meta.related:
        data["related"] = [str(code) for code in meta.related]
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)


class _Dumper(yaml.SafeDumper):
    """Indents list items and always quotes point ids so 1.10 never becomes 1.1."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "'" if _POINT_ID.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def split_front_matter(text: str, *, path: str) -> tuple[str, str, int]:
    """Return (front matter YAML, body, line number of the first YAML line)."""
    content = text[1:] if text.startswith(BOM) else text
    first_line, sep, rest = content.partition("\n")
    if first_line.rstrip("\r") != "---" or not sep:
        raise InvalidFrontMatter(path=path, line=1, message="文件必须以 --- 开头的 YAML 头信息（front matter）开始")
    offset = 0
    for line in rest.splitlines(keepends=True):
        if line.rstrip("\r\n") == "---":
            return rest[:offset], rest[offset + len(line) :], 2
        offset += len(line)
    raise InvalidFrontMatter(path=path, line=1, message="YAML 头信息没有以 --- 结束")


def parse_document(text: str, *, path: str) -> Document:
    """Parse and validate a document stored at `path` (a repository path).

    Text read from git that is not usable (not UTF-8, binary, too large) is refused here with
    its reason, through the same exception as broken YAML."""
    expected = document_code_from_path(path)
    if expected is None:
        raise InvalidFrontMatter(path=path, line=None, message="文件不在 regulations/ 或 standards/ 的规定位置")
    require_text(text, path=path)
    front, body, first_line = split_front_matter(text, path=path)
    meta = _parse_meta(front, path=path, first_line=first_line, expected=expected)
    return Document(meta=meta, body=body, _source=text, _source_meta=meta)


def _parse_meta(front: str, *, path: str, first_line: int, expected: DocumentCode) -> DocumentMeta:
    def fail(message: str, node: yaml.Node | None = None) -> InvalidFrontMatter:
        line = first_line + node.start_mark.line if node is not None else first_line
        return InvalidFrontMatter(path=path, line=line, message=message)

    try:
        root = yaml_input.compose(front)
    except yaml.YAMLError as exc:
        # The context mark is where the broken construct began (e.g. an unclosed bracket).
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        raise InvalidFrontMatter(path=path, line=line, message=f"YAML 语法错误：{getattr(exc, 'problem', exc)}") from exc
    if not isinstance(root, yaml.MappingNode):
        raise fail("YAML 头信息必须是“字段: 值”的映射")

    nodes: dict[str, yaml.Node] = {}
    for key_node, value_node in root.value:
        key = key_node.value
        if key in nodes:
            raise fail(f"字段 {key} 重复出现", key_node)
        if key not in _FIELD_ORDER:
            raise fail(f"未知字段 {key}", key_node)
        nodes[key] = value_node
    loader = yaml.SafeLoader("")

    def value(key: str) -> Any:
        try:
            return loader.construct_object(nodes[key], deep=True)
        except (ValueError, yaml.YAMLError) as exc:  # e.g. issued: 2019-13-45
            raise fail(f"字段 {key} 的值无效：{exc}", nodes[key]) from exc

    def text_field(key: str, *, required: bool) -> str | None:
        if key not in nodes:
            return None
        raw = value(key)
        if raw is None and not required:
            return None
        if not isinstance(raw, str) or not raw.strip():
            raise fail(f"字段 {key} 必须是非空文字（请给值加引号）", nodes[key])
        return raw

    def list_field(key: str) -> list[str]:
        if key not in nodes:
            return []
        raw = value(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise fail(f"字段 {key} 必须是列表", nodes[key])
        for index, entry in enumerate(raw):
            if not isinstance(entry, str) or not entry.strip():
                raise fail(f"字段 {key} 的第 {index + 1} 项必须是文字（请加引号，如 '1.10'）", nodes[key].value[index])
        return raw

    if "code" in nodes:  # checked first: a misplaced file is the most important thing to say
        try:
            code = document_code(value("code"))
        except InvalidCode as exc:
            raise fail(str(exc), nodes["code"]) from exc
        if code != expected:
            raise fail(f"代码 {code} 与文件位置不符（应为 {expected}）", nodes["code"])
    for key in _REQUIRED:
        if key not in nodes:
            raise fail(f"缺少必填字段 {key}")

    try:
        doc_type = DocType.from_label(value("type"))
    except (InvalidCode, TypeError) as exc:
        raise fail(str(exc), nodes["type"]) from exc
    if doc_type is not code.doc_type:
        raise fail(f"类型 {doc_type.label} 与代码 {code} 不符（应为 {code.doc_type.label}）", nodes["type"])

    status_raw = value("status")
    try:
        status = Status(status_raw)
    except ValueError as exc:
        raise fail(f"状态 {status_raw!r} 无效（应为 草稿、现行 或 废止）", nodes["status"]) from exc

    departments = list_field("departments")
    if not departments:
        raise fail("至少需要一个牵头部门", nodes["departments"])

    issued = None
    if "issued" in nodes:
        issued_raw = value("issued")
        if isinstance(issued_raw, dt.datetime) or not isinstance(issued_raw, dt.date | None):
            raise fail("发布日期 issued 必须是 YYYY-MM-DD 格式的日期", nodes["issued"])
        issued = issued_raw

    points = list_field("points")
    for index, point in enumerate(points):
        if _POINT_ID.fullmatch(point) is None:
            raise fail(f"诊断点编号 {point!r} 无效（应如 '2.1.1'）", nodes["points"].value[index])

    related: list[DocumentCode] = []
    for index, entry in enumerate(list_field("related")):
        try:
            related.append(document_code(entry))
        except InvalidCode as exc:
            raise fail(str(exc), nodes["related"].value[index]) from exc

    review_cycle = None
    if "review_cycle" in nodes:
        raw = value("review_cycle")
        if (
            not isinstance(raw, dict)
            or set(raw) != {"years", "reason"}
            or not isinstance(raw["years"], int)
            or isinstance(raw["years"], bool)
            or not 1 <= raw["years"] <= 10
            or not isinstance(raw["reason"], str)
            or not raw["reason"].strip()
        ):
            raise fail("review_cycle 必须包含 years（1–10 的整数）和 reason（理由）", nodes["review_cycle"])
        review_cycle = ReviewCycle(years=raw["years"], reason=raw["reason"])

    reviewed = None
    if "reviewed" in nodes:
        raw = value("reviewed")
        if (
            not isinstance(raw, dict)
            or set(raw) != {"date", "by", "reason"}
            or isinstance(raw["date"], dt.datetime)
            or not isinstance(raw["date"], dt.date)
            or not all(isinstance(raw[k], str) and raw[k].strip() for k in ("by", "reason"))
        ):
            raise fail("reviewed 必须包含 date（YYYY-MM-DD）、by（审核人）和 reason（理由）", nodes["reviewed"])
        reviewed = Review(date=raw["date"], by=raw["by"], reason=raw["reason"])

    title = text_field("title", required=True)
    if title is None:
        raise fail("标题 title 不能为空", nodes["title"])
    return DocumentMeta(
        code=code,
        title=title,
        departments=tuple(departments),
        status=status,
        issued=issued,
        doc_number=text_field("doc_number", required=False),
        approved_by=text_field("approved_by", required=False),
        points=tuple(points),
        review_cycle=review_cycle,
        related=tuple(related),
        reviewed=reviewed,
    )

"""Diagnostic frameworks (诊改 诊断项目 → 诊断要素 → 诊断点) as data.

The national reference table has 5 items, 15 elements and 37 points; provinces reprint it with
variations (Beijing's table lists 38 points while its own footnote says 37). So a framework is
a YAML file in the content repository with stable ids, and validation separates errors (which
refuse the file) from warnings (which the quality office should read, e.g. counts that disagree
with the declared ones).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zhengai_docs.catalogue import yaml_input
from zhengai_docs.catalogue.importer import read_rows
from zhengai_docs.errors import ZhengaiError
from zhengai_docs.storage.text import UnusableText

_FRAMEWORK_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,40}")
_ITEM_ID = re.compile(r"[1-9][0-9]?")


class InvalidFramework(ZhengaiError):
    status = 400


@dataclass(frozen=True)
class Point:
    id: str
    name: str
    factors: str
    element_id: str
    item_id: str
    platform_refs: str | None = None

    @property
    def text(self) -> str:
        """What a change to the point is judged by (its name and its influence factors)."""
        return f"{self.name}\n{self.factors}"


@dataclass(frozen=True)
class Element:
    id: str
    name: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class DiagnosticItem:
    id: str
    name: str
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    items: tuple[DiagnosticItem, ...]
    source: str | None = None
    note: str | None = None
    declared: dict[str, int] = field(default_factory=dict, compare=False)
    footnote: dict[str, int] = field(default_factory=dict, compare=False)
    _points: dict[str, Point] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._points.update({p.id: p for p in self.points()})

    def elements(self) -> Iterator[Element]:
        for item in self.items:
            yield from item.elements

    def points(self) -> Iterator[Point]:
        for element in self.elements():
            yield from element.points

    def point(self, point_id: str) -> Point | None:
        return self._points.get(point_id)

    def element(self, element_id: str) -> Element | None:
        return next((e for e in self.elements() if e.id == element_id), None)

    @property
    def counts(self) -> dict[str, int]:
        return {"items": len(self.items), "elements": sum(1 for _ in self.elements()), "points": len(self._points)}

    def warnings(self) -> list[str]:
        """Disagreements the file itself documents, for people to read; never a refusal."""
        labels = {"items": "诊断项目", "elements": "诊断要素", "points": "诊断点"}
        found = [
            f"{labels[key]}实有 {self.counts[key]} 个，与文件声明的 {value} 个不一致"
            for key, value in self.declared.items()
            if key in labels and self.counts[key] != value
        ]
        return found + [
            f"{labels[key]}实有 {self.counts[key]} 个，但原表脚注称 {value} 个"
            for key, value in self.footnote.items()
            if key in labels and self.counts[key] != value
        ]

    def to_yaml(self) -> str:
        data: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.source:
            data["source"] = self.source
        if self.note:
            data["note"] = self.note
        if self.declared:
            data["counts"] = dict(self.declared)
        if self.footnote:
            data["footnote_counts"] = dict(self.footnote)
        data["items"] = [
            {
                "id": item.id,
                "name": item.name,
                "elements": [
                    {"id": element.id, "name": element.name, "points": [_point_data(p) for p in element.points]}
                    for element in item.elements
                ],
            }
            for item in self.items
        ]
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def _point_data(point: Point) -> dict[str, str]:
    data = {"id": point.id, "name": point.name, "factors": point.factors}
    if point.platform_refs:
        data["platform_refs"] = point.platform_refs
    return data


def framework_id(value: str) -> str:
    """Framework ids become file names (frameworks/<id>.yaml): lowercase letters, digits, '-'."""
    if not isinstance(value, str) or not _FRAMEWORK_ID.fullmatch(value):
        raise InvalidFramework(f"无效的框架标识：{value!r}（只能使用小写字母、数字和连字符，如 moe-2015）")
    return value


def parse_framework(text: str, *, path: str = "framework.yaml") -> Framework:
    if isinstance(text, UnusableText):  # read from git, not UTF-8, binary or too large
        where = path if text.line is None else f"{path}:{text.line}"
        raise InvalidFramework(f"{where}：{text.problem}")
    try:
        data = yaml_input.load(text)
    except yaml.YAMLError as exc:
        raise InvalidFramework(f"{path}：YAML 格式错误：{exc}") from exc
    if not isinstance(data, dict):
        raise InvalidFramework(f"{path}：应为包含 id、name、items 的映射")
    items = tuple(_item(raw, path) for raw in _list(data.get("items"), f"{path}：items"))
    declared, footnote = (_counts(data.get(key), f"{path}：{key}") for key in ("counts", "footnote_counts"))
    framework = Framework(
        id=framework_id(str(data.get("id", ""))),
        name=_text(data.get("name"), f"{path}：name"),
        source=_optional(data.get("source")),
        note=_optional(data.get("note")),
        items=items,
        declared=declared,
        footnote=footnote,
    )
    _check_unique(framework, path)
    return framework


def _item(raw: Any, path: str) -> DiagnosticItem:
    if not isinstance(raw, dict):
        raise InvalidFramework(f"{path}：诊断项目应为映射")
    item_id = str(raw.get("id", ""))
    if not _ITEM_ID.fullmatch(item_id):
        raise InvalidFramework(f"{path}：诊断项目编号 {item_id!r} 无效（应为 1、2 …）")
    elements = tuple(_element(e, item_id, path) for e in _list(raw.get("elements"), f"{path}：诊断项目 {item_id} 的 elements"))
    return DiagnosticItem(id=item_id, name=_text(raw.get("name"), f"{path}：诊断项目 {item_id} 的名称"), elements=elements)


def _element(raw: Any, item_id: str, path: str) -> Element:
    if not isinstance(raw, dict):
        raise InvalidFramework(f"{path}：诊断要素应为映射")
    element_id = str(raw.get("id", ""))
    if not re.fullmatch(rf"{re.escape(item_id)}\.[1-9][0-9]?", element_id):
        raise InvalidFramework(f"{path}：诊断要素编号 {element_id!r} 应以 {item_id}. 开头")
    points = tuple(_point(p, element_id, item_id, path) for p in _list(raw.get("points"), f"{path}：诊断要素 {element_id} 的 points"))
    return Element(id=element_id, name=_text(raw.get("name"), f"{path}：诊断要素 {element_id} 的名称"), points=points)


def _point(raw: Any, element_id: str, item_id: str, path: str) -> Point:
    if not isinstance(raw, dict):
        raise InvalidFramework(f"{path}：诊断点应为映射")
    point_id = str(raw.get("id", ""))
    if not re.fullmatch(rf"{re.escape(element_id)}\.[1-9][0-9]?", point_id):
        raise InvalidFramework(f"{path}：诊断点编号 {point_id!r} 应以 {element_id}. 开头")
    return Point(
        id=point_id,
        name=_text(raw.get("name"), f"{path}：诊断点 {point_id} 的名称"),
        factors=str(raw.get("factors") or "").strip(),
        element_id=element_id,
        item_id=item_id,
        platform_refs=_optional(raw.get("platform_refs")),
    )


def _check_unique(framework: Framework, path: str) -> None:
    seen: set[str] = set()
    for node_id in [i.id for i in framework.items] + [e.id for e in framework.elements()] + [p.id for p in framework.points()]:
        if node_id in seen:
            raise InvalidFramework(f"{path}：编号 {node_id} 重复")
        seen.add(node_id)


def _counts(value: Any, where: str) -> dict[str, int]:
    """`counts` (what the file declares) and `footnote_counts` (what the source's footnote says)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
        raise InvalidFramework(f"{where} 应为 items/elements/points 到整数的映射")
    return {str(k): v for k, v in value.items()}


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise InvalidFramework(f"{where} 应为非空列表")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidFramework(f"{where} 不能为空")
    return value.strip()


def _optional(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


_ID_IN_CELL = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)*)\s*[.．、\s]?\s*(.*)$", re.S)


def framework_from_rows(rows: Iterable[tuple[int, list[str]]], *, framework: str, name: str) -> Framework:
    """A table with columns 诊断项目 | 诊断要素 | 诊断点 | 影响因素 (ids in the cells, as printed:
    `1 体系总体构架`, `1.1 质量保证理念`, `1.1.1 质量目标与定位`); blank item/element cells
    continue the one above, as merged cells do."""
    items: dict[str, tuple[str, dict[str, tuple[str, list[Point]]]]] = {}
    current_item = current_element = None
    header_seen = False
    for number, cells in rows:
        cells = [*cells, "", "", "", ""][:4]
        if not header_seen:
            header_seen = "诊断点" in "".join(cells)
            continue
        if not any(c.strip() for c in cells):
            continue
        item_cell, element_cell, point_cell, factors = (c.strip() for c in cells)
        if item_cell:
            current_item = _split_id(item_cell, number)
            items.setdefault(current_item[0], (current_item[1], {}))
        if element_cell:
            current_element = _split_id(element_cell, number)
        if current_item is None or current_element is None:
            raise InvalidFramework(f"第 {number} 行：缺少诊断项目或诊断要素")
        elements = items[current_item[0]][1]
        elements.setdefault(current_element[0], (current_element[1], []))
        point_id, point_name = _split_id(point_cell, number)
        elements[current_element[0]][1].append(
            Point(id=point_id, name=point_name, factors=factors, element_id=current_element[0], item_id=current_item[0])
        )
    if not header_seen:
        raise InvalidFramework("表格中没有找到表头（应包含“诊断项目、诊断要素、诊断点、影响因素”列）")
    text = Framework(
        id=framework_id(framework),
        name=name,
        items=tuple(
            DiagnosticItem(id=i, name=n, elements=tuple(Element(id=e, name=en, points=tuple(ps)) for e, (en, ps) in els.items()))
            for i, (n, els) in items.items()
        ),
    ).to_yaml()
    return parse_framework(text, path="表格")  # the same validation as a YAML file


def _split_id(cell: str, number: int) -> tuple[str, str]:
    match = _ID_IN_CELL.match(cell)
    if not match or not match.group(2).strip():
        raise InvalidFramework(f"第 {number} 行：单元格“{cell}”应以编号开头，如“1.1.1 质量目标与定位”")
    return match.group(1), match.group(2).strip()


# -- importing a file ---------------------------------------------------------------------------

MAX_FRAMEWORK_YAML_BYTES = 2 * 1024 * 1024  # the built-in frameworks are about 10 KB


def framework_from_file(path: Path, *, framework: str, name: str, label: str | None = None) -> Framework:
    """A framework from a .yaml file or a table (.csv, .xlsx …; `framework` and `name` name it),
    checked by size before it is read; `label` names the file in messages (an upload's name)."""
    label = label or path.name
    if path.suffix.lower() not in (".yaml", ".yml"):
        return framework_from_rows(read_rows(path), framework=framework, name=name)
    if not path.is_file():
        raise InvalidFramework(f"{label} 不是普通文件（管道、设备或文件夹），未读取。")
    size = path.stat().st_size
    if size > MAX_FRAMEWORK_YAML_BYTES:
        limit = MAX_FRAMEWORK_YAML_BYTES // 1024 // 1024
        raise InvalidFramework(f"{label}：文件大小 {size / 1024 / 1024:.1f} MB，超过框架文件上限 {limit} MB，未读取。")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidFramework(f"{label}：不是 UTF-8 编码的文本，请另存为 UTF-8 后再导入。") from exc
    return parse_framework(text, path=label)


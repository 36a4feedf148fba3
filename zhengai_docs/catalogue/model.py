"""The catalogue: level 1 -> level 2 -> items, with lead departments, stored as catalogue.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from zhengai_docs.catalogue import yaml_input
from zhengai_docs.catalogue.codes import DocType, DocumentCode, item_code, level1_code, level2_code
from zhengai_docs.errors import InvalidCode, InvalidFrontMatter
from zhengai_docs.storage.text import require_text

CATALOGUE_FILE = "catalogue.yaml"


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    departments: tuple[str, ...]

    @property
    def level1(self) -> str:
        return self.code[0]

    @property
    def level2(self) -> str:
        return self.code[:2]

    def document_codes(self) -> tuple[DocumentCode, ...]:
        return tuple(DocumentCode(item=self.code, doc_type=t) for t in DocType)


@dataclass(frozen=True)
class Group:
    """A level-2 group such as A1 人才培养."""

    code: str
    name: str
    items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class Level:
    """A level-1 area such as A 办学活动."""

    code: str
    name: str
    groups: tuple[Group, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    title: str = "制度体系及索引目录"
    departments: tuple[str, ...] = ()
    levels: tuple[Level, ...] = field(default_factory=tuple)

    def items(self) -> Iterator[Item]:
        for level in self.levels:
            for group in level.groups:
                yield from group.items

    def item(self, code: str) -> Item | None:
        return next((i for i in self.items() if i.code == code), None)

    def level(self, code: str) -> Level | None:
        return next((lv for lv in self.levels if lv.code == code), None)

    def group(self, code: str) -> Group | None:
        level = self.level(code[:1])
        return None if level is None else next((g for g in level.groups if g.code == code), None)

    def with_item(self, item: Item, *, level_name: str, group_name: str) -> Catalogue:
        """Add or replace one item (creating its level and group), keeping codes in order."""
        level = self.level(item.level1) or Level(code=item.level1, name=level_name)
        group = self.group(item.level2) or Group(code=item.level2, name=group_name)
        items = sorted([i for i in group.items if i.code != item.code] + [item], key=lambda i: i.code)
        group = replace(group, items=tuple(items))
        groups = sorted([g for g in level.groups if g.code != group.code] + [group], key=lambda g: g.code)
        level = replace(level, groups=tuple(groups))
        levels = sorted([lv for lv in self.levels if lv.code != level.code] + [level], key=lambda lv: lv.code)
        departments = self.departments + tuple(d for d in dict.fromkeys(item.departments) if d not in self.departments)
        return replace(self, levels=tuple(levels), departments=departments)

    def to_yaml(self) -> str:
        data = {
            "title": self.title,
            "departments": list(self.departments),
            "levels": [
                {
                    "code": level.code,
                    "name": level.name,
                    "groups": [
                        {
                            "code": group.code,
                            "name": group.name,
                            "items": [{"code": i.code, "name": i.name, "departments": list(i.departments)} for i in group.items],
                        }
                        for group in level.groups
                    ],
                }
                for level in self.levels
            ],
        }
        header = "# 制度-流程-标准 目录：一级 -> 二级 -> 三级条目，每个条目含 制度(Z)/流程(L)/标准(B)\n"
        return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def parse_catalogue(text: str, *, path: str = CATALOGUE_FILE) -> Catalogue:
    """Read catalogue.yaml; codes must nest (A101 under A1 under A) and be unique."""
    require_text(text, path=path)  # not UTF-8, binary, too large: refused like broken YAML
    try:
        data = yaml_input.load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InvalidFrontMatter(path=path, line=None if mark is None else mark.line + 1, message=f"YAML 语法错误：{exc}") from exc

    def fail(message: str) -> InvalidFrontMatter:
        return InvalidFrontMatter(path=path, line=None, message=message)

    if not isinstance(data, dict):
        raise fail("目录文件必须是映射")
    try:
        departments = tuple(_strings(data.get("departments") or [], "departments"))
        seen: set[str] = set()
        levels = []
        for raw_level in _mappings(data.get("levels") or [], "levels"):
            level_code = level1_code(raw_level.get("code"))
            groups = []
            for raw_group in _mappings(raw_level.get("groups") or [], f"{level_code}.groups"):
                group_code = level2_code(raw_group.get("code"))
                if not group_code.startswith(level_code):
                    raise fail(f"二级代码 {group_code} 不属于一级 {level_code}")
                items = []
                for raw_item in _mappings(raw_group.get("items") or [], f"{group_code}.items"):
                    code = item_code(raw_item.get("code"))
                    if not code.startswith(group_code):
                        raise fail(f"条目 {code} 不属于二级 {group_code}")
                    if code in seen:
                        raise fail(f"条目代码 {code} 重复")
                    seen.add(code)
                    item_departments = tuple(_strings(raw_item.get("departments") or [], f"{code}.departments"))
                    unknown = [d for d in item_departments if d not in departments]
                    if unknown:
                        raise fail(f"条目 {code} 的部门 {'、'.join(unknown)} 不在部门列表中")
                    items.append(Item(code=code, name=_name(raw_item, code), departments=item_departments))
                groups.append(Group(code=group_code, name=_name(raw_group, group_code), items=tuple(items)))
            levels.append(Level(code=level_code, name=_name(raw_level, level_code), groups=tuple(groups)))
    except InvalidCode as exc:
        raise fail(str(exc)) from exc
    title = data.get("title") or Catalogue.title
    return Catalogue(title=str(title), departments=departments, levels=tuple(levels))


def _name(raw: dict[str, Any], code: str) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidCode(f"{code} 缺少名称")
    return name


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidCode(f"{where} 必须是文字列表")
    return value


def _mappings(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidCode(f"{where} 必须是列表")
    return value

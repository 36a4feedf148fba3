"""Catalogue edits as pure functions: each takes a Catalogue and returns a new one, or raises.

Administrators add levels, groups and items, rename them, change lead departments, move items
and manage the department list. The functions validate codes with `codes` before anything else
and never touch git; `Library` turns their results (and the document rewrites below) into one
commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from zhengai_docs.catalogue.codes import DocumentCode, item_code, level1_code, level2_code
from zhengai_docs.catalogue.document import Document
from zhengai_docs.catalogue.model import Catalogue, Group, Item, Level
from zhengai_docs.errors import InvalidCode, ZhengaiError

MAX_NAME = 200
MAX_DEPARTMENT = 100
# The importer splits department cells on these, so a name containing one could not round-trip.
_DEPARTMENT_FORBIDDEN = re.compile(r"[、，,；;/\x00-\x1f\x7f]")
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


class CatalogueEditError(ZhengaiError):
    """An edit the catalogue cannot accept (unknown code, duplicate, department in use …)."""

    status = 400


# -- names and departments -------------------------------------------------------------------


def clean_name(value: str, *, what: str) -> str:
    name = value.strip()
    if not name:
        raise CatalogueEditError(f"{what}名称不能为空")
    if len(name) > MAX_NAME or _NAME_FORBIDDEN.search(name):
        raise CatalogueEditError(f"{what}名称过长或含有控制字符（最多 {MAX_NAME} 个字符）")
    return name


def clean_department(value: str) -> str:
    name = value.strip()
    if not name:
        raise CatalogueEditError("部门名称不能为空")
    if len(name) > MAX_DEPARTMENT:
        raise CatalogueEditError(f"部门名称最多 {MAX_DEPARTMENT} 个字符")
    if _DEPARTMENT_FORBIDDEN.search(name):
        raise CatalogueEditError("部门名称不能包含 、，,；;/ 或控制字符")
    return name


def _lead_departments(catalogue: Catalogue, departments: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(d.strip() for d in departments if d.strip()))
    if not chosen:
        raise CatalogueEditError("至少需要一个牵头部门")
    unknown = [d for d in chosen if d not in catalogue.departments]
    if unknown:
        raise CatalogueEditError(f"部门 {'、'.join(unknown)} 不在部门列表中，请先在“部门”页面添加")
    return chosen


# -- levels and groups -----------------------------------------------------------------------


def add_level(catalogue: Catalogue, *, code: str, name: str) -> Catalogue:
    code = level1_code(code)
    if catalogue.level(code) is not None:
        raise CatalogueEditError(f"一级 {code} 已存在")
    level = Level(code=code, name=clean_name(name, what="一级"))
    return replace(catalogue, levels=tuple(sorted((*catalogue.levels, level), key=lambda lv: lv.code)))


def add_group(catalogue: Catalogue, *, code: str, name: str) -> Catalogue:
    code = level2_code(code)
    level = catalogue.level(code[0])
    if level is None:
        raise CatalogueEditError(f"一级 {code[0]} 不存在，请先添加一级")
    if catalogue.group(code) is not None:
        raise CatalogueEditError(f"二级 {code} 已存在")
    group = Group(code=code, name=clean_name(name, what="二级"))
    groups = tuple(sorted((*level.groups, group), key=lambda g: g.code))
    return _with_level(catalogue, replace(level, groups=groups))


def rename_heading(catalogue: Catalogue, *, code: str, name: str) -> Catalogue:
    """Rename a level (A) or a group (A1)."""
    if len(code) == 1:
        level = catalogue.level(level1_code(code))
        if level is None:
            raise CatalogueEditError(f"一级 {code} 不存在")
        return _with_level(catalogue, replace(level, name=clean_name(name, what="一级")))
    group = _group(catalogue, level2_code(code))
    return _with_group(catalogue, replace(group, name=clean_name(name, what="二级")))


# -- items -----------------------------------------------------------------------------------


def add_item(catalogue: Catalogue, *, group: str, code: str, name: str, departments: Iterable[str]) -> Catalogue:
    """A new item in an existing group; its code must start with the group's (A101 in A1)."""
    group_found = _target_group(catalogue, group=group, code=code)
    code = item_code(code)
    if catalogue.item(code) is not None:
        raise CatalogueEditError(f"条目 {code} 已存在")
    item = Item(code=code, name=clean_name(name, what="条目"), departments=_lead_departments(catalogue, departments))
    return _with_group(catalogue, replace(group_found, items=tuple(sorted((*group_found.items, item), key=lambda i: i.code))))


def update_item(catalogue: Catalogue, *, code: str, name: str, departments: Iterable[str]) -> Catalogue:
    """Rename an item and set its lead departments."""
    item = _item(catalogue, code)
    changed = replace(item, name=clean_name(name, what="条目"), departments=_lead_departments(catalogue, departments))
    return _replace_item(catalogue, changed)


def move_item(catalogue: Catalogue, *, code: str, group: str, new_code: str) -> Catalogue:
    """Give an item a new code in an existing group (its own or another)."""
    item = _item(catalogue, code)
    target = _target_group(catalogue, group=group, code=new_code)
    new_code = item_code(new_code)
    if new_code == item.code:
        raise CatalogueEditError("新代码与原代码相同")
    if catalogue.item(new_code) is not None:
        raise CatalogueEditError(f"条目 {new_code} 已存在，不能移动到该代码")
    without = _without_item(catalogue, item.code)
    target = without.group(target.code) or target
    moved = replace(item, code=new_code)
    return _with_group(without, replace(target, items=tuple(sorted((*target.items, moved), key=lambda i: i.code))))


def document_moves(old_item: str, new_item: str) -> dict[DocumentCode, DocumentCode]:
    """A101Z -> A109Z, A101L -> A109L, A101B -> A109B."""
    return {code: replace(code, item=new_item) for code in Item(code=old_item, name=old_item, departments=()).document_codes()}


# -- departments -----------------------------------------------------------------------------


def add_department(catalogue: Catalogue, name: str) -> Catalogue:
    name = clean_department(name)
    if name in catalogue.departments:
        raise CatalogueEditError(f"部门 {name} 已存在")
    return replace(catalogue, departments=(*catalogue.departments, name))


def rename_department(catalogue: Catalogue, *, old: str, new: str) -> Catalogue:
    """Rename in the department list and in every item that it leads (order kept)."""
    if old not in catalogue.departments:
        raise CatalogueEditError(f"部门 {old} 不存在")
    new = clean_department(new)
    if new == old:
        raise CatalogueEditError("新名称与原名称相同")
    if new in catalogue.departments:
        raise CatalogueEditError(f"部门 {new} 已存在；合并部门请先调整各条目的牵头部门")

    def swap(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if d == old else d for d in names)

    levels = tuple(
        replace(
            level,
            groups=tuple(
                replace(group, items=tuple(replace(i, departments=swap(i.departments)) for i in group.items)) for group in level.groups
            ),
        )
        for level in catalogue.levels
    )
    return replace(catalogue, departments=swap(catalogue.departments), levels=levels)


def remove_department(catalogue: Catalogue, name: str) -> Catalogue:
    """Remove a department no item leads (documents and users are checked by the caller)."""
    if name not in catalogue.departments:
        raise CatalogueEditError(f"部门 {name} 不存在")
    leading = [i.code for i in catalogue.items() if name in i.departments]
    if leading:
        raise CatalogueEditError(f"部门 {name} 仍是 {'、'.join(leading[:10])} 等 {len(leading)} 个条目的牵头部门，不能删除")
    return replace(catalogue, departments=tuple(d for d in catalogue.departments if d != name))


# -- documents touched by an edit ------------------------------------------------------------


def rename_department_in(document: Document, *, old: str, new: str) -> Document | None:
    """The document with `old` renamed in its lead departments, or None if it does not name it."""
    departments = document.meta.departments
    if old not in departments:
        return None
    renamed = tuple(dict.fromkeys(new if d == old else d for d in departments))
    return document.with_changes(departments=renamed)


def recode_document(document: Document, moves: Mapping[DocumentCode, DocumentCode]) -> Document:
    """The document with moved codes applied to its own code and to its related list."""
    code = moves.get(document.meta.code, document.meta.code)
    related = tuple(moves.get(r, r) for r in document.meta.related)
    if code == document.meta.code and related == document.meta.related:
        return document
    return document.with_changes(code=code, related=related)


# -- internals -------------------------------------------------------------------------------


def _group(catalogue: Catalogue, code: str) -> Group:
    group = catalogue.group(code)
    if group is None:
        raise CatalogueEditError(f"二级 {code} 不存在：条目代码的前两位必须是已有的二级代码")
    return group


def _target_group(catalogue: Catalogue, *, group: str, code: str) -> Group:
    """The existing group an item code is placed in; the code's first digit is the group's number."""
    found = catalogue.group(level2_code(group))
    if found is None:
        raise CatalogueEditError(f"二级 {group} 不存在，请先添加二级")
    item_code(code)
    if code[:2] != found.code:
        raise CatalogueEditError(f"条目代码 {code} 不属于二级 {found.code}：应以 {found.code} 开头，如 {found.code}01")
    return found


def _item(catalogue: Catalogue, code: str) -> Item:
    try:
        item = catalogue.item(item_code(code))
    except InvalidCode as exc:
        raise CatalogueEditError(str(exc)) from exc
    if item is None:
        raise CatalogueEditError(f"条目 {code} 不存在")
    return item


def _with_level(catalogue: Catalogue, level: Level) -> Catalogue:
    return replace(catalogue, levels=tuple(level if lv.code == level.code else lv for lv in catalogue.levels))


def _with_group(catalogue: Catalogue, group: Group) -> Catalogue:
    level = catalogue.level(group.code[0])
    if level is None:  # unreachable: groups are only looked up through their level
        raise CatalogueEditError(f"一级 {group.code[0]} 不存在")
    return _with_level(catalogue, replace(level, groups=tuple(group if g.code == group.code else g for g in level.groups)))


def _replace_item(catalogue: Catalogue, item: Item) -> Catalogue:
    group = _group(catalogue, item.level2)
    return _with_group(catalogue, replace(group, items=tuple(item if i.code == item.code else i for i in group.items)))


def _without_item(catalogue: Catalogue, code: str) -> Catalogue:
    group = _group(catalogue, code[:2])
    return _with_group(catalogue, replace(group, items=tuple(i for i in group.items if i.code != code)))

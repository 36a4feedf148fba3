"""Import a catalogue from a table: TSV/CSV, XLSX, or a Word table laid out like the printed 表 7.

Rows are read as printed. A Z/L/B code that does not belong to its row's item is reported with
its row number and left out; nothing is renumbered or merged behind the user's back. Import
merges into the current catalogue (adds and updates items, never removes one), so importing the
same table twice changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.catalogue.model import Catalogue, Item
from zhengai_docs.errors import ImportProblem

# Cells like "专业设置及调整(A101)", "党委领导（B101)", "人才培\n养(A1)", "办 学\n活 动\n（A）".
_NAMED_CODE = re.compile(r"(?P<name>.*?)[(（](?P<code>[^()（）]{1,6})[)）]", re.S)
_CODE_COLUMNS = ("l1", "l2", "l3", "z", "l", "b")
_DEPARTMENT_SPLIT = re.compile(r"[、，,；;/]+")
_HEADER_ALIASES = {
    "l1": ("l1", "一级", "一级代码"),
    "l1_name": ("l1_name", "一级名称"),
    "l2": ("l2", "二级", "二级代码"),
    "l2_name": ("l2_name", "二级名称"),
    "l3": ("l3", "三级", "三级代码", "条目"),
    "l3_name": ("l3_name", "三级名称", "条目名称"),
    "z": ("z", "制度"),
    "l": ("l", "流程"),
    "b": ("b", "标准"),
    "departments": ("departments", "责任部门", "牵头部门", "责任部门（牵头部门）", "责任部门(牵头部门)"),
}
MAX_ROWS = 5000


@dataclass(frozen=True)
class RowProblem:
    row: int
    message: str

    def __str__(self) -> str:
        return f"第 {self.row} 行：{self.message}"


@dataclass(frozen=True)
class ItemChange:
    code: str
    kind: str  # 新增 / 修改
    detail: str


@dataclass
class CatalogueImport:
    """What an import would do: the merged catalogue, the changes and the problems."""

    catalogue: Catalogue
    item_count: int
    changes: list[ItemChange] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    number: int
    level1: str
    level1_name: str
    level2: str
    level2_name: str
    item: str
    item_name: str
    documents: dict[DocType, str]
    departments: tuple[str, ...]


def read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Rows of the first table in a file, numbered as a person would count them (from 1)."""
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".txt", ".csv"):
        text = path.read_bytes().decode("utf-8-sig")
        dialect = "excel-tab" if suffix != ".csv" else "excel"
        return list(enumerate(csv.reader(io.StringIO(text), dialect=dialect), start=1))
    if suffix == ".xlsx":
        return _xlsx_rows(path)
    if suffix == ".docx":
        return _docx_rows(path)
    raise ImportProblem(f"不支持的目录文件类型：{path.suffix}（支持 .tsv .csv .xlsx .docx）")


def _xlsx_rows(path: Path) -> list[tuple[int, list[str]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise ImportProblem(f"无法读取 Excel 文件：{exc}") from exc
    try:
        sheet = book.worksheets[0]
        return [(n, ["" if v is None else str(v) for v in row]) for n, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        book.close()


def _docx_rows(path: Path) -> list[tuple[int, list[str]]]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError) as exc:
        raise ImportProblem(f"无法读取 Word 文件：{exc}") from exc
    if not document.tables:
        raise ImportProblem("Word 文件中没有表格")
    table = max(document.tables, key=lambda t: len(t.rows))
    if len(table.rows) > MAX_ROWS:
        raise ImportProblem(f"表格超过 {MAX_ROWS} 行")
    rows = []
    for number, row in enumerate(table.rows, start=1):
        # row.cells repeats a merged cell's origin for every grid column and row it spans.
        rows.append((number, [cell.text for cell in row.cells]))
    return rows


def parse_catalogue_table(rows: Iterable[tuple[int, list[str]]]) -> tuple[list[_Row], list[RowProblem]]:
    rows = list(rows)
    if len(rows) > MAX_ROWS:
        raise ImportProblem(f"表格超过 {MAX_ROWS} 行")
    columns = _find_header(rows)
    parsed: list[_Row] = []
    problems: list[RowProblem] = []
    carry = {"l1": "", "l1_name": "", "l2": "", "l2_name": ""}
    for number, cells in rows:
        if number <= columns.header_row:
            continue
        cell = {key: _clean(cells[index]) if index < len(cells) else "" for key, index in columns.index.items()}
        for key in _CODE_COLUMNS:
            cell[key] = _ascii_code(cell[key])
        if all(cell[key].strip("….") == "" for key in ("l3", "z", "l", "b", "departments")):
            continue  # blank or "……" rows (merged level cells may still carry text)
        for level in ("l1", "l2"):
            _split_named(cell, level)
            if cell[level]:
                carry[level], carry[level + "_name"] = cell[level], cell[level + "_name"]
            else:
                cell[level], cell[level + "_name"] = carry[level], carry[level + "_name"]
        _split_named(cell, "l3")
        row = _validate_row(number, cell, problems)
        if row is not None:
            parsed.append(row)
    return parsed, problems


@dataclass(frozen=True)
class _Columns:
    header_row: int
    index: dict[str, int]


def _find_header(rows: list[tuple[int, list[str]]]) -> _Columns:
    for number, cells in rows[:20]:
        normalised = [unicodedata.normalize("NFKC", _clean(c)).lower() for c in cells]
        index: dict[str, int] = {}
        for key, aliases in _HEADER_ALIASES.items():
            for position, text in enumerate(normalised):
                if text in aliases and key not in index:
                    index[key] = position
        if {"l3", "z", "l", "b", "departments"} <= set(index) and "l1" in index and "l2" in index:
            return _Columns(header_row=number, index=index)
    raise ImportProblem("找不到表头：需要 一级、二级、三级、制度、流程、标准、责任部门 列（或 l1、l2、l3、z、l、b、departments）")


def _clean(text: str) -> str:
    """Drop the spaces and line breaks that printed tables put inside Chinese names."""
    return re.sub(r"\s+", "", text or "")


def _ascii_code(text: str) -> str:
    """Full-width letters and digits typed into a code column (Ａ１０１) read as ASCII.

    Names keep their full-width brackets: 党委（院长）办公室 stays as printed.
    """
    folded = unicodedata.normalize("NFKC", text)
    return folded if re.fullmatch(r"[A-Za-z0-9]*", folded) else text


def _split_named(cell: dict[str, str], level: str) -> None:
    """Turn a printed cell "人才培养(A1)" into code and name, when the table has no name column."""
    name_key = level + "_name"
    if cell.get(name_key):
        return
    match = _NAMED_CODE.fullmatch(cell[level])
    if match:
        cell[level], cell[name_key] = _ascii_code(match.group("code")), match.group("name")
    else:
        cell[name_key] = ""


def _validate_row(number: int, cell: dict[str, str], problems: list[RowProblem]) -> _Row | None:
    def report(message: str) -> None:
        problems.append(RowProblem(row=number, message=message))

    item, level1, level2 = cell["l3"], cell["l1"], cell["l2"]
    if re.fullmatch(r"[A-Z]", level1) is None:
        report(f"一级代码 {level1!r} 无效")
        return None
    if re.fullmatch(r"[A-Z][0-9]", level2) is None or not level2.startswith(level1):
        report(f"二级代码 {level2!r} 无效或不属于一级 {level1}")
        return None
    if re.fullmatch(r"[A-Z][0-9]{3}", item) is None or not item.startswith(level2):
        report(f"三级条目代码 {item!r} 无效或不属于二级 {level2}（条目代码的第一位数字即二级序号）")
        return None
    if not cell["l3_name"]:
        report(f"条目 {item} 缺少名称")
        return None
    documents: dict[DocType, str] = {}
    for doc_type in DocType:
        listed = cell[doc_type.value.lower()]
        expected = item + doc_type.value
        if not listed:
            continue
        if listed != expected:
            report(f"条目 {item} 的{doc_type.label}代码 {listed} 不属于该条目（应为 {expected}），未导入该代码")
            continue
        documents[doc_type] = listed
    departments = tuple(d for d in _DEPARTMENT_SPLIT.split(cell["departments"]) if d)
    if not departments:
        report(f"条目 {item} 没有牵头部门")
    return _Row(
        number=number,
        level1=level1,
        level1_name=cell["l1_name"],
        level2=level2,
        level2_name=cell["l2_name"],
        item=item,
        item_name=cell["l3_name"],
        documents=documents,
        departments=departments,
    )


def plan_import(current: Catalogue, rows: Iterable[tuple[int, list[str]]]) -> CatalogueImport:
    """Merge table rows into the current catalogue; report each change and problem."""
    parsed, problems = parse_catalogue_table(rows)
    catalogue = current
    changes: list[ItemChange] = []
    seen: dict[str, int] = {}
    for row in parsed:
        if row.item in seen:
            problems.append(RowProblem(row=row.number, message=f"条目 {row.item} 与第 {seen[row.item]} 行重复，未导入"))
            continue
        seen[row.item] = row.number
        item = Item(code=row.item, name=row.item_name, departments=row.departments)
        before = catalogue.item(row.item)
        if before == item:
            continue
        if before is None:
            changes.append(ItemChange(code=item.code, kind="新增", detail=f"{item.name}（{'、'.join(item.departments)}）"))
        else:
            changes.append(ItemChange(code=item.code, kind="修改", detail=_describe(before, item)))
        catalogue = catalogue.with_item(item, level_name=row.level1_name, group_name=row.level2_name)
    for row in parsed:
        level, group = catalogue.level(row.level1), catalogue.group(row.level2)
        if level is not None and row.level1_name and level.name != row.level1_name:
            problems.append(
                RowProblem(row=row.number, message=f"一级 {row.level1} 名称“{row.level1_name}”与目录中的“{level.name}”不同，保留原名称")
            )
        if group is not None and row.level2_name and group.name != row.level2_name:
            problems.append(
                RowProblem(row=row.number, message=f"二级 {row.level2} 名称“{row.level2_name}”与目录中的“{group.name}”不同，保留原名称")
            )
    return CatalogueImport(catalogue=catalogue, item_count=len(seen), changes=changes, problems=problems)


def _describe(before: Item, after: Item) -> str:
    parts = []
    if before.name != after.name:
        parts.append(f"名称 {before.name} → {after.name}")
    if before.departments != after.departments:
        parts.append(f"部门 {'、'.join(before.departments)} → {'、'.join(after.departments)}")
    return "；".join(parts)

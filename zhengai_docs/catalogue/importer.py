"""Import a catalogue from a table: TSV/CSV, XLSX, or a Word table laid out like the printed 表 7.

Rows are read as printed. A Z/L/B code that does not belong to its row's item is reported with
its row number and left out; nothing is renumbered or merged behind the user's back. Import
merges into the current catalogue (adds and updates items, never removes one), so importing the
same table twice changes nothing.

Tables are untrusted input: a file's size is checked before it is opened, a zip's (.xlsx,
.docx) declared decompressed size before anything is decompressed, and rows are streamed (csv
reader, openpyxl read-only) with the row cap applied while reading, so a million-row sheet is
refused after row MAX_ROWS + 1, not after reading it all.
"""

from __future__ import annotations

import csv
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
MAX_COLUMNS = 64  # cells read per row: a catalogue table has about ten, a framework table four
MAX_TABLE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # a 5,000-row sheet is a few MB of XML
MAX_ZIP_ENTRIES = 2000
_MB = 1024 * 1024


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


def read_rows(path: Path, *, max_rows: int = MAX_ROWS) -> list[tuple[int, list[str]]]:
    """Rows of the first table in a file, numbered as a person would count them (from 1).

    ImportProblem for a file over MAX_TABLE_BYTES or a zip bomb (before reading), and for a
    table longer than `max_rows` as soon as its next row is read.
    """
    suffix = path.suffix.lower()
    readers = {".tsv": _csv_rows, ".txt": _csv_rows, ".csv": _csv_rows, ".xlsx": _xlsx_rows, ".docx": _docx_rows}
    if suffix not in readers:
        raise ImportProblem(f"不支持的目录文件类型：{path.suffix}（支持 .tsv .csv .xlsx .docx）")
    _check_file(path)
    if suffix in (".xlsx", ".docx"):
        _check_zip(path)
    if suffix == ".xlsx":
        _check_sheets(path, max_rows=max_rows)
    rows = readers[suffix](path, max_rows)
    out: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(rows, start=1):
            if number > max_rows:
                raise ImportProblem(f"表格超过 {max_rows} 行（读到第 {number} 行时停止），未导入。请拆分后分别导入。")
            while cells and not cells[-1]:
                cells.pop()
            out.append((number, cells[:MAX_COLUMNS]))
    finally:
        rows.close()  # closes the file now, also when the cap stopped the reading
    return out


def _check_file(path: Path) -> None:
    """A regular file no larger than MAX_TABLE_BYTES, judged by its size, not by reading it."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ImportProblem(f"无法读取文件 {path.name}：{exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ImportProblem(f"{path.name} 不是普通文件（管道、设备或文件夹），未读取。")
    if info.st_size > MAX_TABLE_BYTES:
        raise ImportProblem(f"文件大小 {info.st_size / _MB:.1f} MB，超过表格导入上限 {MAX_TABLE_BYTES // _MB} MB，未读取。")


def _check_zip(path: Path) -> None:
    """Refuse a zip bomb from the zip's directory, before any part is decompressed."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        kind = "Word" if path.suffix.lower() == ".docx" else "Excel"
        raise ImportProblem(f"无法读取 {kind} 文件：文件已损坏或不完整（不是有效的压缩包）。") from exc
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ImportProblem(f"文件内部包含 {len(infos)} 个部件，超过上限 {MAX_ZIP_ENTRIES}，已拒绝。")
    total = sum(info.file_size for info in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise ImportProblem(f"文件解压后有 {total / _MB:.0f} MB，超过上限 {MAX_UNZIPPED_BYTES // _MB} MB（疑似“压缩炸弹”），未读取。")


_SPREADSHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _check_sheets(path: Path, *, max_rows: int) -> None:
    """Stream every XML part of a workbook once, stopping at row `max_rows` + 1.

    openpyxl's read-only mode streams rows, but opening a workbook walks a whole sheet that has
    no <dimension> (and keeps an element per row while it does); so the rows and cells of each
    part are counted here first, in bounded memory (each element is dropped once it ends), and
    any DOCTYPE is refused. Row numbers count too: openpyxl fills the gaps between rows r="2" and
    r="1048576" with empty rows.
    """
    from lxml import etree

    max_cells = max_rows * MAX_COLUMNS
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.lower().endswith(".xml"):
                continue
            rows = cells = 0
            first = True
            with archive.open(info) as stream:
                parts = etree.iterparse(stream, events=("end",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
                try:
                    for _event, element in parts:
                        if first and element.getroottree().docinfo.doctype:
                            raise ImportProblem(f"无法读取 Excel 文件：{info.filename} 含有 DTD 声明，Excel 不会这样写，已拒绝。")
                        if element.tag == _SPREADSHEET + "c":
                            cells += 1
                            if cells > max_cells:
                                raise ImportProblem(f"表格的单元格超过 {max_cells} 个（{info.filename}），未导入。请拆分后分别导入。")
                        elif element.tag == _SPREADSHEET + "row":
                            rows += 1
                            number = element.get("r") or ""
                            last = max(rows, int(number) if number.isdigit() else 0)
                            if last > max_rows:
                                raise ImportProblem(f"表格超过 {max_rows} 行（读到第 {last} 行时停止），未导入。请拆分后分别导入。")
                        first = False
                        element.clear()
                        while element.getprevious() is not None:
                            del element.getparent()[0]
                except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise ImportProblem(f"无法读取 Excel 文件：{info.filename} 已损坏（{exc}）") from exc


def _csv_rows(path: Path, max_rows: int) -> Generator[list[str]]:
    dialect = "excel" if path.suffix.lower() == ".csv" else "excel-tab"
    with open(path, encoding="utf-8-sig", newline="") as stream:
        try:
            yield from csv.reader(stream, dialect=dialect)
        except UnicodeDecodeError as exc:
            raise ImportProblem(f"{path.name} 不是 UTF-8 编码，请在 Excel 中另存为“CSV UTF-8”后再导入。") from exc
        except csv.Error as exc:
            raise ImportProblem(f"{path.name} 不是有效的表格文件：{exc}") from exc


def _xlsx_rows(path: Path, max_rows: int) -> Generator[list[str]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise ImportProblem(f"无法读取 Excel 文件：{exc}") from exc
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # a declared A1:XFD1048576 must not pad every row to 16,384 cells
        try:
            for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS, max_row=max_rows + 1):
                yield ["" if v is None else str(v) for v in row]
        except Exception as exc:  # a damaged sheet fails while it is read, in as many ways
            raise ImportProblem(f"无法读取 Excel 文件：{exc}") from exc
    finally:
        book.close()


def _docx_rows(path: Path, max_rows: int) -> Generator[list[str]]:
    """The longest top-level table, a merged cell repeated in every column and row it spans.

    Read from the table's XML in one pass (python-docx's `row.cells` walks up a vertical merge
    one row at a time, which is cubic in its length and recursive)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError) as exc:
        raise ImportProblem(f"无法读取 Word 文件：{exc}") from exc
    tables = document.element.body.findall(qn("w:tbl"))
    if not tables:
        raise ImportProblem("Word 文件中没有表格")
    table = max(tables, key=lambda t: len(t.findall(qn("w:tr"))))
    if len(table.findall(qn("w:tr"))) > max_rows:
        raise ImportProblem(f"表格超过 {max_rows} 行，未导入。请拆分后分别导入。")
    above: dict[int, str] = {}  # grid column -> text, in the row above
    for tr in table.iterfind(qn("w:tr")):
        cells: list[str] = []
        current: dict[int, str] = {}
        column = _grid_value(tr.find(qn("w:trPr")), "w:gridBefore", default=0)
        for tc in tr.iterfind(qn("w:tc")):
            properties = tc.find(qn("w:tcPr"))
            span = _grid_value(properties, "w:gridSpan", default=1)
            merge = properties.find(qn("w:vMerge")) if properties is not None else None
            if merge is not None and merge.get(qn("w:val"), "continue") == "continue":
                text = above.get(column, "")  # the cell above continues here
            else:
                text = "\n".join(Paragraph(p, document).text for p in tc.iterfind(qn("w:p")))
            for offset in range(span):
                current[column + offset] = text
            cells.extend([text] * span)
            column += span
            if len(cells) >= MAX_COLUMNS:
                break
        above = current
        yield cells


def _grid_value(properties: Any, tag: str, *, default: int) -> int:
    """w:gridSpan / w:gridBefore, at most MAX_COLUMNS: a cell may not stand for a million."""
    from docx.oxml.ns import qn

    element = properties.find(qn(tag)) if properties is not None else None
    value = element.get(qn("w:val"), "") if element is not None else ""
    return min(int(value), MAX_COLUMNS) if value.isdigit() else default


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

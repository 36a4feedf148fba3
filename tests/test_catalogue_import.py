"""Catalogue import from the real TSV and from a Word table laid out like the printed 表 7."""

from __future__ import annotations

import csv
from pathlib import Path

import docx
import pytest

from zhengai_docs.bootstrap import builtin_data
from zhengai_docs.catalogue.importer import plan_import, read_rows
from zhengai_docs.catalogue.model import Catalogue, parse_catalogue
from zhengai_docs.errors import ImportProblem
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.storage.paths import CATALOGUE_PATH
from zhengai_docs.users import Role

TSV = builtin_data("catalogue-baotou.tsv")
ADMIN = Actor(user_id=1, username="admin", name="系统管理员", email="admin@example.edu.cn", role=Role.ADMIN, departments=())
E3_PROBLEMS = [
    ("E301", "流程", "E302L"),
    ("E301", "标准", "E302B"),
    ("E302", "流程", "E303L"),
    ("E302", "标准", "E303B"),
    ("E303", "流程", "E304L"),
    ("E303", "标准", "E304B"),
]


def tsv_rows() -> list[dict[str, str]]:
    with TSV.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, dialect="excel-tab"))


def spaced(name: str) -> str:
    """Printed tables break long names over lines and pad them with spaces."""
    return name if len(name) < 4 else name[:3] + "\n" + " ".join(name[3:])


def build_table_docx(path: Path) -> dict[str, int]:
    """A .docx like 表 7: a title row, a header row, merged level cells, mixed brackets, …… rows.

    Returns the Word row number of each E3 item.
    """
    rows = tsv_rows()
    document = docx.Document()
    document.add_paragraph("表 7 学院制度体系及索引目录")
    table = document.add_table(rows=2, cols=7)
    table.rows[0].cells[0].merge(table.rows[0].cells[6]).text = "包头职业技术学院章程"
    for cell, text in zip(table.rows[1].cells, ["一级", "二级", "三级", "制度", "流程", "标准", "责任部门（牵头部门）"], strict=True):
        cell.text = text
    numbers: dict[str, int] = {}
    level_start: dict[str, int] = {}
    group_start: dict[str, int] = {}
    previous_group = None
    for row in rows:
        if previous_group is not None and row["l2"] != previous_group and row["l1"] == "E":
            filler = table.add_row().cells  # printed tables have …… rows between groups
            filler[2].text = "……"
        cells = table.add_row().cells
        index = len(table.rows) - 1
        if row["l1"] not in level_start:
            level_start[row["l1"]] = index
            cells[0].text = f"{' '.join(row['l1_name'])}\n（{row['l1']}）"
        if row["l2"] not in group_start:
            group_start[row["l2"]] = index
            cells[1].text = f"{spaced(row['l2_name'])}({row['l2']})"
        bracket = ("（", ")") if row["l3"] == "B101" else ("(", ")")
        cells[2].text = f"{spaced(row['l3_name'])}{bracket[0]}{row['l3']}{bracket[1]}"
        for cell, key in zip(cells[3:], ("z", "l", "b", "departments"), strict=True):
            cell.text = row[key]
        numbers[row["l3"]] = index + 1
        previous_group = row["l2"]
    last = len(table.rows) - 1
    # Merge the level-1 and level-2 columns vertically, as printed.
    for starts, column in ((level_start, 0), (group_start, 1)):
        ordered = sorted(starts.values())
        for start, end in zip(ordered, [*ordered[1:], last + 1], strict=True):
            if end - 1 > start:
                table.cell(start, column).merge(table.cell(end - 1, column))
    document.save(str(path))
    return numbers


def assert_e3_problems(problems: list, rows: dict[str, int]) -> None:
    messages = [(p.row, p.message) for p in problems]
    assert len(messages) == 6, messages
    for (row, message), (item, label, code) in zip(messages, E3_PROBLEMS, strict=True):
        assert row == rows[item]
        assert f"条目 {item} 的{label}代码 {code} 不属于该条目" in message


def test_tsv_import_yields_60_items_and_reports_e3_rows() -> None:
    plan = plan_import(Catalogue(), read_rows(TSV))
    assert plan.item_count == 60
    assert sum(1 for _ in plan.catalogue.items()) == 60
    assert [lv.code for lv in plan.catalogue.levels] == list("ABCDEF")
    assert plan.catalogue.item("A104").departments == ("组织人事处", "教务处")  # type: ignore[union-attr]
    assert plan.catalogue.item("B101").name == "党委领导"  # type: ignore[union-attr]
    assert plan.catalogue.group("E3").name == "保障体系"  # type: ignore[union-attr]
    assert "党委（院长）办公室" in plan.catalogue.departments  # full-width brackets kept as printed
    # TSV row numbers count the header as row 1, like a spreadsheet.
    assert_e3_problems(plan.problems, {r["l3"]: n for n, r in enumerate(tsv_rows(), start=2)})


def test_docx_table_with_merged_cells(tmp_path: Path) -> None:
    table = tmp_path / "表7.docx"
    numbers = build_table_docx(table)
    plan = plan_import(Catalogue(), read_rows(table))
    assert plan.item_count == 60
    tsv_plan = plan_import(Catalogue(), read_rows(TSV))
    assert plan.catalogue.to_yaml() == tsv_plan.catalogue.to_yaml()  # same catalogue from both layouts
    assert_e3_problems(plan.problems, numbers)


def test_catalogue_yaml_round_trips() -> None:
    catalogue = plan_import(Catalogue(), read_rows(TSV)).catalogue
    assert parse_catalogue(catalogue.to_yaml()) == catalogue


def test_import_commits_once_and_reimport_changes_nothing(library: Library) -> None:
    plan, result = library.import_catalogue(TSV, actor=ADMIN)
    assert result is not None and result.changed
    assert len(plan.changes) == 60 and all(c.kind == "新增" for c in plan.changes)
    again, second = library.import_catalogue(TSV, actor=ADMIN)
    assert second is None and again.changes == []
    assert len(library.repo.history(CATALOGUE_PATH)) == 1


def test_dry_run_shows_changes_without_committing(library: Library, tmp_path: Path) -> None:
    library.import_catalogue(TSV, actor=ADMIN)
    edited = tmp_path / "edited.tsv"
    text = TSV.read_text(encoding="utf-8").replace("A101\t专业设置及调整", "A101\t专业设置与动态调整")
    edited.write_text(text + "A\t办学活动\tA1\t人才培养\tA109\t产教融合\tA109Z\tA109L\tA109B\t校企合作办\n", encoding="utf-8")
    head = library.repo.head()
    plan = library.plan_catalogue_import(edited)
    assert [(c.code, c.kind) for c in plan.changes] == [("A101", "修改"), ("A109", "新增")]
    assert "专业设置及调整 → 专业设置与动态调整" in plan.changes[0].detail
    assert library.repo.head() == head


def test_import_never_removes_items(library: Library, tmp_path: Path) -> None:
    library.import_catalogue(TSV, actor=ADMIN)
    partial = tmp_path / "partial.tsv"
    partial.write_text("\n".join(TSV.read_text(encoding="utf-8").splitlines()[:3]) + "\n", encoding="utf-8")
    plan, result = library.import_catalogue(partial, actor=ADMIN)
    assert result is None and plan.item_count == 2
    assert sum(1 for _ in library.catalogue()[0].items()) == 60


@pytest.mark.parametrize(
    "line,fragment",
    [
        ("A\t办学活动\tA1\t人才培养\tA201\t错层\tA201Z\tA201L\tA201B\t教务处", "不属于二级 A1"),
        ("A\t办学活动\tB1\t领导体制\tB199\t错层\t\t\t\t教务处", "不属于一级 A"),
        ("A\t办学活动\tA1\t人才培养\tA1X1\t坏代码\t\t\t\t教务处", "无效"),
        ("A\t办学活动\tA1\t人才培养\tA101\t重复\tA101Z\tA101L\tA101B\t教务处", "与第 2 行重复"),
    ],
)
def test_bad_rows_reported_not_imported(tmp_path: Path, line: str, fragment: str) -> None:
    table = tmp_path / "bad.tsv"
    table.write_text(TSV.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    plan = plan_import(Catalogue(), read_rows(table))
    assert plan.item_count == 60
    assert any(p.row == 62 and fragment in p.message for p in plan.problems), plan.problems


def test_unreadable_tables(tmp_path: Path) -> None:
    no_header = tmp_path / "x.csv"
    no_header.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportProblem, match="找不到表头"):
        read_rows(no_header) and plan_import(Catalogue(), read_rows(no_header))
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ImportProblem, match="无法读取 Word 文件"):
        read_rows(broken)
    with pytest.raises(ImportProblem, match="不支持"):
        read_rows(tmp_path / "x.pdf")

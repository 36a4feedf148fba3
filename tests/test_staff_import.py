"""`zhengai-docs import-staff`: the data exchange centre's staff list, dry run first, then applied."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.conftest import Runner
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User
from zhengai_docs.errors import NotAllowed
from zhengai_docs.permissions import Actor
from zhengai_docs.signon.mapping import RuleKind, add_rule
from zhengai_docs.staff_import import apply_import, plan_import
from zhengai_docs.users import Role, create_user

HEADER = ["工号", "姓名", "部门", "邮箱", "角色"]
STAFF = [
    ["20190001", "张三", "教务处", "zhangsan@college.edu.cn", "部门编辑"],
    ["20190002", "李四", "学生工作处", "", ""],
    ["20190003", "王五", "后勤保障部", "wangwu@college.edu.cn", "普通读者"],
    ["20190004", "钱七", "党委（院长）办公室", "", "质量管理办公室"],
]
KNOWN = ("教务处", "学生工作处", "党委（院长）办公室", "组织人事处")


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows([HEADER, *rows])
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append([int(row[0]), *row[1:]])  # 工号 typed as a number, as Excel does
    book.save(path)
    return path


def users(db: Database) -> dict[str, User]:
    with db.session() as session:
        return {u.username: u for u in session.scalars(select(User))}


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_dry_run_lists_then_apply_creates_and_reimport_changes_nothing(db: Database, tmp_path: Path, writer) -> None:  # type: ignore[no-untyped-def]
    table = writer(tmp_path / ("staff.csv" if writer is write_csv else "staff.xlsx"), STAFF)
    before = users(db)
    plan = plan_import(db, path=table, known_departments=KNOWN)
    assert [c.staff_number for c in plan.created] == ["20190001", "20190002", "20190003", "20190004"]
    assert plan.unknown_departments == {"后勤保障部": [4]}
    assert users(db).keys() == before.keys()  # a dry run writes nothing
    applied = apply_import(db, path=table, known_departments=KNOWN, actor=Actor.system())
    assert len(applied.created) == 4 and not applied.problems
    after = users(db)
    zhang = after["20190001"]
    assert (zhang.display_name, zhang.role, zhang.department_names, zhang.auth_source, zhang.staff_number) == (
        "张三",
        "editor",
        ["教务处"],
        "directory",
        "20190001",
    )
    assert (after["20190002"].role, after["20190002"].department_names) == ("reader", ["学生工作处"])
    assert (after["20190003"].role, after["20190003"].department_names, after["20190003"].directory_department) == (
        "reader",
        [],
        "后勤保障部",
    )
    assert after["20190004"].role == "quality"
    again = apply_import(db, path=table, known_departments=KNOWN, actor=Actor.system())
    assert (again.changes, again.unchanged) == (0, 4)


def test_departed_staff_are_disabled_never_deleted_and_come_back(db: Database, tmp_path: Path) -> None:
    create_user(db, username="admin", password="break-glass-pw", role=Role.ADMIN)  # a local account
    apply_import(db, path=write_csv(tmp_path / "a.csv", STAFF), known_departments=KNOWN, actor=Actor.system())
    token = users(db)["20190002"].session_token
    plan = apply_import(
        db, path=write_csv(tmp_path / "b.csv", [STAFF[0], STAFF[2], STAFF[3]]), known_departments=KNOWN, actor=Actor.system()
    )
    assert [c.staff_number for c in plan.disabled] == ["20190002"]
    left = users(db)["20190002"]
    assert not left.active and left.session_token != token  # signed out everywhere, account kept
    assert users(db)["admin"].active  # local accounts are never touched
    back = apply_import(db, path=write_csv(tmp_path / "c.csv", STAFF), known_departments=KNOWN, actor=Actor.system())
    assert [c.details for c in back.updated] == [("重新启用",)]


def test_changes_are_listed_and_an_empty_table_disables_nobody(db: Database, tmp_path: Path) -> None:
    apply_import(db, path=write_csv(tmp_path / "a.csv", STAFF), known_departments=KNOWN, actor=Actor.system())
    moved = [["20190001", "张三", "组织人事处", "zhangsan@college.edu.cn", "部门编辑"], *STAFF[1:]]
    plan = plan_import(db, path=write_csv(tmp_path / "b.csv", moved), known_departments=KNOWN)
    assert [c.details for c in plan.updated] == [("部门：教务处 → 组织人事处", "所属部门：教务处 → 组织人事处")]
    empty = plan_import(db, path=write_csv(tmp_path / "empty.csv", []), known_departments=KNOWN)
    assert empty.disabled == []


def test_problems_are_listed_by_row_and_their_people_are_not_disabled(db: Database, tmp_path: Path) -> None:
    apply_import(db, path=write_csv(tmp_path / "a.csv", STAFF), known_departments=KNOWN, actor=Actor.system())
    rows = [
        STAFF[0],
        ["20190002", "李四", "学生工作处", "not-an-address", ""],
        ["", "无工号", "教务处", "", ""],
        [*STAFF[2][:4], "处长"],
        STAFF[3],
    ]
    plan = apply_import(db, path=write_csv(tmp_path / "b.csv", rows), known_departments=KNOWN, actor=Actor.system())
    assert plan.problems == [
        "第 3 行：电子邮箱格式不正确：not-an-address，该行未导入（账号保持不变）",
        "第 4 行：缺少工号，未导入",
        "第 5 行：角色“处长”无效（可填：普通读者、部门编辑、质量管理办公室、系统管理员；空白为普通读者），该行未导入（账号保持不变）",
    ]
    assert plan.disabled == []
    assert users(db)["20190002"].active and users(db)["20190003"].active


def test_imported_roles_follow_the_mapping_rules(db: Database, tmp_path: Path) -> None:
    """An unknown department mapped by an alias rule files the person where the catalogue has them."""
    add_rule(
        db,
        actor=Actor.system(),
        kind=RuleKind.DEPARTMENT,
        value="后勤保障部",
        role=Role.READER,
        department="组织人事处",
        known_departments=KNOWN,
    )
    apply_import(db, path=write_csv(tmp_path / "a.csv", STAFF), known_departments=KNOWN, actor=Actor.system())
    assert users(db)["20190003"].department_names == ["组织人事处"]


def test_only_administrators_apply(db: Database, tmp_path: Path) -> None:
    editor = Actor(user_id=5, username="jiaowu", name="x", email="x@x.cn", role=Role.EDITOR, departments=("教务处",))
    with pytest.raises(NotAllowed):
        apply_import(db, path=write_csv(tmp_path / "a.csv", STAFF), known_departments=KNOWN, actor=editor)


def test_the_command_dry_run_then_apply(runner: Runner, instance: Path, tmp_path: Path, open_database) -> None:  # type: ignore[no-untyped-def]
    table = write_csv(tmp_path / "staff.csv", STAFF)
    dry = runner("import-staff", str(table))
    assert dry.exit_code == 0, dry.output
    assert "（试运行，未修改；确认无误后加 --apply 执行）" in dry.output
    assert "  20190001 张三（20190001）：教务处，部门编辑" in dry.output
    assert "  后勤保障部（1 人，第 4 行）" in dry.output
    db = open_database(instance)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.staff_number.is_not(None))) == 0
    applied = runner("import-staff", str(table), "--apply")
    assert applied.exit_code == 0 and "4 项变更（已执行）" in applied.output
    assert "0 项变更" in runner("import-staff", str(table), "--apply").output
    broken = runner("import-staff", str(write_csv(tmp_path / "broken.csv", [["", "无工号", "教务处", "", ""], *STAFF])))
    assert broken.exit_code == 1 and "第 2 行：缺少工号，未导入" in broken.output


def test_thousand_rows_import(db: Database, tmp_path: Path) -> None:
    rows = [
        [f"2020{n:04d}", f"教师{n}", KNOWN[n % len(KNOWN)], f"t{n}@college.edu.cn", "部门编辑" if n % 10 == 0 else ""] for n in range(1000)
    ]
    table = write_csv(tmp_path / "big.csv", rows)
    assert len(plan_import(db, path=table, known_departments=KNOWN).created) == 1000
    assert len(apply_import(db, path=table, known_departments=KNOWN, actor=Actor.system()).created) == 1000
    again = apply_import(db, path=table, known_departments=KNOWN, actor=Actor.system())
    assert (again.changes, again.unchanged) == (0, 1000)

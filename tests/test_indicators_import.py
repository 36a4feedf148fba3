"""Importing values from a data-platform table: the report first, problems by row, nothing written
while a row is wrong, idempotent re-imports, rights per row, CSV and XLSX, the web page."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from tests.actors import account
from tests.conftest import OpenDatabase, Runner
from tests.html_reader import find_all, visible_text
from zhengai_docs.indicators import importer, results
from zhengai_docs.permissions import Actor, WritePolicy

TODAY = dt.date(2026, 11, 23)
BAD = """标准,指标,周期,数值,备注
A101B,专任教师中双师型教师比例,2025-2026,48.5,人事处核定
A101B,生师比,2025-2026,20.6,与现有数值相同
A101B,生师比,2024-2025,19.9,更正
A101B,不存在的指标,2025-2026,10,
A101B,毕业率,2025-2026,120%,
A101B,毕业率,2027-2028,96,
A101B,毕业率,2025,96,
A999B,毕业率,2025-2026,96,
A101B,年终就业率,2025-2026,,
A101B,专任教师中双师型教师比例,2025—2026学年,49,
"""


def write(tmp_path: Path, text: str, name: str = "values.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    return path


def test_the_report_lists_every_problem_by_row_and_nothing_is_written(runner: Runner, tmp_path: Path, open_database: OpenDatabase) -> None:
    result = runner("indicators", "import", str(write(tmp_path, BAD)), "--apply", "--today", TODAY.isoformat())
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("问题：")]
    assert problems == [
        "问题：第 5 行：未知指标：A101B“不存在的指标”（该标准的现行版本没有声明此指标）",
        "问题：第 6 行：A101B“毕业率”：120% 超过 100%，超出“毕业率”可能的范围",
        "问题：第 7 行：A101B“毕业率”：2027-2028 学年 尚未开始，不能填报",
        "问题：第 8 行：周期“2025”无效：学年应写作 2025-2026",
        "问题：第 9 行：未知指标：A999B“毕业率”（该标准的现行版本没有声明此指标）",
        "问题：第 10 行：“年终就业率”没有数值",
        "问题：第 11 行：与第 2 行重复（同一指标、同一周期）",
    ]
    assert "新增或更正 2 个数值，与现有数值相同而略过 1 行，问题 7 行。" in result.output
    assert "有问题行，未导入任何数值" in result.output
    assert results.history(open_database(runner.instance), code="A101B", key="专任教师中双师型教师比例")[-1].period == "2024-2025"


def test_a_clean_table_is_applied_once(runner: Runner, tmp_path: Path, open_database: OpenDatabase) -> None:
    clean = "\n".join(BAD.splitlines()[:4]) + "\n"
    dry = runner("indicators", "import", str(write(tmp_path, clean)), "--today", TODAY.isoformat())
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[:2] == [
        "第 2 行 A101B“专任教师中双师型教师比例” 2025-2026 学年 新增：48.5%",
        "第 4 行 A101B“生师比” 2024-2025 学年 更正：19.6:1 → 19.9:1",
    ]
    db = open_database(runner.instance)
    assert len(results.history(db, code="A101B", key="生师比")) == 5  # the dry run wrote nothing
    applied = runner("indicators", "import", str(write(tmp_path, clean)), "--apply", "--today", TODAY.isoformat())
    assert applied.exit_code == 0 and "已导入 2 个数值。" in applied.output
    corrected = [e for e in results.history(db, code="A101B", key="生师比") if e.period == "2024-2025"]
    assert [(e.revision, e.value_text, e.source) for e in corrected] == [(1, "19.6", "import"), (2, "19.9", "import")]
    again = runner("indicators", "import", str(write(tmp_path, clean)), "--apply", "--today", TODAY.isoformat())
    assert "新增或更正 0 个数值，与现有数值相同而略过 3 行" in again.output


def test_xlsx_and_rights_per_row(instance: Path, tmp_path: Path, open_database: OpenDatabase) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["标准", "指标", "周期", "数值"], ["A104B", "专任教师年流失率", "2025-2026", 4.8], ["A101B", "毕业率", "2025-2026", 96]):
        sheet.append(row)
    path = tmp_path / "状态数据.xlsx"
    book.save(path)
    db = open_database(instance)
    plan = importer.plan_file(db, path, policy=WritePolicy(), actor=account(db, "renshi"), today=TODAY)
    assert [importer.describe(r) for r in plan.rows] == ["第 2 行 A104B“专任教师年流失率” 2025-2026 学年 更正：5.4% → 4.8%"]
    assert [str(p) for p in plan.problems] == ["第 3 行：A101B“毕业率”：只有责任部门（教务处）的编辑可以填报该指标的数值"]
    assert importer.plan_file(db, path, policy=WritePolicy(), actor=Actor.system(), today=TODAY).ok


@pytest.mark.parametrize("apply", ["0", "1"])
def test_the_web_page_previews_and_imports(signed_in, instance: Path, open_database: OpenDatabase, apply: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("jiaowu")
    table = "标准,指标,周期,数值\nA101B,专任教师中双师型教师比例,2025-2026,48.5\n".encode()
    response = client.post("/indicators/import", data={"file": (io.BytesIO(table), "平台导出.csv"), "apply": apply})
    assert response.status_code == 200
    items = [visible_text(li) for li in find_all(response.get_data(as_text=True), "//main//section//li")]
    assert items == ["第 2 行 A101B“专任教师中双师型教师比例” 2025-2026 学年 新增：48.5%"]
    entries = results.history(open_database(instance), code="A101B", key="专任教师中双师型教师比例")
    assert (entries[-1].period == "2025-2026") is (apply == "1")

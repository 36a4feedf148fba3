"""Indicator declarations read from a standard's tables, statuses at the boundaries, periods, the
復核 verdict and the words a revision's changes are said in — pure rules, known answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from zhengai_docs.indicators import periods
from zhengai_docs.indicators.declaration import Direction, changes, declarations, parse_threshold
from zhengai_docs.indicators.review import Verdict, verdict
from zhengai_docs.indicators.status import Status, evaluate

TABLE = """# 标准

| 指标 | 目标值 | 预警值 | 数据来源 |
|---|---|---|---|
| 专任教师中双师型教师比例 | ≥ 60% | < 50% | 人事管理系统 |
| 生师比 | ≤ 18:1 | > 20:1 | 状态数据平台 |
| 校级以上教学名师 | ≥ 1人 | 0人 | 组织人事处 |
| 教学事故发生次数 | 0次 | ≥ 1次 | 教务处 |
| 督导听课评价 | 良好以上 | 合格以下 | 督导 |

```
| 指标 | 目标值 | 预警值 |
|---|---|---|
| 代码块里的表格 | ≥ 1 | < 0 |
```

| 编号 | 指标 | 单位 | 方向 | 周期 | 目标值 | 预警值 | 责任部门 | 诊断点 |
|---|---|---|---|---|---|---|---|---|
| T-1 | 到课率 | % | 越高越好 | 学期 | 90%以上 | 低于80% | 学生工作处、教务处 | 2.3.1 |
| T-2 | 矛盾 | % |  |  | ≥ 60% | > 70% |  |  |
"""


def parsed() -> dict[str, object]:
    found = declarations(TABLE, code="A103B", departments=("教务处",), points=("2.1.1",))
    return {i.key: i for i in found.indicators} | {"problems": [str(p) for p in found.problems], "qualitative": found.qualitative}


def test_the_demo_style_tables_and_optional_columns_are_recognised() -> None:
    found = parsed()
    assert [k for k in found if k not in ("problems", "qualitative")] == [
        "专任教师中双师型教师比例",
        "生师比",
        "校级以上教学名师",
        "教学事故发生次数",
        "T-1",
    ]
    ratio = found["生师比"]
    assert (ratio.direction, ratio.unit, ratio.target.value, ratio.warning.op) == (Direction.LOWER, ":1", Decimal(18), ">")  # type: ignore[attr-defined]
    own = found["T-1"]
    assert (own.name, own.period, own.departments, own.points) == (
        "到课率",
        periods.PeriodKind.SEMESTER,
        ("学生工作处", "教务处"),
        ("2.3.1",),
    )  # type: ignore[attr-defined]
    assert (own.target.op, own.warning.op) == ("≥", "<")  # type: ignore[attr-defined]
    assert found["专任教师中双师型教师比例"].departments == ("教务处",) and found["专任教师中双师型教师比例"].points == ("2.1.1",)  # type: ignore[attr-defined]
    assert found["qualitative"] == ("督导听课评价",)
    assert found["problems"] == ["正文第 20 行：“矛盾”：目标值与预警值的比较方向矛盾，本行未作为指标"]


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("专任教师中双师型教师比例", "60", Status.MET),  # equal to the target (≥) meets it
        ("专任教师中双师型教师比例", "59.9", Status.NOT_MET),
        ("专任教师中双师型教师比例", "50", Status.NOT_MET),  # equal to the warning value (<) does not warn
        ("专任教师中双师型教师比例", "49.99", Status.WARNING),
        ("生师比", "18", Status.MET),  # lower is better: equal to the target meets it
        ("生师比", "20", Status.NOT_MET),  # > 20:1 warns, 20 does not
        ("生师比", "20.1", Status.WARNING),
        ("生师比", "12", Status.MET),
        ("校级以上教学名师", "0", Status.WARNING),  # no comparator: reaching the warning value warns
        ("校级以上教学名师", "1", Status.MET),
        ("教学事故发生次数", "0", Status.MET),
        ("教学事故发生次数", "1", Status.WARNING),  # ≥ 1次
        ("T-1", "90", Status.MET),  # 90%以上 includes 90
        ("T-1", "80", Status.NOT_MET),  # 低于80% excludes 80
        ("T-1", "79", Status.WARNING),
    ],
)
def test_status_at_the_boundaries(key: str, value: str, status: Status) -> None:
    assert evaluate(parsed()[key], Decimal(value)) is status  # type: ignore[arg-type]


def test_no_value_is_missing_and_every_status_has_words_and_a_colour() -> None:
    assert evaluate(parsed()["生师比"], None) is Status.MISSING  # type: ignore[arg-type]
    assert [(s.label, s.colour) for s in Status] == [("达标", "绿"), ("预警", "红"), ("未达标", "黄"), ("未填报", "黑")]


@pytest.mark.parametrize(
    ("text", "op", "value", "unit"),
    [("≥ 85%", "≥", "85", "%"), (">=85 ％", "≥", "85", "%"), ("不低于 1.0万元", "≥", "1.0", "万元"), ("100%", None, "100", "%"),
     ("＜０.６万元", "<", "0.6", "万元"), ("≥ 3项/3年", "≥", "3", "项/3年")],
)  # fmt: skip
def test_thresholds_as_written(text: str, op: str | None, value: str, unit: str) -> None:
    found = parse_threshold(text)
    assert found is not None and (found.op, found.value, found.unit) == (op, Decimal(value), unit)


def test_periods_keys_ends_and_what_is_due() -> None:
    kind = periods.PeriodKind
    assert periods.parse_period(kind.ACADEMIC_YEAR, "2025—2026学年") == "2025-2026"
    assert periods.parse_period(kind.SEMESTER, "2025-2026学年第二学期") == "2025-2026-2"
    assert periods.parse_period(kind.CALENDAR_YEAR, "2025年") == "2025"
    with pytest.raises(periods.InvalidPeriod):
        periods.parse_period(kind.ACADEMIC_YEAR, "2025-2027")
    assert periods.due(kind.ACADEMIC_YEAR, dt.date(2026, 8, 31)) == "2024-2025"
    assert periods.due(kind.ACADEMIC_YEAR, dt.date(2026, 9, 1)) == "2025-2026"
    assert periods.due(kind.SEMESTER, dt.date(2026, 2, 1)) == "2025-2026-1"
    assert periods.due(kind.SEMESTER, dt.date(2026, 1, 31)) == "2024-2025-2"
    assert periods.end("2025-2026-1") == dt.date(2026, 1, 31)
    assert periods.of_year(kind.ACADEMIC_YEAR, 2026) == "2025-2026"
    assert periods.recent(kind.CALENDAR_YEAR, dt.date(2026, 11, 23), 3) == ["2023", "2024", "2025"]


@pytest.mark.parametrize(
    ("agreeing", "recorded", "elements", "expected"),
    [(12, 15, 15, Verdict.VALID), (11, 15, 15, Verdict.NEEDS_IMPROVEMENT), (10, 15, 15, Verdict.NEEDS_IMPROVEMENT),
     (9, 15, 15, Verdict.ABNORMAL), (15, 14, 15, Verdict.INCOMPLETE),
     (8, 10, 10, Verdict.VALID), (7, 10, 10, Verdict.NEEDS_IMPROVEMENT), (6, 10, 10, Verdict.ABNORMAL)],
)  # fmt: skip
def test_review_verdict_as_the_beijing_plan_defines_it_and_scaled(agreeing: int, recorded: int, elements: int, expected: Verdict) -> None:
    result = verdict(agreeing=agreeing, recorded=recorded, elements=elements)
    assert result.verdict is expected
    if elements == 15:
        assert (result.valid_at, result.abnormal_below) == (12, 10)


def test_a_changed_target_is_said_in_words() -> None:
    old = declarations(TABLE, code="A103B", departments=("教务处",), points=())
    new = declarations(TABLE.replace("| ≥ 60% | < 50% |", "| ≥ 65% | < 55% |"), code="A103B", departments=("教务处",), points=())
    assert changes(old, new) == [
        "“专任教师中双师型教师比例”目标值：≥ 60% → ≥ 65%",
        "“专任教师中双师型教师比例”预警值：< 50% → < 55%",
    ]

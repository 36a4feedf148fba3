"""Generated indicators with known answers: statuses in the due period, roll-ups per point and
element, `audit --warnings`, a changed target in a revision, corrections kept (append-only, a
concurrent correction refused), and who may enter values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.actors import account
from tests.conftest import OpenApp, Runner, login
from tests.html_reader import find_all, visible_text
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.errors import NotAllowed
from zhengai_docs.indicators import results
from zhengai_docs.indicators.board import build_board
from zhengai_docs.indicators.cache import load_indicators
from zhengai_docs.indicators.status import Status
from zhengai_docs.permissions import Actor
from zhengai_docs.services import Services

TODAY = dt.date(2026, 11, 23)  # due: 学年 2025-2026, 自然年 2025
PATH = "standards/A/A1/A103B.md"
STANDARD = """---
code: A103B
title: 人才培养模式改革质量标准（测试）
type: 标准
departments:
  - 教务处
status: 现行
issued: 2025-03-01
points:
  - '1.1.1'
---
# 人才培养模式改革质量标准

| 编号 | 指标 | 目标值 | 预警值 | 周期 | 诊断点 |
|---|---|---|---|---|---|
| G-1 | 指标一 | ≥ 60% | < 50% | 学年 | 1.1.1 |
| G-2 | 指标二 | ≤ 18:1 | > 20:1 | 学年 | 1.1.1 |
| G-3 | 指标三 | ≥ 90% | < 80% | 学年 | 1.1.2 |
| G-4 | 指标四 | ≥ 5个 | < 3个 | 自然年 | 1.2.1 |
"""


@pytest.fixture
def measured(instance: Path, open_app: OpenApp) -> Flask:
    """The demo with A103B declaring G-1…G-4 and values: G-1 = 50 (the warning value, not below
    it), G-2 = 20.5 (past 20:1), G-3 none, G-4 = 2 (below 3)."""
    app = open_app(instance)
    svc: Services = app.extensions["zhengai"]
    svc.state.clock = lambda: TODAY
    svc.library.commit_files({PATH: STANDARD}, actor=Actor.system(), message="测试标准", base=svc.library.repo.head())
    svc.library.sync()
    jiaowu = account(svc.db, "jiaowu")
    declared = {i.key: i for i in load_indicators(svc.db, codes=["A103B"])}
    for key, period, value in (("G-1", "2025-2026", "50"), ("G-2", "2025-2026", "20.5"), ("G-4", "2025", "2"), ("G-1", "2024-2025", "61")):
        results.record(
            svc.db, policy=svc.library.policy, actor=jiaowu, indicator=declared[key], period=period, value=value, expected=0, today=TODAY
        )
    return app


def test_statuses_and_roll_ups_per_point_and_element(measured: Flask) -> None:
    svc: Services = measured.extensions["zhengai"]
    board = build_board(svc.db, today=TODAY)
    mine = {s.indicator.key: s for s in board.of_document("A103B")}
    assert {k: s.status for k, s in mine.items()} == {
        "G-1": Status.NOT_MET,
        "G-2": Status.WARNING,
        "G-3": Status.MISSING,
        "G-4": Status.WARNING,
    }
    assert (mine["G-1"].period, mine["G-1"].previous_value, mine["G-1"].previous_status) == ("2025-2026", "61%", Status.MET)
    assert mine["G-4"].period == "2025"
    framework = svc.library.frameworks.get("moe-2015").framework
    point = board.point_tally("1.1.1")
    assert (point.warnings, point.count(Status.NOT_MET), point.total) == (1, 1, 2)
    element = board.node_tally(framework.element("1.1"))  # type: ignore[arg-type]
    assert dict(element.counts) == {Status.NOT_MET: 1, Status.WARNING: 1, Status.MISSING: 1}
    warned = {p.id: [s.indicator.key for s in states] for p, states in board.points_with_warning(framework)}
    assert warned["1.1.1"] == ["G-2"] and warned["1.2.1"] == ["G-4"] and "1.1.2" not in warned
    assert board.point_tally("1.1.1", department="组织人事处").total == 0


def test_the_point_page_and_the_coverage_view_show_the_warning(measured: Flask) -> None:
    client = measured.test_client()
    login(client, "zhiliang")
    page = client.get("/audit/points/1.1.1").get_data(as_text=True)
    rows = [visible_text(r) for r in find_all(page, "//section[contains(@class, 'point-indicators')]//tbody/tr")]
    assert any("指标二" in r and "20.5:1" in r and "预警" in r for r in rows), rows
    coverage = client.get("/audit/coverage").get_data(as_text=True)
    cell = find_all(coverage, "//tr[td/a[@href='/audit/points/1.1.1']]/td[contains(@class, 'point-indicators')]")
    assert visible_text(cell[0]) == "预警 1 未达标 1"
    heading = [visible_text(h) for h in find_all(coverage, "//h3") if "1.1 质量保证理念" in visible_text(h)]
    assert heading and "指标预警 1" in heading[0]


def test_audit_warnings_exits_1_while_an_indicator_is_in_warning(measured: Flask, runner: Runner) -> None:
    result = runner("audit", "--warnings", "--today", TODAY.isoformat())
    assert result.exit_code == 1, result.output
    assert "预警 A103B 指标二（2025-2026 学年）：20.5:1，预警值 > 20:1，目标值 ≤ 18:1" in result.output
    calm = runner("audit", "--warnings", "--today", "2021-09-02")  # due 2020-2021: nothing entered, nothing in warning
    assert calm.exit_code == 0, calm.output
    assert "预警 0 项" in calm.output


def test_a_revision_that_changes_a_target_is_visible_and_rejudges(measured: Flask) -> None:
    svc: Services = measured.extensions["zhengai"]
    before = svc.library.repo.head()
    svc.library.commit_files(
        {PATH: STANDARD.replace("| ≥ 60% | < 50% |", "| ≥ 45% | < 40% |")}, actor=Actor.system(), message="下调目标值", base=before
    )
    svc.library.sync()
    assert build_board(svc.db, today=TODAY).get("A103B", "G-1").status is Status.MET  # type: ignore[union-attr]
    client = measured.test_client()
    login(client, "zhiliang")
    page = client.get(f"/documents/A103B/diff?from={before}").get_data(as_text=True)
    changes = [visible_text(li) for li in find_all(page, "//section[contains(@class, 'indicator-changes')]//li")]
    assert changes == ["“指标一”目标值：≥ 60% → ≥ 45%", "“指标一”预警值：< 50% → < 40%"]


def test_the_board_is_rebuilt_only_when_a_declaring_standard_changes(measured: Flask) -> None:
    """After a commit to a 制度 the board is the very same object (it was rebuilt after every
    commit, reading every document's title); after a commit to A103B it is new and rejudged."""
    svc: Services = measured.extensions["zhengai"]
    board = svc.state.at().indicator_board()
    regulation = svc.library.load(document_code("A101Z"))
    changed = regulation.document.with_changes(body=regulation.document.body + "\n补充。\n")
    svc.library.save(changed, actor=Actor.system(), message="补充", base=regulation.version.commit)
    assert svc.state.at().indicator_board() is board
    lowered = STANDARD.replace("| ≥ 60% | < 50% |", "| ≥ 45% | < 40% |")
    svc.library.commit_files({PATH: lowered}, actor=Actor.system(), message="下调目标值", base=svc.library.repo.head())
    svc.library.sync()
    rebuilt = svc.state.at().indicator_board()
    assert rebuilt is not board and rebuilt.get("A103B", "G-1").status is Status.MET  # type: ignore[union-attr]


def test_corrections_are_kept_and_a_concurrent_one_is_refused(measured: Flask) -> None:
    svc: Services = measured.extensions["zhengai"]
    indicator = {i.key: i for i in load_indicators(svc.db, codes=["A103B"])}["G-2"]
    jiaowu = account(svc.db, "jiaowu")
    common = {"policy": svc.library.policy, "indicator": indicator, "period": "2025-2026", "today": TODAY}
    results.record(svc.db, actor=jiaowu, value="19", expected=1, note="更正：口径有误", **common)  # type: ignore[arg-type]
    with pytest.raises(results.EntryConflict, match=r"已由 教务处 王老师 .* 填报为 19:1"):
        results.record(svc.db, actor=account(svc.db, "admin"), value="21", expected=1, **common)  # type: ignore[arg-type]
    history = results.history(svc.db, code="A103B", key="G-2")
    assert [(e.period, e.revision, e.value_text, e.note) for e in history] == [
        ("2025-2026", 1, "20.5", ""),
        ("2025-2026", 2, "19", "更正：口径有误"),
    ]
    assert build_board(svc.db, today=TODAY).get("A103B", "G-2").status is Status.NOT_MET  # type: ignore[union-attr]


@pytest.mark.parametrize("statement", ["UPDATE indicator_results SET value = '1'", "DELETE FROM indicator_results"])
def test_the_database_refuses_to_change_or_delete_an_entry(measured: Flask, statement: str) -> None:
    svc: Services = measured.extensions["zhengai"]
    with pytest.raises(DBAPIError, match="append-only"), svc.db.transaction() as session:
        session.execute(text(statement))
    assert len(results.history(svc.db, code="A103B", key="G-1")) == 2


@pytest.mark.parametrize("username", ["renshi", "zhiliang", "duzhe"])
def test_only_the_responsible_departments_editors_enter_values(measured: Flask, username: str) -> None:
    svc: Services = measured.extensions["zhengai"]
    indicator = load_indicators(svc.db, codes=["A103B"])[2]
    with pytest.raises(NotAllowed, match="只有责任部门（教务处）的编辑"):
        results.record(
            svc.db, policy=svc.library.policy, actor=account(svc.db, username), indicator=indicator, period="2025-2026", value="95",
            expected=0, today=TODAY,
        )  # fmt: skip
    assert results.history(svc.db, code="A103B", key="G-3") == []


def test_a_value_outside_its_range_or_period_is_refused(measured: Flask) -> None:
    svc: Services = measured.extensions["zhengai"]
    indicator = load_indicators(svc.db, codes=["A103B"])[2]
    jiaowu = account(svc.db, "jiaowu")
    for period, value, message in (("2025-2026", "120%", "超过 100%"), ("2027-2028", "95", "尚未开始"), ("2025-2026", "九十", "不是数值")):
        with pytest.raises(results.Refused, match=message):
            results.record(
                svc.db, policy=svc.library.policy, actor=jiaowu, indicator=indicator, period=period, value=value, expected=0, today=TODAY
            )

"""Revision-cycle date rules: leap days, the Shanghai calendar, states, cycles as revisions."""

from __future__ import annotations

import datetime as dt

import pytest

from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.catalogue.document import Review, parse_document
from zhengai_docs.cycles.review import clean_reason
from zhengai_docs.cycles.rules import (
    Clock,
    Policy,
    Punctuality,
    RevisionPoint,
    Source,
    State,
    add_years,
    clock_source,
    clock_start,
    closed_cycle,
    cycle_events,
    evaluate,
    local_date,
    today,
    window_start,
)
from zhengai_docs.errors import InvalidFrontMatter, Refused

D = dt.date
UTC = dt.UTC


@pytest.mark.parametrize(
    ("start", "years", "due"),
    [
        (D(2020, 2, 29), 3, D(2023, 2, 28)),  # no 29 February in 2023
        (D(2020, 2, 29), 4, D(2024, 2, 29)),
        (D(2020, 2, 29), 12, D(2032, 2, 29)),  # from the anchor: no drift to the 28th
        (D(2023, 2, 28), 1, D(2024, 2, 28)),
        (D(2019, 3, 15), 3, D(2022, 3, 15)),
        (D(2024, 12, 31), 3, D(2027, 12, 31)),
        (D(2024, 2, 29), -3, D(2021, 2, 28)),
    ],
)
def test_add_years(start: dt.date, years: int, due: dt.date) -> None:
    assert add_years(start, years) == due


def test_calendar_dates_are_those_of_shanghai() -> None:
    late_evening_utc = dt.datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 00:30 on the 23rd in Shanghai
    assert local_date(late_evening_utc) == D(2026, 11, 23)
    assert today(late_evening_utc) == D(2026, 11, 23)
    assert today(dt.datetime(2026, 11, 22, 15, 59, tzinfo=UTC)) == D(2026, 11, 22)
    commit = dt.datetime(2023, 2, 28, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # New York evening
    assert local_date(commit) == D(2023, 3, 1)
    with pytest.raises(ValueError, match="time zone"):
        local_date(dt.datetime(2026, 1, 1, 12, 0))


def test_clock_starts_at_the_later_of_issue_and_review_else_the_publish_commit() -> None:
    published = dt.datetime(2021, 6, 30, 20, 0, tzinfo=UTC)  # 04:00 on 1 July in Shanghai
    assert clock_start(issued=D(2019, 3, 15), reviewed=None, published=published) == D(2019, 3, 15)
    assert clock_start(issued=D(2019, 3, 15), reviewed=D(2022, 1, 10), published=published) == D(2022, 1, 10)
    assert clock_start(issued=D(2023, 5, 1), reviewed=D(2022, 1, 10), published=published) == D(2023, 5, 1)
    assert clock_start(issued=None, reviewed=None, published=published) == D(2021, 7, 1)
    assert clock_start(issued=None, reviewed=None, published=None) is None
    assert clock_source(start=D(2022, 1, 10), issued=D(2019, 3, 15), reviewed=D(2022, 1, 10)) is Source.REVIEWED
    assert clock_source(start=D(2019, 3, 15), issued=D(2019, 3, 15), reviewed=None) is Source.ISSUED
    assert clock_source(start=D(2021, 7, 1), issued=None, reviewed=None) is Source.PUBLISHED


def _clock(
    start: dt.date | None, on: dt.date, *, status: str = "现行", years: int | None = None, policy: Policy | None = None
) -> Clock | None:
    return evaluate(
        doc_type=DocType.B,
        status=status,
        start=start,
        source=Source.ISSUED if start else None,
        override_years=years,
        override_reason="专业目录每两年调整" if years else None,
        policy=policy or Policy.default(),
        today=on,
    )


@pytest.mark.parametrize(
    ("on", "state", "days_left"),
    [
        (D(2026, 11, 23), State.CURRENT, 112),
        (D(2026, 12, 14), State.CURRENT, 91),
        (D(2026, 12, 15), State.DUE_SOON, 90),  # the window's first day
        (D(2027, 3, 14), State.DUE_SOON, 1),
        (D(2027, 3, 15), State.DUE_SOON, 0),  # the due date itself is still in time
        (D(2027, 3, 16), State.OVERDUE, -1),
    ],
)
def test_states_around_the_due_date(on: dt.date, state: State, days_left: int) -> None:
    clock = _clock(D(2024, 3, 15), on)
    assert clock is not None and clock.due == D(2027, 3, 15)
    assert (clock.state, clock.days_left) == (state, days_left)


def test_leap_day_issue_falls_due_on_28_february() -> None:
    assert (clock := _clock(D(2020, 2, 29), D(2023, 2, 28))) is not None and clock.state is State.DUE_SOON
    assert (clock := _clock(D(2020, 2, 29), D(2023, 3, 1))) is not None and clock.state is State.OVERDUE


def test_override_policy_drafts_and_repealed_documents() -> None:
    clock = _clock(D(2024, 3, 15), D(2026, 11, 23), years=2)
    assert clock is not None and clock.due == D(2026, 3, 15) and clock.state is State.OVERDUE and clock.years == 2
    assert clock.override_reason == "专业目录每两年调整" and "已逾期 253 天" in clock.summary
    five = Policy(years={DocType.Z: 3, DocType.L: 3, DocType.B: 5}, due_soon_days=30)
    clock = _clock(D(2024, 3, 15), D(2026, 11, 23), policy=five)
    assert clock is not None and clock.due == D(2029, 3, 15) and clock.state is State.CURRENT
    draft = _clock(D(2026, 10, 12), D(2026, 11, 23), status="草稿")
    assert draft is not None and draft.state is State.NEVER_ISSUED and draft.due is None
    assert (never := _clock(None, D(2026, 11, 23))) is not None and never.state is State.NEVER_ISSUED
    assert _clock(D(2017, 6, 20), D(2026, 11, 23), status="废止") is None
    assert _clock(D(2017, 6, 20), D(2026, 11, 23), status=None) is None  # a file that does not parse


def test_policy_from_settings_validates() -> None:
    settings = {"CYCLE_YEARS_Z": 3, "CYCLE_YEARS_L": "2", "CYCLE_YEARS_B": 3, "CYCLE_DUE_SOON_DAYS": 60}
    policy = Policy.from_settings(settings)
    assert policy.years[DocType.L] == 2 and policy.due_soon_days == 60
    assert policy.cycle_years(DocType.Z, None) == 3 and policy.cycle_years(DocType.Z, 5) == 5
    with pytest.raises(ValueError, match="CYCLE_YEARS"):
        Policy.from_settings({**settings, "CYCLE_YEARS_B": 0})


def _point(
    n: int, clock: dt.date | None, *, change: str = "M", issued: dt.date | None = None, reviewed: dt.date | None = None
) -> RevisionPoint:
    return RevisionPoint(
        commit=f"{n:040x}",
        committed=dt.datetime(2020, 1, 1, tzinfo=UTC),
        author="王老师",
        summary=f"第 {n} 次提交",
        change=change,
        clock=clock,
        issued=issued if issued is not None else clock,
        reviewed=reviewed,
    )


def test_history_as_cycles() -> None:
    points = [
        _point(1, D(2016, 2, 29), change="A"),
        _point(2, D(2016, 2, 29)),  # a typo fix: the clock did not move, not a cycle
        _point(3, D(2019, 2, 28)),  # on the due date: on time
        _point(4, D(2022, 3, 15)),  # 2 weeks late
        _point(5, D(2024, 1, 10), issued=D(2022, 3, 15), reviewed=D(2024, 1, 10)),  # reviewed, no change
        _point(6, None, change="D"),
        _point(7, D(2025, 6, 1), change="A"),  # re-created: a new first issue
    ]
    events = cycle_events(points, years=3)
    assert [e.point.commit[-1] for e in events] == ["1", "3", "4", "5", "7"]
    assert [e.on_time for e in events] == [None, True, False, True, None]
    assert [e.due for e in events] == [None, D(2019, 2, 28), D(2022, 2, 28), D(2025, 3, 15), None]
    assert events[1].gap_days == 1095 and events[1].gap_text == "3 年 0 天"
    assert events[0].gap_text == "首次发布"
    assert events[3].source is Source.REVIEWED and events[2].source is Source.ISSUED


def test_restoring_an_older_version_is_not_a_cycle() -> None:
    events = cycle_events([_point(1, D(2018, 1, 1)), _point(2, D(2021, 1, 1)), _point(3, D(2018, 1, 1))], years=3)
    assert [(e.start, e.on_time) for e in events] == [(D(2018, 1, 1), None), (D(2021, 1, 1), True), (D(2018, 1, 1), None)]


def test_punctuality() -> None:
    total = closed_cycle(D(2019, 1, 1), D(2022, 1, 1), years=3) + closed_cycle(D(2019, 1, 1), D(2022, 1, 2), years=3)
    total += Punctuality(overdue=2)
    assert (total.on_time, total.late, total.overdue, total.total) == (1, 1, 2, 4)
    assert total.ratio == 0.25 and Punctuality().ratio is None
    assert window_start(D(2026, 2, 28), 2) == D(2024, 2, 28)


def test_review_reason_is_required_bounded_and_one_line() -> None:
    assert clean_reason("  经审核，\n现行条款   仍然适用。 ") == "经审核， 现行条款 仍然适用。"
    for bad in ("", "   \n"):
        with pytest.raises(Refused, match="请填写"):
            clean_reason(bad)
    with pytest.raises(Refused, match="300"):
        clean_reason("字" * 301)


DOC = """---
code: A101Z
title: 专业设置与调整管理办法
type: 制度
departments:
  - 教务处
status: 现行
issued: 2019-03-15
---
# 正文
"""


def test_reviewed_front_matter_round_trip_and_validation() -> None:
    document = parse_document(DOC, path="regulations/A/A1/A101Z.md")
    reviewed = document.with_changes(reviewed=Review(date=D(2026, 11, 23), by="教务处 王老师", reason="现行条款仍适用：无需修订"))
    text = reviewed.dump()
    assert text.endswith("---\n# 正文\n")
    again = parse_document(text, path="regulations/A/A1/A101Z.md")
    assert again.meta.reviewed == Review(date=D(2026, 11, 23), by="教务处 王老师", reason="现行条款仍适用：无需修订")
    assert again.body == document.body and again.dump() == text
    for broken in (
        "reviewed: 2026-11-23\n",
        "reviewed:\n  date: 2026-11-23\n  by: 王老师\n",
        "reviewed:\n  date: 明天\n  by: 王\n  reason: 无\n",
    ):
        with pytest.raises(InvalidFrontMatter, match="reviewed"):
            parse_document(DOC.replace("issued: 2019-03-15\n", "issued: 2019-03-15\n" + broken), path="regulations/A/A1/A101Z.md")

"""Measured values of 质控指标: entered by the responsible departments' editors, never overwritten.

Every entry is a new row (`indicator_results`): a correction is the next revision of the same
indicator and period, the current value is the latest revision, and the database refuses UPDATE
and DELETE. The form (or import) names the revision it saw; the unique revision makes the insert a
compare-and-swap, so of two people entering the same value at once one succeeds and the other is
told who was first (`EntryConflict`), with nothing lost.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError

from zhengai_docs.cycles.rules import SHANGHAI
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import IndicatorResult, IndicatorResultsVersion
from zhengai_docs.errors import Refused, ZhengaiError
from zhengai_docs.indicators import periods
from zhengai_docs.indicators.declaration import Indicator, format_number
from zhengai_docs.permissions import Actor, WritePolicy

MAX_NOTE = 500
MAX_MAGNITUDE = Decimal("1e12")
_VALUE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
Ident = tuple[str, str, str]  # document code, indicator key, period


class EntryConflict(ZhengaiError):
    """Someone else entered a value for this indicator and period after the page was shown."""

    status = 409


class OutOfRange(Refused):
    """A value that cannot be a measurement of this indicator (e.g. 120%)."""


@dataclass(frozen=True)
class Entry:
    code: str
    indicator: str
    period: str
    revision: int
    value: Decimal | None  # None: withdrawn
    value_text: str | None
    note: str
    source: str
    entered_by: str
    entered_by_name: str
    entered_at: dt.datetime

    @property
    def withdrawn(self) -> bool:
        return self.value is None


def parse_value(indicator: Indicator, text: str) -> Decimal:
    """A measured value as typed: `58.5`, `58.5%`, `19.2:1`, `1.2万元` (the indicator's unit may follow)."""
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    for unit in (indicator.unit, indicator.unit.split("/")[0], "%"):
        if unit and cleaned.endswith(unit):
            cleaned = cleaned[: -len(unit)].strip()
            break
    if not _VALUE.fullmatch(cleaned):
        raise OutOfRange(f"“{text}”不是数值（{indicator.name}，单位：{indicator.unit or '无'}）")
    value = Decimal(cleaned)
    check_range(indicator, value)
    return value


def check_range(indicator: Indicator, value: Decimal) -> None:
    """Percentages lie within 0–100; counts, amounts and ratios are not negative."""
    if abs(value) >= MAX_MAGNITUDE:
        raise OutOfRange(f"{format_number(value)} 超出可能的范围（{indicator.name}）")
    if value < 0:
        raise OutOfRange(f"{format_number(value)} 为负数，超出“{indicator.name}”可能的范围")
    if indicator.unit == "%" and value > 100:
        raise OutOfRange(f"{format_number(value)}% 超过 100%，超出“{indicator.name}”可能的范围")


@dataclass(frozen=True)
class NewValue:
    """A value to add: the indicator, the period key, the value (None: withdraw) and the revision seen."""

    indicator: Indicator
    period: str
    value: Decimal | None
    expected: int
    note: str = ""


def prepare(
    *, policy: WritePolicy, actor: Actor, indicator: Indicator, period: str, value: str | None, note: str, expected: int, today: dt.date
) -> NewValue:
    """Check one entry before it is written: rights, period, value, note (NotAllowed / Refused)."""
    policy.require_results_entry(actor, indicator.departments)
    if not period.strip():
        raise Refused("请选择统计周期")
    try:
        key = periods.parse_period(indicator.period, period)
    except periods.InvalidPeriod as exc:
        raise Refused(str(exc)) from None
    if not periods.open_for_entry(key, today):
        raise Refused(f"{periods.label(key)} 尚未开始，不能填报")
    number = None if value is None else parse_value(indicator, value)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Refused(f"备注不能超过 {MAX_NOTE} 字")
    if number is None and expected == 0:
        raise Refused("该期间尚无数值，无需撤回")
    return NewValue(indicator=indicator, period=key, value=number, expected=expected, note=note)


def record(
    db: Database,
    *,
    policy: WritePolicy,
    actor: Actor,
    indicator: Indicator,
    period: str,
    value: str | None,
    note: str = "",
    expected: int,
    today: dt.date,
    source: str = "form",
) -> Entry:
    """Add a value (or, with `value` None, withdraw the current one) as revision `expected + 1`.

    `expected` is the revision the person saw (0: none yet). Raises NotAllowed for anyone but the
    responsible departments' editors, Refused for an impossible period or value, EntryConflict when
    someone else entered a value for this period since (EntryConflict)."""
    new = prepare(policy=policy, actor=actor, indicator=indicator, period=period, value=value, note=note, expected=expected, today=today)
    rows = write(db, actor=actor, values=[new], source=source)
    return _entry(rows[0])


def write(db: Database, *, actor: Actor, values: Sequence[NewValue], source: str) -> list[IndicatorResult]:
    """Insert prepared values in one transaction (rights were checked by `prepare`); EntryConflict
    names the first value someone else changed since it was read — then nothing is written."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        IndicatorResult(
            code=v.indicator.code,
            indicator=v.indicator.key,
            period=v.period,
            revision=v.expected + 1,
            value=None if v.value is None else format_number(v.value),
            note=v.note,
            source=source,
            entered_by=actor.username,
            entered_by_name=actor.name,
            entered_at=now,
        )
        for v in values
    ]
    try:
        with db.transaction() as session:
            session.add_all(rows)
            session.flush()
            bump = update(IndicatorResultsVersion).where(IndicatorResultsVersion.id == 1)
            session.execute(bump.values(version=IndicatorResultsVersion.version + 1))
    except IntegrityError:
        raise _first_conflict(db, values) from None
    return rows


def _first_conflict(db: Database, values: Sequence[NewValue]) -> EntryConflict:
    idents = [(v.indicator.code, v.indicator.key, v.period) for v in values]
    latest = latest_values(db, idents=idents)
    for v, ident in zip(values, idents, strict=True):
        found = latest.get(ident)
        if found is not None and found.revision > v.expected:
            shown = "撤回" if found.value is None else f"填报为 {found.value_text}{v.indicator.unit}"
            when = found.entered_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            return EntryConflict(
                f"{periods.label(v.period)}“{v.indicator.name}”的数值已由 {found.entered_by_name} 于 {when} {shown}，"
                "您的填报未保存；请核对后重新填报"
            )
    return EntryConflict("填报未保存：数据库拒绝了此次写入，请刷新页面后重试")


def _entry(row: IndicatorResult) -> Entry:
    return Entry(
        code=row.code,
        indicator=row.indicator,
        period=row.period,
        revision=row.revision,
        value=None if row.value is None else Decimal(row.value),
        value_text=row.value,
        note=row.note,
        source=row.source,
        entered_by=row.entered_by,
        entered_by_name=row.entered_by_name,
        entered_at=row.entered_at,
    )


def history(db: Database, *, code: str, key: str) -> list[Entry]:
    """Every value ever entered for one indicator, by period then revision (corrections included)."""
    with db.session() as session:
        rows = session.scalars(
            select(IndicatorResult)
            .where(IndicatorResult.code == code, IndicatorResult.indicator == key)
            .order_by(IndicatorResult.period, IndicatorResult.revision)
        ).all()
    return [_entry(r) for r in rows]


def current(entries: Iterable[Entry]) -> dict[str, Entry]:
    """The latest revision per period of one indicator's history."""
    latest: dict[str, Entry] = {}
    for entry in entries:
        if entry.period not in latest or entry.revision > latest[entry.period].revision:
            latest[entry.period] = entry
    return latest


def latest_values(
    db: Database,
    *,
    period_keys: Collection[str] | None = None,
    idents: Collection[Ident] | None = None,
    codes: Collection[str] | None = None,
) -> dict[Ident, Entry]:
    """The current (latest-revision) entry per indicator and period, for the periods, idents or codes asked.

    One indexed scan of the rows asked for, reduced in Python: corrections are rare, so this reads
    about one row per value and avoids a grouped self-join."""
    query = select(
        IndicatorResult.code,
        IndicatorResult.indicator,
        IndicatorResult.period,
        IndicatorResult.revision,
        IndicatorResult.value,
        IndicatorResult.note,
        IndicatorResult.source,
        IndicatorResult.entered_by,
        IndicatorResult.entered_by_name,
        IndicatorResult.entered_at,
    )
    if period_keys is not None:
        query = query.where(IndicatorResult.period.in_(list(period_keys)))
    if codes is not None:
        query = query.where(IndicatorResult.code.in_(list(codes)))
    if idents is not None:
        query = query.where(tuple_(IndicatorResult.code, IndicatorResult.indicator, IndicatorResult.period).in_(list(idents)))
    latest: dict[Ident, tuple[object, ...]] = {}
    with db.session() as session:
        for row in session.execute(query):
            ident = (row[0], row[1], row[2])
            known = latest.get(ident)
            if known is None or row[3] > known[3]:  # type: ignore[operator]
                latest[ident] = tuple(row)
    return {ident: _entry_of(row) for ident, row in latest.items()}


def current_values(
    db: Database, *, period_keys: Collection[str], codes: Collection[str] | None = None
) -> dict[Ident, tuple[int, str | None]]:
    """(revision, value) of the latest entry per indicator and period — the lean read the
    whole-library board makes (no names or times: a tenth of the cost of `latest_values`)."""
    query = select(IndicatorResult.code, IndicatorResult.indicator, IndicatorResult.period, IndicatorResult.revision, IndicatorResult.value)
    query = query.where(IndicatorResult.period.in_(list(period_keys)))
    if codes is not None:
        query = query.where(IndicatorResult.code.in_(list(codes)))
    latest: dict[Ident, tuple[int, str | None]] = {}
    with db.session() as session:
        for code, indicator, period, revision, value in session.execute(query):
            known = latest.get((code, indicator, period))
            if known is None or revision > known[0]:
                latest[(code, indicator, period)] = (revision, value)
    return latest


def _entry_of(row: tuple[object, ...]) -> Entry:
    code, indicator, period, revision, value, note, source, by, by_name, at = row
    return Entry(
        code=str(code),
        indicator=str(indicator),
        period=str(period),
        revision=int(revision),  # type: ignore[call-overload]
        value=None if value is None else Decimal(str(value)),
        value_text=None if value is None else str(value),
        note=str(note),
        source=str(source),
        entered_by=str(by),
        entered_by_name=str(by_name),
        entered_at=at,  # type: ignore[arg-type]
    )


def version(db: Database) -> int:
    """Moves with every transaction that adds results (the board's cache key)."""
    with db.session() as session:
        return session.scalar(select(IndicatorResultsVersion.version).where(IndicatorResultsVersion.id == 1)) or 0

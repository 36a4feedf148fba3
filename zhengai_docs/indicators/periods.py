"""Measurement periods of 质控指标: 学年 (September–August), 学期 (first: September–January,
second: February–August) and 自然年 — their keys, labels, ends, and which one is due.

Keys are what is stored and typed in imports: `2025-2026` (学年), `2025-2026-1` / `2025-2026-2`
(学期), `2025` (自然年). A period is *due* once it has ended: the current period of an indicator
is the latest period that ended before today, whose values the data platform then reports.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata


class PeriodKind(enum.Enum):
    ACADEMIC_YEAR = "学年"
    SEMESTER = "学期"
    CALENDAR_YEAR = "自然年"

    @property
    def label(self) -> str:
        return self.value

    @classmethod
    def from_text(cls, text: str) -> PeriodKind | None:
        """The kind a 周期 cell names (学年 when empty); None when it names none."""
        cleaned = re.sub(r"\s+", "", text)
        if cleaned in ("", "学年", "每学年", "年度学年"):
            return cls.ACADEMIC_YEAR
        if cleaned in ("学期", "每学期"):
            return cls.SEMESTER
        if cleaned in ("自然年", "年", "年度", "每年", "日历年"):
            return cls.CALENDAR_YEAR
        return None


class InvalidPeriod(ValueError):
    """A period typed or imported that does not fit the indicator's kind (message in Chinese)."""


_ACADEMIC = re.compile(r"(\d{4})\s*[-—–/~至]\s*(\d{4})\s*(?:学年)?")
_SEMESTER = re.compile(r"(\d{4})\s*[-—–/~至]\s*(\d{4})\s*(?:学年)?\s*(?:[-—–/]\s*([12])|第\s*([一二12])\s*学期)")
_CALENDAR = re.compile(r"(\d{4})\s*年?(?:度)?")
_NUMERALS = {"一": 1, "二": 2, "1": 1, "2": 2}


def parse_period(kind: PeriodKind, text: str) -> str:
    """The canonical key of a period as typed (`2025—2026学年第一学期` → `2025-2026-1`)."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if kind is PeriodKind.CALENDAR_YEAR:
        match = _CALENDAR.fullmatch(cleaned)
        if match:
            return match.group(1)
        raise InvalidPeriod(f"周期“{text}”无效：自然年应写作 2025")
    if kind is PeriodKind.SEMESTER:
        match = _SEMESTER.fullmatch(cleaned)
        if match and int(match.group(2)) == int(match.group(1)) + 1:
            return f"{match.group(1)}-{match.group(2)}-{_NUMERALS[match.group(3) or match.group(4)]}"
        raise InvalidPeriod(f"周期“{text}”无效：学期应写作 2025-2026-1（第一学期）或 2025-2026-2（第二学期）")
    match = _ACADEMIC.fullmatch(cleaned)
    if match and int(match.group(2)) == int(match.group(1)) + 1:
        return f"{match.group(1)}-{match.group(2)}"
    raise InvalidPeriod(f"周期“{text}”无效：学年应写作 2025-2026")


def kind_of(key: str) -> PeriodKind:
    parts = key.split("-")
    return {1: PeriodKind.CALENDAR_YEAR, 2: PeriodKind.ACADEMIC_YEAR, 3: PeriodKind.SEMESTER}[len(parts)]


def label(key: str) -> str:
    """How pages name a period: 2025-2026 学年, 2025-2026 学年第一学期, 2025 年."""
    kind = kind_of(key)
    if kind is PeriodKind.CALENDAR_YEAR:
        return f"{key} 年"
    if kind is PeriodKind.ACADEMIC_YEAR:
        return f"{key} 学年"
    return f"{key[:9]} 学年第{'一' if key.endswith('-1') else '二'}学期"


def start(key: str) -> dt.date:
    first = int(key[:4])
    kind = kind_of(key)
    if kind is PeriodKind.CALENDAR_YEAR:
        return dt.date(first, 1, 1)
    if kind is PeriodKind.SEMESTER and key.endswith("-2"):
        return dt.date(first + 1, 2, 1)
    return dt.date(first, 9, 1)


def end(key: str) -> dt.date:
    """The last day of the period."""
    first = int(key[:4])
    kind = kind_of(key)
    if kind is PeriodKind.CALENDAR_YEAR:
        return dt.date(first, 12, 31)
    if kind is PeriodKind.SEMESTER and key.endswith("-1"):
        return dt.date(first + 1, 1, 31)
    return dt.date(first + 1, 8, 31)


def _key(kind: PeriodKind, first: int, half: int = 1) -> str:
    if kind is PeriodKind.CALENDAR_YEAR:
        return str(first)
    if kind is PeriodKind.ACADEMIC_YEAR:
        return f"{first}-{first + 1}"
    return f"{first}-{first + 1}-{half}"


def previous(key: str) -> str:
    kind, first = kind_of(key), int(key[:4])
    if kind is PeriodKind.SEMESTER:
        return _key(kind, first, 1) if key.endswith("-2") else _key(kind, first - 1, 2)
    return _key(kind, first - 1)


def following(key: str) -> str:
    kind, first = kind_of(key), int(key[:4])
    if kind is PeriodKind.SEMESTER:
        return _key(kind, first, 2) if key.endswith("-1") else _key(kind, first + 1, 1)
    return _key(kind, first + 1)


def due(kind: PeriodKind, today: dt.date) -> str:
    """The latest period that ended before `today`: the one whose values are expected now."""
    if kind is PeriodKind.CALENDAR_YEAR:
        return str(today.year - 1)
    if kind is PeriodKind.ACADEMIC_YEAR:
        first = today.year - 1 if today.month >= 9 else today.year - 2
        return _key(kind, first)
    if today.month >= 9:
        return _key(kind, today.year - 1, 2)
    if today.month >= 2:
        return _key(kind, today.year - 1, 1)
    return _key(kind, today.year - 2, 2)


def recent(kind: PeriodKind, today: dt.date, count: int) -> list[str]:
    """The `count` latest due periods, oldest first."""
    keys = [due(kind, today)]
    while len(keys) < count:
        keys.append(previous(keys[-1]))
    return keys[::-1]


def of_year(kind: PeriodKind, year: int) -> str:
    """The period a report for `year` speaks of: the latest one that ends within that year."""
    return due(kind, dt.date(year + 1, 1, 1))


def open_for_entry(key: str, today: dt.date) -> bool:
    """Values may be entered for a period once it has started (never for a future one)."""
    return start(key) <= today


def sort_key(key: str) -> tuple[int, int]:
    return (end(key).toordinal(), len(key))

"""质控指标 declared in a standard: its indicator tables, recognised in the body.

A 标准 already states its indicators as Markdown tables, `| 指标 | 目标值 | 预警值 | 数据来源 |`
— what the approving meeting read and what readers see. That table is the declaration (one
source, versioned and reviewed with the text): any table whose header has 指标, 目标值 and
预警值 declares one indicator per row. Further columns are recognised when present:

| column | meaning | when absent |
|---|---|---|
| 编号 | stable id (keeps the series when the name changes) | the name |
| 单位 | unit | read from the values (`%`, `万元`, `:1`) |
| 方向 | 越高越好 / 越低越好 | read from the comparators (`≥ 60%`: higher; `≤ 18:1`: lower) |
| 周期 | 学年 / 学期 / 自然年 | 学年 |
| 数据来源 | where the value comes from | — |
| 平台编号 | the 人才培养工作状态数据平台 indicator number | — |
| 责任部门 | departments whose editors enter values | the document's lead departments |
| 诊断点 | the points it evidences | the document's `points` |

Thresholds are read as written: `≥ 85%`, `< 70%`, `≤ 18:1`, `100%`, `90%以上`, `不低于 60%`,
`0次`. A warning value without a comparator warns when it is reached (“触及预警值”). A row whose
目标值 is not a number (`良好以上`) is a qualitative requirement, not a measured indicator.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from zhengai_docs.indicators.periods import PeriodKind

MAX_KEY = 100
_POINT_ID = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2}){1,3}")
_SPLIT = re.compile(r"[\s,，、;；/]+")
_DELIMITER_CELL = re.compile(r":?-{3,}:?|:?-+:?")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADERS = {
    "name": ("指标", "指标名称", "质控指标", "监测指标"),
    "target": ("目标值", "目标"),
    "warning": ("预警值", "预警"),
    "key": ("编号", "指标编号", "序号编号"),
    "unit": ("单位", "计量单位"),
    "direction": ("方向", "指标方向"),
    "period": ("周期", "测量周期", "统计周期"),
    "source": ("数据来源", "来源"),
    "platform": ("平台编号", "数据平台编号", "状态数据平台编号", "平台指标"),
    "departments": ("责任部门", "填报部门"),
    "points": ("诊断点", "关联诊断点"),
}
_PREFIX_WORDS = (
    ("不低于", "≥"), ("不少于", "≥"), ("至少", "≥"), ("达到", "≥"),
    ("不高于", "≤"), ("不超过", "≤"), ("不多于", "≤"), ("至多", "≤"),
    ("低于", "<"), ("少于", "<"), ("小于", "<"), ("不足", "<"),
    ("高于", ">"), ("超过", ">"), ("大于", ">"), ("多于", ">"),
)  # fmt: skip
_SUFFIX_WORDS = (("及以上", "≥"), ("以上", "≥"), ("及以下", "≤"), ("以下", "≤"))
_NUMBER = re.compile(r"(?P<op>[≥≤<>=])?\s*(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>[^\d\s][^\s]{0,19})?")


class Direction(enum.Enum):
    HIGHER = "higher"
    LOWER = "lower"

    @property
    def label(self) -> str:
        return "越高越好" if self is Direction.HIGHER else "越低越好"


@dataclass(frozen=True)
class Threshold:
    """A target or warning value as written: comparator (None: none written), number, unit."""

    op: str | None
    value: Decimal
    unit: str
    text: str

    @property
    def number(self) -> str:
        return format_number(self.value)


@dataclass(frozen=True)
class Indicator:
    """One declared 质控指标 of one standard."""

    code: str
    key: str
    position: int
    name: str
    unit: str
    direction: Direction
    target: Threshold
    warning: Threshold | None
    period: PeriodKind
    source: str
    platform: str
    departments: tuple[str, ...]
    points: tuple[str, ...]
    line: int  # line of its row in the body (1-based)

    @property
    def ident(self) -> tuple[str, str]:
        return (self.code, self.key)


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"正文第 {self.line} 行：{self.message}"


@dataclass(frozen=True)
class Declarations:
    indicators: tuple[Indicator, ...]
    problems: tuple[Problem, ...]  # rows not taken as indicators, or taken with a caveat
    qualitative: tuple[str, ...] = ()  # names of rows whose target is not a number


def format_number(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 58.50 → 58.5, 1E+2 → 100."""
    text = format(value.normalize(), "f")
    return text


def parse_threshold(text: str) -> Threshold | None:
    """`≥ 85%` → (≥, 85, %); None when the cell is empty or not a number (`良好以上`)."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    cleaned = cleaned.replace(">=", "≥").replace("<=", "≤").replace("≧", "≥").replace("≦", "≤").replace("＝", "=")
    if cleaned in ("", "-", "—", "无", "/"):
        return None
    op: str | None = None
    for word, symbol in _PREFIX_WORDS:
        if cleaned.startswith(word):
            op, cleaned = symbol, cleaned[len(word) :].strip()
            break
    for word, symbol in _SUFFIX_WORDS:
        if cleaned.endswith(word) and op is None:
            op, cleaned = symbol, cleaned[: -len(word)].strip()
            break
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        return None
    if match.group("op"):
        if op is not None:
            return None
        op = match.group("op")
    if op == "=":
        op = None
    try:
        value = Decimal(match.group("number"))
    except InvalidOperation:
        return None
    return Threshold(op=op, value=value, unit=(match.group("unit") or "").strip(), text=text.strip())


def declarations(body: str, *, code: str, departments: tuple[str, ...], points: tuple[str, ...]) -> Declarations:
    """Every indicator the body's indicator tables declare, in order, with what could not be read."""
    indicators: list[Indicator] = []
    problems: list[Problem] = []
    qualitative: list[str] = []
    seen: set[str] = set()
    for table in _tables(body):
        columns = _columns(table.header)
        if columns is None:
            continue
        for line, cells in table.rows:
            cell = {name: (cells[index].strip() if index < len(cells) else "") for name, index in columns.items()}
            found = _indicator(cell, line=line, code=code, departments=departments, points=points, problems=problems)
            if found == "qualitative":
                qualitative.append(cell["name"])
            elif isinstance(found, Indicator):
                if found.key in seen:
                    problems.append(Problem(line, f"指标编号“{found.key}”重复，本行未作为指标"))
                    continue
                seen.add(found.key)
                indicators.append(_with_position(found, len(indicators) + 1))
    return Declarations(indicators=tuple(indicators), problems=tuple(problems), qualitative=tuple(qualitative))


def _with_position(indicator: Indicator, position: int) -> Indicator:
    from dataclasses import replace

    return replace(indicator, position=position)


@dataclass(frozen=True)
class _Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]


def _tables(body: str) -> list[_Table]:
    """GFM pipe tables outside code fences: header, delimiter row, body rows (with line numbers)."""
    lines = body.split("\n")
    tables: list[_Table] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _FENCE.match(line)
        if marker:
            fence = None if fence == marker.group(1) else (fence or marker.group(1))
            index += 1
            continue
        if fence is None and "|" in line and index + 1 < len(lines) and _is_delimiter(lines[index + 1]):
            header = _cells(line)
            rows = []
            index += 2
            while index < len(lines) and "|" in lines[index] and lines[index].strip():
                rows.append((index + 1, _cells(lines[index])))
                index += 1
            tables.append(_Table(header=header, rows=rows))
            continue
        index += 1
    return tables


def _is_delimiter(line: str) -> bool:
    cells = _cells(line)
    return bool(cells) and "|" in line and all(_DELIMITER_CELL.fullmatch(c.strip()) for c in cells)


def _cells(line: str) -> list[str]:
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    parts = re.split(r"(?<!\\)\|", text)
    return [p.replace("\\|", "|").strip() for p in parts]


def _columns(header: list[str]) -> dict[str, int] | None:
    """Column index per recognised header; None unless 指标, 目标值 and 预警值 are all there."""
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        title = re.sub(r"[\s*_`]+", "", unicodedata.normalize("NFKC", raw))
        for name, aliases in _HEADERS.items():
            if name not in found and title in aliases:
                found[name] = index
                break
    if not {"name", "target", "warning"} <= set(found):
        return None
    return found


def _indicator(
    cell: dict[str, str], *, line: int, code: str, departments: tuple[str, ...], points: tuple[str, ...], problems: list[Problem]
) -> Indicator | str | None:
    name = re.sub(r"[*_`]+", "", cell["name"]).strip()
    if not name:
        return None
    target = parse_threshold(cell["target"])
    if target is None:
        return "qualitative"
    key = cell.get("key", "").strip() or name
    if len(key) > MAX_KEY:
        problems.append(Problem(line, f"指标编号或名称超过 {MAX_KEY} 个字符，本行未作为指标"))
        return None
    warning = parse_threshold(cell["warning"])
    if warning is None and cell["warning"].strip() not in ("", "-", "—", "无", "/"):
        problems.append(Problem(line, f"“{name}”的预警值“{cell['warning']}”无法识别为数值，未设预警"))
    unit = cell.get("unit", "").strip() or target.unit or (warning.unit if warning else "")
    if warning is not None and target.unit and warning.unit and not _same_unit(target.unit, warning.unit):
        problems.append(Problem(line, f"“{name}”的目标值（{target.unit}）与预警值（{warning.unit}）单位不一致，本行未作为指标"))
        return None
    direction = _direction(cell.get("direction", ""), target, warning)
    if isinstance(direction, str):
        problems.append(Problem(line, f"“{name}”：{direction}，本行未作为指标"))
        return None
    kind = PeriodKind.from_text(cell.get("period", ""))
    if kind is None:
        problems.append(Problem(line, f"“{name}”的周期“{cell['period']}”无效（应为 学年、学期 或 自然年），本行未作为指标"))
        return None
    own_points = tuple(p for p in _SPLIT.split(cell.get("points", "")) if p)
    bad = [p for p in own_points if not _POINT_ID.fullmatch(p)]
    if bad:
        problems.append(Problem(line, f"“{name}”的诊断点编号无效：{'、'.join(bad)}，本行未作为指标"))
        return None
    own_departments = tuple(d for d in _SPLIT.split(cell.get("departments", "")) if d)
    return Indicator(
        code=code,
        key=key,
        position=0,
        name=name,
        unit=unit,
        direction=direction,
        target=target,
        warning=warning,
        period=kind,
        source=cell.get("source", "").strip(),
        platform=cell.get("platform", "").strip(),
        departments=own_departments or departments,
        points=own_points or points,
        line=line,
    )


_HIGHER_TARGET, _LOWER_TARGET = ("≥", ">"), ("≤", "<")


def _same_unit(one: str, other: str) -> bool:
    """`项/年` and `项` name one unit (a table may give the period once)."""
    return one == other or one.split("/")[0] == other.split("/")[0]


def _direction(written: str, target: Threshold, warning: Threshold | None) -> Direction | str:
    """Higher or lower is better, from the 方向 column or the comparators; a message when they disagree."""
    text = written.strip()
    hints: list[Direction] = []
    if text:
        if "高" in text or "大" in text:
            hints.append(Direction.HIGHER)
        elif "低" in text or "小" in text:
            hints.append(Direction.LOWER)
        else:
            return f"方向“{text}”无效（应为 越高越好 或 越低越好）"
    if target.op in _HIGHER_TARGET:
        hints.append(Direction.HIGHER)
    elif target.op in _LOWER_TARGET:
        hints.append(Direction.LOWER)
    if warning is not None and warning.op is not None:
        hints.append(Direction.HIGHER if warning.op in ("<", "≤") else Direction.LOWER)
    if warning is not None and not hints and warning.value != target.value:
        hints.append(Direction.HIGHER if warning.value < target.value else Direction.LOWER)
    if len(set(hints)) > 1:
        return "目标值与预警值的比较方向矛盾"
    direction = hints[0] if hints else Direction.HIGHER
    if warning is not None:
        wrong_side = warning.value > target.value if direction is Direction.HIGHER else warning.value < target.value
        if wrong_side:
            return "预警值在目标值的达标一侧"
    return direction


def changes(old: Declarations, new: Declarations) -> list[str]:
    """What a revision changed in the indicators, in words (for the comparison page)."""
    before = {i.key: i for i in old.indicators}
    after = {i.key: i for i in new.indicators}
    lines = []
    for key, indicator in after.items():
        previous = before.get(key)
        if previous is None:
            lines.append(f"新增指标“{indicator.name}”：目标值 {indicator.target.text}，预警值 {_text(indicator.warning)}")
            continue
        if previous.target.text != indicator.target.text:
            lines.append(f"“{indicator.name}”目标值：{previous.target.text} → {indicator.target.text}")
        if _text(previous.warning) != _text(indicator.warning):
            lines.append(f"“{indicator.name}”预警值：{_text(previous.warning)} → {_text(indicator.warning)}")
        for label, was, now in (
            ("单位", previous.unit, indicator.unit),
            ("周期", previous.period.label, indicator.period.label),
            ("责任部门", "、".join(previous.departments), "、".join(indicator.departments)),
            ("诊断点", "、".join(previous.points), "、".join(indicator.points)),
        ):
            if was != now:
                lines.append(f"“{indicator.name}”{label}：{was or '（无）'} → {now or '（无）'}")
    lines += [f"删除指标“{i.name}”" for key, i in before.items() if key not in after]
    return lines


def _text(threshold: Threshold | None) -> str:
    return threshold.text if threshold is not None else "（未设）"


def changes_between(*, path: str, code: str, old: str | None, new: str | None) -> list[str]:
    """`changes` between two versions of a standard's file (empty for other documents, or a
    version that does not parse: the text diff shows those)."""
    from zhengai_docs.catalogue.document import parse_document
    from zhengai_docs.errors import InvalidFrontMatter

    if not code.endswith("B"):
        return []
    found = []
    for text in (old, new):
        if text is None:
            found.append(Declarations(indicators=(), problems=()))
            continue
        try:
            document = parse_document(text, path=path)
        except InvalidFrontMatter:
            return []
        found.append(declarations(document.body, code=code, departments=document.meta.departments, points=document.meta.points))
    return changes(found[0], found[1])

"""Clauses (第N条) and chapters (第N章) of a regulation's body: insert one, renumber them all.

Every 制度 is numbered clauses, running on through the document across chapters, and a clerk who
adds one must otherwise renumber every clause after it by hand. The editor asks this module for
the renumbered body and shows the user each change before applying it; nothing here writes.
Headings are recognised the way the house style and the Word import write them: a paragraph
that starts with `**第一条**` (or a plain `第一条` followed by a space) and a heading line
`## 第一章 总则`. References written as 本办法第N条 (本制度, 本规定 …) follow their clause; other
mentions (《某法》第十条) are left alone. Fenced code blocks are skipped.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

_DIGITS = "零一二三四五六七八九"
_VALUES = {**{c: i for i, c in enumerate(_DIGITS)}, "〇": 0, "两": 2}
_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL = "[零〇一二两三四五六七八九十百千]+"
MAX_NUMBER = 9999
CLAUSE_PLACEHOLDER = "【请填写条文内容】"
CHAPTER_PLACEHOLDER = "【请填写章名】"
NEW_LABEL = "（新增）"  # what the preview shows as the old label of an inserted clause or chapter (numbered 〇)

_CLAUSE = re.compile(rf"^(?P<lead>[ \t]{{0,3}}(?:\*\*)?)第(?P<num>{NUMERAL})条(?=\*\*|[ \t\u3000]|$)")
_CHAPTER = re.compile(rf"^(?P<lead>#{{1,6}}[ \t]+(?:\*\*)?)第(?P<num>{NUMERAL})章(?=\*\*|[ \t\u3000]|$)")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_REFERENCE = re.compile(rf"(本(?:办法|制度|规定|细则|规则|条例|章程|标准|方案|流程|准则|规范|实施办法))第(?P<num>{NUMERAL})条")


class Kind(enum.Enum):
    CLAUSE = "条"
    CHAPTER = "章"
    REFERENCE = "引用"


def to_chinese(number: int) -> str:
    """1 -> 一, 10 -> 十, 11 -> 十一, 20 -> 二十, 101 -> 一百零一, 110 -> 一百一十, 1010 -> 一千零一十."""
    if not 0 < number <= MAX_NUMBER:
        raise ValueError(f"条文序号须在 1 到 {MAX_NUMBER} 之间：{number}")
    if number < 10:
        return _DIGITS[number]
    if number < 20:
        return "十" + (_DIGITS[number - 10] if number > 10 else "")
    return _with_units(number)


def _with_units(number: int) -> str:
    """Digits with units; inside a larger number 10-19 keep their 一 (一百一十, not 一百十)."""
    out: list[str] = []
    gap = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // unit % 10
        if digit == 0:
            gap = bool(out)
            continue
        if gap:
            out.append("零")
            gap = False
        out.append(_DIGITS[digit] + name)
    return "".join(out)


def from_chinese(text: str) -> int:
    """一百零一 -> 101, 十一 -> 11, 两百 -> 200; ValueError for anything that is not a numeral."""
    if not text or not re.fullmatch(NUMERAL, text):
        raise ValueError(f"不是中文数字：{text}")
    total, current, last_unit, after_digit = 0, 0, MAX_NUMBER + 1, False
    for char in text:
        if char not in _UNITS and char not in ("零", "〇"):
            if after_digit:  # 一二: two digits in a row is no numeral
                raise ValueError(f"不是中文数字：{text}")
            after_digit = True
        else:
            after_digit = False
        if char in _UNITS:
            unit = _UNITS[char]
            if unit >= last_unit:
                raise ValueError(f"不是中文数字：{text}")
            total += (current or 1) * unit
            current, last_unit = 0, unit
        elif char in ("零", "〇"):
            current = 0
        else:
            current = _VALUES[char]
    return total + current


@dataclass(frozen=True)
class Heading:
    """A clause or chapter heading as found in the body (line is 1-based)."""

    kind: Kind
    line: int
    number: int | None  # None: a number that does not parse (kept, and renumbered)
    label: str  # 第五条
    excerpt: str  # what follows the label on its line, shortened


@dataclass(frozen=True)
class Change:
    kind: Kind
    line: int
    old: str
    new: str
    excerpt: str


@dataclass(frozen=True)
class Renumbered:
    body: str
    changes: tuple[Change, ...]
    headings: tuple[Heading, ...]  # of the new body


def _lines_outside_code(lines: list[str]) -> list[bool]:
    """Per line: True when it is ordinary text (not inside or on a fence of a code block)."""
    plain, fence = [], ""
    for line in lines:
        found = _FENCE.match(line)
        if fence:
            plain.append(False)
            if found and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence) and not line.strip(" \t`~"):
                fence = ""
            continue
        if found:
            fence = found.group(1)
            plain.append(False)
            continue
        plain.append(True)
    return plain


def _excerpt(line: str, end: int) -> str:
    rest = line[end:].lstrip("*").strip(" \t\u3000")
    return rest if len(rest) <= 24 else rest[:24] + "…"


def headings(body: str) -> tuple[Heading, ...]:
    """Every clause and chapter heading, in order."""
    lines = body.split("\n")
    found: list[Heading] = []
    for index, (line, plain) in enumerate(zip(lines, _lines_outside_code(lines), strict=True)):
        if not plain:
            continue
        for kind, pattern in ((Kind.CHAPTER, _CHAPTER), (Kind.CLAUSE, _CLAUSE)):
            match = pattern.match(line)
            if match:
                try:
                    number: int | None = from_chinese(match.group("num"))
                except ValueError:
                    number = None
                label = f"第{match.group('num')}{kind.value}"
                found.append(Heading(kind=kind, line=index + 1, number=number, label=label, excerpt=_excerpt(line, match.end())))
                break
    return tuple(found)


def renumber(body: str) -> Renumbered:
    """Number clauses 1, 2, 3 … and chapters 1, 2, 3 … in the order they stand; references
    (本办法第N条) to a clause whose old number was unique follow it."""
    lines = body.split("\n")
    plain = _lines_outside_code(lines)
    before = headings(body)
    old_clause_numbers = [h.number for h in before if h.kind is Kind.CLAUSE]
    counters = {Kind.CLAUSE: 0, Kind.CHAPTER: 0}
    moved: dict[int, int] = {}
    changes: list[Change] = []
    heading_lines = set()
    for heading in before:
        counters[heading.kind] += 1
        new_number = counters[heading.kind]
        if new_number > MAX_NUMBER:  # no regulation has ten thousand clauses: the rest stay as written
            continue
        index = heading.line - 1
        heading_lines.add(index)
        pattern = _CHAPTER if heading.kind is Kind.CHAPTER else _CLAUSE
        match = pattern.match(lines[index])
        if match is None:  # cannot happen: found by the same pattern just above
            continue
        new_label = f"第{to_chinese(new_number)}{heading.kind.value}"
        if heading.kind is Kind.CLAUSE and heading.number and old_clause_numbers.count(heading.number) == 1:
            moved[heading.number] = new_number
        if new_label != heading.label:
            lines[index] = match.group("lead") + new_label + lines[index][match.end() :]
            old_label = NEW_LABEL if heading.number == 0 else heading.label
            changes.append(Change(kind=heading.kind, line=heading.line, old=old_label, new=new_label, excerpt=heading.excerpt))
    for index, line in enumerate(lines):
        if not plain[index]:
            continue
        own = _CLAUSE.match(line) if index in heading_lines else None
        start = own.end() if own else 0  # a clause's own label is no reference
        rewritten = line[:start] + _REFERENCE.sub(lambda m: _moved_reference(m, moved), line[start:])
        if rewritten != line:
            for old, new in zip(_REFERENCE.finditer(line[start:]), _REFERENCE.finditer(rewritten[start:]), strict=True):
                if old.group(0) != new.group(0):
                    changes.append(
                        Change(kind=Kind.REFERENCE, line=index + 1, old=old.group(0), new=new.group(0), excerpt=_excerpt(line, 0))
                    )
            lines[index] = rewritten
    changes.sort(key=lambda c: c.line)
    new_body = "\n".join(lines)
    return Renumbered(body=new_body, changes=tuple(changes), headings=headings(new_body))


def _moved_reference(match: re.Match[str], moved: dict[int, int]) -> str:
    try:
        old = from_chinese(match.group("num"))
    except ValueError:
        return match.group(0)
    if old not in moved or moved[old] == old:
        return match.group(0)
    return f"{match.group(1)}第{to_chinese(moved[old])}条"


def insert_clause(body: str, *, after: int) -> Renumbered:
    """A new clause after the `after`-th clause (0: before the first; past the last: at the end
    of the last clause), then everything renumbered. The new clause is told apart by its 〇."""
    clauses = [h for h in headings(body) if h.kind is Kind.CLAUSE]
    lines = body.split("\n")
    new = ["", f"**第〇条** {CLAUSE_PLACEHOLDER}", ""]
    if not clauses:
        at = _end_of_text(lines)
    elif after <= 0:
        at = clauses[0].line - 1
        new = new[1:]
    else:
        at = _end_of_block(lines, clauses[min(after, len(clauses)) - 1].line - 1)
        if after >= len(clauses):
            at = _end_of_text(lines, limit=at)
    return renumber(_splice(lines, at, new))


def insert_chapter(body: str, *, before: int) -> Renumbered:
    """A new chapter heading before the `before`-th clause (past the last: at the end)."""
    clauses = [h for h in headings(body) if h.kind is Kind.CLAUSE]
    lines = body.split("\n")
    heading = f"## 第〇章 {CHAPTER_PLACEHOLDER}"
    if 1 <= before <= len(clauses):
        at = clauses[before - 1].line - 1
        new = [heading, ""]
    else:
        at = _end_of_text(lines)
        new = ["", heading, ""]
    return renumber(_splice(lines, at, new))


def _end_of_block(lines: list[str], start: int) -> int:
    """The index just after a clause: before the next heading (clause or chapter) or the end."""
    plain = _lines_outside_code(lines)
    for index in range(start + 1, len(lines)):
        if plain[index] and (_CLAUSE.match(lines[index]) or _CHAPTER.match(lines[index]) or lines[index].startswith("#")):
            while index > start + 1 and not lines[index - 1].strip():
                index -= 1
            return index
    return _end_of_text(lines)


def _end_of_text(lines: list[str], *, limit: int | None = None) -> int:
    """The index after the last non-blank line (up to `limit`)."""
    end = len(lines) if limit is None else limit
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return end


def _splice(lines: list[str], at: int, new: list[str]) -> str:
    """Insert `new` at `at`, with exactly one blank line on each side of the inserted text."""
    head, tail = lines[:at], lines[at:]
    while head and not head[-1].strip():
        head.pop()
    while tail and not tail[0].strip():
        tail.pop(0)
    block = [line for line in new if line]
    parts = [*head, *([""] if head else []), *block, *([""] if tail else []), *tail]
    text = "\n".join(parts)
    return text if not lines or lines[-1] != "" or text.endswith("\n") else text + "\n"

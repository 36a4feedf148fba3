"""Table geometry for Word exports: columns sized to their content, rows that keep together.

Word's and LibreOffice's automatic table layouts disagree, and LibreOffice honours only the
column widths written in the file, so they are computed here: every column gets the width its
longest line needs when the table has room; when it has not, short columns (代码, 类型, dates)
keep their full width and the longer ones (标题, 说明) share what is left, the longest getting
the most. A column is never narrower than its longest unbreakable piece — a date, a number, a Latin
word, two Chinese characters — so dates are not broken and titles are not wrapped four
characters wide.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Sequence

TWIPS_PER_PT = 20
_UNBREAKABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_/:%~,]*[A-Za-z0-9%]|[A-Za-z0-9]|\S\S?")
_BOLD = 1.06
_SAFETY_EM = 0.3  # font substitution (仿宋 is not on every machine) must not wrap a column that fits
_WEIGHT = 0.7  # long columns share the room by wanted width ** 0.7: more for the longest, medium ones not squeezed
_MAX_MINIMUM_SHARE = 0.4  # a long URL must not squeeze every other column


def text_em(text: str) -> float:
    """Width of one line in ems of the table font: Chinese characters 1, Latin as in Times New Roman."""
    return sum(_char_em(ch) for ch in text)


@functools.cache  # a few thousand distinct characters; a 2,000-row report measures half a million
def _char_em(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in ("W", "F", "A"):
        return 1.0
    if ch.isdigit():
        return 0.5
    if ch.isupper():
        return 0.68
    if ch.isalpha():
        return 0.47
    return 0.25 if ch == " " else 0.34


def _longest_line(text: str) -> float:
    return max((text_em(line) for line in text.split("\n")), default=0.0)


def _longest_piece(text: str) -> float:
    """The widest piece a line may not be broken inside (Latin words and numbers, dates, 2 Chinese characters)."""
    return max((text_em(m.group(0)) for m in _UNBREAKABLE.finditer(text)), default=0.0)


def column_widths(rows: Sequence[Sequence[str]], *, header_rows: int, total: int, font_pt: float, padding: int) -> list[int]:
    """Widths in twips, summing to `total`, for cells given as plain text (`\\n` between lines)."""
    count = max((len(r) for r in rows), default=0)
    if count == 0:
        return []
    em = font_pt * TWIPS_PER_PT
    extra = padding + _SAFETY_EM * em
    wanted = [0.0] * count
    least = [0.0] * count
    for index, row in enumerate(rows):
        header = index < header_rows
        for column, text in enumerate(row):
            # a heading may take two lines (周期 / （年）): the column is sized by its data
            line = math.ceil(_longest_line(text) / 2) * _BOLD if header else _longest_line(text)
            wanted[column] = max(wanted[column], line * em + extra)
            least[column] = max(least[column], _longest_piece(text) * (_BOLD if header else 1.0) * em + extra)
    least = [min(value, total * _MAX_MINIMUM_SHARE) for value in least]
    wanted = [max(w, m) for w, m in zip(wanted, least, strict=True)]
    widths = _share(wanted, float(total))
    widths = _at_least(widths, least, float(total))
    return _whole(widths, total)


def _share(wanted: list[float], total: float) -> list[float]:
    """Columns that fit their share get what they want; the others divide what remains in
    proportion to what they want, damped (`_WEIGHT`) — a long column gets more than a medium
    one, but not so much that the medium one is squeezed to a few characters. Spare room, when
    everything fits, goes to every column in proportion."""
    if sum(wanted) <= total:
        return [w * total / sum(wanted) for w in wanted] if sum(wanted) else [total / len(wanted)] * len(wanted)
    widths = [0.0] * len(wanted)
    open_columns = set(range(len(wanted)))
    remaining = total
    while open_columns:
        weight = sum((wanted[c] ** _WEIGHT) for c in open_columns)
        shares = {c: remaining * (wanted[c] ** _WEIGHT) / weight for c in open_columns}
        settled = {c for c in open_columns if wanted[c] <= shares[c]}
        if not settled:
            for c in open_columns:
                widths[c] = shares[c]
            break
        for c in settled:
            widths[c] = wanted[c]
            remaining -= wanted[c]
        open_columns -= settled
    return widths


def _at_least(widths: list[float], least: list[float], total: float) -> list[float]:
    """Raise columns to their unbreakable minimum, taking the room from columns above theirs."""
    if sum(least) >= total:
        return [value * total / sum(least) for value in least]
    short = sum(max(0.0, m - w) for w, m in zip(widths, least, strict=True))
    if short <= 0:
        return widths
    spare = [max(0.0, w - m) for w, m in zip(widths, least, strict=True)]
    spare_total = sum(spare)
    return [max(w, m) - (short * s / spare_total if w > m else 0.0) for w, m, s in zip(widths, least, spare, strict=True)]


def _whole(widths: list[float], total: int) -> list[int]:
    out = [max(1, math.floor(w)) for w in widths]
    out[max(range(len(out)), key=lambda c: widths[c])] += total - sum(out)
    return out


def row_lines(row: Sequence[str], widths: Sequence[int], *, font_pt: float, padding: int) -> int:
    """About how many lines the row's tallest cell takes (to decide whether it may be kept on one page)."""
    em = font_pt * TWIPS_PER_PT
    tallest = 1
    for text, width in zip(row, widths, strict=False):
        per_line = max(1.0, (width - padding) / em)
        lines = sum(max(1, math.ceil(text_em(line) / per_line)) for line in text.split("\n"))
        tallest = max(tallest, lines)
    return tallest

"""What a .docx's styles and numbering say about a paragraph: heading level, list, bold, centring.

Word stores little on the paragraph itself: the heading level, the list a paragraph belongs to
and its bold or centred look usually come from its style and the styles that style is based
on. Numbering counters follow Word: they belong to the abstract definition, a numbering
instance with a start override restarts them, and a level restarts the levels below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_FALSE = {"0", "false", "off", "none"}
_HEADING_NAME = re.compile(r"(?:heading|标题)\s*([1-9])")


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def attr(element: etree._Element | None, name: str = "val") -> str | None:
    return None if element is None else element.get(w(name))


def toggle(element: etree._Element | None) -> bool | None:
    """A w:b / w:i style toggle: None when absent, otherwise whether it is on."""
    if element is None:
        return None
    value = attr(element)
    return value is None or value.lower() not in _FALSE


@dataclass(frozen=True)
class Style:
    name: str
    based_on: str | None
    outline: int | None
    num: tuple[str, int | None] | None
    jc: str | None
    bold: bool | None
    italic: bool | None


class StyleSheet:
    def __init__(self, root: etree._Element | None) -> None:
        self._styles: dict[str, Style] = {}
        self.default_paragraph: str | None = None
        if root is None:
            return
        for el in root.iter(w("style")):
            style_id = attr(el, "styleId")
            if style_id is None:
                continue
            if el.get(w("type")) == "paragraph" and el.get(w("default")) in ("1", "true"):
                self.default_paragraph = style_id
            ppr, rpr = el.find(w("pPr")), el.find(w("rPr"))
            self._styles[style_id] = Style(
                name=(attr(el.find(w("name"))) or style_id).strip().lower(),
                based_on=attr(el.find(w("basedOn"))),
                outline=_int(attr(ppr.find(w("outlineLvl")))) if ppr is not None else None,
                num=_num_pr(ppr.find(w("numPr"))) if ppr is not None else None,
                jc=attr(ppr.find(w("jc"))) if ppr is not None else None,
                bold=toggle(rpr.find(w("b"))) if rpr is not None else None,
                italic=toggle(rpr.find(w("i"))) if rpr is not None else None,
            )

    def chain(self, style_id: str | None) -> list[Style]:
        """The style and the ones it is based on, nearest first (cycles cut)."""
        out: list[Style] = []
        seen: set[str] = set()
        current = style_id if style_id is not None else self.default_paragraph
        while current is not None and current not in seen and current in self._styles and len(out) < 20:
            seen.add(current)
            style = self._styles[current]
            out.append(style)
            current = style.based_on
        return out

    def name(self, style_id: str | None) -> str:
        chain = self.chain(style_id)
        return chain[0].name if chain else "normal"

    def first(self, style_id: str | None, prop: str) -> object:
        for style in self.chain(style_id):
            value = getattr(style, prop)
            if value is not None:
                return value
        return None

    def heading_level(self, style_id: str | None) -> int | None:
        """Word's own heading level (1 = Heading 1), from the style names or outline levels."""
        for style in self.chain(style_id):
            match = _HEADING_NAME.fullmatch(style.name)
            if match:
                return int(match.group(1))
            if style.outline is not None and style.outline < 9:
                return style.outline + 1
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _num_pr(element: etree._Element | None) -> tuple[str, int | None] | None:
    if element is None:
        return None
    num_id = attr(element.find(w("numId")))
    if num_id is None:
        return None
    return num_id, _int(attr(element.find(w("ilvl"))))


@dataclass(frozen=True)
class Level:
    fmt: str
    text: str
    start: int
    suffix: str


@dataclass
class Numbering:
    """Numbering definitions and the running counters of one document."""

    abstract: dict[str, dict[int, Level]] = field(default_factory=dict)
    nums: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)
    counters: dict[str, dict[int, int]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, root: etree._Element | None) -> Numbering:
        numbering = cls()
        if root is None:
            return numbering
        for el in root.iter(w("abstractNum")):
            levels: dict[int, Level] = {}
            for lvl in el.iter(w("lvl")):
                ilvl = _int(lvl.get(w("ilvl"))) or 0
                levels[ilvl] = Level(
                    fmt=attr(lvl.find(w("numFmt"))) or "decimal",
                    text=attr(lvl.find(w("lvlText"))) or "",
                    start=_int(attr(lvl.find(w("start")))) or 1,
                    suffix=attr(lvl.find(w("suff"))) or "tab",
                )
            numbering.abstract[attr(el, "abstractNumId") or ""] = levels
        for el in root.iter(w("num")):
            overrides = {
                _int(o.get(w("ilvl"))) or 0: _int(attr(o.find(w("startOverride")))) or 1
                for o in el.iter(w("lvlOverride"))
                if o.find(w("startOverride")) is not None
            }
            numbering.nums[attr(el, "numId") or ""] = (attr(el.find(w("abstractNumId"))) or "", overrides)
        return numbering

    def level(self, num_id: str, ilvl: int) -> Level | None:
        found = self.nums.get(num_id)
        if found is None:
            return None
        return self.abstract.get(found[0], {}).get(ilvl)

    def advance(self, num_id: str, ilvl: int) -> dict[int, int]:
        """Count one paragraph at `ilvl` of list `num_id`; the counters of every level after it."""
        abstract_id, overrides = self.nums[num_id]
        levels = self.abstract.get(abstract_id, {})
        counters = self.counters.setdefault(abstract_id, {})
        if num_id not in self.started:
            self.started.add(num_id)
            for lvl, start in overrides.items():
                counters[lvl] = start - 1
        start = levels[ilvl].start if ilvl in levels else 1
        counters[ilvl] = counters.get(ilvl, start - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        return {k: counters.get(k, levels[k].start if k in levels else 1) for k in range(ilvl + 1)}

    def label(self, num_id: str, ilvl: int, values: dict[int, int]) -> str:
        """The visible label, e.g. 第三条 or （二） or 2.1."""
        levels = self.abstract.get(self.nums[num_id][0], {})
        level = levels.get(ilvl)
        if level is None:
            return ""

        def substitute(match: re.Match[str]) -> str:
            index = int(match.group(1)) - 1
            fmt = levels[index].fmt if index in levels else "decimal"
            return format_number(values.get(index, 1), fmt)

        return re.sub(r"%([1-9])", substitute, level.text)


_DIGITS = "〇一二三四五六七八九"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_HEAVENLY = "甲乙丙丁戊己庚辛壬癸"


def chinese_number(value: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 20 -> 二十, 105 -> 一百零五 (as clauses are counted)."""
    if value <= 0:
        return str(value)
    if value < 10:
        return _DIGITS[value]
    if value < 20:
        return "十" + (_DIGITS[value % 10] if value % 10 else "")
    if value < 100:
        return _DIGITS[value // 10] + "十" + (_DIGITS[value % 10] if value % 10 else "")
    if value < 1000:
        rest = value % 100
        if rest == 0:
            tail = ""
        elif rest < 10:
            tail = "零" + _DIGITS[rest]
        else:
            tail = ("一" if rest < 20 else "") + chinese_number(rest)
        return _DIGITS[value // 100] + "百" + tail
    return str(value)


def format_number(value: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting", "chineseLegalSimplified"):
        return chinese_number(value)
    if fmt in ("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"):
        return "".join(_DIGITS[int(d)] for d in str(value))
    if fmt in ("ideographTraditional",) and 0 < value <= len(_HEAVENLY):
        return _HEAVENLY[value - 1]
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 0 < value <= len(_CIRCLED):
        return _CIRCLED[value - 1]
    if fmt == "decimalFullWidth":
        return "".join(chr(ord(d) - ord("0") + ord("０")) for d in str(value))
    if fmt in ("upperLetter", "lowerLetter") and value > 0:
        letter = chr(ord("A") + (value - 1) % 26) * ((value - 1) // 26 + 1)
        return letter if fmt == "upperLetter" else letter.lower()
    if fmt in ("upperRoman", "lowerRoman") and 0 < value < 4000:
        roman = _roman(value)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt == "bullet" or fmt == "none":
        return ""
    return str(value)


_ROMAN: tuple[tuple[int, str], ...] = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"))
_ROMAN += ((40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def _roman(value: int) -> str:
    out = ""
    for number, letters in _ROMAN:
        while value >= number:
            out += letters
            value -= number
    return out

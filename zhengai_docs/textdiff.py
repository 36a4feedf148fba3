"""A diff of two texts that reads well for Chinese.

Line diffs alone are useless for Chinese prose, where a paragraph is one long line and a
changed character hides in it; word diffs do not work either, as there are no spaces. So lines
are aligned first, then each changed pair of lines is compared character by character and the
changed runs are marked.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

Kind = Literal["equal", "insert", "delete", "replace"]


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool


@dataclass(frozen=True)
class DiffLine:
    kind: Kind
    old_number: int | None
    new_number: int | None
    old: tuple[Segment, ...]
    new: tuple[Segment, ...]


@dataclass(frozen=True)
class TextDiff:
    lines: tuple[DiffLine, ...]

    @property
    def changed(self) -> bool:
        return any(line.kind != "equal" for line in self.lines)

    @property
    def stats(self) -> tuple[int, int]:
        """(characters added, characters removed)."""
        added = sum(len(s.text) for line in self.lines for s in line.new if s.changed)
        removed = sum(len(s.text) for line in self.lines for s in line.old if s.changed)
        return added, removed

    def hunks(self, *, context: int = 3) -> list[tuple[DiffLine, ...]]:
        """Groups of changed lines with `context` unchanged lines around them."""
        keep = [False] * len(self.lines)
        for index, line in enumerate(self.lines):
            if line.kind != "equal":
                for near in range(max(0, index - context), min(len(self.lines), index + context + 1)):
                    keep[near] = True
        groups: list[tuple[DiffLine, ...]] = []
        current: list[DiffLine] = []
        for line, kept in zip(self.lines, keep, strict=True):
            if kept:
                current.append(line)
            elif current:
                groups.append(tuple(current))
                current = []
        if current:
            groups.append(tuple(current))
        return groups

    def to_text(self) -> str:
        """A terminal rendering: -/+ lines with changed characters in [-…-] and {+…+}."""
        out = []
        for line in self.lines:
            if line.kind == "equal":
                out.append("  " + _plain(line.new))
            if line.kind in ("delete", "replace"):
                out.append("- " + "".join(f"[-{s.text}-]" if s.changed else s.text for s in line.old))
            if line.kind in ("insert", "replace"):
                out.append("+ " + "".join(f"{{+{s.text}+}}" if s.changed else s.text for s in line.new))
        return "\n".join(out)


def _plain(segments: tuple[Segment, ...]) -> str:
    return "".join(s.text for s in segments)


def diff_texts(old: str, new: str) -> TextDiff:
    old_lines = old.splitlines()
    new_lines = new.splitlines()
    result: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                seg = (Segment(old_lines[i1 + offset], False),)
                result.append(DiffLine("equal", i1 + offset + 1, j1 + offset + 1, seg, seg))
        elif tag == "delete":
            result.extend(_whole("delete", old_lines, i1, i2, old_side=True))
        elif tag == "insert":
            result.extend(_whole("insert", new_lines, j1, j2, old_side=False))
        else:
            result.extend(_replace(old_lines[i1:i2], new_lines[j1:j2], i1, j1))
    return TextDiff(tuple(result))


def _whole(kind: Kind, lines: list[str], start: int, end: int, *, old_side: bool) -> list[DiffLine]:
    out = []
    for index in range(start, end):
        seg = (Segment(lines[index], True),)
        if old_side:
            out.append(DiffLine(kind, index + 1, None, seg, ()))
        else:
            out.append(DiffLine(kind, None, index + 1, (), seg))
    return out


def _replace(old: list[str], new: list[str], old_start: int, new_start: int) -> list[DiffLine]:
    """Pair lines of a replaced block in order; leftovers are whole deletions or insertions."""
    out = []
    paired = min(len(old), len(new))
    for offset in range(paired):
        old_segs, new_segs = _char_diff(old[offset], new[offset])
        out.append(DiffLine("replace", old_start + offset + 1, new_start + offset + 1, old_segs, new_segs))
    out.extend(DiffLine("delete", old_start + i + 1, None, (Segment(old[i], True),), ()) for i in range(paired, len(old)))
    out.extend(DiffLine("insert", None, new_start + i + 1, (), (Segment(new[i], True),)) for i in range(paired, len(new)))
    return out


def _char_diff(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    old_segs: list[Segment] = []
    new_segs: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            old_segs.append(Segment(old[i1:i2], tag != "equal"))
        if j2 > j1:
            new_segs.append(Segment(new[j1:j2], tag != "equal"))
    return tuple(old_segs), tuple(new_segs)

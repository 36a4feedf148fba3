"""Snippets with the matched text marked, found by exact search in the stored display text.

Re-analysing each hit with a tokenizer (Whoosh's highlighter) costs milliseconds per document
and marks pieces of words; the terms are exact substrings, so finding them in the folded text
is enough. Everything outside the <mark> tags is HTML-escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import NamedTuple

from zhengai_docs.search.analysis import fold

_MAX_SPANS = 120
_MAX_WINDOWS = 16  # windows considered for a snippet: the first matches are enough to choose from
ELLIPSIS = "…"


class Span(NamedTuple):
    start: int
    end: int
    term: str


def find_spans(text: str, terms: Sequence[str], *, folded: str | None = None) -> list[Span]:
    """Non-overlapping occurrences of the (folded) terms, longest first where they overlap.

    `folded` is `fold(text)` when the caller has it already (the match record keeps it).
    """
    folded = fold(text) if folded is None else folded
    found: list[Span] = []
    for term in sorted(terms, key=len, reverse=True):
        start = folded.find(term)
        while start != -1 and len(found) < _MAX_SPANS:
            found.append(Span(start, start + len(term), term))
            start = folded.find(term, start + len(term))
    found.sort(key=lambda s: (s.start, -s.end))
    spans: list[Span] = []
    for span in found:
        if not spans or span.start >= spans[-1].end:
            spans.append(span)
    return spans


def mark(text: str, spans: Sequence[Span], start: int, end: int) -> str:
    """text[start:end], escaped, with the spans inside it wrapped in <mark>."""
    parts = []
    position = start
    for span in spans:
        if span.start < position or span.end > end:
            continue
        parts.append(escape(text[position : span.start], quote=False))
        parts.append(f'<mark class="hl">{escape(text[span.start : span.end], quote=False)}</mark>')
        position = span.end
    parts.append(escape(text[position:end], quote=False))
    return "".join(parts)


def highlight_all(text: str, terms: Sequence[str]) -> str:
    """The whole text (a title), escaped, with every match marked."""
    return mark(text, find_spans(text, terms), 0, len(text))


def snippet(text: str, terms: Sequence[str], *, width: int = 140, fragments: int = 2, folded: str | None = None) -> str:
    """Up to `fragments` windows of about `width` characters where the most distinct terms meet."""
    spans = find_spans(text, terms, folded=folded)
    if not spans:
        return escape(text[:width], quote=False) + (ELLIPSIS if len(text) > width else "")
    candidates = sorted(
        ((_window_score(spans, i, width), i) for i in range(min(len(spans), _MAX_WINDOWS))),
        key=lambda c: (-c[0][0], -c[0][1], c[1]),
    )
    windows: list[tuple[int, int]] = []
    for _score, index in candidates:
        start = max(0, spans[index].start - width // 5)
        end = min(len(text), start + width)
        if any(start < w_end and w_start < end for w_start, w_end in windows):
            continue
        windows.append((start, end))
        if len(windows) == fragments:
            break
    windows.sort()
    parts = []
    for start, end in windows:
        body = mark(text, spans, start, end)
        parts.append((ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else ""))
    return " ".join(parts)


def _window_score(spans: list[Span], index: int, width: int) -> tuple[int, int]:
    """(distinct terms, matches) in the window that starts just before spans[index]."""
    end = spans[index].start - width // 5 + width
    terms: set[str] = set()
    count = 0
    for span in spans[index:]:
        if span.end > end:
            break
        terms.add(span.term)
        count += 1
    return len(terms), count

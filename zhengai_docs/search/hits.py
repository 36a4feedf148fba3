"""What every backend matches against, and how it shows a hit: one definition for all engines.

A document's *match text* is its folded display text — title, issuing number, body (one line,
`analysis.search_text`) — followed by each attachment's folded text after a line break. Query
terms never contain a line break (`query.parse_query` collapses whitespace), so no match spans
two parts, and a document matches when each term is found in any part. Backends store the text
with the offsets where the title and the body end, and build hits with `build_hit`, so that
snippets, highlights and the 见附件 label are the same whatever the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zhengai_docs.search.analysis import collapse, fold, search_text
from zhengai_docs.search.backend import AttachmentText, IndexedDocument, SearchHit
from zhengai_docs.search.highlight import highlight_all, snippet

PART = "\n"  # between the body and each attachment's text


@dataclass(frozen=True)
class MatchText:
    text: str  # folded: title, issuing number, body, then each attachment after PART
    title_end: int  # the text starts with the folded title
    body_end: int  # ... and the display text (title, number, body) ends here


def match_text(document: IndexedDocument) -> MatchText:
    head = fold(search_text(title=document.title, doc_number=document.doc_number, body_text=document.body_text))
    title_end = len(fold(search_text(title=document.title, doc_number=None, body_text="")))
    tail = "".join(PART + fold(collapse(a.text)) for a in document.attachments)
    return MatchText(text=head + tail, title_end=title_end, body_end=len(head))


def stored_attachments(document: IndexedDocument) -> tuple[AttachmentText, ...]:
    """Attachments as kept for display: their text collapsed to one line, as matched."""
    return tuple(AttachmentText(label=a.label, text=collapse(a.text)) for a in document.attachments)


@dataclass(frozen=True)
class ShownDocument:
    """The display fields a backend keeps per document."""

    code: str
    title: str
    doc_number: str | None
    body: str
    # read only for a hit found in an attachment alone: attachments' texts can be long, and a page of
    # hits that unpacked them all was three times slower
    attachments: Callable[[], tuple[AttachmentText, ...]]
    doc_type: str
    status: str
    departments: tuple[str, ...]
    points: tuple[str, ...]
    issued: dt.date | None


def build_hit(
    shown: ShownDocument, *, match: MatchText, terms: Sequence[str], score: float, title_match: bool, snippets: bool
) -> SearchHit:
    snippet_html, attachment = _snippet(shown, match, terms) if snippets else ("", None)
    return SearchHit(
        code=shown.code,
        title=shown.title,
        title_html=highlight_all(shown.title, terms),
        snippet_html=snippet_html,
        doc_number_html=highlight_all(shown.doc_number, terms) if shown.doc_number else "",
        doc_type=shown.doc_type,
        status=shown.status,
        departments=shown.departments,
        points=shown.points,
        issued=shown.issued,
        doc_number=shown.doc_number,
        score=round(score, 3),
        title_match=title_match,
        attachment=attachment,
    )


def _snippet(shown: ShownDocument, match: MatchText, terms: Sequence[str]) -> tuple[str, str | None]:
    """A snippet of the body (after its first heading when that repeats the title); when no term
    is in the body but some are in an attachment, a snippet of the attachment with the most."""
    body = shown.body
    folded_body = match.text[match.body_end - len(body) : match.body_end]  # the display text ends with the body
    if not any(t in folded_body for t in terms):
        best: tuple[int, int] = (0, -1)
        start = match.body_end
        attachments = shown.attachments()
        for index, attachment in enumerate(attachments):
            folded = match.text[start + len(PART) : start + len(PART) + len(attachment.text)]
            start += len(PART) + len(attachment.text)
            found = sum(1 for t in terms if t in folded)
            if found > best[0]:
                best = (found, index)
        if best[1] >= 0:
            chosen = attachments[best[1]]
            return snippet(chosen.text, terms), chosen.label
    skip = len(shown.title) + 1 if body.startswith(shown.title + " ") else 0
    return snippet(body[skip:], terms, folded=folded_body[skip:]), None

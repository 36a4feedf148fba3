"""What a user typed, as exact terms and, when it is one, a catalogue code.

Terms are separated by spaces and all must occur (AND); text in double quotes ("…" or “…”)
is one term with its spaces. A query that is a code (A101, A101B, a101b, full-width too)
is reported so the caller can go straight to that item or document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zhengai_docs.search.analysis import collapse, fold

MAX_TERMS = 10
MAX_TERM_CHARS = 100
_TOKEN = re.compile(r'"([^"]*)"?|“([^”]*)”?|(\S+)')
_CODE = re.compile(r"([a-z][0-9]{3})([zlb])?")


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    terms: tuple[str, ...]  # folded, in the order typed, without duplicates
    code: str | None = None  # upper-case item (A101) or document (A101B) code

    @property
    def is_document_code(self) -> bool:
        return self.code is not None and len(self.code) == 5


def parse_query(text: str) -> ParsedQuery:
    folded = fold(collapse(text))
    terms: list[str] = []
    for match in _TOKEN.finditer(folded):
        term = collapse(next(g for g in match.groups() if g is not None))[:MAX_TERM_CHARS]
        if term and term not in terms:
            terms.append(term)
    code_match = _CODE.fullmatch(folded)
    code = code_match.group(0).upper() if code_match else None
    return ParsedQuery(text=text, terms=tuple(terms[:MAX_TERMS]), code=code)


def contains_all(text: str, terms: tuple[str, ...]) -> bool:
    """The definition of a match, on display text: every term occurs in the folded text."""
    folded = fold(collapse(text))
    return all(term in folded for term in terms)

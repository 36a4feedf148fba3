"""The Whoosh schema: exact character-gram fields, word fields for ranking, filter fields.

Exactness comes from two gram fields over the folded text:
- `grams1`: every character (frequencies), so a one-character query is a single term;
- `grams2`: every overlapping pair of characters with its position, so a query of n >= 2
  characters is the phrase of its n - 1 pairs at consecutive positions, which holds exactly
  where the text contains the query (an AND of grams alone would also accept 质量…量保 for 质量保).
The word fields (`words`, `title`) are there only for ranking. Field classes are module level
because Whoosh pickles the schema into the index.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh import formats
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, FieldType, Schema

from zhengai_docs.search.analysis import WordTokenizer, bigram_positions, fold, unigram_counts

STATE_ID = "_state"  # the `code` of the one entry that records the indexed commit


class _GramTokenizer(Tokenizer):  # type: ignore[misc]
    """Grams as tokens: only for Whoosh utilities that re-analyse a field; indexing skips it."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _GramTokenizer) and other.size == self.size

    def __hash__(self) -> int:
        return hash((type(self), self.size))

    def __call__(self, value: str, positions: bool = False, chars: bool = False, mode: str = "", **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, mode=mode, **kwargs)
        text = fold(value)
        for index in range(len(text) - self.size + 1):
            token.text = text[index : index + self.size]
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = index
            if chars:
                token.startchar, token.endchar = index, index + self.size
            yield token


class UnigramField(FieldType):  # type: ignore[misc]
    """Every character of already folded text, with its frequency."""

    def __init__(self) -> None:
        super().__init__(formats.Frequency(), _GramTokenizer(1), scorable=True)

    def index(self, value: str, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        encode = self.format.encode
        for char, count in unigram_counts(value).items():
            yield char.encode("utf-8"), count, float(count), encode(count)


class BigramField(FieldType):  # type: ignore[misc]
    """Every overlapping character pair of already folded text, with positions."""

    def __init__(self) -> None:
        super().__init__(formats.Positions(), _GramTokenizer(2), scorable=True)

    def index(self, value: str, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        encode = self.format.encode
        for pair, positions in bigram_positions(value).items():
            yield pair.encode("utf-8"), len(positions), float(len(positions)), encode(positions)


def build_schema() -> Schema:
    words = WordTokenizer()
    return Schema(
        kind=ID(stored=True),
        code=ID(stored=True, unique=True, sortable=True),
        title=TEXT(analyzer=words, stored=True, phrase=True),
        title_grams1=UnigramField(),
        title_grams2=BigramField(),
        words=TEXT(analyzer=words, phrase=True),
        grams1=UnigramField(),
        grams2=BigramField(),
        body=STORED(),
        doc_type=ID(stored=True),
        level1=ID(stored=True),
        level2=ID(stored=True),
        item=ID(stored=True),
        status=ID(stored=True),
        departments=KEYWORD(stored=True, commas=True, scorable=False),
        points=KEYWORD(stored=True, commas=True, scorable=False),
        issued=ID(stored=True, sortable=True),
        doc_number=STORED(),
        commit=STORED(),
        fingerprint=STORED(),
    )

"""The Whoosh schema and the per-document match record.

- `pairs`: every character pair of the folded search text; selects candidate documents for
  query terms of two or more characters (a pair present is necessary, not sufficient). A
  segment of at most `SMALL_SEGMENT` documents is matched record by record, so the small
  segments saves write leave pairs out: two thirds of a document's terms, and of a save's
  Whoosh commit. A merge into a larger segment derives them from the records (`whoosh_merge`);
- `words`: rjieba words, for ranking whole-word matches first. A small segment keeps each
  document's words in the `wordlist` column instead of postings: Whoosh writes a pickled,
  compressed block per term, and a document's words were half of a save's time under the index
  writer's lock. A merge into a larger segment writes them as postings again;
- `record`: a column with the folded search text, the code, the issue date and where the title
  ends. It confirms every match exactly (a substring test) and is read once per segment;
- the filter fields (type, levels, item, status, departments, points) and stored display fields.

Term sets are indexed without frequencies or positions: the record gives exact frequencies,
and postings with positions cost Whoosh (pure Python) several times more to write and read.
Field classes are module level because Whoosh pickles the schema into the index.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from whoosh import columns, formats
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, FieldType, Schema

from zhengai_docs.search.analysis import fold, index_words, pairs
from zhengai_docs.search.backend import AttachmentText, IndexedDocument
from zhengai_docs.search.hits import match_text, stored_attachments

SCHEMA_VERSION = 5  # an index with another version is treated as missing until `reindex`
SMALL_SEGMENT = 64  # documents: such a segment is matched record by record and may lack pairs
STATE_ID = "_state"  # the `code` of the entry that records the indexed commit
_SEP = "\x1f"


class _WordTokenizer(Tokenizer):
    """Words of a text, for Whoosh utilities that re-analyse a field (indexing skips it)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, value: str, positions: bool = False, chars: bool = False, mode: str = "", **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, mode=mode, **kwargs)
        for word in sorted(index_words(fold(value))):
            token.text = word
            token.boost = 1.0
            token.stopped = False
            yield token


class TermSetField(FieldType):
    """A set of terms per document: no frequencies, no positions.

    Scorable only so that a lengths column exists: without one, Whoosh 2.7.4 looks for the
    missing file once per posting while writing (a stat() call each, ~2x slower indexing).
    """

    def __init__(self) -> None:
        super().__init__(formats.Existence(), _WordTokenizer(), scorable=True)

    def index(self, value: Iterable[str], **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        for term in sorted(value):
            yield term.encode("utf-8"), 1, 1.0, b""


def build_schema() -> Schema:
    return Schema(
        code=ID(stored=True, unique=True),
        pairs=TermSetField(),
        words=TermSetField(),
        record=COLUMN(columns.VarBytesColumn()),
        wordlist=COLUMN(columns.VarBytesColumn()),  # a small segment's words (`small_fields`)
        title=STORED(),
        body=STORED(),
        attachments=COLUMN(columns.VarBytesColumn()),  # read per hit only when needed (`hits.ShownDocument`)
        doc_number=STORED(),
        doc_type=ID(stored=True),
        level1=ID(stored=True),
        level2=ID(stored=True),
        item=ID(stored=True),
        status=ID(stored=True),
        departments=KEYWORD(stored=True, commas=True, scorable=False),
        points=KEYWORD(stored=True, commas=True, scorable=False),
        issued=ID(stored=True),
        commit=STORED(),
        schema_version=STORED(),
        fingerprint=STORED(),
    )


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """What matching and sorting need of one document, kept in memory per segment."""

    code: str
    issued: str  # ISO date or ""
    title_end: int  # the folded text starts with the title
    body_end: int  # where the folded body ends (attachments follow: `hits.match_text`)
    text: str  # folded match text: title, issuing number, body, attachments

    order: str = field(init=False)  # sorts in catalogue order: A101Z, A101L, A101B, A102Z …

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", self.code[:4] + str("ZLB".find(self.code[4:5]) % 3))

    def encode(self) -> bytes:
        return _SEP.join((self.code, self.issued, str(self.title_end), str(self.body_end), self.text)).encode("utf-8")

    @classmethod
    def decode(cls, raw: bytes) -> MatchRecord | None:
        if not raw:
            return None  # the state entry
        code, issued, title_end, body_end, text = raw.decode("utf-8").split(_SEP, 4)
        return cls(code=code, issued=issued, title_end=int(title_end), body_end=int(body_end), text=text)


def document_fields(document: IndexedDocument) -> dict[str, Any]:
    """The Whoosh fields of one document."""
    match = match_text(document)
    text = match.text
    record = MatchRecord(code=document.code, issued=_day(document.issued), title_end=match.title_end, body_end=match.body_end, text=text)
    fields: dict[str, Any] = {
        "code": document.code,
        "pairs": pairs(text),
        "words": index_words(text),
        "record": record.encode(),
        "title": document.title,
        "body": document.body_text,
        "attachments": encode_attachments(stored_attachments(document)).encode("utf-8"),
        "doc_number": document.doc_number or "",
        "doc_type": document.doc_type,
        "level1": document.level1,
        "level2": document.level2,
        "item": document.item,
        "departments": ",".join(d.replace(",", "，") for d in document.departments),
        "points": ",".join(document.points),
    }
    if document.status:
        fields["status"] = document.status
    if document.issued is not None:
        fields["issued"] = document.issued.isoformat()
    return fields


def small_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A document's fields in a small segment: no pair or word postings, its words in a column."""
    kept = {name: value for name, value in fields.items() if name not in ("pairs", "words")}
    if fields.get("words"):
        kept["wordlist"] = (_SEP + _SEP.join(sorted(fields["words"])) + _SEP).encode("utf-8")
    return kept


def word_mark(word: str) -> str:
    """What a decoded `wordlist` contains exactly when the document has `word`."""
    return _SEP + word + _SEP


def split_words(wordlist: str) -> list[str]:
    """The words of a decoded `wordlist` column value."""
    return wordlist.strip(_SEP).split(_SEP) if wordlist else []


def stored_document_fields(
    stored: dict[str, Any], record: bytes, attachments: bytes, *, words: Iterable[str], large: bool
) -> dict[str, Any]:
    """A document's fields as `document_fields` wrote them, rebuilt from what its segment keeps
    (stored fields, columns, its words; pairs from the match text): a merge copies documents
    this way, for a segment that is not small (`large`) with the pair and word postings a small
    one leaves out, else as `small_fields`. Words are not cut again: that is rjieba's work."""
    fields = dict(stored)
    match = MatchRecord.decode(record)
    if match is None:  # the state entry (stored fields only)
        return fields
    fields.update(record=record, attachments=attachments, words=set(words))
    if large:
        fields["pairs"] = pairs(match.text)
    return fields if large else small_fields(fields)


def state_fields(*, commit: str | None, fingerprint: str) -> dict[str, Any]:
    return {"code": STATE_ID, "commit": commit or "", "schema_version": SCHEMA_VERSION, "fingerprint": fingerprint}


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def encode_attachments(attachments: tuple[AttachmentText, ...]) -> str:
    return json.dumps([[a.label, a.text] for a in attachments], ensure_ascii=False) if attachments else ""


def decode_attachments(raw: bytes | None) -> tuple[AttachmentText, ...]:
    return tuple(AttachmentText(label=label, text=text) for label, text in json.loads(raw)) if raw else ()

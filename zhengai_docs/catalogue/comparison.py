"""Two versions of a document compared the way a reader reads them: the changed metadata as
labelled rows (发布/修订日期 2019-03-15 → 2026-12-01), then the body's character-level diff.

A reader is never shown the YAML front matter (`issued:`, `doc_number:`): a changed date is one
value replaced by another, not digits struck out one by one. Only a file whose front matter does
not parse is compared as raw text, since there is nothing else to show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from zhengai_docs.catalogue.document import Document, DocumentMeta, Review, ReviewCycle, Status, parse_document
from zhengai_docs.catalogue.merge import FIELD_LABELS
from zhengai_docs.errors import InvalidFrontMatter
from zhengai_docs.textdiff import TextDiff, diff_texts

EMPTY = "（无）"


@dataclass(frozen=True)
class FieldChange:
    """One metadata field whose value differs, both values as a reader reads them."""

    name: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class Comparison:
    fields: tuple[FieldChange, ...]
    body: TextDiff
    raw: bool = False  # a side did not parse: `body` is the diff of the whole files

    @property
    def changed(self) -> bool:
        return bool(self.fields) or self.body.changed


def display(value: object) -> str:
    """A front-matter value in words: lists joined with 、, dates as YYYY-MM-DD, nothing as （无）."""
    if value is None or value == () or value == "":
        return EMPTY
    if isinstance(value, tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, Status):
        return value.label
    if isinstance(value, ReviewCycle):
        return f"{value.years} 年（{value.reason}）"
    if isinstance(value, Review):
        return f"{value.date.isoformat()} {value.by}：{value.reason}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def field_changes(old: DocumentMeta | None, new: DocumentMeta | None) -> tuple[FieldChange, ...]:
    """The fields that differ, in the order the front matter declares them (the code never does)."""
    changes = []
    for spec in dataclasses.fields(DocumentMeta):
        if spec.name == "code":
            continue
        before = getattr(old, spec.name) if old is not None else None
        after = getattr(new, spec.name) if new is not None else None
        if before != after:
            label = FIELD_LABELS.get(spec.name, spec.name)
            changes.append(FieldChange(name=spec.name, label=label, old=display(before), new=display(after)))
    return tuple(changes)


def compare_documents(old: Document | None, new: Document | None) -> Comparison:
    """`None` for a side where the document does not exist (created, or deleted)."""
    return Comparison(
        fields=field_changes(old.meta if old else None, new.meta if new else None),
        body=diff_texts(old.body if old else "", new.body if new else ""),
    )


def compare_texts(old: str | None, new: str | None, *, path: str) -> Comparison:
    """Compare two stored files of one document (`None`: absent at that version)."""
    try:
        old_doc = parse_document(old, path=path) if old is not None else None
        new_doc = parse_document(new, path=path) if new is not None else None
    except InvalidFrontMatter:
        return Comparison(fields=(), body=diff_texts(old or "", new or ""), raw=True)
    return compare_documents(old_doc, new_doc)

"""Merging two edits of one document made from the same starting version.

Front-matter fields merge field by field (a side that left a field alone takes the other
side's value); the body merges line by line with git. Where both sides changed the same field
differently, the user's own value is kept and the field is reported, so the conflict page can
point at it; nothing either side wrote is dropped without being shown.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from zhengai_docs.catalogue.document import Document, DocumentMeta
from zhengai_docs.storage.merge import merge_text

FIELD_LABELS = {
    "title": "标题",
    "departments": "牵头部门",
    "status": "状态",
    "issued": "发布/修订日期",
    "doc_number": "文号",
    "approved_by": "审批机构",
    "points": "关联诊断点",
    "review_cycle": "修订周期",
    "related": "相关文档",
    "reviewed": "审核未修订记录",
}

_ABSENT = object()  # both sides created the document: every difference is a conflict


@dataclass(frozen=True)
class MergedDocument:
    document: Document
    body_conflicts: int
    field_conflicts: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.body_conflicts and not self.field_conflicts


def merge_documents(base: Document | None, mine: Document, theirs: Document) -> MergedDocument:
    """`base` is what both sides started from (None when both created the document)."""
    changes = {}
    conflicts = []
    for field in dataclasses.fields(DocumentMeta):
        if field.name == "code":
            continue
        mine_value = getattr(mine.meta, field.name)
        theirs_value = getattr(theirs.meta, field.name)
        base_value = getattr(base.meta, field.name) if base is not None else _ABSENT
        if mine_value == base_value:
            changes[field.name] = theirs_value
        elif theirs_value != base_value and theirs_value != mine_value:
            conflicts.append(field.name)
    body = merge_text(base.body if base is not None else "", mine.body, theirs.body)
    return MergedDocument(
        document=mine.with_changes(body=body.text, **changes),
        body_conflicts=body.conflicts,
        field_conflicts=tuple(conflicts),
    )

""" "Reviewed, no change" (审核未修订): confirm a document is still valid without touching its text.

The review is written to git like any other change: the front matter gets a `reviewed` field
(date, reviewer, reason) and the commit carries `Review:`/`Reviewed-by:` trailers, so it shows
in history, restarts the clock (see `rules`) and survives a cache rebuild. The body is byte for
byte the same. The trailers are the message's last paragraph, written by `Library.record_review`
(which checks who may confirm, and that nothing but `reviewed` changes); a `Review: no-change`
typed anywhere else (a reason, a 修订说明) records nothing (`trailers`).
"""

from __future__ import annotations

import datetime as dt
import re

from zhengai_docs import trailers
from zhengai_docs.catalogue.codes import DocumentCode
from zhengai_docs.catalogue.document import Review, Status
from zhengai_docs.errors import Refused
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.storage.repository import WriteResult

MAX_REASON = 300


def clean_reason(reason: str) -> str:
    """One line of text (it goes into YAML and a commit message), required and bounded."""
    text = re.sub(r"\s+", " ", reason).strip()
    if not text:
        raise Refused("请填写审核未修订的理由")
    if len(text) > MAX_REASON:
        raise Refused(f"理由不能超过 {MAX_REASON} 个字")
    return text


def confirm_review(library: Library, code: DocumentCode, *, actor: Actor, reason: str, day: dt.date, base: str | None) -> WriteResult:
    """Record the review as one commit on top of `base` (the version the reviewer looked at).

    Who may is asked first, so a refusal says so rather than what else is wrong; the write
    (`Library.record_review`) checks it again, as every write does."""
    loaded = library.load(code, revision=base)
    meta = loaded.document.meta
    library.policy.require_confirm_review(actor, meta.departments)
    reason = clean_reason(reason)
    if meta.status is not Status.IN_FORCE:
        raise Refused(f"{code} 的状态是{meta.status.value}，只有现行文档可以“审核未修订”")
    if meta.reviewed is not None and meta.reviewed.date >= day:
        raise Refused(f"{code} 已于 {meta.reviewed.date} 记录过审核未修订")
    document = loaded.document.with_changes(reviewed=Review(date=day, by=actor.name, reason=reason))
    record = [
        (trailers.REVIEW, trailers.NO_CHANGE),
        (trailers.REVIEWED_BY, f"{actor.name} <{actor.email}>"),
        (trailers.REVIEW_DATE, day.isoformat()),
    ]
    message = f"审核未修订：{code} {trailers.one_line(meta.title)}\n\n{reason}"
    return library.record_review(document, actor=actor, message=message, base=base, trailers=record)

"""What a draft's reviewer needs first: why it was last sent back (退回修改), and what the author
changed since then.

The draft's commit at a past step is not stored with the step; it is read from the record the
workflow keeps anyway. Every change of a draft's tip is one commit on its ref and one event in
the same transaction — `open` (the first commit), `save`, `update` (同步现行版本), and the
saves `reconcile` adopts after a crash, entered as `save` events before any later step — so the
n-th such event (in id order) made the n-th commit on the ref's first-parent line. The tip the
reviewer saw when sending the draft back is the commit of the last such event before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zhengai_docs.attachments.store import AttachmentChange, attachments_of, compare_attachments
from zhengai_docs.catalogue.comparison import Comparison, compare_documents
from zhengai_docs.catalogue.document import Document
from zhengai_docs.errors import InvalidCode, NotFound
from zhengai_docs.storage.files import document_files
from zhengai_docs.workflow import DraftView, EventView, Workflow

TIP_EVENTS = frozenset({"open", "save", "update"})
SENT_BACK = "request_changes"


@dataclass(frozen=True)
class SinceReview:
    """The last 退回修改 and what changed after it (`comparison` is None when nothing did)."""

    request: EventView
    reviewed_commit: str
    comparison: Comparison | None
    attachments: tuple[AttachmentChange, ...] = ()  # 附件 added, replaced, renamed or removed since

    @property
    def changed(self) -> bool:
        return self.comparison is not None or bool(self.attachments)


def last_request(events: Sequence[EventView]) -> EventView | None:
    """The reviewer's last 退回修改 (its text is the reason), if the draft was ever sent back."""
    return next((e for e in reversed(events) if e.action == SENT_BACK), None)


def reviewed_commit(workflow: Workflow, draft: DraftView, events: Sequence[EventView]) -> str | None:
    """The draft's commit when it was last sent back; None if it never was, or the record and
    the ref disagree (a ref moved aside by `doctor`): then no "since" view is better than a wrong one."""
    position = max((i for i, e in enumerate(events) if e.action == SENT_BACK), default=None)
    if position is None:
        return None
    made = sum(1 for e in events[:position] if e.action in TIP_EVENTS)
    try:
        commits = workflow.store.commits_between(draft.base, draft.tip)
    except (InvalidCode, NotFound):
        return None
    if made == 0 or made > len(commits):
        return None
    saves_after = sum(1 for e in events[position:] if e.action in TIP_EVENTS)
    if made + saves_after != len(commits):  # the ref's line is not the one the record describes
        return None
    return commits[made - 1].commit


def since_last_review(*, workflow: Workflow, draft: DraftView, events: Sequence[EventView], current: Document) -> SinceReview | None:
    request = last_request(events)
    commit = reviewed_commit(workflow, draft, events)
    if request is None or commit is None:
        return None
    if commit == draft.tip:
        return SinceReview(request=request, reviewed_commit=commit, comparison=None)
    then = workflow.document_at(draft, commit)
    if then is None:
        return None
    comparison = compare_documents(then, current)
    repo, path = workflow.library.repo, current.meta.code.path
    files = compare_attachments(attachments_of(document_files(repo, path, commit)), attachments_of(document_files(repo, path, draft.tip)))
    changed = comparison if comparison.changed else None
    return SinceReview(request=request, reviewed_commit=commit, comparison=changed, attachments=tuple(files))

"""The home page's 待办事项: what the signed-in person should do next, by what they may do.

- reviewers (the quality office, administrators, the approvers named per type): drafts waiting
  for their decision (待我审核) and approved drafts to publish;
- authors: their drafts sent back (需修改) and those still being written;
- editors: their departments' overdue and due-soon documents;
- everyone: new versions awaiting their read confirmation (我已阅读).

Indicator warnings have their own section (`indicators.home_summary`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user

from zhengai_docs import acknowledgements
from zhengai_docs.cycles import report, rules
from zhengai_docs.db import queries
from zhengai_docs.permissions import may_audit
from zhengai_docs.web.app import library_state, services
from zhengai_docs.web.auth import current_actor
from zhengai_docs.workflow import DraftStatus, DraftView

SHOWN = 8  # items listed per heading; the rest are behind a link


@dataclass(frozen=True)
class DraftItem:
    draft: DraftView
    title: str


@dataclass(frozen=True)
class NextSteps:
    to_review: tuple[DraftItem, ...]
    to_publish: tuple[DraftItem, ...]
    sent_back: tuple[DraftItem, ...]
    writing: tuple[DraftItem, ...]
    departments: tuple[str, ...]
    overdue: tuple[report.DocumentCycle, ...]
    due_soon: tuple[report.DocumentCycle, ...]
    college_overdue: int | None  # the quality office: how many documents are overdue college-wide
    to_confirm: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return (
            not (self.to_review or self.to_publish or self.sent_back or self.writing or self.overdue or self.due_soon or self.to_confirm)
            and not self.college_overdue
        )


def next_steps() -> NextSteps | None:
    """None for a visitor who is not signed in (nothing is theirs to do)."""
    if not current_user.is_authenticated:
        return None
    me = current_actor()
    workflow = services().workflow
    reviewable = [d for d in workflow.listing(statuses=(DraftStatus.SUBMITTED, DraftStatus.APPROVED)) if workflow.may_review_draft(me, d)]
    own = workflow.listing(author_id=me.user_id, statuses=(DraftStatus.CHANGES_REQUESTED, DraftStatus.EDITING))
    departments = tuple(me.departments)
    overdue, due_soon = _department_cycles(departments)
    db = services().db
    return NextSteps(
        to_review=_titled([d for d in reviewable if d.status is DraftStatus.SUBMITTED]),
        to_publish=_titled([d for d in reviewable if d.status is DraftStatus.APPROVED]),
        sent_back=_titled([d for d in own if d.status is DraftStatus.CHANGES_REQUESTED]),
        writing=_titled([d for d in own if d.status is DraftStatus.EDITING]),
        departments=departments,
        overdue=overdue,
        due_soon=due_soon,
        college_overdue=_college_overdue() if may_audit(me.role) else None,
        to_confirm=tuple(acknowledgements.pending_for(db, user_id=me.user_id, departments=me.departments)),
    )


def _titled(drafts: list[DraftView]) -> tuple[DraftItem, ...]:
    """Oldest waiting first (the listing is newest first); titles from the version in force."""
    db = services().db
    items = []
    for draft in sorted(drafts, key=lambda d: d.updated_at):
        summary = queries.document_summary(db, draft.code)
        items.append(DraftItem(draft=draft, title=summary.title if summary else ""))
    return tuple(items)


def _department_cycles(departments: tuple[str, ...]) -> tuple[tuple[report.DocumentCycle, ...], tuple[report.DocumentCycle, ...]]:
    """The departments' overdue (most overdue first) and due-soon (soonest first) documents,
    derived once per commit and day from the clocks every cycle page shares."""
    if not departments:
        return (), ()
    view = library_state()

    def compute() -> tuple[tuple[report.DocumentCycle, ...], tuple[report.DocumentCycle, ...]]:
        scoped = report.scope(view.cycles(), departments=departments, level1=None)
        return tuple(report.attention(scoped, rules.State.OVERDUE)), tuple(report.attention(scoped, rules.State.DUE_SOON))

    return view.cached(("home-next-steps", departments), compute)


def _college_overdue() -> int:
    view = library_state()
    return view.cached(("home-college-overdue",), lambda: sum(1 for c in view.cycles() if c.clock.state is rules.State.OVERDUE))

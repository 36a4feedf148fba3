"""Drafts brought into a given state, and what a draft has left in git and the database, for the
race and crash tests of the workflow (tests/test_workflow_races.py, tests/test_workflow_crashes.py).

Everything here goes through the real services on a real instance folder (content repository and
database, SQLite or PostgreSQL as the suite runs), so the same helpers serve a test, the worker
processes it starts and the processes it kills.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from tests.actors import account
from tests.databases import instance_database_url
from zhengai_docs import trailers
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DraftEvent, DraftRow, Notification, ReadRequest
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.workflow import Approval, DraftStatus, Workflow

A101Z = document_code("A101Z")
APPROVAL = Approval(
    approving_body="院长办公会", meeting_date=dt.date(2026, 11, 20), doc_number="包职院发〔2026〕12号", issue_date=dt.date(2026, 11, 25)
)


def build(instance: Path, *, url: str | None = None) -> Workflow:
    """The workflow over an instance folder, with its own database engine (dispose it with `close`)."""
    db = Database(url or instance_database_url(instance))
    return Workflow(Library(repo=ContentRepository(instance / "content.git"), db=db))


def close(workflow: Workflow) -> None:
    workflow.db.dispose()


def migrated(instance: Path) -> Iterator[Workflow]:
    """`build` with the database migrated, closed when the generator ends (a fixture's body)."""
    workflow = build(instance)
    workflow.db.upgrade()
    yield workflow
    close(workflow)


def actor(workflow: Workflow, username: str) -> Actor:
    return account(workflow.db, username)


def save_sentence(workflow: Workflow, draft_id: int, sentence: str, *, username: str = "jiaowu") -> None:
    """The author adds a sentence to the draft's body, from the draft's current tip."""
    draft = workflow.get(draft_id)
    document = workflow.document(draft)
    changed = document.with_changes(body=document.body + f"\n{sentence}\n")
    workflow.save(draft_id, changed, actor=actor(workflow, username), message=f"补充：{sentence[:10]}", expected=draft.tip)


def opened(workflow: Workflow, *, reason: str = "修订") -> int:
    return workflow.open(code=A101Z, kind="revise", reason=reason, actor=actor(workflow, "jiaowu")).id


def submitted(workflow: Workflow, sentence: str) -> int:
    draft_id = opened(workflow)
    save_sentence(workflow, draft_id, sentence)
    workflow.submit(draft_id, actor=actor(workflow, "jiaowu"))
    return draft_id


def approved(workflow: Workflow, sentence: str, *, require_ack: bool = True) -> int:
    draft_id = submitted(workflow, sentence)
    workflow.approve(draft_id, actor=actor(workflow, "zhiliang"), approval=APPROVAL, require_ack=require_ack)
    return draft_id


def to_published(workflow: Workflow, draft_id: int, sentence: str) -> str:
    """Carry a draft from wherever it stands to publication, as its people would: bring it up
    to date if the branch moved, save, submit, approve, publish. Returns the published commit."""
    editor, quality = actor(workflow, "jiaowu"), actor(workflow, "zhiliang")
    draft = workflow.get(draft_id)
    if draft.status is DraftStatus.PUBLISHED:
        assert draft.published_commit is not None
        return draft.published_commit
    if workflow.changed_on_branch(draft):
        workflow.bring_up_to_date(draft_id, actor=editor)
        draft = workflow.get(draft_id)
    if draft.status in (DraftStatus.EDITING, DraftStatus.CHANGES_REQUESTED):
        save_sentence(workflow, draft_id, sentence)
        workflow.submit(draft_id, actor=editor)
    if workflow.get(draft_id).status is DraftStatus.SUBMITTED:
        workflow.approve(draft_id, actor=quality, approval=APPROVAL, require_ack=True)
    return workflow.publish(draft_id, actor=quality).commit


@dataclass(frozen=True)
class Trace:
    """Everything a draft has written anywhere: compared before and after a step."""

    status: str
    tip: str
    base: str
    open_code: str | None
    attention: str | None
    published_commit: str | None
    events: tuple[str, ...]
    notifications: int
    read_requests: int
    live_ref: str | None
    discarded_ref: str | None
    head: str | None


def trace(workflow: Workflow, draft_id: int) -> Trace:
    with workflow.db.session() as session:
        row = session.get(DraftRow, draft_id)
        assert row is not None
        events = tuple(session.scalars(select(DraftEvent.action).where(DraftEvent.draft_id == draft_id).order_by(DraftEvent.id)))
        url = f"/drafts/{draft_id}"
        notes = session.scalar(select(func.count()).select_from(Notification).where(Notification.url == url)) or 0
        asks = session.scalar(select(func.count()).select_from(ReadRequest).where(ReadRequest.draft_id == draft_id)) or 0
    return Trace(
        status=row.status,
        tip=row.tip,
        base=row.base,
        open_code=row.open_code,
        attention=row.attention,
        published_commit=row.published_commit,
        events=events,
        notifications=notes,
        read_requests=asks,
        live_ref=ref_tip(workflow, f"refs/drafts/{row.code}/{draft_id}"),
        discarded_ref=ref_tip(workflow, f"refs/drafts-discarded/{row.code}/{draft_id}"),
        head=workflow.library.repo.head(),
    )


def ref_tip(workflow: Workflow, name: str) -> str | None:
    result = git(workflow, "rev-parse", "--verify", "--quiet", name, check=False)
    return result or None


def refs(workflow: Workflow, prefix: str) -> dict[str, str]:
    out = git(workflow, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split(" ") for line in out.splitlines())


def publications(workflow: Workflow, draft_id: int, *, code: str = "A101Z") -> list[str]:
    """Commits on the branch that publish this draft (their `Draft:` trailer names it)."""
    out = git(workflow, "log", "--first-parent", "--format=%H%x1e%B%x1d", "main")
    found = []
    for record in out.split("\x1d"):
        sha, _, message = record.strip().partition("\x1e")
        if sha and trailers.trailer_block(message).get(trailers.DRAFT) == f"{code}/{draft_id}":
            found.append(sha)
    return found


def git(workflow: Workflow, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", "--git-dir", str(workflow.library.repo.path), *args], capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout.strip()

"""Drafts, review and publication: the workflow of a revision (修订) or a repeal (废止).

The text of a draft lives on its git ref (`storage.drafts`); its state, people, comments and
the approval live in SQL (the record of people). Every transition checks the actor's role here,
not only in the views: editors of the document open, save, submit and discard; the quality office
comments, requests changes, approves and publishes. Publication is one commit on the branch in
force, refused with `Conflict` when the document changed there since the draft's base.

Every state change is claimed in the database with a conditional update (`UPDATE drafts SET
status = :new WHERE id = :id AND status IN (:allowed) AND tip = :tip`): of two people acting at
once exactly one wins, and the other gets `AlreadyHandled` (HTTP 409) naming who came first.
Git writes that belong to a step (opening, saving, publishing) happen while that claim holds the
row, before the transaction commits, so the order of writes is always: claim, git, record,
commit. A crash between git and commit leaves git ahead of the database, which `get` (on the
next access) and `reconcile_drafts` (for `doctor`) find and repair; see README, "Drafts under
crashes and races".

Plain Python: no Flask.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengai_docs import acknowledgements, inbox, trailers
from zhengai_docs.catalogue.codes import DocType, DocumentCode, document_code
from zhengai_docs.catalogue.document import Document, Status, parse_document
from zhengai_docs.catalogue.merge import MergedDocument, merge_documents
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DraftEvent, DraftRow, User
from zhengai_docs.errors import Conflict, InvalidCode, NotAllowed, NotFound, Refused, StorageError
from zhengai_docs.library import Library
from zhengai_docs.permissions import Actor, may_audit, may_create, may_edit
from zhengai_docs.render.html import require_renderable
from zhengai_docs.storage.drafts import DraftCommit, DraftStore, draft_ref
from zhengai_docs.storage.files import document_files, draft_file_changes
from zhengai_docs.storage.repository import Author, ContentRepository, WriteResult
from zhengai_docs.storage.retries import earlier_save
from zhengai_docs.users import Role


class DraftStatus(enum.Enum):
    EDITING = "草稿中"
    SUBMITTED = "待审核"
    CHANGES_REQUESTED = "需修改"
    APPROVED = "已批准"
    PUBLISHED = "已发布"
    DISCARDED = "已放弃"

    @property
    def label(self) -> str:
        """What pages show (the stored value is the word itself)."""
        return self.value


OPEN = (DraftStatus.EDITING, DraftStatus.SUBMITTED, DraftStatus.CHANGES_REQUESTED, DraftStatus.APPROVED)
EDITABLE = (DraftStatus.EDITING, DraftStatus.CHANGES_REQUESTED)
CLOSED = (DraftStatus.PUBLISHED, DraftStatus.DISCARDED)
ORPHAN_GRACE = dt.timedelta(minutes=10)  # a ref younger than this may belong to a draft being opened right now
KINDS = {"create": "新建", "revise": "修订", "repeal": "废止"}
ACTIONS = {
    "open": "发起",
    "save": "保存草稿",
    "submit": "提交审核",
    "comment": "意见",
    "request_changes": "退回修改",
    "approve": "批准",
    "publish": "发布",
    "discard": "放弃",
    "update": "同步现行版本",
    "recover": "服务中断后恢复",
    "attention": "需人工处理",
}
STEPS = ("open", "submit", "request_changes", "approve", "publish", "discard", "update", "recover", "save")
SYSTEM_NAME = "zhengai-docs"

log = logging.getLogger(__name__)


class AlreadyHandled(Refused):
    """Someone else's step on this draft came first (two reviewers at once, a double click, a
    page opened before the draft changed): nothing was done, and the message says who acted."""

    status = 409


class FindingState(enum.Enum):
    REPAIRED = "已修复"
    REPAIRABLE = "可自动修复"
    WAITING = "稍后再查"
    NEEDS_PERSON = "需人工处理"


@dataclass(frozen=True)
class DraftFinding:
    """One disagreement between the draft refs in git and the draft rows in the database."""

    code: str
    draft_id: int
    problem: str  # Chinese, for `doctor` and the log
    state: FindingState

    def __str__(self) -> str:
        return f"草稿 {self.code} #{self.draft_id}：{self.problem}（{self.state.value}）"


Mailer = Callable[[Sequence[int], str, str], None]  # (user ids, message, page path)


@dataclass(frozen=True)
class Approval:
    approving_body: str
    meeting_date: dt.date
    doc_number: str
    issue_date: dt.date


@dataclass(frozen=True)
class DraftView:
    id: int
    code: str
    kind: str
    status: DraftStatus
    reason: str
    departments: tuple[str, ...]
    base: str
    tip: str
    author_id: int
    author_name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_by: str | None
    approved_by_user: str | None
    approval: Approval | None
    require_ack: bool
    published_commit: str | None
    attention: str | None = None  # why a person must look at this draft (reconcile could not repair it)

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class EventView:
    action: str
    by: str
    at: dt.datetime
    text: str

    @property
    def label(self) -> str:
        return ACTIONS.get(self.action, self.action)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _view(row: DraftRow) -> DraftView:
    approval = None
    if row.approving_body and row.meeting_date and row.doc_number and row.issue_date:
        approval = Approval(
            approving_body=row.approving_body, meeting_date=row.meeting_date, doc_number=row.doc_number, issue_date=row.issue_date
        )
    return DraftView(
        id=row.id,
        code=row.code,
        kind=row.kind,
        status=DraftStatus(row.status),
        reason=row.reason,
        departments=tuple(d for d in row.departments.split("、") if d),
        base=row.base,
        tip=row.tip,
        author_id=row.author_id,
        author_name=row.author_name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_by=row.submitted_by,
        approved_by_user=row.approved_by_user,
        approval=approval,
        require_ack=row.require_ack,
        published_commit=row.published_commit,
        attention=row.attention,
    )


class Workflow:
    """The draft workflow over one library (git + SQL cache) and its people database.

    Who reviews and publishes which type of document (e.g. standards by the quality office,
    regulations by the president's office) is the library's `WritePolicy.approvers`, which
    `Library.publish` checks as well.
    """

    def __init__(self, library: Library, *, one_open_per_document: bool = True, mailer: Mailer | None = None) -> None:
        self.library = library
        self.db = library.db
        self.store = DraftStore(library.repo)
        self.one_open = one_open_per_document
        self.mailer = mailer  # e-mail alongside the in-app notifications, when configured

    # -- reading ---------------------------------------------------------------------------

    def get(self, draft_id: int) -> DraftView:
        """The draft, reconciled with its git ref first: a save or a publication that a crash
        left half-recorded is completed here, on the next access (see `reconcile`)."""
        draft = self._read(draft_id)
        findings = self._reconcile(draft, ref_tip=None, repair=True, read_ref=True)
        for finding in findings:
            log.warning("%s", finding)
        return self._read(draft_id) if findings else draft

    def document(self, draft: DraftView) -> Document:
        """The draft's text as a document (never visible to readers)."""
        code = document_code(draft.code)
        version = self.store.read(draft_ref(code, draft.id))
        if version.text is None:
            raise NotFound(f"草稿 {draft.id} 中没有 {code} 的正文")
        return parse_document(version.text, path=code.path)

    def document_at(self, draft: DraftView, commit: str) -> Document | None:
        """The draft's text at one of its own earlier commits (None for any other commit)."""
        repo = self.library.repo
        try:
            commit = repo.resolve(commit)
            if not repo.is_ancestor(commit, draft.tip):
                return None
            return parse_document(repo.read(document_code(draft.code).path, revision=commit).text, path=document_code(draft.code).path)
        except (NotFound, InvalidCode):
            return None

    def in_force(self, draft: DraftView) -> Document | None:
        """The version readers see now (None for a new document not yet published)."""
        try:
            return self.library.load(document_code(draft.code)).document
        except NotFound:
            return None

    def events(self, draft_id: int) -> list[EventView]:
        with self.db.session() as session:
            rows = session.scalars(select(DraftEvent).where(DraftEvent.draft_id == draft_id).order_by(DraftEvent.id))
            return [EventView(action=r.action, by=r.by, at=r.at, text=r.text) for r in rows]

    def listing(
        self, *, author_id: int | None = None, departments: Sequence[str] = (), statuses: Sequence[DraftStatus] = OPEN
    ) -> list[DraftView]:
        """Drafts by author and/or lead department (any of `departments`), newest first."""
        with self.db.session() as session:
            query = select(DraftRow).where(DraftRow.status.in_([s.value for s in statuses]))
            if author_id is not None:
                query = query.where(DraftRow.author_id == author_id)
            views = [_view(r) for r in session.scalars(query.order_by(DraftRow.updated_at.desc(), DraftRow.id.desc()))]
        if departments:
            views = [v for v in views if not set(departments).isdisjoint(v.departments)]
        return views

    def open_for(self, code: DocumentCode | str) -> list[DraftView]:
        with self.db.session() as session:
            rows = session.scalars(select(DraftRow).where(DraftRow.code == str(code), DraftRow.status.in_([s.value for s in OPEN])))
            return [_view(r) for r in rows]

    def may_author(self, actor: Actor, draft: DraftView) -> bool:
        return may_edit(actor.role, actor.departments, draft.departments)

    def may_review(self, actor: Actor, doc_type: DocType) -> bool:
        return self.library.policy.may_review(actor, doc_type)

    def may_review_draft(self, actor: Actor, draft: DraftView) -> bool:
        return self.may_review(actor, document_code(draft.code).doc_type)

    def may_see(self, actor: Actor, draft: DraftView) -> bool:
        """Draft text is for its authors and reviewers only, never for readers."""
        return self.may_author(actor, draft) or self.may_review_draft(actor, draft) or may_audit(actor.role)

    def open_visible_to(self, actor: Actor, code: DocumentCode | str) -> list[DraftView]:
        """The open drafts of a document that this actor may see (pages link only to those)."""
        return [d for d in self.open_for(code) if self.may_see(actor, d)]

    # -- the author's steps ----------------------------------------------------------------

    def open(self, *, code: DocumentCode, kind: str, reason: str, actor: Actor) -> DraftView:
        """Open a revision (or a repeal) of a document on the branch, from the branch's head."""
        if kind not in ("revise", "repeal"):
            raise Refused(f"未知的草稿类型：{kind}")
        reason = _required(reason, "请填写修订原因" if kind == "revise" else "请填写废止原因")
        loaded = self.library.load(code)
        departments = loaded.document.meta.departments
        if not may_edit(actor.role, actor.departments, departments):
            raise NotAllowed("只有文档牵头部门的编辑可以发起修订或废止")
        if kind == "repeal" and loaded.document.meta.status is Status.REPEALED:
            raise Refused(f"{code} 已经废止")
        text = loaded.document.with_changes(status=Status.REPEALED).dump() if kind == "repeal" else None
        return self._open(code, kind, reason, departments, loaded.version.commit, text, actor)

    def open_new(self, document: Document, *, item_departments: Sequence[str], reason: str, actor: Actor) -> DraftView:
        """A new document starts as a draft too: nothing reaches the branch before publication."""
        code = document.meta.code
        reason = _required(reason, "请填写新建说明")
        if not may_create(actor.role, actor.departments, item_departments):
            raise NotAllowed("只有牵头部门的编辑可以新建该目录项的文档")
        if not may_edit(actor.role, actor.departments, document.meta.departments):
            raise NotAllowed("牵头部门须包含您所在的部门")
        head = self.library.repo.require_head()
        if self.library.repo.blob_ids(head, [code.path])[code.path] is not None:
            raise Refused(f"{code} 已存在，请发起修订")
        require_renderable(document.body)
        return self._open(code, "create", reason, document.meta.departments, head, document.dump(), actor)

    def save(
        self,
        draft_id: int,
        document: Document,
        *,
        actor: Actor,
        message: str,
        expected: str,
        files: Mapping[str, bytes | None] | None = None,
    ) -> DraftView:
        """Save the draft's text; `expected` is the draft commit the editor was opened at.
        `files`: the document's own files (附件, pictures) changed in the same commit, planned
        by `attachments.store` against the draft at `expected`.

        Order of writes: the commit object; the claim (`tip = expected`, the draft editable);
        the ref moved from `expected` (compare-and-swap); the event; commit. A retry of a save
        that was already made (its answer lost on the way) is answered as that save.
        """
        draft = self.get(draft_id)
        self._require_author(actor, draft)
        if str(document.meta.code) != draft.code:
            raise Refused("草稿与文档代码不一致")
        if draft.kind == "repeal":
            raise Refused("废止草稿没有可编辑的正文")
        if not may_edit(actor.role, actor.departments, document.meta.departments):
            raise NotAllowed("牵头部门须包含您所在的部门")
        require_renderable(document.body)  # TooComplex: the editor shows why and keeps the text
        if draft.attention is not None:
            raise Refused(draft.attention)
        ref = draft_ref(draft.code, draft.id)
        text, expected = document.dump(), self.library.repo.resolve(expected)
        if not files and draft.status in EDITABLE and draft.tip == expected and self.store.read(ref).text == text:
            return draft  # opened and saved without a change: no commit, no event
        if draft.status in EDITABLE and draft.tip == expected:
            note = trailers.one_line(message) or "保存草稿"
            prepared = self.store.prepare(ref, text, author=actor.author, message=note, expected=expected, files=files)
            with self.db.transaction() as session:
                values = {"tip": prepared.commit, "departments": "、".join(document.meta.departments), "updated_at": _now()}
                if self._try_claim(session, draft, allowed=EDITABLE, values=values):
                    if not self.store.move(ref, new=prepared.commit, expected=expected):
                        raise self._ref_moved(draft)  # rolls the claim back
                    self._event(session, draft.id, "save", actor.name, message)
                    return _view(self._row(session, draft.id))
        if files:  # an upload is never taken for one already made: the page was stale
            current = self.get(draft_id)
            if current.status not in EDITABLE:
                raise self._handled(draft_id)
            raise Conflict(path=ref.name, base=expected, head=current.tip)
        return self._unclaimed_save(draft.id, text=text, actor=actor, expected=expected)

    def submit(self, draft_id: int, *, actor: Actor, note: str = "", seen: DraftStatus | None = None) -> DraftView:
        """Send the draft to review (also a resubmission after 退回修改). `seen`: the status the
        author's page showed, so a second click or a colleague's submit is told, not repeated."""
        draft = self.get(draft_id)
        self._require_author(actor, draft)
        self._require_status(draft, *EDITABLE, target=DraftStatus.SUBMITTED, seen=seen)
        reviewers = self._reviewer_ids(draft)
        message = f"{draft.code} 的{draft.kind_label}草稿已提交审核（{actor.name}）"
        now = _now()
        with self.db.transaction() as session:
            values = {"status": DraftStatus.SUBMITTED.value, "submitted_by": actor.name, "submitted_at": now, "updated_at": now}
            self._claim(session, draft, allowed=EDITABLE, values=values, check_ref=True)
            event = self._event(session, draft.id, "submit", actor.name, note.strip())
            inbox.notify(session, user_ids=reviewers, text=message, url=_path(draft.id), event_id=event)
            view = _view(self._row(session, draft.id))
        self._mail(reviewers, message, draft.id)
        return view

    def discard(self, draft_id: int, *, actor: Actor, note: str = "", seen: DraftStatus | None = None) -> DraftView:
        """Abandon a draft; its commits stay in history under refs/drafts-discarded/.

        The claim is committed first and the ref moved aside after: a crash in between leaves a
        discarded row whose ref `reconcile` moves aside later.
        """
        draft = self.get(draft_id)
        if not (self.may_author(actor, draft) or self.may_review_draft(actor, draft)):
            raise NotAllowed("只有文档牵头部门的编辑或审核人可以放弃草稿")
        self._require_status(draft, *OPEN, target=DraftStatus.DISCARDED, seen=seen)
        with self.db.transaction() as session:
            values = {"status": DraftStatus.DISCARDED.value, "open_code": None, "updated_at": _now()}
            self._claim(session, draft, allowed=OPEN, values=values)
            self._event(session, draft.id, "discard", actor.name, note.strip())
            view = _view(self._row(session, draft.id))
        try:
            self.store.discard(draft_ref(draft.code, draft.id))
        except StorageError:
            log.exception("draft %s discarded; its ref stays until reconcile_drafts moves it aside", draft.id)
        return view

    def bring_up_to_date(self, draft_id: int, *, actor: Actor) -> MergedDocument:
        """Merge what changed on the branch since the draft's base into the draft (three-way).

        Conflicting passages are kept from both sides with markers; an approved or submitted
        draft whose merge needed the author's eyes goes back to them.
        """
        draft = self.get(draft_id)
        if not (self.may_author(actor, draft) or self.may_review_draft(actor, draft)):
            raise NotAllowed("没有权限更新此草稿")
        self._require_status(draft, *OPEN, target=None)
        if draft.attention is not None:
            raise Refused(draft.attention)
        code = document_code(draft.code)
        theirs = self.library.load(code)
        try:
            base: Document | None = self.library.load(code, revision=draft.base).document
        except NotFound:
            base = None
        merged = merge_documents(base, self.document(draft), theirs.document)
        ref = draft_ref(code, draft.id)
        message = f"同步现行版本 {theirs.version.commit[:12]}"
        files = draft_file_changes(self.library.repo, code.path, since=draft.base, until=draft.tip)  # the draft's 附件 changes stay
        prepared = self.store.prepare(
            ref,
            merged.document.dump(),
            author=actor.author,
            message=message,
            expected=draft.tip,
            rebase_to=theirs.version.commit,
            files=files,
        )
        status = draft.status
        if status is DraftStatus.APPROVED or (not merged.clean and status is DraftStatus.SUBMITTED):
            status = DraftStatus.CHANGES_REQUESTED  # the text changed after review
        with self.db.transaction() as session:
            values = {"tip": prepared.commit, "base": theirs.version.commit, "status": status.value, "updated_at": _now()}
            self._claim(session, draft, allowed=(draft.status,), values=values)
            if not self.store.move(ref, new=prepared.commit, expected=draft.tip):
                raise self._ref_moved(draft)
            self._event(session, draft.id, "update", actor.name, message)
        return merged

    # -- the reviewers' steps --------------------------------------------------------------

    def comment(self, draft_id: int, *, actor: Actor, text: str) -> None:
        draft = self.get(draft_id)
        if not self.may_see(actor, draft):
            raise NotAllowed("没有权限评论此草稿")
        text = _required(text, "意见不能为空")
        others = [draft.author_id] if actor.user_id != draft.author_id else self._reviewer_ids(draft)
        message = f"{actor.name} 对 {draft.code} 的草稿提出意见：{text[:80]}"
        with self.db.transaction() as session:
            event = self._event(session, draft.id, "comment", actor.name, text)
            inbox.notify(session, user_ids=others, text=message, url=_path(draft.id), event_id=event)
        self._mail(others, message, draft.id)

    def request_changes(self, draft_id: int, *, actor: Actor, text: str, seen: DraftStatus | None = None) -> DraftView:
        """退回修改 a submitted (or approved) draft. With `seen` (what the reviewer's page showed)
        only that state is sent back: against an approval at the same moment, one of them wins."""
        draft = self.get(draft_id)
        self._require_reviewer(actor, draft)
        allowed = (seen,) if seen in (DraftStatus.SUBMITTED, DraftStatus.APPROVED) else (DraftStatus.SUBMITTED, DraftStatus.APPROVED)
        self._require_status(draft, *allowed, target=DraftStatus.CHANGES_REQUESTED, seen=seen)
        text = _required(text, "退回修改时请写明意见")
        message = f"{draft.code} 的草稿被退回修改：{text[:100]}"
        with self.db.transaction() as session:
            values = {"status": DraftStatus.CHANGES_REQUESTED.value, "updated_at": _now()}
            self._claim(session, draft, allowed=allowed, values=values)
            event = self._event(session, draft.id, "request_changes", actor.name, text)
            inbox.notify(session, user_ids=[draft.author_id], text=message, url=_path(draft.id), event_id=event)
            view = _view(self._row(session, draft.id))
        self._mail([draft.author_id], message, draft.id)
        return view

    def approve(
        self,
        draft_id: int,
        *,
        actor: Actor,
        approval: Approval,
        require_ack: bool = False,
        note: str = "",
        seen: DraftStatus | None = None,
        expected_tip: str | None = None,
    ) -> DraftView:
        """Approve the submitted draft; `expected_tip` is the text the reviewer's page showed."""
        draft = self.get(draft_id)
        self._require_reviewer(actor, draft)
        self._require_status(draft, DraftStatus.SUBMITTED, target=DraftStatus.APPROVED, seen=seen)
        if expected_tip is not None and expected_tip != draft.tip:
            raise AlreadyHandled("此草稿在您打开页面后已被修改（同步现行版本或保存），请查看最新内容后再批准。")
        body = trailers.require_one_line(_required(approval.approving_body, "请填写审批机构"), label="审批机构")
        number = trailers.require_one_line(_required(approval.doc_number, "请填写文号"), label="文号")
        message = f"{draft.code} 的草稿已批准：{number}"
        now = _now()
        with self.db.transaction() as session:
            values = {
                "status": DraftStatus.APPROVED.value,
                "approved_by_user": actor.name,
                "approved_at": now,
                "approving_body": body,
                "meeting_date": approval.meeting_date,
                "doc_number": number,
                "issue_date": approval.issue_date,
                "require_ack": require_ack,
                "updated_at": now,
            }
            self._claim(session, draft, allowed=(DraftStatus.SUBMITTED,), values=values, check_ref=True)
            summary = f"{body}（{approval.meeting_date.isoformat()}）审议通过，{number}，{approval.issue_date.isoformat()} 起施行"
            event = self._event(session, draft.id, "approve", actor.name, f"{summary}\n{note.strip()}".strip())
            inbox.notify(session, user_ids=[draft.author_id], text=message, url=_path(draft.id), event_id=event)
            view = _view(self._row(session, draft.id))
        self._mail([draft.author_id], message, draft.id)
        return view

    def publish(self, draft_id: int, *, actor: Actor, seen: DraftStatus | None = None) -> WriteResult:
        """Move the approved draft to the branch as one commit carrying the approval.

        Order of writes: the claim (已批准 → 已发布, holding the row); the commit on the branch
        (compare-and-swap; skipped when a crashed attempt already made it, found by its `Draft:`
        trailer); published commit, event, notification and read request; commit; then the cache
        and index follow. Two publishers: one commit, one event, one set of notifications, and
        the other gets `AlreadyHandled`. Refused with `Conflict` when the document changed on the
        branch since the draft's base: `bring_up_to_date` merges it in for another review.
        """
        draft = self.get(draft_id)  # also completes a publication a crash left half-recorded
        self._require_reviewer(actor, draft)
        self._require_status(draft, DraftStatus.APPROVED, target=DraftStatus.PUBLISHED, seen=seen)
        approval = draft.approval
        if approval is None:
            raise Refused("草稿缺少审批信息")
        code = document_code(draft.code)
        text = self.store.text_at(draft_ref(code, draft.id), draft.tip)
        if text is None:
            raise Refused("草稿中没有正文，不能发布")
        status = Status.REPEALED if draft.kind == "repeal" else Status.IN_FORCE
        if draft.kind == "repeal":  # the text keeps its own number and date; the repeal decision is in the trailers
            document = parse_document(text, path=code.path).with_changes(status=status)
        else:
            document = parse_document(text, path=code.path).with_changes(
                status=status, doc_number=approval.doc_number, approved_by=approval.approving_body, issued=approval.issue_date
            )
        require_renderable(document.body)
        record = [
            (trailers.DRAFT, _draft_key(draft)),
            (trailers.APPROVED_BY, approval.approving_body),
            (trailers.APPROVAL_MEETING, approval.meeting_date.isoformat()),
            (trailers.DOCUMENT_NUMBER, approval.doc_number),
            (trailers.ISSUE_DATE, approval.issue_date.isoformat()),
            (trailers.REVIEWED_BY, draft.approved_by_user or actor.name),
            (trailers.PUBLISHED_BY, actor.name),
        ]
        # The reason is the editors' prose; the approval is the trailer block commit_message appends after it.
        message = f"{draft.kind_label}发布：{draft.code} {trailers.one_line(document.meta.title)}\n\n{draft.reason}"
        author = self._draft_author(draft) or actor.author
        with self.db.transaction() as session:
            values = {"status": DraftStatus.PUBLISHED.value, "open_code": None, "updated_at": _now()}
            self._claim(session, draft, allowed=(DraftStatus.APPROVED,), values=values, check_ref=True)
            earlier = self._published_on_branch(draft)
            if earlier is not None:
                result = WriteResult(commit=earlier[0], changed=False)
            else:  # the git write happens under the claim and before the commit (SQLite: no cache sync in here)
                files = draft_file_changes(self.library.repo, code.path, since=draft.base, until=draft.tip)  # its 附件 changes
                result = self.library.publish(
                    document, actor=actor, author=author, message=message, base=draft.base, trailers=record, files=files
                )
            told = self._record_publication(session, draft, commit=result.commit, by=actor.name, departments=document.meta.departments)
        self._follow_branch()
        self._mail([draft.author_id], told, draft.id)
        return result

    def changed_on_branch(self, draft: DraftView) -> bool:
        """Has the document changed on the branch since the draft's base?"""
        path = document_code(draft.code).path
        head = self.library.repo.require_head()
        if self.library.repo.blob_ids(draft.base, [path]) != self.library.repo.blob_ids(head, [path]):
            return True
        return document_files(self.library.repo, path, draft.base) != document_files(self.library.repo, path, head)

    # -- reconciling git and the database --------------------------------------------------

    def reconcile(self, draft_id: int, *, repair: bool) -> list[DraftFinding]:
        """Compare one draft's row with its ref; with `repair`, fix what needs no person."""
        return self._reconcile(self._read(draft_id), ref_tip=None, repair=repair, read_ref=True)

    def reconcile_all(self, *, repair: bool, orphan_grace: dt.timedelta = ORPHAN_GRACE) -> list[DraftFinding]:
        """Every draft row against its ref, every ref under refs/drafts/ against the rows, and
        (with ONE_OPEN_REVISION) every document against "one open draft"; see `reconcile_drafts`."""
        live = {(str(r.ref.code), r.ref.draft_id): r for r in self.store.list_live()}
        with self.db.session() as session:
            drafts = [_view(r) for r in session.scalars(select(DraftRow).order_by(DraftRow.id))]
        findings: list[DraftFinding] = []
        for draft in drafts:
            found = live.get((draft.code, draft.id))
            findings += self._reconcile(draft, ref_tip=found.tip if found else None, repair=repair)
        known = {(d.code, d.id) for d in drafts}
        cutoff = _now() - orphan_grace
        for key, found in sorted(live.items()):
            if key in known:
                continue
            problem = f"引用 {found.ref.name} 没有对应的草稿记录（发起修订时服务中断，或数据库是从备份恢复的）"
            if found.committed_at > cutoff:
                findings.append(DraftFinding(key[0], key[1], f"{problem}，但它刚写入，可能正在创建，暂不移动", FindingState.WAITING))
            elif repair:
                aside = self.store.set_aside(found.ref, found.tip)
                findings.append(DraftFinding(key[0], key[1], f"{problem}，已移到 {aside}", FindingState.REPAIRED))
            else:
                findings.append(DraftFinding(key[0], key[1], f"{problem}，可移到 refs/drafts-orphaned/", FindingState.REPAIRABLE))
        if self.one_open:
            opened: dict[str, list[int]] = {}
            for draft in drafts:
                if draft.status in OPEN:
                    opened.setdefault(draft.code, []).append(draft.id)
            for code, ids in sorted(opened.items()):
                if len(ids) > 1:
                    listed = "、".join(f"#{i}" for i in ids)
                    problem = f"{code} 同时有 {len(ids)} 份进行中的草稿（{listed}），按 ONE_OPEN_REVISION 只应有一份：请发布或放弃其余的"
                    findings.append(DraftFinding(code, ids[-1], problem, FindingState.NEEDS_PERSON))
        return findings

    def _reconcile(self, draft: DraftView, *, ref_tip: str | None, repair: bool, read_ref: bool = False) -> list[DraftFinding]:
        """What disagrees between this draft's row and its ref (`ref_tip`, or read when `read_ref`)."""
        if draft.status is DraftStatus.PUBLISHED:
            return []
        ref = draft_ref(draft.code, draft.id)
        if read_ref:
            ref_tip = self.store.tip(ref, expected=draft.tip)  # another node may have moved it (CONTENT_REMOTE)

        def finding(problem: str, state: FindingState | None = None) -> list[DraftFinding]:
            chosen = state or (FindingState.REPAIRED if repair else FindingState.REPAIRABLE)
            return [DraftFinding(draft.code, draft.id, problem, chosen)]

        if draft.status is DraftStatus.DISCARDED:
            if ref_tip is None:
                return []
            if repair:
                self.store.discard(ref)
            return finding("已放弃，但引用仍在 refs/drafts/ 下（放弃时服务中断），应移到 refs/drafts-discarded/")
        if ref_tip == draft.tip:
            if draft.attention is not None and repair:
                self._set_attention(draft, None)
            published = self._published_on_branch(draft) if draft.status is DraftStatus.APPROVED else None
            if published is None:
                return []
            if repair:
                self._finish_publication(draft, commit=published[0], by=published[1])
            return finding(f"已发布为 {published[0][:12]}，但数据库仍记为“已批准”（发布时服务中断），应补记发布")
        if ref_tip is None:
            if self.store.exists(draft.tip):
                if repair:
                    self.store.restore(ref, draft.tip)
                return finding(f"引用 {ref.name} 丢失，应按数据库记录的提交 {draft.tip[:12]} 重建")
            problem = (
                f"数据库记录的提交 {draft.tip[:12]} 不在内容仓库中，引用 {ref.name} 也不存在（仓库可能是从较早的备份恢复的）。"
                "草稿正文已无法读取：请放弃此草稿，重新发起修订。"
            )
            return self._flag(draft, problem, repair=repair)
        if self.store.exists(draft.tip) and self.store.is_ancestor(draft.tip, ref_tip):
            commits = self.store.commits_between(draft.tip, ref_tip)
            back = "；审核中的正文变了，应退回修改" if draft.status in (DraftStatus.SUBMITTED, DraftStatus.APPROVED) else ""
            if repair:
                self._adopt(draft, ref_tip=ref_tip, commits=commits)
            return finding(f"仓库中的草稿比数据库记录多 {len(commits)} 次保存（保存时服务中断），应采用仓库中的版本{back}")
        kept = self.store.keep_commit(ref, draft.tip) if repair and self.store.exists(draft.tip) else None
        problem = (
            f"引用 {ref.name}（{ref_tip[:12]}）与数据库记录的提交（{draft.tip[:12]}）不在同一条修改线上，无法判断哪个是最新的"
            "（引用可能被手工改动，或仓库与数据库来自不同的备份）。页面显示的是仓库中的版本"
            + (f"，数据库记录的版本保存在 {kept}" if kept else "")
            + "。请核对后放弃此草稿并重新发起，或联系管理员。"
        )
        return self._flag(draft, problem, repair=repair)

    def _adopt(self, draft: DraftView, *, ref_tip: str, commits: Sequence[DraftCommit]) -> None:
        """Take the ref's saves into the row (with their events); text that changed under review goes back to the author."""
        under_review = draft.status in (DraftStatus.SUBMITTED, DraftStatus.APPROVED)
        values: dict[str, Any] = {"tip": ref_tip, "attention": None, "updated_at": _now()}
        if under_review:
            values["status"] = DraftStatus.CHANGES_REQUESTED.value
        with self.db.transaction() as session:
            if not self._try_claim(session, draft, allowed=(draft.status,), values=values):
                return  # reconciled (or changed) by someone else meanwhile
            for commit in commits:
                text = f"{commit.subject}（保存时服务中断，已从仓库补记）"
                session.add(DraftEvent(draft_id=draft.id, action="save", by=commit.author_name, at=commit.committed_at, text=text))
            if under_review:
                note = "审核中的草稿有未记录的修改（服务中断所致），已退回修改；请核对后重新提交审核。"
                event = self._event(session, draft.id, "recover", SYSTEM_NAME, note)
                inbox.notify(session, user_ids=[draft.author_id], text=f"{draft.code} 的草稿：{note}", url=_path(draft.id), event_id=event)
        log.warning("draft %s: adopted %d unrecorded save(s) from its ref", draft.id, len(commits))

    def _finish_publication(self, draft: DraftView, *, commit: str, by: str) -> None:
        """Record a publication whose commit reached the branch before a crash stopped the rest."""
        path = document_code(draft.code).path
        try:
            departments: Sequence[str] = parse_document(self.library.repo.read(path, revision=commit).text, path=path).meta.departments
        except (NotFound, InvalidCode, Refused):
            departments = draft.departments
        with self.db.transaction() as session:
            values = {"status": DraftStatus.PUBLISHED.value, "open_code": None, "updated_at": _now()}
            if not self._try_claim(session, draft, allowed=(DraftStatus.APPROVED,), values=values):
                return
            self._record_publication(session, draft, commit=commit, by=by, departments=departments)
        log.warning("draft %s: recorded its publication %s after an interrupted publish", draft.id, commit)

    def _flag(self, draft: DraftView, problem: str, *, repair: bool) -> list[DraftFinding]:
        if repair and draft.attention != problem:
            self._set_attention(draft, problem)
        return [DraftFinding(draft.code, draft.id, problem, FindingState.NEEDS_PERSON)]

    def _set_attention(self, draft: DraftView, text: str | None) -> None:
        with self.db.transaction() as session:
            session.execute(update(DraftRow).where(DraftRow.id == draft.id, DraftRow.tip == draft.tip).values(attention=text))

    def _published_on_branch(self, draft: DraftView) -> tuple[str, str] | None:
        """(commit, publisher) of this draft's publication on the branch, if a crashed attempt made it."""
        if not self.changed_on_branch(draft):
            return None
        key = _draft_key(draft)
        for commit, message in self.store.messages_naming(
            f"{trailers.DRAFT}: {key}", since=draft.base, path=document_code(draft.code).path
        ):
            block = trailers.trailer_block(message)  # only the product's own block counts, not a typed reason
            if block.get(trailers.DRAFT) == key:
                return commit, block.get(trailers.PUBLISHED_BY, SYSTEM_NAME)
        return None

    # -- internals -------------------------------------------------------------------------

    def _open(
        self, code: DocumentCode, kind: str, reason: str, departments: Sequence[str], base: str, text: str | None, actor: Actor
    ) -> DraftView:
        """Order of writes: the row (its `open_code` under a unique index decides between two
        openers); the ref, created against "absent" (an orphan there is moved aside); the
        row's tip and the event; commit. A crash after the ref leaves an orphan ref only."""
        if actor.is_system:  # a draft's author is an account: reviewers and notifications go back to it
            raise NotAllowed("草稿须由具体的用户发起，系统不能作为草稿的作者")
        if self.one_open and self.open_for(code):
            raise self._already_open(code)
        now = _now()
        try:
            with self.db.transaction() as session:
                row = DraftRow(
                    code=str(code),
                    open_code=str(code) if self.one_open else None,
                    kind=kind,
                    status=DraftStatus.EDITING.value,
                    reason=reason,
                    departments="、".join(departments),
                    base=base,
                    tip=base,
                    author_id=actor.user_id,
                    author_name=actor.name,
                    created_at=now,
                    updated_at=now,
                    require_ack=False,
                )
                session.add(row)
                session.flush()
                message = f"{KINDS[kind]}草稿：{trailers.one_line(reason)}"  # the reason as typed stays in the row
                row.tip = self.store.create(draft_ref(code, row.id), base=base, text=text, author=actor.author, message=message)
                self._event(session, row.id, "open", actor.name, reason)
                return _view(row)
        except IntegrityError:
            if self.one_open and self.open_for(code):
                raise self._already_open(code) from None
            raise

    def _already_open(self, code: DocumentCode) -> AlreadyHandled:
        opened = self.open_for(code)
        who = f"（#{opened[0].id}，{opened[0].author_name} 发起）" if opened else ""
        return AlreadyHandled(f"{code} 已有进行中的修订{who}，请先完成或放弃它")

    def _read(self, draft_id: int) -> DraftView:
        with self.db.session() as session:
            return _view(self._row(session, draft_id))

    def _row(self, session: Session, draft_id: int) -> DraftRow:
        row = session.get(DraftRow, draft_id)
        if row is None:
            raise NotFound(f"草稿 {draft_id} 不存在")
        return row

    def _event(self, session: Session, draft_id: int, action: str, by: str, text: str) -> int:
        event = DraftEvent(draft_id=draft_id, action=action, by=by, at=_now(), text=text)
        session.add(event)
        session.flush()
        return event.id

    def _try_claim(self, session: Session, draft: DraftView, *, allowed: Sequence[DraftStatus], values: Mapping[str, Any]) -> bool:
        """The conditional update every step starts with: the row must still be at the tip and
        in one of the states the actor's step was judged on. It holds the row (PostgreSQL) or
        the database (SQLite) until the transaction ends, so the loser waits and then finds
        nothing to update."""
        claim = update(DraftRow).where(DraftRow.id == draft.id, DraftRow.tip == draft.tip, DraftRow.status.in_([s.value for s in allowed]))
        return bool(session.execute(claim.values(**values)).rowcount == 1)  # type: ignore[attr-defined]

    def _claim(
        self, session: Session, draft: DraftView, *, allowed: Sequence[DraftStatus], values: Mapping[str, Any], check_ref: bool = False
    ) -> None:
        """`_try_claim` or AlreadyHandled; `check_ref`: the ref must be at the tip the step judges."""
        if not self._try_claim(session, draft, allowed=allowed, values=values):
            raise self._handled(draft.id)
        if check_ref and self.store.tip(draft_ref(draft.code, draft.id)) != draft.tip:
            raise self._ref_moved(draft)

    def _handled(self, draft_id: int) -> AlreadyHandled:
        """The refusal for a step someone else's step came before: who did what, and the state now."""
        with self.db.session() as session:
            row = self._row(session, draft_id)
            query = select(DraftEvent).where(DraftEvent.draft_id == draft_id, DraftEvent.action.in_(STEPS))
            last = session.scalars(query.order_by(DraftEvent.id.desc()).limit(1)).first()
        state = DraftStatus(row.status).label
        if last is None:
            return AlreadyHandled(f"此草稿当前状态为“{state}”，您的操作未执行。请刷新页面后查看。")
        return AlreadyHandled(
            f"此草稿已由 {last.by} {ACTIONS.get(last.action, last.action)}（当前状态：{state}），您的操作未执行。请刷新页面后查看。"
        )

    def _ref_moved(self, draft: DraftView) -> Conflict:
        """The ref is not where the row says, although the row is claimed: a save a crash left
        unrecorded. The next access (`get`) adopts it; the user sees the conflict page meanwhile."""
        ref = draft_ref(draft.code, draft.id)
        return Conflict(path=ref.name, base=draft.tip, head=self.store.tip(ref) or draft.tip)

    def _unclaimed_save(self, draft_id: int, *, text: str, actor: Actor, expected: str) -> DraftView:
        """Why a save could not claim the draft: a retry of a save already made (answered as that
        save), a save by someone else since `expected` (Conflict), or a draft not being edited."""
        current = self.get(draft_id)
        path = document_code(current.code).path
        moved_on = current.tip != expected and self.store.exists(expected) and self.store.is_ancestor(expected, current.tip)
        if moved_on and earlier_save(self.library.repo, path=path, text=text, author=actor.author, since=expected, until=current.tip):
            return current
        if current.status not in EDITABLE:
            raise self._handled(draft_id)
        raise Conflict(path=draft_ref(current.code, current.id).name, base=expected, head=current.tip)

    def _require_author(self, actor: Actor, draft: DraftView) -> None:
        if not self.may_author(actor, draft):
            raise NotAllowed("只有文档牵头部门的编辑可以修改和提交草稿")

    def _require_reviewer(self, actor: Actor, draft: DraftView) -> None:
        if not self.may_review_draft(actor, draft):
            raise NotAllowed("您不是此类文档的审核人，不能审核、批准或发布")

    def _require_status(self, draft: DraftView, *allowed: DraftStatus, target: DraftStatus | None, seen: DraftStatus | None = None) -> None:
        """Before any write: a step that does not apply is Refused; one whose work someone else
        did meanwhile (the state the page showed is gone, or is already the step's result) is
        AlreadyHandled. The claim then settles a race that starts after this check."""
        if draft.attention is not None and target in (DraftStatus.SUBMITTED, DraftStatus.APPROVED, DraftStatus.PUBLISHED):
            raise Refused(draft.attention)
        done = draft.status not in allowed and (draft.status is target or draft.status in CLOSED)
        if done or (seen is not None and draft.status is not seen):
            raise self._handled(draft.id)
        if draft.status not in allowed:
            raise Refused(f"草稿当前状态为“{draft.status.label}”，不能执行此操作")

    def _reviewer_ids(self, draft: DraftView) -> list[int]:
        """Who is told of a submission: the approvers named for the type, else the quality office."""
        named = self.library.policy.approvers.get(document_code(draft.code).doc_type)
        query = select(User.id).where(User.active.is_(True))
        query = query.where(User.username.in_(named)) if named else query.where(User.role.in_([Role.QUALITY.value, Role.ADMIN.value]))
        with self.db.session() as session:
            return list(session.scalars(query))

    def _record_publication(self, session: Session, draft: DraftView, *, commit: str, by: str, departments: Sequence[str]) -> str:
        """The publication's rows, inside its claim: commit, event, read request, the author's message."""
        session.execute(update(DraftRow).where(DraftRow.id == draft.id).values(published_commit=commit))
        event = self._event(session, draft.id, "publish", by, commit)
        if draft.require_ack and draft.kind != "repeal":
            acknowledgements.request(session, code=draft.code, commit=commit, departments=departments, draft_id=draft.id)
        number = draft.approval.doc_number if draft.approval else ""
        message = f"{draft.code} 的{draft.kind_label}已发布：{number}"
        inbox.notify(session, user_ids=[draft.author_id], text=message, url=_path(draft.id), event_id=event)
        return message

    def _follow_branch(self) -> None:
        """After a publication's transaction: the cache and the search index follow the branch."""
        self.library.follow_write()  # the published text is searchable when publish returns

    def _mail(self, user_ids: Sequence[int], message: str, draft_id: int) -> None:
        """E-mail after the step's transaction: only the step that won sends it."""
        if self.mailer is not None and user_ids:
            self.mailer(user_ids, message, _path(draft_id))

    def _draft_author(self, draft: DraftView) -> Author | None:
        with self.db.session() as session:
            user = session.get(User, draft.author_id)
            if user is None:
                return None
            return Author(name=user.display_name or user.username, email=user.email or f"{user.username}@users.zhengai-docs")


def reconcile_drafts(
    *, repo: ContentRepository, db: Database, repair: bool, one_open_per_document: bool = True, orphan_grace: dt.timedelta = ORPHAN_GRACE
) -> list[DraftFinding]:
    """Find where the draft refs in git and the draft rows in the database disagree, for `doctor`.

    Each finding is Chinese text (`str(finding)`) with its state. With `repair`, everything that
    needs no person is fixed and reported as 已修复:
    - a ref ahead of its row's tip (a save or a "bring up to date" whose database write a crash
      stopped) is adopted, the missing saves entered in the review record; a draft under review
      whose text so changed goes back to 需修改;
    - an approved draft whose publication commit is on the branch is recorded as published;
    - a missing ref whose commit exists is recreated; a discarded draft's ref is moved aside;
    - a ref under refs/drafts/ with no row (a crash while opening, a restore into a new
      database) is moved to refs/drafts-orphaned/<code>/<id>-<commit> unless it is younger than
      `orphan_grace` (it may belong to a draft being opened that very moment).
    What needs a person (a ref that left its row's line of saves, a recorded commit missing from
    the repository, several open drafts of one document under ONE_OPEN_REVISION) is reported as
    需人工处理 and shown on the draft's page; nothing is ever deleted.
    """
    workflow = Workflow(Library(repo=repo, db=db), one_open_per_document=one_open_per_document)
    return workflow.reconcile_all(repair=repair, orphan_grace=orphan_grace)


def _path(draft_id: int) -> str:
    return f"/drafts/{draft_id}"


def _draft_key(draft: DraftView) -> str:
    """The `Draft:` trailer of its publication commit, by which a retried publication is found."""
    return f"{draft.code}/{draft.id}"


def _required(text: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Refused(message)
    return text


_APPROVAL_FIELDS = {
    trailers.APPROVED_BY: "approving_body",
    trailers.APPROVAL_MEETING: "meeting_date",
    trailers.DOCUMENT_NUMBER: "doc_number",
    trailers.ISSUE_DATE: "issue_date",
    trailers.REVIEWED_BY: "reviewed_by",
    trailers.PUBLISHED_BY: "published_by",
}


def approval_record(message: str) -> dict[str, str] | None:
    """The approval a publication commit carries in its trailer block (None for ordinary saves).

    Only the product's own block counts (`trailers`): lines typed into a 修订说明 or a reason never do.
    """
    block = trailers.trailer_block(message)
    if trailers.APPROVED_BY not in block:
        return None
    return {field: block[key] for key, field in _APPROVAL_FIELDS.items() if key in block}


def subject(message: str) -> str:
    """A commit message without the product's trailer block, on one line: the history's 修订说明."""
    return trailers.one_line(trailers.without_trailer_block(message))

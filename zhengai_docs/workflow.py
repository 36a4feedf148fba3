"""Drafts, review and publication: the workflow of a revision (修订) or a repeal (废止).

The text of a draft lives on its git ref (`storage.drafts`); its state, people, comments and
the approval live in SQL (the record of people). Every transition checks the actor's role here,
not only in the views: editors of the document open, save, submit and discard; the quality office
comments, requests changes, approves and publishes. Publication is one commit on the branch in
force, refused with `Conflict` when the document changed there since the draft's base.

Plain Python: no Flask.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengai_docs import acknowledgements, inbox, trailers
from zhengai_docs.catalogue.codes import DocType, DocumentCode, document_code
from zhengai_docs.catalogue.document import Document, Status, parse_document
from zhengai_docs.catalogue.merge import MergedDocument, merge_documents
from zhengai_docs.db.models import DraftEvent, DraftRow, User
from zhengai_docs.errors import InvalidCode, NotAllowed, NotFound, Refused
from zhengai_docs.library import Library
from zhengai_docs.permissions import may_audit, may_create, may_edit
from zhengai_docs.render.html import require_renderable
from zhengai_docs.storage.drafts import DraftStore, draft_ref
from zhengai_docs.storage.repository import Author, WriteResult
from zhengai_docs.users import Role


class DraftStatus(enum.Enum):
    EDITING = "草稿中"
    SUBMITTED = "待审核"
    CHANGES_REQUESTED = "需修改"
    APPROVED = "已批准"
    PUBLISHED = "已发布"
    DISCARDED = "已放弃"


OPEN = (DraftStatus.EDITING, DraftStatus.SUBMITTED, DraftStatus.CHANGES_REQUESTED, DraftStatus.APPROVED)
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
}


Mailer = Callable[[Sequence[int], str, str], None]  # (user ids, message, page path)


@dataclass(frozen=True)
class Actor:
    """Who acts: the signed-in user, as the workflow needs them."""

    user_id: int
    username: str
    name: str
    email: str
    role: Role
    departments: tuple[str, ...]

    @property
    def author(self) -> Author:
        return Author(name=self.name, email=self.email)


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
    )


class Workflow:
    """The draft workflow over one library (git + SQL cache) and its people database.

    `approvers` names, per document type, the user names who review and publish that type
    (e.g. standards by the quality office, regulations by the president's office); a type not
    named is reviewed by the quality office. Administrators may always review.
    """

    def __init__(
        self,
        library: Library,
        *,
        one_open_per_document: bool = True,
        approvers: Mapping[DocType, Sequence[str]] | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.library = library
        self.db = library.db
        self.store = DraftStore(library.repo)
        self.one_open = one_open_per_document
        self.approvers = {t: tuple(names) for t, names in (approvers or {}).items() if names}
        self.mailer = mailer  # e-mail alongside the in-app notifications, when configured

    # -- reading ---------------------------------------------------------------------------

    def get(self, draft_id: int) -> DraftView:
        with self.db.session() as session:
            return _view(self._row(session, draft_id))

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
        if actor.role is Role.ADMIN:
            return True
        named = self.approvers.get(doc_type)
        return actor.username in named if named else may_audit(actor.role)

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

    def save(self, draft_id: int, document: Document, *, actor: Actor, message: str, expected: str) -> DraftView:
        """Save the draft's text; `expected` is the draft commit the editor was opened at."""
        draft = self.get(draft_id)
        self._require_author(actor, draft)
        self._require_status(draft, DraftStatus.EDITING, DraftStatus.CHANGES_REQUESTED)
        if str(document.meta.code) != draft.code:
            raise Refused("草稿与文档代码不一致")
        if draft.kind == "repeal":
            raise Refused("废止草稿没有可编辑的正文")
        if not may_edit(actor.role, actor.departments, document.meta.departments):
            raise NotAllowed("牵头部门须包含您所在的部门")
        require_renderable(document.body)  # TooComplex: the editor shows why and keeps the text
        ref = draft_ref(draft.code, draft.id)
        tip = self.store.save(
            ref, document.dump(), author=actor.author, message=trailers.one_line(message) or "保存草稿", expected=expected
        )
        with self.db.transaction() as session:
            row = self._row(session, draft_id)
            row.tip = tip
            row.departments = "、".join(document.meta.departments)
            row.updated_at = _now()
            self._event(session, row, "save", actor, message)
            return _view(row)

    def submit(self, draft_id: int, *, actor: Actor, note: str = "") -> DraftView:
        draft = self.get(draft_id)
        self._require_author(actor, draft)
        self._require_status(draft, DraftStatus.EDITING, DraftStatus.CHANGES_REQUESTED)
        view = self._transition(draft_id, DraftStatus.SUBMITTED, "submit", actor, note.strip(), submitted=True)
        self._notify(self._reviewer_ids(draft), f"{draft.code} 的{draft.kind_label}草稿已提交审核（{actor.name}）", draft_id)
        return view

    def discard(self, draft_id: int, *, actor: Actor, note: str = "") -> DraftView:
        """Abandon a draft; its commits stay in history under refs/drafts-discarded/."""
        draft = self.get(draft_id)
        if not (self.may_author(actor, draft) or self.may_review_draft(actor, draft)):
            raise NotAllowed("只有文档牵头部门的编辑或审核人可以放弃草稿")
        self._require_status(draft, *OPEN)
        self.store.discard(draft_ref(draft.code, draft.id))
        return self._transition(draft_id, DraftStatus.DISCARDED, "discard", actor, note.strip())

    def bring_up_to_date(self, draft_id: int, *, actor: Actor) -> MergedDocument:
        """Merge what changed on the branch since the draft's base into the draft (three-way).

        Conflicting passages are kept from both sides with markers; an approved or submitted
        draft whose merge needed the author's eyes goes back to them.
        """
        draft = self.get(draft_id)
        if not (self.may_author(actor, draft) or self.may_review_draft(actor, draft)):
            raise NotAllowed("没有权限更新此草稿")
        self._require_status(draft, *OPEN)
        code = document_code(draft.code)
        theirs = self.library.load(code)
        try:
            base: Document | None = self.library.load(code, revision=draft.base).document
        except NotFound:
            base = None
        merged = merge_documents(base, self.document(draft), theirs.document)
        ref = draft_ref(code, draft.id)
        message = f"同步现行版本 {theirs.version.commit[:12]}"
        text = merged.document.dump()
        tip = self.store.save(ref, text, author=actor.author, message=message, expected=draft.tip, rebase_to=theirs.version.commit)
        with self.db.transaction() as session:
            row = self._row(session, draft_id)
            row.tip = tip
            row.base = theirs.version.commit
            row.updated_at = _now()
            if row.status == DraftStatus.APPROVED.value or (not merged.clean and row.status == DraftStatus.SUBMITTED.value):
                row.status = DraftStatus.CHANGES_REQUESTED.value  # the text changed after review
            self._event(session, row, "update", actor, message)
        return merged

    # -- the reviewers' steps --------------------------------------------------------------

    def comment(self, draft_id: int, *, actor: Actor, text: str) -> None:
        draft = self.get(draft_id)
        if not self.may_see(actor, draft):
            raise NotAllowed("没有权限评论此草稿")
        text = _required(text, "意见不能为空")
        with self.db.transaction() as session:
            self._event(session, self._row(session, draft_id), "comment", actor, text)
        others = [draft.author_id] if actor.user_id != draft.author_id else self._reviewer_ids(draft)
        self._notify(others, f"{actor.name} 对 {draft.code} 的草稿提出意见：{text[:80]}", draft_id)

    def request_changes(self, draft_id: int, *, actor: Actor, text: str) -> DraftView:
        draft = self.get(draft_id)
        self._require_reviewer(actor, draft)
        self._require_status(draft, DraftStatus.SUBMITTED, DraftStatus.APPROVED)
        text = _required(text, "退回修改时请写明意见")
        view = self._transition(draft_id, DraftStatus.CHANGES_REQUESTED, "request_changes", actor, text)
        self._notify([draft.author_id], f"{draft.code} 的草稿被退回修改：{text[:100]}", draft_id)
        return view

    def approve(self, draft_id: int, *, actor: Actor, approval: Approval, require_ack: bool = False, note: str = "") -> DraftView:
        draft = self.get(draft_id)
        self._require_reviewer(actor, draft)
        self._require_status(draft, DraftStatus.SUBMITTED)
        body = trailers.require_one_line(_required(approval.approving_body, "请填写审批机构"), label="审批机构")
        number = trailers.require_one_line(_required(approval.doc_number, "请填写文号"), label="文号")
        now = _now()
        with self.db.transaction() as session:
            row = self._row(session, draft_id)
            row.status = DraftStatus.APPROVED.value
            row.approved_by_user = actor.name
            row.approved_at = now
            row.approving_body = body
            row.meeting_date = approval.meeting_date
            row.doc_number = number
            row.issue_date = approval.issue_date
            row.require_ack = require_ack
            row.updated_at = now
            summary = f"{body}（{approval.meeting_date.isoformat()}）审议通过，{number}，{approval.issue_date.isoformat()} 起施行"
            self._event(session, row, "approve", actor, f"{summary}\n{note.strip()}".strip())
            view = _view(row)
        self._notify([draft.author_id], f"{draft.code} 的草稿已批准：{number}", draft_id)
        return view

    def publish(self, draft_id: int, *, actor: Actor) -> WriteResult:
        """Move the approved draft to the branch as one commit carrying the approval.

        Refused with `Conflict` when the document changed on the branch since the draft's base:
        `bring_up_to_date` merges it in, and the merged text goes back through review.
        """
        draft = self.get(draft_id)
        self._require_reviewer(actor, draft)
        self._require_status(draft, DraftStatus.APPROVED)
        approval = draft.approval
        if approval is None:
            raise Refused("草稿缺少审批信息")
        code = document_code(draft.code)
        version = self.store.read(draft_ref(code, draft.id))
        if version.commit != draft.tip or version.text is None:
            raise Refused("草稿在批准后被改动，请重新审核")
        text = parse_document(version.text, path=code.path)
        status = Status.REPEALED if draft.kind == "repeal" else Status.IN_FORCE
        if draft.kind == "repeal":  # the text keeps its own number and date; the repeal decision is in the trailers
            document = text.with_changes(status=status)
        else:
            document = text.with_changes(
                status=status, doc_number=approval.doc_number, approved_by=approval.approving_body, issued=approval.issue_date
            )
        record = [
            (trailers.DRAFT, f"{draft.code}/{draft.id}"),
            (trailers.APPROVED_BY, approval.approving_body),
            (trailers.APPROVAL_MEETING, approval.meeting_date.isoformat()),
            (trailers.DOCUMENT_NUMBER, approval.doc_number),
            (trailers.ISSUE_DATE, approval.issue_date.isoformat()),
            (trailers.REVIEWED_BY, draft.approved_by_user or actor.name),
            (trailers.PUBLISHED_BY, actor.name),
        ]
        # The reason is the editors' prose; the approval is the trailer block Library.save appends after it.
        message = f"{draft.kind_label}发布：{draft.code} {trailers.one_line(document.meta.title)}\n\n{draft.reason}"
        author = self._draft_author(draft) or actor.author
        result = self.library.save(document, author=author, message=message, base=draft.base, trailers=record)
        with self.db.transaction() as session:
            row = self._row(session, draft_id)
            row.status = DraftStatus.PUBLISHED.value
            row.published_commit = result.commit
            row.updated_at = _now()
            self._event(session, row, "publish", actor, result.commit)
            if draft.require_ack and draft.kind != "repeal":
                acknowledgements.request(
                    session, code=draft.code, commit=result.commit, departments=document.meta.departments, draft_id=draft.id
                )
        self._notify([draft.author_id], f"{draft.code} 的{draft.kind_label}已发布：{approval.doc_number}", draft_id)
        return result

    def changed_on_branch(self, draft: DraftView) -> bool:
        """Has the document changed on the branch since the draft's base?"""
        path = document_code(draft.code).path
        head = self.library.repo.require_head()
        return self.library.repo.blob_ids(draft.base, [path]) != self.library.repo.blob_ids(head, [path])

    # -- internals -------------------------------------------------------------------------

    def _open(
        self, code: DocumentCode, kind: str, reason: str, departments: Sequence[str], base: str, text: str | None, actor: Actor
    ) -> DraftView:
        if self.one_open and self.open_for(code):
            raise Refused(f"{code} 已有进行中的修订，请先完成或放弃它")
        now = _now()
        with self.db.transaction() as session:
            row = DraftRow(
                code=str(code),
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
            self._event(session, row, "open", actor, reason)
            return _view(row)

    def _row(self, session: Session, draft_id: int) -> DraftRow:
        row = session.get(DraftRow, draft_id)
        if row is None:
            raise NotFound(f"草稿 {draft_id} 不存在")
        return row

    def _event(self, session: Session, row: DraftRow, action: str, actor: Actor, text: str) -> None:
        session.add(DraftEvent(draft_id=row.id, action=action, by=actor.name, at=_now(), text=text))

    def _transition(
        self, draft_id: int, status: DraftStatus, action: str, actor: Actor, text: str, *, submitted: bool = False
    ) -> DraftView:
        with self.db.transaction() as session:
            row = self._row(session, draft_id)
            row.status = status.value
            row.updated_at = _now()
            if submitted:
                row.submitted_by = actor.name
                row.submitted_at = row.updated_at
            self._event(session, row, action, actor, text)
            return _view(row)

    def _require_author(self, actor: Actor, draft: DraftView) -> None:
        if not self.may_author(actor, draft):
            raise NotAllowed("只有文档牵头部门的编辑可以修改和提交草稿")

    def _require_reviewer(self, actor: Actor, draft: DraftView) -> None:
        if not self.may_review_draft(actor, draft):
            raise NotAllowed("您不是此类文档的审核人，不能审核、批准或发布")

    def _require_status(self, draft: DraftView, *allowed: DraftStatus) -> None:
        if draft.status not in allowed:
            raise Refused(f"草稿当前状态为“{draft.status.value}”，不能执行此操作")

    def _reviewer_ids(self, draft: DraftView) -> list[int]:
        """Who is told of a submission: the approvers named for the type, else the quality office."""
        named = self.approvers.get(document_code(draft.code).doc_type)
        query = select(User.id).where(User.active.is_(True))
        query = query.where(User.username.in_(named)) if named else query.where(User.role.in_([Role.QUALITY.value, Role.ADMIN.value]))
        with self.db.session() as session:
            return list(session.scalars(query))

    def _notify(self, user_ids: Sequence[int], message: str, draft_id: int) -> None:
        path = f"/drafts/{draft_id}"
        inbox.notify(self.db, user_ids, message, url=path)
        if self.mailer is not None and user_ids:
            self.mailer(user_ids, message, path)

    def _draft_author(self, draft: DraftView) -> Author | None:
        with self.db.session() as session:
            user = session.get(User, draft.author_id)
            if user is None:
                return None
            return Author(name=user.display_name or user.username, email=user.email or f"{user.username}@users.zhengai-docs")


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

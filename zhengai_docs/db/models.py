"""SQL tables: a cache of the content repository's head, and the records of people.

Cache tables (everything from `CacheState` to `RevisionRow`) are a projection of one commit and
can be dropped and rebuilt from git at any time. `User` and `UserDepartment` are the record of
people and are never rebuilt.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import CheckConstraint, Date, DateTime, Dialect, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, WriteOnlyMapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes stored as UTC. SQLite keeps no offset, so a commit made at 08:00+08:00
    would otherwise come back as a naive 08:00 and be shown eight hours off."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the time zone is needed to store it as UTC")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class CacheState(Base):
    """The commit the cache tables reflect (a single row, id 1)."""

    __tablename__ = "cache_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commit: Mapped[str | None] = mapped_column(String(40))
    position: Mapped[int | None] = mapped_column(Integer)  # the commit's place on the first-parent line (None: unknown)
    synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    catalogue_error: Mapped[str | None] = mapped_column(Text)


class AttachmentTextRow(Base):
    """The searchable text of one attachment's content (by blob id: the same bytes anywhere in
    the repository share it). Extraction is slow; the text never changes for a blob."""

    __tablename__ = "attachment_texts"

    blob: Mapped[str] = mapped_column(String(40), primary_key=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    extracted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)


class DepartmentRow(Base):
    __tablename__ = "departments"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class LevelRow(Base):
    """Level 1 (A) and level 2 (A1) headings of the catalogue."""

    __tablename__ = "levels"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    parent: Mapped[str | None] = mapped_column(String(1))
    name: Mapped[str] = mapped_column(String(200))


class ItemRow(Base):
    __tablename__ = "items"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    level1: Mapped[str] = mapped_column(String(1), index=True)
    level2: Mapped[str] = mapped_column(String(2), index=True)
    name: Mapped[str] = mapped_column(String(200))
    departments: Mapped[list[ItemDepartment]] = relationship(
        cascade="all, delete-orphan", order_by="ItemDepartment.position", lazy="selectin"
    )

    @property
    def department_names(self) -> list[str]:
        return [d.department for d in self.departments]


class ItemDepartment(Base):
    __tablename__ = "item_departments"

    item_code: Mapped[str] = mapped_column(ForeignKey("items.code", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class DocumentRow(Base):
    """One document at the cached head; `error` is set when its file does not parse."""

    __tablename__ = "documents"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(4), index=True)
    doc_type: Mapped[str] = mapped_column(String(1), index=True)
    path: Mapped[str] = mapped_column(String(200))
    blob: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str | None] = mapped_column(String(10), index=True)
    issued: Mapped[dt.date | None] = mapped_column(Date, index=True)
    doc_number: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    cycle_years: Mapped[int | None] = mapped_column(Integer)
    cycle_reason: Mapped[str | None] = mapped_column(Text)
    reviewed: Mapped[dt.date | None] = mapped_column(Date)  # last "reviewed, no change"
    clock: Mapped[dt.date | None] = mapped_column(Date)  # when the revision cycle started (cycles.rules)
    clock_source: Mapped[str | None] = mapped_column(String(10))  # issued, reviewed or published
    error: Mapped[str | None] = mapped_column(Text)
    last_commit: Mapped[str | None] = mapped_column(String(40))
    last_changed: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    departments: Mapped[list[DocumentDepartment]] = relationship(
        cascade="all, delete-orphan", order_by="DocumentDepartment.position", lazy="selectin"
    )
    points: Mapped[list[DocumentPoint]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    related: Mapped[list[DocumentRelated]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    # Written at sync only, never loaded with the row (the indicator board reads the table itself).
    indicators: WriteOnlyMapped[DocumentIndicator] = relationship(cascade="save-update", passive_deletes=True)

    @property
    def department_names(self) -> list[str]:
        return [d.department for d in self.departments]


class DocumentDepartment(Base):
    __tablename__ = "document_departments"

    code: Mapped[str] = mapped_column(ForeignKey("documents.code", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class DocumentPoint(Base):
    __tablename__ = "document_points"

    code: Mapped[str] = mapped_column(ForeignKey("documents.code", ondelete="CASCADE"), primary_key=True)
    point_id: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)


class DocumentRelated(Base):
    __tablename__ = "document_related"

    code: Mapped[str] = mapped_column(ForeignKey("documents.code", ondelete="CASCADE"), primary_key=True)
    related: Mapped[str] = mapped_column(String(5), primary_key=True)


class RevisionRow(Base):
    """One commit that changed one document (history is read from here, not from git log)."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("code", "commit", name="uq_revisions_code_commit"),
        Index("ix_revisions_code_seq", "code", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(5))
    seq: Mapped[int] = mapped_column(Integer)  # position on the branch, oldest first
    commit: Mapped[str] = mapped_column(String(40))
    change: Mapped[str] = mapped_column(String(1))  # A, M or D
    blob: Mapped[str | None] = mapped_column(String(40))
    author_name: Mapped[str] = mapped_column(String(200))
    author_email: Mapped[str] = mapped_column(String(200))
    date: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    message: Mapped[str] = mapped_column(Text)
    issued: Mapped[dt.date | None] = mapped_column(Date)
    reviewed: Mapped[dt.date | None] = mapped_column(Date)
    clock: Mapped[dt.date | None] = mapped_column(Date)


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_staff_number", "staff_number", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))  # reader, editor, quality, admin
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Part of every session and remember-me cookie; a new one revokes them all (users.revoke_sessions).
    # '' (the column default for rows written without one) never matches a cookie.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token, server_default="")
    departments: Mapped[list[UserDepartment]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    # Campus sign-on (migration 0008): 'local' accounts sign in with their password here; 'directory'
    # accounts (created at a first CAS/LDAP sign-in or by `import-staff`) through the campus directory.
    auth_source: Mapped[str] = mapped_column(String(10), default="local", server_default="local")
    staff_number: Mapped[str | None] = mapped_column(String(40))  # 工号; unique (index uq_users_staff_number)
    directory_department: Mapped[str | None] = mapped_column(String(100))  # as the directory names it, known or not
    assigned_role: Mapped[str | None] = mapped_column(String(20))  # set by import-staff / an administrator; mapping may add

    @property
    def department_names(self) -> list[str]:
        return [d.department for d in self.departments]


class UserDepartment(Base):
    __tablename__ = "user_departments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)


class RoleMapping(Base):
    """A rule of campus sign-on (signon/mapping.py): people in a directory group or department get a role
    (and, for editors, a department scope; '': their own department) at every sign-in."""

    __tablename__ = "role_mappings"
    __table_args__ = (UniqueConstraint("kind", "value", "role", "department", name="uq_role_mappings_rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # group or department
    value: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(100), default="")  # '' : the person's own department
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SignOnState(Base):
    """Switches an administrator turns in the admin pages (one row, id 1)."""

    __tablename__ = "signon_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_passwords: Mapped[bool] = mapped_column(default=True)  # off: only administrators sign in with a local password
    changed_by: Mapped[str | None] = mapped_column(String(80))
    changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CasTicket(Base):
    """A CAS service ticket this app accepted: claimed once (the primary key refuses a replay), and kept
    so a single-logout request naming it ends that user's sessions."""

    __tablename__ = "cas_tickets"

    ticket: Mapped[str] = mapped_column(String(256), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class LoginAttempt(Base):
    """Failed sign-ins, counted per user name and per address to throttle guessing."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class ReminderLog(Base):
    """A revision-cycle reminder sent (record of people: never rebuilt), so nobody gets it twice.

    One row per document, stage (due_soon or overdue), due date and recipient (an e-mail address
    or `webhook`); a restarted clock has a new due date and so reminds again.
    """

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("code", "stage", "due", "recipient", name="uq_reminder_log_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(5), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    due: Mapped[dt.date] = mapped_column(Date)
    recipient: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SelfDiagnosisEntry(Base):
    """One framework element's part of the 自我诊改报告 for one year (record of people: never rebuilt).

    `element_id` is the framework's element id (`1.1`), or `overview` for the report's
    自我诊改工作概述. Lengths are checked in `publishing.selfdiag` when the text is entered.
    """

    __tablename__ = "self_diagnosis"
    __table_args__ = (UniqueConstraint("framework", "year", "element_id", name="uq_self_diagnosis_element"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    element_id: Mapped[str] = mapped_column(String(20))
    opinion: Mapped[str] = mapped_column(Text, default="")  # 自我诊断意见 (or the overview)
    measures: Mapped[str] = mapped_column(Text, default="")  # 改进措施
    effects: Mapped[str] = mapped_column(Text, default="")  # 改进成效
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DraftRow(Base):
    """A revision in progress (record of people: never rebuilt). Its text lives on the git ref
    `refs/drafts/<code>/<id>`; this row holds the workflow: status, people and the approval.

    `open_code` is the document's code while the draft is open under ONE_OPEN_REVISION and NULL
    otherwise: its unique index is what lets only one of two simultaneous 发起修订 through.
    `attention` says why a person must look at the draft (its ref and this row disagree in a way
    `workflow.reconcile_drafts` cannot repair); NULL when all is well."""

    __tablename__ = "drafts"
    __table_args__ = (Index("uq_drafts_open_code", "open_code", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(5), index=True)
    open_code: Mapped[str | None] = mapped_column(String(5))
    attention: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))  # revise or repeal
    status: Mapped[str] = mapped_column(String(10), index=True)  # 草稿中 待审核 需修改 已批准 已发布 已放弃
    reason: Mapped[str] = mapped_column(Text)
    departments: Mapped[str] = mapped_column(String(500))  # lead departments when opened, "、"-joined
    base: Mapped[str] = mapped_column(String(40))  # the branch commit the draft builds on
    tip: Mapped[str] = mapped_column(String(40))  # the draft ref's commit, for compare-and-swap
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    approved_by_user: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    approving_body: Mapped[str | None] = mapped_column(String(100))
    meeting_date: Mapped[dt.date | None] = mapped_column(Date)
    doc_number: Mapped[str | None] = mapped_column(String(100))
    issue_date: Mapped[dt.date | None] = mapped_column(Date)
    require_ack: Mapped[bool] = mapped_column(default=False)  # staff of the lead departments confirm reading
    published_commit: Mapped[str | None] = mapped_column(String(40))


class DraftEvent(Base):
    """One step of a draft's review: opened, saved, submitted, comment, changes requested, …"""

    __tablename__ = "draft_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """A message in a user's in-app inbox (submit, changes requested, approve, publish).

    `event_id` is the draft event it tells of: one message per recipient per event, however
    often the step is retried (NULL for messages written before migration 0007)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("uq_notifications_event_user", "event_id", "user_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(Integer)  # a draft_events id (events are never deleted)
    message: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    read: Mapped[bool] = mapped_column(default=False)


class ReadRequest(Base):
    """A published version that staff of its lead departments are asked to confirm reading
    (one request per published commit)."""

    __tablename__ = "read_requests"
    __table_args__ = (Index("uq_read_requests_code_commit", "code", "commit", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(5), index=True)
    commit: Mapped[str] = mapped_column(String(40))
    departments: Mapped[str] = mapped_column(String(500))  # "、"-joined
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ReadAck(Base):
    """One person's confirmation that they have read a published version."""

    __tablename__ = "read_acks"

    request_id: Mapped[int] = mapped_column(ForeignKey("read_requests.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DocumentIndicator(Base):
    """A 质控指标 a standard declares in its indicator tables (cache: `indicators.declaration` at sync)."""

    __tablename__ = "document_indicators"

    code: Mapped[str] = mapped_column(ForeignKey("documents.code", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # 编号, else the name
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(6))  # higher or lower
    target_op: Mapped[str | None] = mapped_column(String(1))
    target: Mapped[str] = mapped_column(String(40))  # a decimal, as text
    target_text: Mapped[str] = mapped_column(String(100))
    warning_op: Mapped[str | None] = mapped_column(String(1))
    warning: Mapped[str | None] = mapped_column(String(40))
    warning_text: Mapped[str | None] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(10))  # 学年, 学期 or 自然年
    source: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(60))
    departments: Mapped[str] = mapped_column(String(500))  # "、"-joined
    points: Mapped[str] = mapped_column(String(300))  # ","-joined
    line: Mapped[int] = mapped_column(Integer)


class IndicatorResult(Base):
    """A value entered for an indicator and period (record of people: never rebuilt, never changed).

    Append-only: a correction is a new row with the next `revision`, the current value is the
    highest revision, and the database refuses UPDATE and DELETE (triggers, migration 0009). The
    unique revision is the compare-and-swap: of two people correcting the same value at once, one
    gets revision n+1 and the other a conflict, never a silent overwrite. `value` NULL withdraws it.
    """

    __tablename__ = "indicator_results"
    __table_args__ = (
        UniqueConstraint("code", "indicator", "period", "revision", name="uq_indicator_results_revision"),
        CheckConstraint("revision >= 1", name="ck_indicator_results_revision"),
        Index("ix_indicator_results_period", "period", "code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(5))
    indicator: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    value: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(10))  # form, import or demo
    entered_by: Mapped[str] = mapped_column(String(80))
    entered_by_name: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IndicatorResultsVersion(Base):
    """A counter moved in every transaction that adds results (one row, id 1): whole-library
    statuses are kept per process until it moves (`derived.View.indicator_board`)."""

    __tablename__ = "indicator_results_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ExternalReview(Base):
    """The external review (复核) of one framework element for one year: does it agree with the
    self-diagnosis? Append-only like `IndicatorResult` (the latest revision counts)."""

    __tablename__ = "external_reviews"
    __table_args__ = (
        UniqueConstraint("framework", "year", "element_id", "revision", name="uq_external_reviews_revision"),
        CheckConstraint("revision >= 1", name="ck_external_reviews_revision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    element_id: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    agrees: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(String(500), default="")
    entered_by: Mapped[str] = mapped_column(String(80))
    entered_by_name: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

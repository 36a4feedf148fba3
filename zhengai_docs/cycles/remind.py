"""Reminders for cron: each department's editors get their due-soon and overdue documents once.

"Once" is per document, stage, due date and recipient, kept in `reminder_log`. Rows are
claimed (inserted under a unique constraint) before sending and released if sending fails, so
two runs at once cannot both send, and a failed run is retried next time. A restarted clock has
a new due date, so the next cycle reminds again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from zhengai_docs.cycles.report import ATTENTION, DocumentCycle, document_cycles
from zhengai_docs.cycles.rules import Policy, State
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import ReminderLog, User
from zhengai_docs.notify import Mail, NotifyError, SmtpSettings, post_json, send_mail
from zhengai_docs.users import Role

WEBHOOK = "webhook"
ReminderKey = tuple[str, str, dt.date, str]  # (document code, stage, due date, recipient): one reminder, sent once


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    departments: frozenset[str]


@dataclass
class RemindReport:
    mailed: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # address, codes
    webhook: tuple[str, ...] = ()
    no_address: list[str] = field(default_factory=list)  # editors without an e-mail address
    failures: list[str] = field(default_factory=list)
    dry_run: bool = False


@dataclass(frozen=True)
class Outbox:
    """Where a reminder goes and how its text reads."""

    college: str
    site_url: str


def remind(
    db: Database,
    *,
    policy: Policy,
    today: dt.date,
    smtp: SmtpSettings | None,
    webhook_url: str | None,
    outbox: Outbox,
    dry_run: bool = False,
) -> RemindReport:
    report = RemindReport(dry_run=dry_run)
    pending = [c for c in document_cycles(db, policy=policy, today=today) if c.clock.state in ATTENTION]
    recipients, report.no_address = editors(db)
    sent = already_sent(db, {c.code for c in pending})
    mails: list[tuple[Mail, list[ReminderKey]]] = []
    for recipient in recipients:
        mine = [c for c in pending if recipient.departments.intersection(c.departments) and _key(c, recipient.email) not in sent]
        if mine:
            mails.append((_mail(recipient, mine, outbox), [_key(c, recipient.email) for c in mine]))
    report.mailed = [(m.to_address, tuple(k[0] for k in keys)) for m, keys in mails]
    if mails and not dry_run:
        if smtp is None:
            report.failures.append(f"有 {len(mails)} 封提醒邮件待发送，但没有配置 SMTP_HOST")
            report.mailed = []
        else:
            deliver_mail(db, smtp, mails, report)
    if webhook_url:
        fresh = [c for c in pending if _key(c, WEBHOOK) not in sent]
        if fresh:
            report.webhook = tuple(c.code for c in fresh)
            if not dry_run:
                _deliver_webhook(db, webhook_url, fresh, outbox, today, report)
    return report


def editors(db: Database) -> tuple[list[Recipient], list[str]]:
    """Active editors with their departments, and the names of those without an address."""
    with db.session() as session:
        users = session.scalars(select(User).where(User.role == Role.EDITOR.value, User.active.is_(True)).order_by(User.username)).all()
    with_address = [Recipient(u.display_name, u.email, frozenset(u.department_names)) for u in users if u.email]
    return with_address, [u.username for u in users if not u.email]


def _key(cycle: DocumentCycle, recipient: str) -> ReminderKey:
    if cycle.clock.due is None:
        raise ValueError(f"{cycle.code} has no due date to remind of")
    return (cycle.code, cycle.clock.state.value, cycle.clock.due, recipient)


def already_sent(db: Database, codes: set[str]) -> set[ReminderKey]:
    """The reminders the log has for these documents (revision cycles and indicators share the log)."""
    if not codes:
        return set()
    with db.session() as session:
        rows = session.execute(
            select(ReminderLog.code, ReminderLog.stage, ReminderLog.due, ReminderLog.recipient).where(ReminderLog.code.in_(codes))
        ).all()
    return {(code, stage, due, recipient) for code, stage, due, recipient in rows}


def claim(db: Database, keys: Sequence[ReminderKey]) -> bool:
    """Log the reminders before sending: the primary key lets one run of `remind`, ever, send each."""
    now = dt.datetime.now(dt.UTC)
    try:
        with db.transaction() as session:
            session.add_all(ReminderLog(code=c, stage=s, due=d, recipient=r, sent_at=now) for c, s, d, r in keys)
    except IntegrityError:  # another run claimed them first
        return False
    return True


def release(db: Database, keys: Iterable[ReminderKey]) -> None:
    """Take claimed reminders back out of the log when sending failed, so the next run retries them."""
    with db.transaction() as session:
        for code, stage, due, recipient in keys:
            session.execute(
                delete(ReminderLog).where(
                    ReminderLog.code == code, ReminderLog.stage == stage, ReminderLog.due == due, ReminderLog.recipient == recipient
                )
            )


def deliver_mail(db: Database, smtp: SmtpSettings, mails: list[tuple[Mail, list[ReminderKey]]], report: RemindReport) -> None:
    """Send each mail whose reminders this run claims; what the server refused is released and reported."""
    claimed = [(mail, keys) for mail, keys in mails if claim(db, keys)]
    report.mailed = [(m.to_address, tuple(k[0] for k in keys)) for m, keys in claimed]
    try:
        failures = send_mail(smtp, [mail for mail, _ in claimed])
    except NotifyError as exc:
        release(db, [k for _, keys in claimed for k in keys])
        report.failures.append(str(exc))
        report.mailed = []
        return
    for index, error in failures.items():
        mail, keys = claimed[index]
        release(db, keys)
        report.failures.append(f"发给 {mail.to_address} 的邮件被拒绝：{error}")
    report.mailed = [entry for index, entry in enumerate(report.mailed) if index not in failures]


def _deliver_webhook(db: Database, url: str, fresh: list[DocumentCycle], outbox: Outbox, today: dt.date, report: RemindReport) -> None:
    keys = [_key(c, WEBHOOK) for c in fresh]
    if not claim(db, keys):
        report.webhook = ()
        return
    try:
        post_json(url, _webhook_payload(fresh, outbox, today))
    except NotifyError as exc:
        release(db, keys)
        report.webhook = ()
        report.failures.append(str(exc))


def _lines(cycles: Sequence[DocumentCycle], outbox: Outbox) -> list[str]:
    lines = []
    for state in ATTENTION:
        chosen = [c for c in cycles if c.clock.state is state]
        if chosen:
            lines.append(f"{state.label}（{len(chosen)} 份）：")
            for c in chosen:
                lines.append(f"- {c.code} {c.title}（{'、'.join(c.departments)}）：{c.clock.summary}")
                if outbox.site_url:
                    lines.append(f"  {outbox.site_url.rstrip('/')}/cycles/documents/{c.code}")
    return lines


def _subject(cycles: Sequence[DocumentCycle], outbox: Outbox) -> str:
    overdue = sum(1 for c in cycles if c.clock.state is State.OVERDUE)
    soon = len(cycles) - overdue
    parts = ([f"{overdue} 份文档已逾期"] if overdue else []) + ([f"{soon} 份即将到期"] if soon else [])
    return f"【{outbox.college}制度标准库】修订提醒：{'、'.join(parts)}"


def _mail(recipient: Recipient, cycles: Sequence[DocumentCycle], outbox: Outbox) -> Mail:
    departments = "、".join(sorted(recipient.departments))
    body = [
        f"{recipient.name}，您好：",
        "",
        f"按照制度、流程、标准定期修订的要求（质量标准“至少3年内调整一次”），{departments}牵头的以下文档需要修订，"
        "或在审核后确认“审核未修订”：",
        "",
        *_lines(cycles, outbox),
        "",
        "修订发布后请更新文档的发布/修订日期；审核后确认无需修订的，请在文档的修订周期页面填写理由并确认“审核未修订”。",
    ]
    if outbox.site_url:
        body.append(f"本部门修订周期一览：{outbox.site_url.rstrip('/')}/cycles/mine")
    body += ["", "此邮件由诊改制度标准库自动发送；每份文档在“即将到期”和“已逾期”阶段各提醒一次。"]
    return Mail(to_name=recipient.name, to_address=recipient.email, subject=_subject(cycles, outbox), body="\n".join(body) + "\n")


def _webhook_payload(cycles: Sequence[DocumentCycle], outbox: Outbox, today: dt.date) -> dict[str, object]:
    text = "\n".join([_subject(cycles, outbox), *_lines(cycles, outbox)])
    return {
        "msgtype": "text",
        "text": {"content": text},
        "zhengai": {
            "date": today.isoformat(),
            "documents": [
                {
                    "code": c.code,
                    "title": c.title,
                    "departments": list(c.departments),
                    "state": c.clock.state.value,
                    "due": c.clock.due.isoformat() if c.clock.due else None,
                    "days_left": c.clock.days_left,
                }
                for c in cycles
            ],
        },
    }

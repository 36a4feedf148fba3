"""Indicator reminders for cron, through the revision-cycle reminder machinery (`cycles.remind`):
the responsible departments' editors are e-mailed (and the group-chat webhook told) when a due
period's values are still missing `INDICATOR_DUE_DAYS` after it ended, and when indicators enter
预警.

Each reminder is sent once, recorded in `reminder_log` like cycle reminders: per standard, stage,
period end and recipient — stage `指标未填报`, or `指标预警:<digest>` where the digest names the
set of indicators in warning, so a further indicator crossing its warning value reminds again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from zhengai_docs.cycles.remind import WEBHOOK, Outbox, ReminderKey, RemindReport, already_sent, claim, deliver_mail, editors, release
from zhengai_docs.db.database import Database
from zhengai_docs.indicators import periods
from zhengai_docs.indicators.board import Board, IndicatorState
from zhengai_docs.indicators.status import Status
from zhengai_docs.notify import Mail, NotifyError, SmtpSettings, post_json

MISSING = "指标未填报"
WARNING = "指标预警"


@dataclass(frozen=True)
class Notice:
    """One standard's indicators that need attention at one stage."""

    code: str
    title: str
    stage: str
    period: str
    states: tuple[IndicatorState, ...]
    departments: frozenset[str]

    @property
    def due(self) -> dt.date:
        return periods.end(self.period)

    def key(self, recipient: str) -> ReminderKey:
        return (self.code, self.stage, self.due, recipient)


def notices(board: Board, *, due_days: int) -> list[Notice]:
    """Per standard and due period: the values still missing after `due_days`, and the warnings."""
    grouped: dict[tuple[str, str, Status], list[IndicatorState]] = defaultdict(list)
    for state in board.states:
        late = (board.today - periods.end(state.period)).days > due_days
        if state.status is Status.WARNING or (state.status is Status.MISSING and late):
            grouped[(state.indicator.code, state.period, state.status)].append(state)
    out = []
    for (code, period, status), states in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].rank)):
        stage = MISSING
        if status is Status.WARNING:
            digest = hashlib.sha256("\n".join(sorted(s.indicator.key for s in states)).encode("utf-8")).hexdigest()[:8]
            stage = f"{WARNING}:{digest}"
        departments = frozenset(d for s in states for d in s.indicator.departments)
        out.append(Notice(code, states[0].title, stage, period, tuple(states), departments))
    return out


def remind(
    db: Database, *, board: Board, due_days: int, smtp: SmtpSettings | None, webhook_url: str | None, outbox: Outbox, dry_run: bool = False
) -> RemindReport:
    report = RemindReport(dry_run=dry_run)
    pending = notices(board, due_days=due_days)
    recipients, report.no_address = editors(db)
    sent = already_sent(db, {n.code for n in pending})
    mails: list[tuple[Mail, list[ReminderKey]]] = []
    for recipient in recipients:
        mine = [n for n in pending if recipient.departments & n.departments and n.key(recipient.email) not in sent]
        if mine:
            mails.append((_mail(recipient.name, recipient.email, mine, outbox), [n.key(recipient.email) for n in mine]))
    report.mailed = [(m.to_address, tuple(k[0] for k in keys)) for m, keys in mails]
    if mails and not dry_run:
        if smtp is None:
            report.failures.append(f"有 {len(mails)} 封指标提醒邮件待发送，但没有配置 SMTP_HOST")
            report.mailed = []
        else:
            deliver_mail(db, smtp, mails, report)
    if webhook_url:
        fresh = [n for n in pending if n.key(WEBHOOK) not in sent]
        if fresh:
            report.webhook = tuple(n.code for n in fresh)
            if not dry_run:
                keys = [n.key(WEBHOOK) for n in fresh]
                if not claim(db, keys):
                    report.webhook = ()
                else:
                    try:
                        post_json(webhook_url, _payload(fresh, outbox, board.today))
                    except NotifyError as exc:
                        release(db, keys)
                        report.webhook = ()
                        report.failures.append(str(exc))
    return report


def _lines(found: Sequence[Notice], outbox: Outbox) -> list[str]:
    lines = []
    for notice in found:
        what = "预警" if notice.stage != MISSING else "未填报"
        lines.append(f"{notice.code} {notice.title}（{periods.label(notice.period)}，{what} {len(notice.states)} 项）：")
        for state in notice.states:
            indicator = state.indicator
            if state.status is Status.WARNING:
                lines.append(f"- {indicator.name}：{state.value}（目标值 {indicator.target.text}，预警值 {_warning(state)}）")
            else:
                lines.append(f"- {indicator.name}：尚未填报（目标值 {indicator.target.text}）")
        if outbox.site_url:
            lines.append(f"  {outbox.site_url.rstrip('/')}/indicators/documents/{notice.code}")
    return lines


def _warning(state: IndicatorState) -> str:
    return state.indicator.warning.text if state.indicator.warning else "未设"


def _subject(found: Sequence[Notice], outbox: Outbox) -> str:
    warned = sum(len(n.states) for n in found if n.stage != MISSING)
    missing = sum(len(n.states) for n in found if n.stage == MISSING)
    parts = ([f"{warned} 项指标预警"] if warned else []) + ([f"{missing} 项指标未填报"] if missing else [])
    return f"【{outbox.college}制度标准库】质控指标提醒：{'、'.join(parts)}"


def _mail(name: str, address: str, found: Sequence[Notice], outbox: Outbox) -> Mail:
    body = [
        f"{name}，您好：",
        "",
        "您所在部门负责的以下质控指标需要关注：触及预警值的，请分析原因、制订改进措施；未填报的，请按期填报测量结果。",
        "",
        *_lines(found, outbox),
        "",
        "此邮件由诊改制度标准库自动发送；每项预警和每个周期的未填报各提醒一次。",
    ]
    return Mail(to_name=name, to_address=address, subject=_subject(found, outbox), body="\n".join(body) + "\n")


def _payload(found: Sequence[Notice], outbox: Outbox, today: dt.date) -> dict[str, object]:
    return {
        "msgtype": "text",
        "text": {"content": "\n".join([_subject(found, outbox), *_lines(found, outbox)])},
        "zhengai": {
            "date": today.isoformat(),
            "indicators": [
                {
                    "code": s.indicator.code,
                    "indicator": s.indicator.key,
                    "name": s.indicator.name,
                    "period": s.period,
                    "status": s.status.label,
                    "value": s.value_text,
                    "unit": s.indicator.unit,
                    "target": s.indicator.target.text,
                    "warning": s.indicator.warning.text if s.indicator.warning else None,
                    "departments": list(s.indicator.departments),
                }
                for n in found
                for s in n.states
            ],
        },
    }

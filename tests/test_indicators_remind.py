"""Indicator reminders against a real SMTP server and a real HTTP webhook (the fixtures of the
revision-cycle reminder tests): warnings and late missing values reach the responsible editors
once, and a new warning reminds again."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from typing import Any

from tests.actors import account
from tests.conftest import OpenDatabase
from tests.test_cycles_remind import Mailbox, configure, logged, mailbox, run, webhook  # noqa: F401 - the SMTP server and webhook fixtures
from zhengai_docs.indicators import results
from zhengai_docs.indicators.cache import load_indicators
from zhengai_docs.permissions import WritePolicy

TODAY = "2026-11-23"


def test_warnings_and_late_values_are_mailed_once_and_a_new_warning_again(
    instance: Path,
    mailbox: tuple[Mailbox, int],  # noqa: F811 - the imported fixture
    open_database: OpenDatabase,
) -> None:
    box, port = mailbox
    configure(instance, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TLS="none", SMTP_FROM="诊改办 <zhengai@example.edu.cn>",
              COLLEGE_NAME="包头职业技术学院", SITE_URL="https://zhengai.example.edu.cn")  # fmt: skip
    first = run(instance, "indicators", "remind", "--today", TODAY)
    assert first.exit_code == 0, first.output
    mails = box.parsed()
    assert set(mails) == {"jiaowu@example.edu.cn", "renshi@example.edu.cn"}
    assert mails["jiaowu@example.edu.cn"]["Subject"] == "【包头职业技术学院制度标准库】质控指标提醒：4 项指标预警、2 项指标未填报"
    body = mails["jiaowu@example.edu.cn"].get_content()  # type: ignore[attr-defined]
    assert "- 生师比：20.6:1（目标值 ≤ 18:1，预警值 > 20:1）" in body
    assert "- 专任教师中双师型教师比例：尚未填报（目标值 ≥ 60%）" in body
    assert "https://zhengai.example.edu.cn/indicators/documents/A101B" in body
    renshi = mails["renshi@example.edu.cn"]
    assert renshi["Subject"].endswith("质控指标提醒：1 项指标预警")
    assert "专任教师年流失率：5.4%" in renshi.get_content()  # type: ignore[attr-defined]
    assert ("A101B", "指标未填报", "jiaowu@example.edu.cn") in logged(instance)

    again = run(instance, "indicators", "remind", "--today", TODAY)
    assert again.exit_code == 0 and "没有需要发送的新提醒" in again.output
    assert len(box.messages) == 2

    db = open_database(instance)
    declared = next(i for i in load_indicators(db, codes=["A101B"]) if i.key == "专任教师中双师型教师比例")
    results.record(db, policy=WritePolicy(), actor=account(db, "jiaowu"), indicator=declared, period="2025-2026", value="48.5", expected=0,
                   today=dt.date(2026, 11, 23))  # fmt: skip
    later = run(instance, "indicators", "remind", "--today", TODAY)
    assert later.exit_code == 0, later.output
    assert [rcpt for rcpt, _ in box.messages[2:]] == [["jiaowu@example.edu.cn"]]
    new = email.message_from_bytes(box.messages[2][1], policy=email.policy.default)
    assert new["Subject"].endswith("质控指标提醒：2 项指标预警")
    assert "专任教师中双师型教师比例：48.5%（目标值 ≥ 60%，预警值 < 50%）" in new.get_content()  # type: ignore[attr-defined]


def test_the_webhook_gets_every_department_once(instance: Path, webhook: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811 - the imported fixture
    received, url = webhook
    configure(instance, REMINDER_WEBHOOK_URL=url)
    result = run(instance, "indicators", "remind", "--today", TODAY)
    assert result.exit_code == 1  # e-mail is not configured; the webhook went out
    assert len(received) == 1
    items = received[0]["json"]["zhengai"]["indicators"]
    assert {(i["code"], i["name"], i["status"]) for i in items if i["status"] == "未填报"} == {
        ("A101B", "专任教师中双师型教师比例", "未填报"),
        ("A106B", "实习学生对基地满意度", "未填报"),
        ("D204B", "受助学生满意度", "未填报"),  # 学生工作处 has no editor account: the group chat still hears of it
    }
    assert sum(1 for i in items if i["status"] == "预警") == 4
    assert run(instance, "indicators", "remind", "--today", TODAY).exit_code == 1 and len(received) == 1


def test_before_the_due_days_missing_values_wait(instance: Path) -> None:
    dry = run(instance, "indicators", "remind", "--today", "2026-10-01", "--dry-run")  # 2025-2026 ended 31 days ago (< 60)
    assert dry.exit_code == 0
    assert "将发送指标提醒邮件给 jiaowu@example.edu.cn：A101B、A104B、A105B、A108B" in dry.output  # warnings only
    assert logged(instance) == set()

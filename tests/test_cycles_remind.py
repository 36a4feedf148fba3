"""Reminders against a real SMTP server and a real HTTP webhook; `audit --overdue`; the migration."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, select

from tests.conftest import OpenDatabase
from tests.databases import instance_database_url
from zhengai_docs.cli import cli
from zhengai_docs.db.database import Database, _alembic_config
from zhengai_docs.db.models import Base, DocumentRow, ReminderLog, RevisionRow
from zhengai_docs.db.sync import sync
from zhengai_docs.storage.repository import ContentRepository

TODAY = "2026-11-23"


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what arrives and can refuse recipients."""

    refuse: set[str] = field(default_factory=set)
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"

    def parsed(self) -> dict[str, email.message.EmailMessage]:
        result = {}
        for recipients, raw in self.messages:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            for recipient in recipients:
                result[recipient] = message  # type: ignore[assignment]
        return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"content_type": self.headers["Content-Type"], "json": json.loads(body.decode("utf-8"))})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/robot/send?key=test"
    server.shutdown()
    server.server_close()
    thread.join()


def configure(instance: Path, **settings: object) -> None:
    lines = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in settings.items()]
    database = f"DATABASE_URL = {json.dumps(instance_database_url(instance))}"
    (instance / "config.toml").write_text("\n".join([database, *lines]) + "\n", encoding="utf-8")


def run(instance: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--instance", str(instance), *args], catch_exceptions=False)


def logged(instance: Path) -> set[tuple[str, str, str]]:
    db = Database(instance_database_url(instance))
    try:
        with db.session() as session:
            return {(r.code, r.stage, r.recipient) for r in session.scalars(select(ReminderLog))}
    finally:
        db.dispose()


def test_remind_sends_each_department_its_documents_once(instance: Path, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    configure(
        instance,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_TLS="none",
        SMTP_FROM="诊改办 <zhengai@example.edu.cn>",
        COLLEGE_NAME="包头职业技术学院",
        SITE_URL="https://zhengai.example.edu.cn/",
    )
    first = run(instance, "remind", "--today", TODAY)
    assert first.exit_code == 0, first.output
    mails = box.parsed()
    assert set(mails) == {"jiaowu@example.edu.cn", "renshi@example.edu.cn"}
    jiaowu = mails["jiaowu@example.edu.cn"]
    assert jiaowu["Subject"] == "【包头职业技术学院制度标准库】修订提醒：4 份文档已逾期、2 份即将到期"
    assert str(jiaowu["To"]) == "教务处 王老师 <jiaowu@example.edu.cn>"
    assert jiaowu["From"].addresses[0].display_name == "诊改办"
    raw = next(raw for rcpt, raw in box.messages if rcpt == ["jiaowu@example.edu.cn"])
    assert b"Subject: =?utf-8?" in raw and "修订".encode() not in raw.split(b"\r\n\r\n", 1)[0]  # encoded words, not raw bytes
    body = jiaowu.get_content()
    assert jiaowu.get_content_charset() == "utf-8"
    assert "教务处 王老师，您好" in body
    assert "已逾期（4 份）" in body and "即将到期（2 份）" in body
    assert "- A101Z 包头职业技术学院专业设置与调整管理办法（教务处）：应于 2022-03-15 前修订，已逾期 1714 天" in body
    assert "https://zhengai.example.edu.cn/cycles/documents/A101Z" in body
    renshi = mails["renshi@example.edu.cn"].get_content()
    assert "A104B" in renshi and "C204Z" in renshi and "A101Z" not in renshi  # only their departments' documents
    assert ("A101Z", "overdue", "jiaowu@example.edu.cn") in logged(instance)

    second = run(instance, "remind", "--today", TODAY)
    assert second.exit_code == 0 and "没有需要发送的新提醒" in second.output
    assert len(box.messages) == 2  # no duplicates

    later = run(instance, "remind", "--today", "2026-12-09")  # A104B (due 2026-12-08) is now overdue
    assert later.exit_code == 0, later.output
    assert len(box.messages) == 4
    new = {rcpt[0]: email.message_from_bytes(raw, policy=email.policy.default) for rcpt, raw in box.messages[2:]}
    for recipient in ("jiaowu@example.edu.cn", "renshi@example.edu.cn"):
        assert new[recipient]["Subject"].endswith("修订提醒：1 份文档已逾期")
        assert "A104B" in new[recipient].get_content()  # type: ignore[attr-defined]


def test_refused_mail_is_not_recorded_and_is_retried(instance: Path, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    configure(instance, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TLS="none", SMTP_FROM="zhengai@example.edu.cn")
    box.refuse.add("renshi@example.edu.cn")
    failed = run(instance, "remind", "--today", TODAY)
    assert failed.exit_code == 1 and "renshi@example.edu.cn" in failed.output
    assert [rcpt for rcpt, _ in box.messages] == [["jiaowu@example.edu.cn"]]
    assert not any(recipient == "renshi@example.edu.cn" for _, _, recipient in logged(instance))
    box.refuse.clear()
    retried = run(instance, "remind", "--today", TODAY)
    assert retried.exit_code == 0, retried.output
    assert [rcpt for rcpt, _ in box.messages] == [["jiaowu@example.edu.cn"], ["renshi@example.edu.cn"]]


def test_unreachable_server_records_nothing(instance: Path) -> None:
    configure(instance, SMTP_HOST="127.0.0.1", SMTP_PORT=_free_port(), SMTP_TLS="none", SMTP_FROM="zhengai@example.edu.cn")
    result = run(instance, "remind", "--today", TODAY)
    assert result.exit_code == 1 and "无法通过 127.0.0.1" in result.output
    assert logged(instance) == set()


def test_dry_run_and_missing_smtp(instance: Path) -> None:
    dry = run(instance, "remind", "--today", TODAY, "--dry-run")
    assert dry.exit_code == 0 and "将发送提醒邮件给 jiaowu@example.edu.cn：A101Z、A101L、A104B、A105Z、A105B、A106B" in dry.output
    unset = run(instance, "remind", "--today", TODAY)
    assert unset.exit_code == 1 and "没有配置 SMTP_HOST" in unset.output
    assert logged(instance) == set()


def test_webhook_receives_json_once(instance: Path, webhook: tuple[list[dict[str, Any]], str]) -> None:
    received, url = webhook
    configure(instance, REMINDER_WEBHOOK_URL=url)
    result = run(instance, "remind", "--today", TODAY)
    assert result.exit_code == 1  # the webhook went out; e-mail is not configured
    assert len(received) == 1 and received[0]["content_type"].startswith("application/json")
    payload = received[0]["json"]
    assert payload["msgtype"] == "text" and "9 份文档已逾期、5 份即将到期" in payload["text"]["content"]
    documents = {d["code"]: d for d in payload["zhengai"]["documents"]}
    assert set(documents) == {"B601Z", "A105Z", "A101L", "A101Z", "F101Z", "E201Z", "D203Z", "E303Z", "A106B"} | {
        "B202Z",
        "A104B",
        "C204Z",
        "A105B",
        "D203L",
    }
    assert documents["B202Z"] == {
        "code": "B202Z",
        "title": "包头职业技术学院院长办公会议事规则",
        "departments": ["党委（院长）办公室"],
        "state": "due_soon",
        "due": "2026-11-30",
        "days_left": 7,
    }
    run(instance, "remind", "--today", TODAY)
    assert len(received) == 1


def test_webhook_url_must_be_http(instance: Path) -> None:
    configure(instance, REMINDER_WEBHOOK_URL="file:///etc/passwd")
    result = run(instance, "remind", "--today", TODAY)
    assert result.exit_code == 1 and "http:// 或 https://" in result.output
    assert logged(instance) == set()


def test_audit_overdue_exit_status(instance: Path) -> None:
    overdue = run(instance, "audit", "--overdue", "--today", TODAY)
    assert overdue.exit_code == 1
    assert "9 份文档已逾期" in overdue.output and "A101Z 包头职业技术学院专业设置与调整管理办法" in overdue.output
    clean = run(instance, "audit", "--overdue", "--today", "2019-01-01")
    assert clean.exit_code == 0 and "0 份文档已逾期" in clean.output
    assert run(instance, "audit", "--today", TODAY).exit_code == 1  # no check named: all checks run
    assert run(instance, "audit", "--today", "2026-13-01").exit_code == 2


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrading_a_cache_from_0001_fills_the_cycle_columns(instance: Path, open_database: OpenDatabase) -> None:
    db = open_database(instance)
    with db.engine.begin() as connection:  # back to the schema before revision cycles (a 0001 database)
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        columns = {column["name"] for column in inspect(connection).get_columns("documents")}
        assert "clock" not in columns and "reviewed" not in columns
    db.upgrade()
    assert db.is_current()
    result = sync(db, ContentRepository(instance / "content.git"))
    assert result.mode == "rebuild"
    with db.session() as session:
        assert session.scalar(select(DocumentRow.clock).where(DocumentRow.code == "A101Z")).isoformat() == "2019-03-15"
        assert session.scalar(select(DocumentRow.clock_source).where(DocumentRow.code == "A101Z")) == "issued"
        assert session.scalar(select(RevisionRow).where(RevisionRow.clock.is_(None), RevisionRow.change != "D")) is None

"""Outgoing notifications: e-mail over SMTP and JSON webhooks for group-chat bots.

Plain standard library (smtplib, email, urllib). Messages are built with the SMTP policy, so
Chinese subjects, names and bodies are encoded as RFC 2047 words and UTF-8 parts that every
mail client decodes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import ssl
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from zhengai_docs.errors import ZhengaiError

SECURITY_MODES = ("starttls", "ssl", "none")
_TIMEOUT = 30
_log = logging.getLogger(__name__)


class NotifyError(ZhengaiError):
    """Settings are incomplete or a server refused a message."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str
    security: str

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SmtpSettings | None:
        """None when no SMTP_HOST is configured (e-mail is off)."""
        if not settings.get("SMTP_HOST"):
            return None
        security = str(settings["SMTP_TLS"]).lower()
        if security not in SECURITY_MODES:
            raise NotifyError(f"SMTP_TLS 必须是 {'、'.join(SECURITY_MODES)} 之一")
        if not settings.get("SMTP_FROM"):
            raise NotifyError("已设置 SMTP_HOST，但缺少发件人地址 SMTP_FROM")
        return cls(
            host=str(settings["SMTP_HOST"]),
            port=int(settings["SMTP_PORT"]),
            user=settings.get("SMTP_USER") or None,
            password=settings.get("SMTP_PASSWORD") or None,
            sender=str(settings["SMTP_FROM"]),
            security=security,
        )


@dataclass(frozen=True)
class Mail:
    to_name: str
    to_address: str
    subject: str
    body: str


def build_message(mail: Mail, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(display_name=mail.to_name, addr_spec=mail.to_address)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=mail.to_address.rpartition("@")[2] or None)
    message.set_content(mail.body, charset="utf-8")
    return message


def send_mail(settings: SmtpSettings, mails: Sequence[Mail]) -> dict[int, str]:
    """Send over one connection; returns the index and error of each message that failed."""
    failures: dict[int, str] = {}
    if not mails:
        return failures
    try:
        with _connect(settings) as server:
            for index, mail in enumerate(mails):
                try:
                    server.send_message(build_message(mail, sender=settings.sender))
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    failures[index] = str(exc)
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError(f"无法通过 {settings.host}:{settings.port} 发送邮件：{exc}") from exc
    return failures


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=_TIMEOUT, context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=_TIMEOUT)
        if settings.security == "starttls":
            server.starttls(context=ssl.create_default_context())
    if settings.user:
        server.login(settings.user, settings.password or "")
    return server


def post_json(url: str, payload: Mapping[str, Any]) -> None:
    """POST a JSON body (WeCom/DingTalk/Feishu-style bots accept {"msgtype": "text", ...})."""
    if not url.lower().startswith(("http://", "https://")):
        raise NotifyError(f"Webhook 地址必须以 http:// 或 https:// 开头：{url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310 - scheme checked above
            response.read()
    except OSError as exc:
        raise NotifyError(f"Webhook 调用失败：{exc}") from exc


def mail_sender(
    settings: Mapping[str, Any], addresses: Callable[[Sequence[int]], list[tuple[str, str]]]
) -> Callable[[Sequence[int], str, str], None] | None:
    """A function that mails a notification to users by id, or None when e-mail is off.

    Failures are logged, not raised: the in-app notification has already been stored, and a
    mail server being down must not undo a review step.
    """
    smtp = SmtpSettings.from_settings(settings)
    if smtp is None:
        return None
    site = str(settings.get("SITE_URL") or "").rstrip("/")

    def send(user_ids: Sequence[int], text: str, path: str) -> None:
        body = f"{text}\n\n{site}{path}\n" if site else f"{text}\n\n（页面：{path}）\n"
        mails = [
            Mail(to_name=name, to_address=address, subject=f"【诊改文档】{text[:60]}", body=body) for name, address in addresses(user_ids)
        ]
        try:
            for index, error in send_mail(smtp, mails).items():
                _log.warning("notification to %s refused: %s", mails[index].to_address, error)
        except NotifyError as exc:
            _log.warning("notification mail not sent: %s", exc)

    return send

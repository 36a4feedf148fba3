"""CAS sign-in (protocol 2.0 and 3.0 with attributes) and single logout: settings, tickets and
answers. The client that talks to the CAS server (python-cas, requests: ~6 MB a process) is
`cas_client`, imported only where CAS is configured.

The service URL is fixed by the settings (SITE_URL + the callback path), never taken from the
request's Host header: a ticket is validated only for that URL, so a ticket the CAS server issued
to another service is refused by the server (INVALID_SERVICE). Each ticket is claimed once, in the
database, before it is validated (`cas_tickets`' primary key), so a replayed ticket is refused here
whatever the server says, and a single-logout request naming a ticket finds the user it signed in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import CasTicket
from zhengai_docs.signon.identity import SignOnRefused
from zhengai_docs.users import revoke_sessions

TICKET = re.compile(r"ST-[A-Za-z0-9._-]{1,250}")
TICKETS_KEPT = dt.timedelta(days=60)  # longer than a remember-me cookie lives, for single logout
CAS_NS = {"cas": "http://www.yale.edu/tp/cas"}
AGAIN = "请重新点击“统一身份认证登录”。"
REFUSALS = {
    "INVALID_SERVICE": "该登录票据不是签发给本系统的（服务地址不符），已拒绝。" + AGAIN,
    "INVALID_TICKET": "登录票据无效或已过期（票据只能在签发后短时间内使用一次）。" + AGAIN,
    "INVALID_TICKET_SPEC": "登录票据无效。" + AGAIN,
    "INVALID_REQUEST": "登录请求不完整。" + AGAIN,
}
REPLAYED = "该登录票据已经使用过，不能再次用于登录。" + AGAIN
UNREACHABLE = "统一身份认证服务器暂时无法连接，请稍后再试；如持续出现请联系信息中心。"
UNREADABLE = "统一身份认证服务器的应答无法识别，未登录。请联系信息中心。"


@dataclass(frozen=True)
class CasConfig:
    server_url: str  # e.g. https://cas.example.edu.cn/cas/
    service_url: str  # SITE_URL + the callback path
    version: int = 3
    name_attribute: str = "name"
    staff_number_attribute: str = "staffNumber"
    department_attribute: str = "department"
    email_attribute: str = "email"
    groups_attribute: str = "groups"
    ca_file: str = ""
    timeout: int = 10

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *, callback_path: str) -> CasConfig | None:
        """None while CAS_SERVER_URL is unset (CAS sign-in off). SITE_URL is required with it."""
        server = str(settings.get("CAS_SERVER_URL") or "")
        if not server:
            return None
        site = str(settings.get("SITE_URL") or "").rstrip("/")
        if not site.startswith(("http://", "https://")):
            raise SignOnRefused("统一身份认证未配置完整：请设置 SITE_URL（本系统的公开地址）。")
        return cls(
            server_url=server if server.endswith("/") else server + "/",
            service_url=site + callback_path,
            version=int(settings["CAS_VERSION"]),
            name_attribute=str(settings["CAS_NAME_ATTRIBUTE"]),
            staff_number_attribute=str(settings["CAS_STAFF_NUMBER_ATTRIBUTE"]),
            department_attribute=str(settings["CAS_DEPARTMENT_ATTRIBUTE"]),
            email_attribute=str(settings["CAS_EMAIL_ATTRIBUTE"]),
            groups_attribute=str(settings["CAS_GROUPS_ATTRIBUTE"]),
            ca_file=str(settings["CAS_CA_FILE"] or ""),
            timeout=int(settings["CAS_TIMEOUT_SECONDS"]),
        )


def failure_code(response: bytes) -> str | None:
    """The `code` of a `cas:authenticationFailure` (python-cas reads successes only)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(response, parser=parser)
    except etree.XMLSyntaxError:
        return None
    codes = root.xpath("//cas:authenticationFailure/@code", namespaces=CAS_NS)
    return str(codes[0]).strip() if codes else None


def claim_ticket(db: Database, *, ticket: str) -> None:
    """Record the ticket before it is used: the primary key lets one request, ever, use it."""
    now = dt.datetime.now(dt.UTC)
    try:
        with db.transaction() as session:
            session.execute(delete(CasTicket).where(CasTicket.at < now - TICKETS_KEPT))
            session.add(CasTicket(ticket=ticket, user_id=None, at=now))
    except IntegrityError:
        raise SignOnRefused(REPLAYED) from None


def bind_ticket(db: Database, *, ticket: str, user_id: int) -> None:
    """The ticket signed this user in: a single-logout request naming it ends their sessions."""
    with db.transaction() as session:
        session.execute(update(CasTicket).where(CasTicket.ticket == ticket).values(user_id=user_id))


def single_logout(db: Database, *, logout_request: str) -> int | None:
    """End the sessions of the user the ticket named in a CAS logoutRequest signed in; the user's id, or None.

    The request is trusted only as far as the ticket it names: tickets are long random values seen
    by this app, the user's browser and the CAS server alone, and a name we never issued ends nothing.
    """
    if "<!DOCTYPE" in logout_request.upper():
        return None
    from cas import CASClientV3  # python-cas: loaded by the first single logout, not by every process

    indexes = CASClientV3.get_saml_slos(logout_request.encode("utf-8"))
    ticket = (indexes[0].text or "").strip() if indexes else ""
    if TICKET.fullmatch(ticket) is None:
        return None
    with db.transaction() as session:
        user_id = session.scalar(select(CasTicket.user_id).where(CasTicket.ticket == ticket))
        session.execute(delete(CasTicket).where(CasTicket.ticket == ticket))
    if user_id is None:
        return None
    revoke_sessions(db, user_id=user_id)
    return int(user_id)

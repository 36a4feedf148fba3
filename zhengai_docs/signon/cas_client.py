"""The CAS server's client: login and logout URLs, and ticket validation through python-cas.

Imported only where CAS is configured (`web.signon.cas_service`): python-cas and requests cost
every process ~6 MB.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from cas import CASClient

from zhengai_docs.db.database import Database
from zhengai_docs.signon.cas import REFUSALS, TICKET, UNREACHABLE, UNREADABLE, CasConfig, claim_ticket, failure_code
from zhengai_docs.signon.identity import DirectoryIdentity, SignOnRefused, many_values, one_value

log = logging.getLogger(__name__)


class _Session(requests.Session):
    """python-cas calls `session.get` without a timeout: a hung CAS server must not hold a worker."""

    def __init__(self, *, timeout: int, ca_file: str) -> None:
        super().__init__()
        self._timeout = timeout
        if ca_file:
            self.verify = ca_file

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        if kwargs.get("verify") is True and isinstance(self.verify, str):
            kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]


class CasService:
    def __init__(self, config: CasConfig) -> None:
        self.config = config

    def _client(self) -> Any:
        session = _Session(timeout=self.config.timeout, ca_file=self.config.ca_file)
        return CASClient(
            version=self.config.version, service_url=self.config.service_url, server_url=self.config.server_url, session=session
        )

    def login_url(self) -> str:
        return str(self._client().get_login_url())

    def logout_url(self, *, return_to: str | None) -> str:
        return str(self._client().get_logout_url(return_to))

    def validate(self, db: Database, *, ticket: str) -> DirectoryIdentity:
        """Who the CAS server says the ticket belongs to; SignOnRefused (in Chinese) otherwise."""
        if TICKET.fullmatch(ticket) is None:
            raise SignOnRefused(REFUSALS["INVALID_TICKET_SPEC"])
        claim_ticket(db, ticket=ticket)
        client = self._client()
        try:
            response = client.get_verification_response(ticket)
        except requests.RequestException:
            log.exception("CAS ticket validation could not reach %s", self.config.server_url)
            raise SignOnRefused(UNREACHABLE) from None
        finally:
            client.session.close()
        if not isinstance(response, bytes) or b"<!DOCTYPE" in response.upper():  # no entities, ever
            raise SignOnRefused(UNREADABLE)
        try:
            user, attributes, _ = client.verify_response(response)
        except Exception:  # a body that is not a CAS response (an error page, a proxy's page)
            log.exception("unreadable CAS validation response")
            raise SignOnRefused(UNREADABLE) from None
        if not user:
            code = failure_code(response)
            log.info("CAS refused a ticket: %s", code)
            raise SignOnRefused(REFUSALS.get(code or "", REFUSALS["INVALID_TICKET"]))
        values = attributes or {}
        c = self.config
        return DirectoryIdentity(
            username=str(user).strip(),
            name=one_value(values.get(c.name_attribute)),
            staff_number=one_value(values.get(c.staff_number_attribute)),
            department=one_value(values.get(c.department_attribute)),
            email=one_value(values.get(c.email_attribute)),
            groups=many_values(values.get(c.groups_attribute)),
            source="cas",
        )

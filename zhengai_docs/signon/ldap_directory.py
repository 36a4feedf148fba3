"""LDAP sign-in (ldap3): bind as the user, or search with a service account and then bind as the
entry found; plain, StartTLS or ldaps://. The department comes from an attribute, or from the
department group (under LDAP_DEPARTMENT_GROUP_BASE) the person belongs to; groups for the role
rules from LDAP_GROUP_BASE.

What a login never is: an empty password (a simple bind with a DN and no password is an
*unauthenticated* bind that many servers answer with success — RFC 4513 5.1.2), so it is refused
before the server is asked; and a user name is never pasted into a filter or a DN as typed
(`escape_filter_chars`, `escape_rdn`), so `*)(uid=*` is a name nobody has.
"""

from __future__ import annotations

import logging
import ssl
import warnings
from typing import Any

with warnings.catch_warnings():  # ldap3 2.9.1 imports pyasn1 names that pyasn1 >= 0.6.1 marks deprecated (harmless)
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn

from zhengai_docs.signon.identity import DirectoryIdentity, SignOnRefused, many_values, one_value
from zhengai_docs.signon.ldap import DISABLED, EMPTY_PASSWORD, UNREACHABLE, LdapConfig

log = logging.getLogger(__name__)


class LdapDirectory:
    def __init__(self, config: LdapConfig) -> None:
        self.config = config

    def _server(self) -> ldap3.Server:
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.config.ca_file or None)
        return ldap3.Server(self.config.url, connect_timeout=self.config.timeout, tls=tls, get_info=ldap3.NONE)

    def _connect(self, server: ldap3.Server, *, user: str | None, password: str | None) -> ldap3.Connection:
        connection = ldap3.Connection(
            server,
            user=user,
            password=password,
            authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
            read_only=True,
            receive_timeout=self.config.timeout,
            raise_exceptions=False,
        )
        try:
            connection.open()
            if self.config.start_tls and not connection.start_tls():
                raise LDAPException(f"StartTLS refused: {connection.result}")
        except LDAPException:
            connection.unbind()
            if connection.socket is not None:  # ldap3 leaves the socket of a refused connect open
                connection.socket.close()
            raise
        return connection

    def authenticate(self, *, username: str, password: str) -> DirectoryIdentity | None:
        """The person these credentials belong to; None for a wrong name or password; SignOnRefused
        for an empty password, a disabled account or a server that cannot be reached."""
        if password == "":
            raise SignOnRefused(EMPTY_PASSWORD)
        if not username.strip():
            return None
        try:
            return self._authenticate(username.strip(), password)
        except LDAPException:
            log.exception("LDAP sign-in of %r failed at the server", username)
            raise SignOnRefused(UNREACHABLE) from None

    def _authenticate(self, username: str, password: str) -> DirectoryIdentity | None:
        server = self._server()
        if self.config.user_dn_template:
            dn = self.config.user_dn_template.format(username=escape_rdn(username))
            return self._bound(server, dn=dn, password=password, username=username, reader=None)
        service = self._connect(server, user=self.config.bind_dn or None, password=self.config.bind_password or None)
        try:
            if self.config.bind_dn and not service.bind():
                log.error("LDAP service account bind refused: %s", service.result)
                raise SignOnRefused(UNREACHABLE)
            query = self.config.user_filter.format(username=escape_filter_chars(username))
            service.search(self.config.search_base, query, search_scope=ldap3.SUBTREE, attributes=["1.1"], size_limit=2)
            entries = [e for e in service.response or () if e.get("type") == "searchResEntry"]
            if len(entries) != 1:
                return None  # nobody, or a filter that is not specific enough: never guess which one
            dn = entries[0]["dn"]
            if self._disabled(service, dn):
                raise SignOnRefused(DISABLED)
            return self._bound(server, dn=dn, password=password, username=username, reader=service)
        finally:
            service.unbind()

    def _disabled(self, connection: ldap3.Connection, dn: str) -> bool:
        if not self.config.disabled_filter:
            return False
        connection.search(dn, self.config.disabled_filter, search_scope=ldap3.BASE, attributes=["1.1"])
        return any(e.get("type") == "searchResEntry" for e in connection.response or ())

    def _bound(
        self, server: ldap3.Server, *, dn: str, password: str, username: str, reader: ldap3.Connection | None
    ) -> DirectoryIdentity | None:
        """Bind as the person (the password check); read their entry and groups (as the service account, if any)."""
        own = self._connect(server, user=dn, password=password)
        try:
            if not own.bind() or own.result.get("result") != 0:
                return None
            connection = reader or own
            if reader is None and self._disabled(own, dn):
                raise SignOnRefused(DISABLED)
            return self._identity(connection, dn=dn, username=username)
        finally:
            own.unbind()

    def _identity(self, connection: ldap3.Connection, *, dn: str, username: str) -> DirectoryIdentity:
        c = self.config
        wanted = [a for a in ("uid", c.name_attribute, c.staff_number_attribute, c.department_attribute, c.email_attribute) if a]
        connection.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=wanted)
        found = next((e for e in connection.response or () if e.get("type") == "searchResEntry"), None)
        attributes: dict[str, Any] = dict(found["attributes"]) if found else {}
        department = one_value(attributes.get(c.department_attribute)) if c.department_attribute else None
        if department is None and c.department_group_base:
            department = next(iter(self._groups(connection, base=c.department_group_base, dn=dn, username=username)), None)
        groups = self._groups(connection, base=c.group_base, dn=dn, username=username) if c.group_base else ()
        return DirectoryIdentity(
            username=one_value(attributes.get("uid")) or username,
            name=one_value(attributes.get(c.name_attribute)),
            staff_number=one_value(attributes.get(c.staff_number_attribute)) if c.staff_number_attribute else None,
            department=department,
            email=one_value(attributes.get(c.email_attribute)) if c.email_attribute else None,
            groups=groups,
            source="ldap",
        )

    def _groups(self, connection: ldap3.Connection, *, base: str, dn: str, username: str) -> tuple[str, ...]:
        query = self.config.group_filter.format(dn=escape_filter_chars(dn), username=escape_filter_chars(username))
        connection.search(base, query, search_scope=ldap3.SUBTREE, attributes=["cn"])
        names: list[str] = []
        for entry in connection.response or ():
            if entry.get("type") == "searchResEntry":
                names.extend(many_values(entry["attributes"].get("cn")))
        return tuple(dict.fromkeys(names))

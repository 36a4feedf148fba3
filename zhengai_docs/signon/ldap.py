"""LDAP sign-in's settings and messages; the client that asks the directory is `ldap_directory`,
imported only where LDAP is configured (ldap3 costs every process ~5 MB)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

UNREACHABLE = "统一身份认证（LDAP）服务器暂时无法连接，请稍后再试；如持续出现请联系信息中心。"
EMPTY_PASSWORD = "请输入密码（统一身份认证不接受空密码）。"  # noqa: S105 - a message, not a password
DISABLED = "该账号已在统一身份认证平台停用，不能登录。如有疑问请联系信息中心。"


@dataclass(frozen=True)
class LdapConfig:
    url: str
    start_tls: bool = False
    ca_file: str = ""
    user_dn_template: str = ""  # bind as the user, e.g. uid={username},ou=people,dc=…
    bind_dn: str = ""  # search-then-bind: the service account (empty: anonymous search)
    bind_password: str = ""
    search_base: str = ""
    user_filter: str = "(uid={username})"
    name_attribute: str = "cn"
    staff_number_attribute: str = "employeeNumber"
    department_attribute: str = "departmentNumber"
    email_attribute: str = "mail"
    department_group_base: str = ""
    group_base: str = ""
    group_filter: str = "(member={dn})"
    disabled_filter: str = ""
    timeout: int = 10

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> LdapConfig | None:
        """None while LDAP_URL is unset (LDAP sign-in off)."""
        if not settings.get("LDAP_URL"):
            return None
        return cls(
            url=str(settings["LDAP_URL"]),
            start_tls=bool(settings["LDAP_START_TLS"]),
            ca_file=str(settings["LDAP_CA_FILE"] or ""),
            user_dn_template=str(settings["LDAP_USER_DN_TEMPLATE"] or ""),
            bind_dn=str(settings["LDAP_BIND_DN"] or ""),
            bind_password=str(settings["LDAP_BIND_PASSWORD"] or ""),
            search_base=str(settings["LDAP_SEARCH_BASE"] or ""),
            user_filter=str(settings["LDAP_USER_FILTER"]),
            name_attribute=str(settings["LDAP_NAME_ATTRIBUTE"]),
            staff_number_attribute=str(settings["LDAP_STAFF_NUMBER_ATTRIBUTE"] or ""),
            department_attribute=str(settings["LDAP_DEPARTMENT_ATTRIBUTE"] or ""),
            email_attribute=str(settings["LDAP_EMAIL_ATTRIBUTE"] or ""),
            department_group_base=str(settings["LDAP_DEPARTMENT_GROUP_BASE"] or ""),
            group_base=str(settings["LDAP_GROUP_BASE"] or ""),
            group_filter=str(settings["LDAP_GROUP_FILTER"]),
            disabled_filter=str(settings["LDAP_DISABLED_FILTER"] or ""),
            timeout=int(settings["LDAP_TIMEOUT_SECONDS"]),
        )

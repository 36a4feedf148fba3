"""Who the campus directory says someone is, whichever protocol said it."""

from __future__ import annotations

from dataclasses import dataclass

from zhengai_docs.users import UserError


class SignOnRefused(UserError):
    """A sign-on refused with a message for the person signing in (Chinese, says what to do)."""

    status = 403


@dataclass(frozen=True)
class DirectoryIdentity:
    """A person as the directory describes them at sign-in: `username` is their directory id (CAS user,
    LDAP uid), `department` the department name the directory gives, `groups` its group names."""

    username: str
    name: str | None = None
    staff_number: str | None = None
    department: str | None = None
    email: str | None = None
    groups: tuple[str, ...] = ()
    source: str = "cas"  # cas or ldap: how they signed in (shown nowhere but the log)


def one_value(value: object) -> str | None:
    """A directory attribute as one trimmed string (the first of several), or None when empty."""
    if isinstance(value, list | tuple):
        value = next((v for v in value if v not in (None, "")), None)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def many_values(value: object) -> tuple[str, ...]:
    """A directory attribute as a tuple of trimmed strings (single values and lists alike)."""
    values = value if isinstance(value, list | tuple) else [value]
    return tuple(dict.fromkeys(str(v).strip() for v in values if v is not None and str(v).strip()))

"""The password form's check: a local account's own password, else the campus LDAP directory.

A local account (auth source 'local') is checked here, and only while local passwords are on or it
is an administrator's (the break-glass accounts; signon/switch.py). Any other name goes to LDAP
when it is configured, and a person LDAP knows gets their account just in time (accounts.py).
Every attempt goes through `users.sign_in`, so the throttle counts LDAP failures too.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User
from zhengai_docs.signon.accounts import LOCAL, provision
from zhengai_docs.signon.identity import SignOnRefused
from zhengai_docs.signon.switch import may_use_local_password
from zhengai_docs.users import LoginLimits, Role, check_credentials, sign_in

if TYPE_CHECKING:
    from zhengai_docs.signon.ldap_directory import LdapDirectory

LOCAL_OFF = "本系统已关闭本地密码登录，请使用“统一身份认证登录”。"


def password_sign_in(
    db: Database,
    *,
    username: str,
    password: str,
    address: str,
    limits: LoginLimits,
    directory: LdapDirectory | None,
    known_departments: Collection[str],
) -> User | None:
    """The user these credentials sign in, or None; SignOnRefused / SignInRefused say why not."""

    def check(name: str, secret: str) -> User | None:
        with db.session() as session:
            local = session.scalar(select(User).where(func.lower(User.username) == name, User.auth_source == LOCAL))
        if local is not None:
            user = check_credentials(db, username=name, password=secret)
            if user is not None and not may_use_local_password(db, Role(user.role)):
                raise SignOnRefused(LOCAL_OFF)  # told only to whoever knows the password
            return user
        if directory is None:
            check_credentials(db, username=name, password=secret)  # the same cost as a wrong password
            return None
        identity = directory.authenticate(username=name, password=secret)
        return None if identity is None else provision(db, identity=identity, known_departments=known_departments)

    return sign_in(db, username=username, password=password, address=address, limits=limits, check=check)

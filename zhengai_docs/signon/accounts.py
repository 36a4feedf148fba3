"""Just-in-time accounts: the first sign-in through the campus directory creates the account; every
sign-in brings its name, 工号, e-mail, department and role (mapping.py) up to date.

An identity is matched to an account by 工号 first (accounts made by `import-staff` carry it), then
by user name. It never takes over a local account (one that signs in with a password kept here,
such as the break-glass administrators): a directory user named like one is refused. Accounts are
never deleted; a deactivated one (e.g. departed staff) is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User, UserDepartment, new_session_token
from zhengai_docs.signon.identity import DirectoryIdentity, SignOnRefused
from zhengai_docs.signon.mapping import Grant, grant_for, list_rules
from zhengai_docs.users import Role, UserError, clean_profile, normalise_username

LOCAL = "local"
DIRECTORY = "directory"
NO_PASSWORD = "!"  # noqa: S105 - never matches: check_password_hash refuses a hash without a method
USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,40}")
log = logging.getLogger(__name__)


def find_account(session: Session, *, staff_number: str | None, username: str) -> User | None:
    if staff_number:
        found = session.scalar(select(User).where(User.staff_number == staff_number))
        if found is not None:
            return found
    return session.scalar(select(User).where(func.lower(User.username) == normalise_username(username)))


def provision(db: Database, *, identity: DirectoryIdentity, known_departments: Collection[str]) -> User:
    """The account this identity signs in as, created or brought up to date (SignOnRefused: why not)."""
    if USERNAME.fullmatch(identity.username) is None:
        raise SignOnRefused(f"统一身份认证返回的账号“{identity.username[:40]}”不能用作本系统的用户名，请联系系统管理员。")
    rules = list_rules(db)
    for attempt in range(2):
        try:
            with db.transaction() as session:
                user = find_account(session, staff_number=identity.staff_number, username=identity.username)
                if user is None:
                    user = _new_account(identity)
                    session.add(user)
                elif user.auth_source == LOCAL:
                    raise SignOnRefused(f"用户名 {user.username} 属于本系统的本地账号，不能通过统一身份认证登录。请联系系统管理员。")
                elif not user.active:
                    raise SignOnRefused("您的账号已停用（如已离职或调离），不能登录。如有疑问请联系系统管理员。")
                grant = grant_for(
                    department=identity.department or user.directory_department,  # CAS 2.0 may carry no attributes
                    groups=identity.groups,
                    rules=rules,
                    known_departments=known_departments,
                    assigned=Role(user.assigned_role) if user.assigned_role else None,
                )
                _refresh(user, identity=identity, grant=grant)
                session.flush()
                return user
        except IntegrityError:  # a first sign-in of the same person at the same moment made it: use theirs
            if attempt:
                raise
    raise AssertionError("unreachable")


def _new_account(identity: DirectoryIdentity) -> User:
    return User(
        username=identity.username,
        display_name=identity.username,
        password_hash=NO_PASSWORD,
        role=Role.READER.value,
        active=True,
        created_at=dt.datetime.now(dt.UTC),
        auth_source=DIRECTORY,
        departments=[],
    )


def _refresh(user: User, *, identity: DirectoryIdentity, grant: Grant) -> None:
    try:
        user.display_name, _ = clean_profile(display_name=identity.name, email=None, fallback=user.display_name or user.username)
    except UserError:
        log.warning("directory name of %s not usable as a git author; kept %r", user.username, user.display_name)
    try:
        _, email = clean_profile(display_name="x", email=identity.email, fallback="x")
        user.email = email or user.email
    except UserError:
        log.warning("directory e-mail of %s is not an address; kept the old one", user.username)
    if identity.staff_number:
        user.staff_number = identity.staff_number
    if identity.department:
        user.directory_department = identity.department
    if user.role != grant.role.value:
        user.session_token = new_session_token()  # as for an administrator's role change: older sessions end
    user.role = grant.role.value
    kept = [row for row in user.departments if row.department in grant.departments]
    have = {row.department for row in kept}
    user.departments = kept + [UserDepartment(department=d) for d in grant.departments if d not in have]


def directory_departments(db: Database) -> dict[str, int]:
    """Departments the directory named at sign-in or import, with how many active accounts name each."""
    with db.session() as session:
        rows = session.execute(
            select(User.directory_department, func.count())
            .where(User.directory_department.is_not(None), User.active.is_(True))
            .group_by(User.directory_department)
        )
        return {str(name): int(count) for name, count in rows}

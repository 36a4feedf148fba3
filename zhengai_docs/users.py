"""People: accounts, roles and department scopes (the SQL record of people; no Flask here)."""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import ipaddress
import math
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import LoginAttempt, User, UserDepartment, new_session_token
from zhengai_docs.errors import ZhengaiError

_USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,40}")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_NAME_FORBIDDEN = re.compile(r"[<>\x00-\x1f\x7f]")  # the name becomes a git author
_SESSION_ID = re.compile(r"([0-9]{1,18}):([A-Za-z0-9_-]{16,64})")
MIN_PASSWORD_LENGTH = 8


class Role(enum.Enum):
    READER = "reader"
    EDITOR = "editor"
    QUALITY = "quality"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"reader": "普通读者", "editor": "部门编辑", "quality": "质量管理办公室", "admin": "系统管理员"}[self.value]


class UserError(ZhengaiError):
    status = 400


def normalise_username(name: str) -> str:
    """The one form of a typed user name that sign-in, uniqueness and the throttle all use.

    NFKC folds full-width letters and the ideographic space (ａｄｍｉｎ, U+3000), casefold ignores
    case, strip drops pasted spaces: " ADMIN" is the same account to the password check and to
    the failure count, so padding a name cannot step around its lock.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")


def clean_profile(*, display_name: str | None, email: str | None, fallback: str) -> tuple[str, str | None]:
    """A display name (fallback when blank) and an optional e-mail, both usable as a git author."""
    name = (display_name or "").strip() or fallback
    if len(name) > 100 or _NAME_FORBIDDEN.search(name):
        raise UserError("姓名最多 100 个字符，且不能包含 < > 或控制字符")
    address = (email or "").strip() or None
    if address is not None and (len(address) > 200 or _EMAIL.fullmatch(address) is None):
        raise UserError(f"电子邮箱格式不正确：{address}")
    return name, address


def check_departments(role: Role, departments: tuple[str, ...], *, known: Collection[str] | None) -> None:
    """Editors need a department; every department must be on the catalogue's list (when given)."""
    if role is Role.EDITOR and not departments:
        raise UserError("部门编辑至少需要一个所属部门")
    unknown = [] if known is None else [d for d in departments if d not in known]
    if unknown:
        raise UserError(f"部门 {'、'.join(unknown)} 不在部门列表中")


def create_user(
    db: Database,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    email: str | None = None,
    departments: tuple[str, ...] = (),
    known_departments: Collection[str] | None = None,
) -> User:
    if _USERNAME.fullmatch(username) is None:
        raise UserError("用户名只能包含字母、数字、点、下划线和连字符（2–40 个字符）")
    validate_password(password)
    check_departments(role, departments, known=known_departments)
    display_name, email = clean_profile(display_name=display_name, email=email, fallback=username)
    with db.transaction() as session:
        if session.scalar(select(User).where(func.lower(User.username) == normalise_username(username))) is not None:
            raise UserError(f"用户名 {username} 已存在")
        user = User(
            username=username,
            display_name=display_name,
            email=email,
            password_hash=generate_password_hash(password),
            role=role.value,
            active=True,
            created_at=dt.datetime.now(dt.UTC),
            departments=[UserDepartment(department=d) for d in dict.fromkeys(departments)],
        )
        session.add(user)
    return user


def set_password(db: Database, *, user_id: int, password: str) -> None:
    """A new password ends every session and remember-me cookie of the account (a new session token)."""
    validate_password(password)
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise UserError("用户不存在")
        user.password_hash = generate_password_hash(password)
        user.session_token = new_session_token()


def revoke_sessions(db: Database, *, user_id: int) -> None:
    """End every session and remember-me cookie of the user, on every device (sign-out does this)."""
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.session_token = new_session_token()


def session_id(user: User | Account) -> str:
    """What the session and the remember-me cookie carry: the user's id and current session token."""
    return f"{user.id}:{user.session_token}"


@dataclass(frozen=True)
class Account:
    """What a request needs of its signed-in user, read in one query (every request reads it)."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: str
    active: bool
    session_token: str
    auth_source: str
    department_names: tuple[str, ...]


def user_for_session(db: Database, *, session_id: str) -> Account | None:
    """The active user a session or remember-me cookie names, if its token is still the current one."""
    match = _SESSION_ID.fullmatch(session_id)
    if match is None:
        return None
    account = _account(db, int(match[1]))
    if account is None or not account.active or not account.session_token:
        return None
    return account if hmac.compare_digest(account.session_token.encode(), match[2].encode()) else None


_ACCOUNT = (
    select(User.id, User.username, User.display_name, User.email, User.role, User.active, User.session_token, User.auth_source)
    .add_columns(UserDepartment.department)
    .outerjoin(UserDepartment, UserDepartment.user_id == User.id)
    .where(User.id == bindparam("user_id"))
    .order_by(UserDepartment.department)
)


def _account(db: Database, user_id: int) -> Account | None:
    """The user and their departments through one outer join, a statement built once and run
    without the ORM (see `Database.reading`)."""
    with db.reading() as connection:
        rows = connection.execute(_ACCOUNT, {"user_id": user_id}).all()
    if not rows:
        return None
    first = rows[0]
    return Account(
        id=first.id,
        username=first.username,
        display_name=first.display_name,
        email=first.email,
        role=first.role,
        active=first.active,
        session_token=first.session_token,
        auth_source=first.auth_source,
        department_names=tuple(row.department for row in rows if row.department is not None),
    )


@dataclass(frozen=True)
class UserView:
    """A user as the administration pages show one (a snapshot, not an ORM row)."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: Role
    departments: tuple[str, ...]
    active: bool
    created_at: dt.datetime


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=Role(user.role),
        departments=tuple(user.department_names),
        active=user.active,
        created_at=user.created_at,
    )


def list_users(db: Database) -> list[UserView]:
    with db.session() as session:
        return [_view(u) for u in session.scalars(select(User).order_by(User.active.desc(), User.username))]


def user_view(db: Database, user_id: int) -> UserView | None:
    user = get_user(db, user_id)
    return None if user is None else _view(user)


def update_user(
    db: Database,
    *,
    user_id: int,
    acting_user_id: int,
    role: Role,
    departments: tuple[str, ...],
    active: bool,
    display_name: str,
    email: str | None,
    known_departments: Collection[str],
) -> UserView:
    """Change a user's profile, role, scope and status; accounts are deactivated, never deleted.

    Administrators cannot demote or deactivate themselves, so an active administrator always remains.
    """
    if user_id == acting_user_id and (role is not Role.ADMIN or not active):
        raise UserError("不能取消自己的管理员角色，也不能停用自己的账号")
    departments = tuple(dict.fromkeys(departments))
    check_departments(role, departments, known=known_departments)
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise UserError("用户不存在")
        user.display_name, user.email = clean_profile(display_name=display_name, email=email, fallback=user.username)
        if user.role != role.value or user.active != active:
            user.session_token = new_session_token()  # a demoted or disabled account keeps no session
        user.role = role.value
        if user.auth_source == "directory":
            user.assigned_role = role.value  # campus sign-on's mapping may raise it at sign-in, never lower it
        user.active = active
        kept = [row for row in user.departments if row.department in departments]
        have = {row.department for row in kept}
        user.departments = kept + [UserDepartment(department=d) for d in departments if d not in have]
        session.flush()
        return _view(user)


def rename_department_scopes(session: Session, *, old: str, new: str) -> None:
    """Move users scoped to `old` onto `new`, inside the caller's transaction (no duplicates)."""
    has_new = select(UserDepartment.user_id).where(UserDepartment.department == new)
    session.execute(delete(UserDepartment).where(UserDepartment.department == old, UserDepartment.user_id.in_(has_new)))
    session.execute(update(UserDepartment).where(UserDepartment.department == old).values(department=new))


def department_user_counts(db: Database) -> dict[str, int]:
    """How many users (active or not) are scoped to each department."""
    with db.session() as session:
        rows = session.execute(select(UserDepartment.department, func.count()).group_by(UserDepartment.department))
        return {name: count for name, count in rows}


def get_user(db: Database, user_id: int) -> User | None:
    with db.session() as session:
        return session.get(User, user_id)


def check_credentials(db: Database, *, username: str, password: str) -> User | None:
    with db.session() as session:
        user = session.scalar(select(User).where(func.lower(User.username) == normalise_username(username)))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)  # same cost whether or not the user exists
        return None
    return user if check_password_hash(user.password_hash, password) else None


@dataclass(frozen=True)
class LoginLimits:
    """How failed sign-ins are limited: a lock per user name, a growing wait per address."""

    max_failures: int  # per user name within the window; then the name is locked
    window: dt.timedelta
    address_free_failures: int  # per address within the window before attempts must wait
    address_max_delay: int  # seconds; the wait doubles from 1 s up to this


class SignInRefused(UserError):
    """A sign-in refused before its password was checked; `retry_after` is in seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def address_key(address: str) -> str:
    """The unit counted per address: an IPv4 address, or an IPv6 /64 (one host may hold all of it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def sign_in(
    db: Database,
    *,
    username: str,
    password: str,
    address: str,
    limits: LoginLimits,
    check: Callable[[str, str], User | None] | None = None,
) -> User | None:
    """The user these credentials belong to, or None; `SignInRefused` while the name or address must wait.

    The attempt is written (and committed) before anything is counted and stays a failure unless
    the password is right, so parallel attempts count one another, whichever worker process runs
    them: no more than `max_failures` passwords are ever checked for one name in a window, and a
    burst from one address past its free failures is refused instead of racing through.
    `check(normalised name, password)` replaces the local password check (signon/passwords.py:
    local accounts, then LDAP); whatever it raises leaves the attempt counted as a failure.
    """
    name = normalise_username(username)[:80]
    key = address_key(address)
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - limits.window))
        attempt = LoginAttempt(username=name, address=key, at=now)
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    try:
        _check_limits(db, name=name, key=key, attempt_id=attempt_id, now=now, limits=limits)
    except SignInRefused:
        with db.transaction() as session:  # a refused attempt checked no password: it does not count
            session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
        raise
    user = check_credentials(db, username=name, password=password) if check is None else check(name, password)
    if user is not None:
        clear_failures(db, username=name)  # this attempt's row included
    return user


def _check_limits(db: Database, *, name: str, key: str, attempt_id: int, now: dt.datetime, limits: LoginLimits) -> None:
    """Refuse while the address must wait or the name is locked; other attempts only, in the window."""
    others = (LoginAttempt.id != attempt_id, LoginAttempt.at >= now - limits.window)
    with db.session() as session:
        count, latest = session.execute(select(func.count(), func.max(LoginAttempt.at)).where(LoginAttempt.address == key, *others)).one()
        if latest is not None and count >= limits.address_free_failures:
            delay = min(limits.address_max_delay, 2 ** min(count - limits.address_free_failures, 20))
            wait = math.ceil((latest + dt.timedelta(seconds=delay) - now).total_seconds())
            if wait > 0:
                raise SignInRefused(f"登录尝试过于频繁，请稍候 {wait} 秒再试。", retry_after=wait)
        failures = session.scalars(select(LoginAttempt.at).where(LoginAttempt.username == name, *others).order_by(LoginAttempt.at)).all()
    if len(failures) >= limits.max_failures:
        # Unlocked once enough of the oldest failures have left the window.
        until = failures[len(failures) - limits.max_failures] + limits.window
        seconds = max(1, math.ceil((until - now).total_seconds()))
        raise SignInRefused(f"该账号登录失败次数过多，已暂时锁定，请 {math.ceil(seconds / 60)} 分钟后再试。", retry_after=seconds)


def clear_failures(db: Database, *, username: str) -> None:
    with db.transaction() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == normalise_username(username)[:80]))


_DUMMY_HASH = generate_password_hash("zhengai-docs-timing-equaliser")

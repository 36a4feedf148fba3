"""People: accounts, roles and department scopes (the SQL record of people; no Flask here)."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import LoginAttempt, User, UserDepartment
from zhengai_docs.errors import ZhengaiError

_USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,40}")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_NAME_FORBIDDEN = re.compile(r"[<>\x00-\x1f\x7f]")  # the name becomes a git author
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
        if session.scalar(select(User).where(func.lower(User.username) == username.lower())) is not None:
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
    validate_password(password)
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise UserError("用户不存在")
        user.password_hash = generate_password_hash(password)


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
        user.role = role.value
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
        user = session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)  # same cost whether or not the user exists
        return None
    return user if check_password_hash(user.password_hash, password) else None


def is_throttled(db: Database, *, username: str, address: str, max_failures: int, window: dt.timedelta) -> bool:
    since = dt.datetime.now(dt.UTC) - window
    with db.session() as session:
        by_name = session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.username == username.lower(), LoginAttempt.at >= since)
        )
        by_address = session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.address == address, LoginAttempt.at >= since)
        )
    return (by_name or 0) >= max_failures or (by_address or 0) >= max_failures * 4


def record_failure(db: Database, *, username: str, address: str) -> None:
    with db.transaction() as session:
        session.add(LoginAttempt(username=username.lower()[:80], address=address[:64], at=dt.datetime.now(dt.UTC)))


def clear_failures(db: Database, *, username: str) -> None:
    with db.transaction() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == username.lower()))


_DUMMY_HASH = generate_password_hash("zhengai-docs-timing-equaliser")

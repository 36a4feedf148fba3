"""People: accounts, roles and department scopes (the SQL record of people; no Flask here)."""

from __future__ import annotations

import datetime as dt
import enum
import re

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import LoginAttempt, User, UserDepartment
from zhengai_docs.errors import ZhengaiError

_USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,40}")
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


def create_user(
    db: Database,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    email: str | None = None,
    departments: tuple[str, ...] = (),
) -> User:
    if _USERNAME.fullmatch(username) is None:
        raise UserError("用户名只能包含字母、数字、点、下划线和连字符（2–40 个字符）")
    validate_password(password)
    if role is Role.EDITOR and not departments:
        raise UserError("部门编辑至少需要一个所属部门")
    with db.transaction() as session:
        if session.scalar(select(User).where(func.lower(User.username) == username.lower())) is not None:
            raise UserError(f"用户名 {username} 已存在")
        user = User(
            username=username,
            display_name=display_name or username,
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

"""Staff import from the data exchange centre's export (CSV/XLSX: 工号, 姓名, 部门, 邮箱, 角色).

One reader (the catalogue importer's `read_rows`: size, zip-bomb and row caps), one plan, and the
plan applied in one transaction, computed again inside it so that what is written is what the
database held at that moment:

- a 工号 not yet known becomes a directory account (user name = 工号, no local password: the
  person signs in through 统一身份认证 or LDAP), in the 部门 named, with the 角色 given
  (普通读者, 部门编辑, 质量管理办公室, 系统管理员; empty = 普通读者);
- a known 工号 gets its name, e-mail (an empty cell keeps the old one), department and role;
  a disabled one listed again is enabled;
- directory accounts whose 工号 the table no longer lists (departed staff) are disabled, never
  deleted, so their history keeps its author; local accounts (break-glass administrators) are
  never touched, and a table with no usable row disables nobody;
- departments the catalogue's department list does not know are listed with their rows, never
  created: those people get no department until an administrator adds it or maps it
  (signon/mapping.py — roles and scopes are computed by the same rules as at sign-in).

Importing the same table again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengai_docs.catalogue.importer import read_rows
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User, UserDepartment, new_session_token
from zhengai_docs.errors import ImportProblem
from zhengai_docs.permissions import Actor
from zhengai_docs.signon.accounts import DIRECTORY, LOCAL, NO_PASSWORD, USERNAME
from zhengai_docs.signon.mapping import ROLE_BY_LABEL, MappingRule, grant_for, list_rules, require_admin
from zhengai_docs.users import Role, UserError, clean_profile, normalise_username

COLUMNS = {"工号": "staff_number", "姓名": "name", "部门": "department", "邮箱": "email", "角色": "role"}
REQUIRED = ("工号", "姓名", "部门")
MAX_ROWS = 50_000
_INTEGER_FLOAT = re.compile(r"(\d+)\.0")


@dataclass(frozen=True)
class StaffRow:
    line: int
    staff_number: str
    name: str
    department: str
    email: str | None
    role: Role


@dataclass(frozen=True)
class StaffChange:
    staff_number: str
    username: str
    name: str
    details: tuple[str, ...]


@dataclass
class StaffPlan:
    rows: int = 0
    created: list[StaffChange] = field(default_factory=list)
    updated: list[StaffChange] = field(default_factory=list)
    disabled: list[StaffChange] = field(default_factory=list)
    unchanged: int = 0
    unknown_departments: dict[str, list[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.created) + len(self.updated) + len(self.disabled)


def read_staff_table(path: Path) -> tuple[list[StaffRow], list[str], set[str]]:
    """The rows, the problems (row by row), and every 工号 the table lists (also on rows with problems)."""
    table = read_rows(path, max_rows=MAX_ROWS)
    header_at = next((i for i, (_, cells) in enumerate(table) if "工号" in [c.strip() for c in cells]), None)
    if header_at is None:
        raise ImportProblem("表格中没有表头行：需要“工号、姓名、部门、邮箱、角色”列（邮箱、角色可省略）。")
    header = [c.strip() for c in table[header_at][1]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ImportProblem(f"表头缺少列：{'、'.join(missing)}")
    where = {key: header.index(name) for name, key in COLUMNS.items() if name in header}
    rows: list[StaffRow] = []
    problems: list[str] = []
    listed: set[str] = set()
    for line, cells in table[header_at + 1 :]:
        cell = {key: (cells[i].strip() if i < len(cells) else "") for key, i in where.items()}
        if not any(cell.values()):
            continue
        number = _INTEGER_FLOAT.sub(r"\1", cell["staff_number"])  # Excel may hand back 20190001 as 20190001.0
        if not number:
            problems.append(f"第 {line} 行：缺少工号，未导入")
            continue
        if number in listed:
            problems.append(f"第 {line} 行：工号 {number} 重复，只导入第一次出现的行")
            continue
        listed.add(number)
        problem = _row_problem(number=number, cell=cell)
        if problem:
            problems.append(f"第 {line} 行：{problem}，该行未导入（账号保持不变）")
            continue
        rows.append(
            StaffRow(
                line=line,
                staff_number=number,
                name=" ".join(cell["name"].split()),
                department=" ".join(cell["department"].split()),
                email=cell.get("email") or None,
                role=ROLE_BY_LABEL[cell.get("role") or Role.READER.label],
            )
        )
    return rows, problems, listed


def _row_problem(*, number: str, cell: dict[str, str]) -> str | None:
    if USERNAME.fullmatch(number) is None:
        return f"工号 {number} 只能包含字母、数字、点、下划线和连字符（2–40 个字符）"
    if not cell["name"]:
        return "缺少姓名"
    if not cell["department"]:
        return "缺少部门"
    role = cell.get("role") or Role.READER.label
    if role not in ROLE_BY_LABEL:
        return f"角色“{role}”无效（可填：{'、'.join(ROLE_BY_LABEL)}；空白为普通读者）"
    try:
        clean_profile(display_name=cell["name"], email=cell.get("email") or None, fallback=number)
    except UserError as exc:
        return str(exc)
    return None


def plan_import(db: Database, *, path: Path, known_departments: Collection[str]) -> StaffPlan:
    """What `apply_import` would do now (a dry run: everything is rolled back)."""
    return _run(db, path=path, known_departments=known_departments, apply=False)


def apply_import(db: Database, *, path: Path, known_departments: Collection[str], actor: Actor) -> StaffPlan:
    """Apply the table in one transaction (administrators, or the system for the command line)."""
    require_admin(actor)
    return _run(db, path=path, known_departments=known_departments, apply=True)


def _run(db: Database, *, path: Path, known_departments: Collection[str], apply: bool) -> StaffPlan:
    rows, problems, listed = read_staff_table(path)
    rules = list_rules(db)
    plan = StaffPlan(rows=len(rows) + len(problems), problems=problems)
    for row in rows:
        if row.department not in known_departments:
            plan.unknown_departments.setdefault(row.department, []).append(row.line)
    with db.session() as session, session.begin():
        _plan(session, plan=plan, rows=rows, listed=listed, rules=rules, known=known_departments)
        if not apply:
            session.rollback()
    return plan


def _plan(
    session: Session, *, plan: StaffPlan, rows: list[StaffRow], listed: set[str], rules: list[MappingRule], known: Collection[str]
) -> None:
    users = list(session.scalars(select(User)))
    by_number = {u.staff_number: u for u in users if u.staff_number}
    by_name = {normalise_username(u.username): u for u in users}
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        user = by_number.get(row.staff_number)
        if user is None:
            named = by_name.get(normalise_username(row.staff_number))
            if named is not None and (named.auth_source == LOCAL or named.staff_number):
                plan.problems.append(f"第 {row.line} 行：用户名 {row.staff_number} 已被其他账号使用，该行未导入")
                continue
            user = named
        grant = grant_for(department=row.department, groups=(), rules=rules, known_departments=known, assigned=row.role)
        if user is None:
            user = User(
                username=row.staff_number,
                display_name=row.name,
                email=row.email,
                password_hash=NO_PASSWORD,
                role=grant.role.value,
                active=True,
                created_at=now,
                auth_source=DIRECTORY,
                staff_number=row.staff_number,
                directory_department=row.department,
                assigned_role=row.role.value,
                departments=[UserDepartment(department=d) for d in grant.departments],
            )
            session.add(user)
            by_number[row.staff_number] = user
            plan.created.append(StaffChange(row.staff_number, row.staff_number, row.name, (f"{row.department}，{grant.role.label}",)))
            continue
        details = _update(user, row=row, role=grant.role, departments=grant.departments)
        if details:
            plan.updated.append(StaffChange(row.staff_number, user.username, row.name, details))
        else:
            plan.unchanged += 1
    if not rows:
        return  # an empty or unreadable export must not look like everyone left
    for user in users:
        if user.auth_source == DIRECTORY and user.active and user.staff_number and user.staff_number not in listed:
            user.active = False
            user.session_token = new_session_token()
            plan.disabled.append(StaffChange(user.staff_number, user.username, user.display_name, ("停用（导出表中已无此工号）",)))


def _update(user: User, *, row: StaffRow, role: Role, departments: Iterable[str]) -> tuple[str, ...]:
    """Bring one account to its row; what changed, in Chinese (nothing: an empty tuple)."""
    details: list[str] = []
    wanted = tuple(departments)
    if user.staff_number != row.staff_number:
        user.staff_number = row.staff_number
        details.append(f"工号：{row.staff_number}")
    if user.display_name != row.name:
        details.append(f"姓名：{user.display_name} → {row.name}")
        user.display_name = row.name
    if row.email and user.email != row.email:
        details.append(f"邮箱：{user.email or '（无）'} → {row.email}")
        user.email = row.email
    if user.directory_department != row.department:
        details.append(f"部门：{user.directory_department or '（无）'} → {row.department}")
        user.directory_department = row.department
    if user.assigned_role != row.role.value:
        user.assigned_role = row.role.value
        if user.role == role.value:
            details.append(f"导入角色：{row.role.label}")
    if user.role != role.value:
        details.append(f"角色：{Role(user.role).label} → {role.label}")
        user.role = role.value
        user.session_token = new_session_token()
    if tuple(sorted(user.department_names)) != tuple(sorted(wanted)):
        details.append(f"所属部门：{'、'.join(user.department_names) or '（无）'} → {'、'.join(wanted) or '（无）'}")
        kept = [d for d in user.departments if d.department in wanted]
        have = {d.department for d in kept}
        user.departments = kept + [UserDepartment(department=d) for d in wanted if d not in have]
    if not user.active:
        user.active = True
        user.session_token = new_session_token()
        details.append("重新启用")
    return tuple(details)

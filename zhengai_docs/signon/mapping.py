"""Directory group or department → role rules, applied at every sign-in (and kept in the database).

A rule says: people in directory group `value` (or whose directory department is `value`) are
`role`; an editor rule names the department they edit (`department`; empty: their own). The grant
at a sign-in is the highest role any rule (or the role an import or an administrator assigned)
gives — 普通读者 < 部门编辑 < 质量管理办公室 < 系统管理员 — with:

- editors: the departments their editor rules name (and their own department when the assigned
  role is 部门编辑 or a rule names none), so an editor of 教务处 edits 教务处 only;
- everyone else: their own department, plus the departments of 普通读者 rules (a department rule
  with role 普通读者 is an alias: it files a directory department the catalogue calls otherwise).

A department the catalogue's department list does not know is never given as a scope: the person
gets no department from it (reading needs none) and the admin page lists it, so an administrator
adds it to the list or maps it with an alias rule. An editor left without a known department is a
reader until then.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import RoleMapping
from zhengai_docs.errors import NotAllowed
from zhengai_docs.permissions import Actor, may_administer
from zhengai_docs.users import Role, UserError

RANK = {Role.READER: 0, Role.EDITOR: 1, Role.QUALITY: 2, Role.ADMIN: 3}
ROLE_BY_LABEL = {role.label: role for role in Role}


class RuleKind(enum.Enum):
    GROUP = "group"
    DEPARTMENT = "department"

    @property
    def label(self) -> str:
        return {"group": "目录组", "department": "目录部门"}[self.value]


@dataclass(frozen=True)
class MappingRule:
    id: int
    kind: RuleKind
    value: str
    role: Role
    department: str  # '' : the person's own department

    @property
    def scope_label(self) -> str:
        return self.department or "本人所在部门"


@dataclass(frozen=True)
class Grant:
    """What the directory and the rules give someone at a sign-in."""

    role: Role
    departments: tuple[str, ...]
    home: str | None  # their directory department, when the catalogue knows it


def require_admin(actor: Actor) -> None:
    if not may_administer(actor.role):
        raise NotAllowed("只有系统管理员可以修改统一身份认证的角色映射和登录设置")


def list_rules(db: Database) -> list[MappingRule]:
    with db.session() as session:
        rows = session.scalars(select(RoleMapping).order_by(RoleMapping.kind, RoleMapping.value, RoleMapping.id)).all()
        return [MappingRule(id=r.id, kind=RuleKind(r.kind), value=r.value, role=Role(r.role), department=r.department) for r in rows]


def add_rule(
    db: Database, *, actor: Actor, kind: RuleKind, value: str, role: Role, department: str, known_departments: Collection[str]
) -> MappingRule:
    """A new rule; refused when it repeats one (a unique constraint: two administrators adding it at once get one)."""
    require_admin(actor)
    value = " ".join(value.split())
    department = department.strip()
    if not value or len(value) > 200:
        raise UserError("请填写目录中的组名或部门名称（最多 200 个字符）")
    if department and department not in known_departments:
        raise UserError(f"部门 {department} 不在部门列表中")
    with db.transaction() as session:
        if session.scalar(
            select(RoleMapping.id).where(
                RoleMapping.kind == kind.value,
                RoleMapping.value == value,
                RoleMapping.role == role.value,
                RoleMapping.department == department,
            )
        ):
            raise UserError("已有相同的映射规则")
        row = RoleMapping(kind=kind.value, value=value, role=role.value, department=department, created_at=dt.datetime.now(dt.UTC))
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise UserError("已有相同的映射规则") from None
        return MappingRule(id=row.id, kind=kind, value=value, role=role, department=department)


def remove_rule(db: Database, *, actor: Actor, rule_id: int) -> bool:
    """Remove a rule; it stops applying at each person's next sign-in."""
    require_admin(actor)
    with db.transaction() as session:
        return bool(session.execute(delete(RoleMapping).where(RoleMapping.id == rule_id)).rowcount)  # type: ignore[attr-defined]


def matches(rule: MappingRule, *, department: str | None, groups: Iterable[str]) -> bool:
    if rule.kind is RuleKind.GROUP:
        return rule.value in set(groups)
    return department is not None and rule.value == department


def grant_for(
    *,
    department: str | None,
    groups: Iterable[str],
    rules: Iterable[MappingRule],
    known_departments: Collection[str],
    assigned: Role | None = None,
) -> Grant:
    """The role and department scope a person gets at this sign-in (see the module's docstring)."""
    groups = tuple(groups)
    home = department if department in known_departments else None
    role = assigned or Role.READER
    edits: list[str] = [home] if assigned is Role.EDITOR and home else []
    reads: list[str] = [home] if home else []
    for rule in rules:
        if not matches(rule, department=department, groups=groups):
            continue
        if RANK[rule.role] > RANK[role]:
            role = rule.role
        scope = rule.department or home
        if scope is None or scope not in known_departments:
            continue
        (edits if rule.role is Role.EDITOR else reads).append(scope)
    if role is Role.EDITOR:
        if edits:
            return Grant(role=role, departments=tuple(dict.fromkeys(edits)), home=home)
        role = Role.READER  # an editor needs a department the catalogue knows
    return Grant(role=role, departments=tuple(dict.fromkeys(reads)), home=home)

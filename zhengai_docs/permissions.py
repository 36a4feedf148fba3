"""Who may do what to which document: the one place the role rules live (no Flask here).

Editors are scoped to departments: they edit documents whose lead departments include one of
theirs, and create documents in items their departments lead. The quality office reads
everything and confirms reviews; administrators may do everything.

`Actor` is who acts — a signed-in user, or the product itself (`Actor.system()`: init, demo
content, commands run by the operator). `WritePolicy` is the rules every write applies to the
actor, read from the settings once: the services that write (`Library`, `Workflow`, the review
and import functions) take the actor and ask it, so a view or a command cannot skip a check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.errors import NotAllowed
from zhengai_docs.storage.repository import Author
from zhengai_docs.users import Role

SYSTEM_AUTHOR = Author(name="zhengai-docs", email="zhengai-docs@localhost")
SYSTEM_USER_ID = 0  # no account has it: database ids start at 1


def _shares_department(mine: Iterable[str], theirs: Iterable[str]) -> bool:
    return not set(mine).isdisjoint(theirs)


def may_edit(role: Role, my_departments: Iterable[str], document_departments: Iterable[str]) -> bool:
    """Edit, restore or repeal an existing document."""
    if role is Role.ADMIN:
        return True
    return role is Role.EDITOR and _shares_department(my_departments, document_departments)


def may_create(role: Role, my_departments: Iterable[str], item_departments: Iterable[str]) -> bool:
    """Create a missing 制度/流程/标准 in a catalogue item."""
    return may_edit(role, my_departments, item_departments)


def may_confirm_review(role: Role, my_departments: Iterable[str], document_departments: Iterable[str]) -> bool:
    """Record "reviewed, no change" (审核未修订): the owning editors or the quality office."""
    return role is Role.QUALITY or may_edit(role, my_departments, document_departments)


def may_enter_results(role: Role, my_departments: Iterable[str], responsible: Iterable[str]) -> bool:
    """Enter or correct the measured values of a 质控指标: its responsible departments' editors
    (or an administrator); the quality office reads and reviews them, it does not enter them."""
    return may_edit(role, my_departments, responsible)


def may_audit(role: Role) -> bool:
    return role in (Role.QUALITY, Role.ADMIN)


def may_administer(role: Role) -> bool:
    return role is Role.ADMIN


def may_use_editor(role: Role, my_departments: Iterable[str]) -> bool:
    """Open the document editor and its live preview at all: an editor of some department, or an
    administrator (the preview renders arbitrary text, so it is not for readers)."""
    return role is Role.ADMIN or (role is Role.EDITOR and any(True for _ in my_departments))


@dataclass(frozen=True)
class Actor:
    """Who acts: the signed-in user as the services need them (or the system, see `system`)."""

    user_id: int
    username: str
    name: str
    email: str
    role: Role
    departments: tuple[str, ...]

    @classmethod
    def system(cls, *, name: str = SYSTEM_AUTHOR.name, email: str = SYSTEM_AUTHOR.email) -> Actor:
        """The product itself, with an administrator's rights and no account: `init`, demo content
        and the commands an operator runs on the server (`name` is their `--author`)."""
        return cls(user_id=SYSTEM_USER_ID, username=SYSTEM_AUTHOR.name, name=name, email=email, role=Role.ADMIN, departments=())

    @property
    def is_system(self) -> bool:
        return self.user_id == SYSTEM_USER_ID

    @property
    def author(self) -> Author:
        """The git author of what this actor writes."""
        return Author(name=self.name, email=self.email)


@dataclass(frozen=True)
class WritePolicy:
    """The write rules of one installation. Every `require_*` raises `NotAllowed` (HTTP 403).

    `review_required` is REVIEW_REQUIRED: the version in force then changes only by publishing a
    reviewed draft, except for administrators' direct corrections (直接修改（勘误）). `approvers`
    names, per document type, the user names who review and publish it (APPROVERS_Z/L/B); a type
    not named is reviewed by the quality office. Administrators may always review.
    """

    review_required: bool = True
    approvers: Mapping[DocType, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WritePolicy:
        named = {t: tuple(n.strip() for n in str(settings.get(f"APPROVERS_{t.name}") or "").split(",") if n.strip()) for t in DocType}
        return cls(review_required=bool(settings["REVIEW_REQUIRED"]), approvers={t: names for t, names in named.items() if names})

    def writes_directly(self, actor: Actor) -> bool:
        """May the actor change the version in force without a reviewed draft?"""
        return not self.review_required or actor.role is Role.ADMIN

    def may_review(self, actor: Actor, doc_type: DocType) -> bool:
        """Review, approve and publish drafts of this type."""
        if actor.role is Role.ADMIN:
            return True
        named = self.approvers.get(doc_type)
        return actor.username in named if named else may_audit(actor.role)

    def require_direct_edit(
        self,
        actor: Actor,
        *,
        current: Iterable[str] | None,
        item: Iterable[str],
        new: Iterable[str],
        verb: str = "修改",
        hint: str = "请发起修订，在草稿中修改后提交审核。",
    ) -> None:
        """A save straight to the version in force: of a document led by `current` (None: a new
        document in an item led by `item`) that will be led by `new`."""
        if current is None:
            if not may_create(actor.role, actor.departments, item):
                raise NotAllowed("只有牵头部门的编辑可以新建该目录项的文档")
        elif not may_edit(actor.role, actor.departments, current):
            raise NotAllowed(f"只有文档牵头部门的编辑可以{verb}该文档")
        if not may_edit(actor.role, actor.departments, new):
            raise NotAllowed("牵头部门须包含您所在的部门")
        if not self.writes_directly(actor):
            raise NotAllowed(f"现行版本只能经修订审核后发布（系统管理员可直接修改勘误）。{hint}")

    def require_reviewer(self, actor: Actor, doc_type: DocType) -> None:
        if not self.may_review(actor, doc_type):
            raise NotAllowed(f"您不是{doc_type.label}的审核人，不能审核、批准或发布")

    def require_confirm_review(self, actor: Actor, departments: Iterable[str]) -> None:
        if not may_confirm_review(actor.role, actor.departments, departments):
            raise NotAllowed("仅牵头部门的编辑或质量管理办公室可以确认“审核未修订”")

    def require_administrator(self, actor: Actor) -> None:
        """The catalogue and the departments."""
        if not may_administer(actor.role):
            raise NotAllowed("只有系统管理员可以修改目录和部门")

    def require_auditor(self, actor: Actor) -> None:
        """Diagnostic frameworks."""
        if not may_audit(actor.role):
            raise NotAllowed("只有质量管理办公室或系统管理员可以导入诊断框架")

    def require_results_entry(self, actor: Actor, responsible: Iterable[str]) -> None:
        """Measured values of an indicator (质控指标)."""
        if not may_enter_results(actor.role, actor.departments, responsible):
            raise NotAllowed(f"只有责任部门（{'、'.join(responsible)}）的编辑可以填报该指标的数值")

    def require_external_review(self, actor: Actor) -> None:
        """The external review (复核) record of the self-diagnosis report."""
        if not may_audit(actor.role):
            raise NotAllowed("只有质量管理办公室或系统管理员可以录入复核结论")

    def require_system(self, actor: Actor) -> None:
        """Files committed as they are (demo content, migrations): never a person's request."""
        if not actor.is_system:
            raise NotAllowed("只有系统初始化和迁移可以直接提交文件")

"""Who may do what to which document: the one place the role rules live (no Flask here).

Editors are scoped to departments: they edit documents whose lead departments include one of
theirs, and create documents in items their departments lead. The quality office reads
everything and confirms reviews; administrators may do everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from zhengai_docs.users import Role


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


def may_audit(role: Role) -> bool:
    return role in (Role.QUALITY, Role.ADMIN)


def may_administer(role: Role) -> bool:
    return role is Role.ADMIN


def may_use_editor(role: Role, my_departments: Iterable[str]) -> bool:
    """Open the document editor and its live preview at all: an editor of some department, or an
    administrator (the preview renders arbitrary text, so it is not for readers)."""
    return role is Role.ADMIN or (role is Role.EDITOR and any(True for _ in my_departments))

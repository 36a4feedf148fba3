"""Words users read instead of the program's own names.

The product writes as `zhengai-docs` (the author of migrated documents and of `init`'s commits,
the name on steps the system takes on a draft); pages say 系统. Templates use the `person` filter
wherever an author or actor name is shown.
"""

from __future__ import annotations

from zhengai_docs.permissions import SYSTEM_AUTHOR
from zhengai_docs.workflow import SYSTEM_NAME

PRODUCT_NAME = "诊改制度标准库"
SYSTEM_LABEL = "系统"
_PROGRAM_NAMES = frozenset({SYSTEM_AUTHOR.name, SYSTEM_NAME})


def person(name: str | None) -> str:
    """An author or actor as pages show it: the program's own name becomes 系统."""
    if not name:
        return ""
    return SYSTEM_LABEL if name.strip() in _PROGRAM_NAMES else name


def who(display_name: str | None, role_label: str) -> str:
    """The header's “name（role）”, without saying the same words twice (系统管理员（系统管理员）)."""
    name = (display_name or "").strip()
    if not name or name == role_label:
        return role_label
    return f"{name}（{role_label}）"

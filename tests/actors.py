"""Who writes when a test puts content in place through the services themselves (setup, or
"someone else saved meanwhile"): every write takes an actor, so tests name one too.

The system (`Actor.system()`, an administrator without an account, as for `init` and the
commands) may write whatever the setting of REVIEW_REQUIRED; it writes under the name a test
then finds in the history. Tests of who may write use real accounts (tests/test_write_rules.py).
"""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import EDITOR
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User
from zhengai_docs.permissions import Actor
from zhengai_docs.users import Role

AS_EDITOR = Actor.system(name=EDITOR.name, email=EDITOR.email)  # commits authored as 教务处 王老师


def account(db: Database, username: str) -> Actor:
    """A stored account as the services see it (for steps a test takes without the forms)."""
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return Actor(
            user_id=user.id,
            username=user.username,
            name=user.display_name,
            email=user.email or "",
            role=Role(user.role),
            departments=tuple(user.department_names),
        )

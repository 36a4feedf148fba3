"""The administrators' switch for local passwords: off, only administrators (break-glass accounts)
still sign in with a password kept here; everyone else signs in through the campus directory."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import SignOnState
from zhengai_docs.permissions import Actor
from zhengai_docs.signon.mapping import require_admin
from zhengai_docs.users import Role

STATE_ID = 1


def local_passwords_on(db: Database) -> bool:
    with db.session() as session:
        value = session.scalar(select(SignOnState.local_passwords).where(SignOnState.id == STATE_ID))
    return True if value is None else bool(value)


def may_use_local_password(db: Database, role: Role) -> bool:
    """Administrators always may (the break-glass accounts); everyone else while the switch is on."""
    return role is Role.ADMIN or local_passwords_on(db)


def set_local_passwords(db: Database, *, actor: Actor, enabled: bool) -> None:
    require_admin(actor)
    values = {"local_passwords": enabled, "changed_by": actor.username, "changed_at": dt.datetime.now(dt.UTC)}
    for _ in range(2):  # the row is made by the first change; two first changes at once: one inserts, the other updates
        with db.transaction() as session:
            if session.execute(update(SignOnState).where(SignOnState.id == STATE_ID).values(**values)).rowcount:  # type: ignore[attr-defined]
                return
        try:
            with db.transaction() as session:
                session.add(SignOnState(id=STATE_ID, **values))
            return
        except IntegrityError:
            continue

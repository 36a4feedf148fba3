"""Read confirmations: staff of the lead departments confirm they have read a new version.

Optional per publication (the approver ticks it). Who must confirm is decided when asked:
the active users whose departments include one of the document's lead departments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import ReadAck, ReadRequest, User, UserDepartment


@dataclass(frozen=True)
class Reader:
    user_id: int
    name: str
    departments: tuple[str, ...]
    confirmed_at: dt.datetime | None


@dataclass(frozen=True)
class ReadStatus:
    request_id: int
    code: str
    commit: str
    created_at: dt.datetime
    readers: tuple[Reader, ...]

    @property
    def pending(self) -> tuple[Reader, ...]:
        return tuple(r for r in self.readers if r.confirmed_at is None)


def request(session: Session, *, code: str, commit: str, departments: Sequence[str], draft_id: int | None) -> None:
    """Ask for confirmations of one published commit, inside the publication's transaction; a
    commit asked for already (its text published once before) is not asked for twice — a
    unique index on (code, commit) holds that for writers this check does not see."""
    if session.scalars(select(ReadRequest.id).where(ReadRequest.code == code, ReadRequest.commit == commit)).first() is not None:
        return
    session.add(
        ReadRequest(code=code, commit=commit, departments="、".join(departments), draft_id=draft_id, created_at=dt.datetime.now(dt.UTC))
    )


def _latest(session: Session, code: str) -> ReadRequest | None:
    return session.scalars(select(ReadRequest).where(ReadRequest.code == code).order_by(ReadRequest.id.desc()).limit(1)).first()


def _expected(session: Session, departments: Sequence[str]) -> list[User]:
    query = select(User).join(UserDepartment).where(User.active.is_(True), UserDepartment.department.in_(list(departments)))
    return list(session.scalars(query.distinct().order_by(User.id)))


def status(db: Database, code: str) -> ReadStatus | None:
    """Who has and who has not confirmed the latest requested version of a document."""
    with db.session() as session:
        req = _latest(session, code)
        if req is None:
            return None
        acks = {a.user_id: a.at for a in session.scalars(select(ReadAck).where(ReadAck.request_id == req.id))}
        readers = tuple(
            Reader(user_id=u.id, name=u.display_name or u.username, departments=tuple(u.department_names), confirmed_at=acks.get(u.id))
            for u in _expected(session, req.departments.split("、"))
        )
        return ReadStatus(request_id=req.id, code=req.code, commit=req.commit, created_at=req.created_at, readers=readers)


def awaiting(db: Database, *, user_id: int, departments: Sequence[str], code: str) -> int | None:
    """The request this user still has to confirm for this document, if any."""
    if not departments:
        return None
    with db.session() as session:
        req = _latest(session, code)
        if req is None or set(departments).isdisjoint(req.departments.split("、")):
            return None
        if session.get(ReadAck, (req.id, user_id)) is not None:
            return None
        return req.id


def confirm(db: Database, *, user_id: int, departments: Sequence[str], code: str) -> bool:
    """Record the confirmation; False when nothing was waiting for this user. Two clicks at
    once write one row: the second insert meets the primary key and counts as confirmed."""
    request_id = awaiting(db, user_id=user_id, departments=departments, code=code)
    if request_id is None:
        return False
    try:
        with db.transaction() as session:
            session.add(ReadAck(request_id=request_id, user_id=user_id, at=dt.datetime.now(dt.UTC)))
    except IntegrityError:
        pass  # confirmed by the other click
    return True


def pending_for(db: Database, *, user_id: int, departments: Sequence[str]) -> list[str]:
    """Codes of documents whose latest requested version this user has not confirmed."""
    if not departments:
        return []
    with db.session() as session:
        latest: dict[str, ReadRequest] = {}
        for req in session.scalars(select(ReadRequest).order_by(ReadRequest.id)):
            latest[req.code] = req
        acked = set(session.scalars(select(ReadAck.request_id).where(ReadAck.user_id == user_id)))
        return sorted(
            code for code, req in latest.items() if req.id not in acked and not set(departments).isdisjoint(req.departments.split("、"))
        )

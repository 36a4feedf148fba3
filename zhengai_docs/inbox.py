"""In-app notifications: a short message and a link in each recipient's inbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import Notification, User


@dataclass(frozen=True)
class Message:
    id: int
    text: str
    url: str
    created_at: dt.datetime
    read: bool


def notify(session: Session, *, user_ids: Sequence[int], text: str, url: str, event_id: int) -> None:
    """Put a message in each recipient's inbox, inside the transaction that records the draft
    event `event_id`: one message per recipient and event (a unique index holds it), so a step
    retried or raced never tells anyone twice."""
    now = dt.datetime.now(dt.UTC)
    for user_id in dict.fromkeys(user_ids):
        session.add(Notification(user_id=user_id, event_id=event_id, message=text[:500], url=url[:200], created_at=now, read=False))


def messages(db: Database, user_id: int, *, limit: int = 50) -> list[Message]:
    with db.session() as session:
        query = select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc()).limit(limit)
        return [Message(id=n.id, text=n.message, url=n.url, created_at=n.created_at, read=n.read) for n in session.scalars(query)]


_UNREAD = select(func.count()).select_from(Notification).where(Notification.user_id == bindparam("user_id"), Notification.read.is_(False))


def unread_count(db: Database, user_id: int) -> int:
    """Every page's header shows it: a statement built once, run without the ORM (`Database.reading`)."""
    with db.reading() as connection:
        return connection.scalar(_UNREAD, {"user_id": user_id}) or 0


def mark_read(db: Database, user_id: int) -> None:
    with db.transaction() as session:
        session.execute(update(Notification).where(Notification.user_id == user_id, Notification.read.is_(False)).values(read=True))


def open_message(db: Database, *, user_id: int, message_id: int) -> str | None:
    """Mark one of the user's messages read (clicking it opens it) and return its link; None
    when the message is not theirs. A conditional UPDATE: opening it twice changes nothing."""
    with db.transaction() as session:
        url = session.scalar(select(Notification.url).where(Notification.id == message_id, Notification.user_id == user_id))
        if url is None:
            return None
        session.execute(
            update(Notification)
            .where(Notification.id == message_id, Notification.user_id == user_id, Notification.read.is_(False))
            .values(read=True)
        )
        return url


def addresses(db: Database, user_ids: Sequence[int]) -> list[tuple[str, str]]:
    """(name, address) of the active users among `user_ids` who have an e-mail address."""
    with db.session() as session:
        users = session.scalars(select(User).where(User.id.in_(list(user_ids)), User.active.is_(True)))
        return [(u.display_name or u.username, u.email) for u in users if u.email]

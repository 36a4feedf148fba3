"""The workflow's rules held by the database: one open draft per document (`drafts.open_code`
under a unique index), one notification per recipient and event, one read request per
published commit; `drafts.attention` flags a draft whose git ref a person must look at.

Existing data is made to fit, never refused:
- of several open drafts of one document (possible before: the limit was checked outside the
  transaction), the newest keeps the document's `open_code`; each older one gets a review
  record entry (action `attention`) naming the newer draft, so its people settle which to keep;
- read requests written twice for one commit (a double publication) are merged into the first,
  with every confirmation kept.

Every change is made in place (ALTER TABLE ADD COLUMN, CREATE UNIQUE INDEX): recreating `drafts`
in SQLite's batch mode would drop it, and with foreign keys on that cascades into draft_events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OPEN_STATUSES = ("草稿中", "待审核", "需修改", "已批准")  # workflow.OPEN, as stored

_drafts = sa.table(
    "drafts",
    sa.column("id", sa.Integer()),
    sa.column("code", sa.String(length=5)),
    sa.column("status", sa.String(length=10)),
    sa.column("open_code", sa.String(length=5)),
)
_events = sa.table(
    "draft_events",
    sa.column("draft_id", sa.Integer()),
    sa.column("action", sa.String(length=20)),
    sa.column("by", sa.String(length=200)),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("text", sa.Text()),
)
_requests = sa.table("read_requests", sa.column("id", sa.Integer()), sa.column("code", sa.String(5)), sa.column("commit", sa.String(40)))
_acks = sa.table("read_acks", sa.column("request_id", sa.Integer()), sa.column("user_id", sa.Integer()))


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("open_code", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("attention", sa.Text(), nullable=True))
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
    connection = op.get_bind()
    _claim_open_codes(connection)
    _merge_duplicate_read_requests(connection)
    op.create_index("uq_drafts_open_code", "drafts", ["open_code"], unique=True)
    op.create_index("uq_notifications_event_user", "notifications", ["event_id", "user_id"], unique=True)
    op.create_index("uq_read_requests_code_commit", "read_requests", ["code", "commit"], unique=True)


def _claim_open_codes(connection: sa.Connection) -> None:
    """The newest open draft of each document takes its open_code; older ones are flagged."""
    rows = connection.execute(
        sa.select(_drafts.c.id, _drafts.c.code).where(_drafts.c.status.in_(OPEN_STATUSES)).order_by(_drafts.c.id.desc())
    ).all()
    newest: dict[str, int] = {}
    now = dt.datetime.now(dt.UTC)
    for draft_id, code in rows:
        if code not in newest:
            newest[code] = draft_id
            connection.execute(_drafts.update().where(_drafts.c.id == draft_id).values(open_code=code))
            continue
        note = (
            f"升级（迁移 0007）时发现 {code} 同时有多份进行中的草稿；较新的 #{newest[code]} 计入“每份文档一份进行中的草稿”，"
            "此份不计入。请与其起草人商定，发布或放弃其中一份。"
        )
        connection.execute(_events.insert().values(draft_id=draft_id, action="attention", by="zhengai-docs", at=now, text=note))


def _merge_duplicate_read_requests(connection: sa.Connection) -> None:
    """One request per (code, commit): confirmations of a duplicate move to the first request."""
    requests = connection.execute(sa.select(_requests.c.id, _requests.c.code, _requests.c.commit).order_by(_requests.c.id)).all()
    first: dict[tuple[str, str], int] = {}
    for request_id, code, commit in requests:
        kept = first.setdefault((code, commit), request_id)
        if kept == request_id:
            continue
        confirmed = set(connection.execute(sa.select(_acks.c.user_id).where(_acks.c.request_id == kept)).scalars())
        for user_id in connection.execute(sa.select(_acks.c.user_id).where(_acks.c.request_id == request_id)).scalars().all():
            if user_id not in confirmed:
                connection.execute(
                    _acks.update().where(_acks.c.request_id == request_id, _acks.c.user_id == user_id).values(request_id=kept)
                )
        connection.execute(_acks.delete().where(_acks.c.request_id == request_id))
        connection.execute(_requests.delete().where(_requests.c.id == request_id))


def downgrade() -> None:
    op.drop_index("uq_read_requests_code_commit", table_name="read_requests")
    op.drop_index("uq_notifications_event_user", table_name="notifications")
    op.drop_index("uq_drafts_open_code", table_name="drafts")
    # Dropped in place (SQLite 3.35+), not in batch mode, for the reason given above.
    op.drop_column("notifications", "event_id")
    op.drop_column("drafts", "attention")
    op.drop_column("drafts", "open_code")

"""A per-user session token: sessions and remember-me cookies carry it, and it changes on sign-out,
password change, deactivation and role change, so every copy of an older cookie stops working.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_users = sa.table("users", sa.column("id", sa.Integer()), sa.column("session_token", sa.String(length=64)))


def upgrade() -> None:
    # Added in place (SQLite's ALTER TABLE ADD COLUMN): recreating `users` in batch mode would
    # drop it, and with foreign keys on that cascades into user_departments.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_token", sa.String(length=64), nullable=False, server_default=""))
    # Every existing account gets its own token; cookies issued before carry none and sign in again.
    connection = op.get_bind()
    for user_id in connection.execute(sa.select(_users.c.id)).scalars().all():
        connection.execute(_users.update().where(_users.c.id == user_id).values(session_token=secrets.token_urlsafe(24)))


def downgrade() -> None:
    # Not in batch mode, for the same reason: SQLite (3.35+) drops a column in place.
    op.drop_column("users", "session_token")

"""Revision cycles: review and clock columns in the cache, and the reminder log.

The new cache columns are filled from git: the cached commit is forgotten, so the next sync
rebuilds the cache (the cache is a projection of git and may always be rebuilt).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("clock", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("clock_source", sa.String(length=10), nullable=True))
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("clock", sa.Date(), nullable=True))
    op.create_table(
        "reminder_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "stage", "due", "recipient", name="uq_reminder_log_once"),
    )
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_log_code"), ["code"], unique=False)
    op.execute('UPDATE cache_state SET "commit" = NULL')


def downgrade() -> None:
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_log_code"))
    op.drop_table("reminder_log")
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_column("clock")
        batch_op.drop_column("reviewed")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("clock_source")
        batch_op.drop_column("clock")
        batch_op.drop_column("reviewed")

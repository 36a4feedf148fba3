"""The cached commit's place on the branch's first-parent line, so a sync need not count it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cache_state") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cache_state") as batch:
        batch.drop_column("position")

"""The text of attachments (附件) for search, kept by blob id so that each file's content is
extracted once, not at every save or reindex of the document it belongs to.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_texts",
        sa.Column("blob", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("blob"),
    )


def downgrade() -> None:
    op.drop_table("attachment_texts")

"""Self-diagnosis report: each element's 自我诊断意见, 改进措施 and 改进成效 per framework and year.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_diagnosis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=20), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("effects", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("framework", "year", "element_id", name="uq_self_diagnosis_element"),
    )


def downgrade() -> None:
    op.drop_table("self_diagnosis")

"""Campus sign-on: directory accounts (auth source, 工号, the directory's department, the role an
import or an administrator assigned), group/department → role rules, the "local passwords" switch,
and the CAS tickets accepted (a replay is refused by the primary key; single logout looks them up).

Existing accounts become 'local' accounts: they keep signing in with their passwords.
Columns are added in place (ALTER TABLE ADD COLUMN): recreating `users` in SQLite's batch mode would
drop it, and with foreign keys on that cascades into user_departments (see 0006).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("auth_source", sa.String(length=10), nullable=False, server_default="local"))
        batch.add_column(sa.Column("staff_number", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("directory_department", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("assigned_role", sa.String(length=20), nullable=True))
    op.create_index("uq_users_staff_number", "users", ["staff_number"], unique=True)
    op.create_table(
        "role_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "value", "role", "department", name="uq_role_mappings_rule"),
    )
    op.create_table(
        "signon_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("local_passwords", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=80), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cas_tickets",
        sa.Column("ticket", sa.String(length=256), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket"),
    )
    op.create_index("ix_cas_tickets_user_id", "cas_tickets", ["user_id"])
    op.create_index("ix_cas_tickets_at", "cas_tickets", ["at"])


def downgrade() -> None:
    op.drop_table("cas_tickets")
    op.drop_table("signon_state")
    op.drop_table("role_mappings")
    op.drop_index("uq_users_staff_number", table_name="users")
    # Dropped in place (SQLite 3.35+), not in batch mode, for the reason given above.
    for column in ("assigned_role", "directory_department", "staff_number", "auth_source"):
        op.drop_column("users", column)

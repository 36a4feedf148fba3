"""Initial schema: the content cache, users and sign-in throttling.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 14:19:23.067712
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("catalogue_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "departments",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "documents",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("item_code", sa.String(length=4), nullable=False),
        sa.Column("doc_type", sa.String(length=1), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("blob", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=True),
        sa.Column("issued", sa.Date(), nullable=True),
        sa.Column("doc_number", sa.String(length=200), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("cycle_years", sa.Integer(), nullable=True),
        sa.Column("cycle_reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("last_commit", sa.String(length=40), nullable=True),
        sa.Column("last_changed", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_doc_type"), ["doc_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_issued"), ["issued"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_item_code"), ["item_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_status"), ["status"], unique=False)

    op.create_table(
        "items",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("level1", sa.String(length=1), nullable=False),
        sa.Column("level2", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_level1"), ["level1"], unique=False)
        batch_op.create_index(batch_op.f("ix_items_level2"), ["level2"], unique=False)

    op.create_table(
        "levels",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("parent", sa.String(length=1), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempts_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempts_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempts_username"), ["username"], unique=False)

    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("change", sa.String(length=1), nullable=False),
        sa.Column("blob", sa.String(length=40), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_email", sa.String(length=200), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("issued", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "commit", name="uq_revisions_code_commit"),
    )
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.create_index("ix_revisions_code_seq", ["code", "seq"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "document_departments",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["documents.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code", "department"),
    )
    with op.batch_alter_table("document_departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_departments_department"), ["department"], unique=False)

    op.create_table(
        "document_points",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("point_id", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["documents.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code", "point_id"),
    )
    with op.batch_alter_table("document_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_points_point_id"), ["point_id"], unique=False)

    op.create_table(
        "document_related",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("related", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["documents.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code", "related"),
    )
    op.create_table(
        "item_departments",
        sa.Column("item_code", sa.String(length=4), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_code"], ["items.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_code", "department"),
    )
    with op.batch_alter_table("item_departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_departments_department"), ["department"], unique=False)

    op.create_table(
        "user_departments",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "department"),
    )
    op.execute("INSERT INTO cache_state (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("user_departments")
    with op.batch_alter_table("item_departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_departments_department"))

    op.drop_table("item_departments")
    op.drop_table("document_related")
    with op.batch_alter_table("document_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_points_point_id"))

    op.drop_table("document_points")
    with op.batch_alter_table("document_departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_departments_department"))

    op.drop_table("document_departments")
    op.drop_table("users")
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_revisions_code_seq")

    op.drop_table("revisions")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_username"))
        batch_op.drop_index(batch_op.f("ix_login_attempts_at"))
        batch_op.drop_index(batch_op.f("ix_login_attempts_address"))

    op.drop_table("login_attempts")
    op.drop_table("levels")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_level2"))
        batch_op.drop_index(batch_op.f("ix_items_level1"))

    op.drop_table("items")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_status"))
        batch_op.drop_index(batch_op.f("ix_documents_item_code"))
        batch_op.drop_index(batch_op.f("ix_documents_issued"))
        batch_op.drop_index(batch_op.f("ix_documents_doc_type"))

    op.drop_table("documents")
    op.drop_table("departments")
    op.drop_table("cache_state")

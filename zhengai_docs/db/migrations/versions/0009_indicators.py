"""Standards that measure: declared 质控指标 (a cache table filled at sync), measured results and
external-review records (append-only: UPDATE and DELETE are refused by triggers), and the
results counter whole-library statuses are kept against.

The cache of documents is rebuilt after the upgrade (its commit is cleared), so the indicators
of the standards already in the repository are read at the next request.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APPEND_ONLY = ("indicator_results", "external_reviews")


def upgrade() -> None:
    op.create_table(
        "document_indicators",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("target_op", sa.String(length=1), nullable=True),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("target_text", sa.String(length=100), nullable=False),
        sa.Column("warning_op", sa.String(length=1), nullable=True),
        sa.Column("warning", sa.String(length=40), nullable=True),
        sa.Column("warning_text", sa.String(length=100), nullable=True),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=60), nullable=False),
        sa.Column("departments", sa.String(length=500), nullable=False),
        sa.Column("points", sa.String(length=300), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["documents.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code", "key"),
    )
    op.create_table(
        "indicator_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("indicator", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("entered_by", sa.String(length=80), nullable=False),
        sa.Column("entered_by_name", sa.String(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("revision >= 1", name="ck_indicator_results_revision"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "indicator", "period", "revision", name="uq_indicator_results_revision"),
    )
    op.create_index("ix_indicator_results_period", "indicator_results", ["period", "code"])
    op.create_table(
        "indicator_results_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO indicator_results_version (id, version) VALUES (1, 0)")
    op.create_table(
        "external_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("agrees", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("entered_by", sa.String(length=80), nullable=False),
        sa.Column("entered_by_name", sa.String(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("revision >= 1", name="ck_external_reviews_revision"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("framework", "year", "element_id", "revision", name="uq_external_reviews_revision"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION zhengai_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only: add a correction instead', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION zhengai_append_only()"
            )
    else:
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: add a correction instead'); END"
                )
    op.execute('UPDATE cache_state SET "commit" = NULL, position = NULL')  # rebuild: read the indicator tables


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS zhengai_append_only()")
    op.drop_table("external_reviews")
    op.drop_table("indicator_results_version")
    op.drop_index("ix_indicator_results_period", table_name="indicator_results")
    op.drop_table("indicator_results")
    op.drop_table("document_indicators")

"""Alembic environment: runs on the connection handed over by Database.upgrade()."""

from alembic import context

from zhengai_docs.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through zhengai_docs.db.database.Database.upgrade()")
# render_as_batch: SQLite can only alter tables by copying them.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: always run programmatically with a live connection (storage.migrate)."""

from alembic import context

from storage.models import SQLModel

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: runs on the connection :func:`calibrate.store.engine.migrate` hands it."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import calibrate.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for `alembic` run by hand with -x url=...
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=True,
        )
        context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()

"""Alembic environment: runs on the connection that storage.db.upgrade hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    # Command-line use (`alembic -x url=... revision --autogenerate`) with a sync driver.
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///alembic-dev.db")
    with create_engine(url).connect() as conn:
        run_migrations(conn)
        conn.commit()

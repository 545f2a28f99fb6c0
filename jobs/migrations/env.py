"""Alembic environment of the ledger's migrations.

``jobs.ledger.upgrade`` runs it with an open connection in ``config.attributes["connection"]``
(the one path the program uses). Run by hand (``alembic -x url=sqlite:///... upgrade head`` with
``script_location`` set to this folder), it connects to the ``url`` given with ``-x`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from jobs.ledger import create_engine_for, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: later migrations copy-and-move
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass -x url=sqlite:///path/to/ledger.sqlite3 (or set sqlalchemy.url)")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()

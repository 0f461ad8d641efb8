"""Database engine, the request-scoped session, the declarative Base and SQLite/PostgreSQL tuning.

Services use ``db_session`` and flush; the view or CLI command commits once (DESIGN.md §3).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import DateTime, Enum, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from portal import db_connections
from portal.db_connections import wrote

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model; constraint names follow one convention on both databases."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no zone, so values are normalised to naive UTC on the way in and tagged UTC on the
    way out; PostgreSQL gets ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Naive datetimes are not stored; pass a timezone-aware value.")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Objects stay readable after commit (flash messages, redirects, test factories); each request
# starts a new session anyway, so nothing stale survives a request.
db_session: scoped_session[Any] = scoped_session(sessionmaker(expire_on_commit=False))
_engines: dict[str, Engine] = {}


def end_read_only_transaction() -> None:
    """Commit the request's transaction when it only read, instead of rolling it back.

    The result is the same, but psycopg discards its prepared statements on every ROLLBACK
    (psycopg/_connection_base.py, ``_rollback_gen``), so a pooled connection ending each request
    with one would plan every query again in every request. Anything written and not committed by
    the view is still rolled back by ``db_session.remove()``.
    """
    if not db_session.registry.has():
        return
    session = db_session()
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    # One engine per app: the transaction's connection is the session's only one.
    connection = session.connection()
    if wrote(connection) or db_connections.outside_transaction(connection):
        return  # written: the view's to commit; PostgreSQL reads in autocommit: nothing to end
    session.commit()


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    """Create an engine with the per-dialect settings of DESIGN.md §4 (portal/db_connections.py)."""
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 5}}
        if url in {"sqlite://", "sqlite:///:memory:"}:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        db_connections.tune_sqlite(engine)
    else:
        connect_args = {"cursor_factory": db_connections.cursor_class()} if "+psycopg" in url else {}
        engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, connect_args=connect_args)
        db_connections.ping_when_idle(engine)
        db_connections.lazy_read_transactions(engine)
    db_connections.track_writes(engine)
    return engine


def get_engine(url: str, **kwargs: Any) -> Engine:
    """Return the process-wide engine for a URL, creating it once."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url, **kwargs)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests and forked workers)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def init_app(app: Flask) -> None:
    """Bind the session to the configured database and remove it at the end of each request."""
    engine = get_engine(
        app.config["DATABASE_URL"],
        pool_size=app.config["DB_POOL_SIZE"],
        max_overflow=app.config["DB_MAX_OVERFLOW"],
    )
    app.extensions["db_engine"] = engine
    db_session.configure(bind=engine)

    @app.teardown_appcontext
    def _remove_session(exc: BaseException | None) -> None:
        try:
            if exc is None:
                end_read_only_transaction()
        finally:
            db_session.remove()


def str_enum(enum_cls: type[Any], name: str, length: int = 32) -> Enum:
    """A portable enum column: stored as its string value, guarded by a named CHECK constraint."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        create_constraint=True,
        validate_strings=True,
        name=name,
    )


def append_only_statements(table: str, dialect: str) -> tuple[str, ...]:
    """DDL that makes a table append-only: a trigger rejects every UPDATE and DELETE.

    Used by the audit trail and frozen profile versions, both in ``create_all`` (DDL events) and in
    the migrations, so the two schemas carry the same guard.
    """
    if dialect == "sqlite":
        return tuple(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        )
    return (
        f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END; $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
    )


def make_append_only(table: Any) -> None:
    """Attach the append-only triggers to a Table for ``create_all`` on SQLite and PostgreSQL."""
    from sqlalchemy import DDL

    for dialect in ("sqlite", "postgresql"):
        for statement in append_only_statements(table.name, dialect):
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))

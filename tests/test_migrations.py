"""The migrations build the same schema as the models, on SQLite and PostgreSQL, and the audit table
is append-only on a migrated database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from portal.config import PROJECT_ROOT
from portal.db import Base
from portal.models import import_all_models
from tests.conftest import PG_URL


@pytest.fixture
def empty_database(tmp_path: Path, worker_id: str):
    """A brand-new empty database of the kind under test (one per xdist worker)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    url = make_url(PG_URL)
    name = f"{url.database}_migrations_{worker_id}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _alembic(url: str) -> AlembicConfig:
    config = AlembicConfig(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["skip_logging"] = True
    return config


def test_upgrade_head_matches_models_and_check_is_clean(empty_database: str) -> None:
    import_all_models()
    command.upgrade(_alembic(empty_database), "head")
    engine = create_engine(empty_database)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert differences == [], f"migrations and models differ: {differences}"
    assert set(Base.metadata.tables) <= tables
    # `alembic check` raises when autogenerate would produce operations.
    command.check(_alembic(empty_database))


def test_audit_table_is_append_only_after_migration(empty_database: str) -> None:
    command.upgrade(_alembic(empty_database), "head")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_events (occurred_at, action, summary) "
                          "VALUES (CURRENT_TIMESTAMP, 'test.event', 'kept')"))
    for statement in ("UPDATE audit_events SET summary = 'changed'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT summary FROM audit_events")).scalars().all() == ["kept"]
    engine.dispose()


def test_audit_table_is_append_only_in_the_test_schema(app, db) -> None:
    from portal import audit

    audit.record("test.event", summary="kept")
    db.commit()
    for statement in ("UPDATE audit_events SET summary = 'changed'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"):
            db.execute(text(statement))
            db.commit()
        db.rollback()
    assert db.execute(text("SELECT summary FROM audit_events")).scalars().all() == ["kept"]

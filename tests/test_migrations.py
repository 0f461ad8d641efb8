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


def test_answers_keep_room_for_in_place_saves_after_migration(empty_database: str) -> None:
    """Autogenerate does not compare storage parameters: the migrated fill factor is checked here."""
    if not empty_database.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no fill factor")
    from portal.profiles.models import ANSWERS_FILLFACTOR

    config = _alembic(empty_database)
    command.upgrade(config, "head")
    engine = create_engine(empty_database)
    query = text("SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'answers'")
    with engine.connect() as conn:
        assert conn.scalar(query) == f"fillfactor={ANSWERS_FILLFACTOR}"
    command.downgrade(config, "dd214007b584")
    with engine.connect() as conn:
        assert conn.scalar(query) == ""
    engine.dispose()


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


def test_decision_months_migration_counts_the_decisions_already_made(empty_database: str) -> None:
    """Revision ba5d6c919141 fills the monthly summary from the reviews decided before it: by UTC month
    and outcome, with the days from submission to decision; open reviews are not counted."""
    config = _alembic(empty_database)
    command.upgrade(config, "5da8d6c1229c")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO companies (id, legal_name, ownership_type, phone, created_at) "
                          "VALUES (1, 'Harbor Goods LLC', 'llc', '+1 202 555 0100', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO trade_accounts (id, company_id, business_type, status, application_step, "
                          "created_at) VALUES (1, 1, 'importer', 'certified', 'complete', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO security_profiles (id, account_id, catalog_id, status, current_version, "
                          "created_at, lock_version) VALUES (1, 1, 'msc-2019', 'approved', 4, CURRENT_TIMESTAMP, 1)"))
        reviews = [  # version, status, outcome, submitted, decided
            (1, "decided", "certify", "2026-01-01 00:00:00", "2026-01-11 12:00:00"),
            (2, "decided", "certify", "2026-01-20 00:00:00", "2026-01-31 23:30:00"),
            (3, "decided", "deny", "2026-01-31 00:00:00", "2026-02-01 00:30:00"),
            (4, "in_progress", None, "2026-02-02 00:00:00", None),
        ]
        for version, status, outcome, submitted, decided in reviews:
            conn.execute(text("INSERT INTO reviews (profile_id, version_number, status, submitted_at, summary, "
                              "overridden, decision_reason, lock_version, outcome, decided_at) VALUES (1, :v, :s, "
                              ":sub, '', false, '', 1, :o, :dec)"),
                         {"v": version, "s": status, "sub": submitted, "o": outcome, "dec": decided})
    command.upgrade(config, "ba5d6c919141")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT month, outcome, decisions, days_total FROM decision_months "
                                 "ORDER BY month, outcome")).all()
    engine.dispose()
    assert [(str(month)[:10], outcome, count) for month, outcome, count, _ in rows] == [
        ("2026-01-01", "certify", 2), ("2026-02-01", "deny", 1)]
    assert rows[0][3] == pytest.approx(10.5 + 11.979166, abs=1e-4)
    assert rows[1][3] == pytest.approx(1 + 0.5 / 24, abs=1e-4)


def test_clock_started_at_migration_keeps_the_clock_the_queue_computed(empty_database: str) -> None:
    """Revision 5af754c46783 stores each review's 90-day clock start as the queue computed it: an
    applicant's from the profile's first submission, a certified account's from the version's own;
    rebuilding the table on SQLite keeps the ratings that refer to it."""
    config = _alembic(empty_database)
    command.upgrade(config, "ba5d6c919141")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        for n, certified_on in ((1, None), (2, "2025-06-01")):
            conn.execute(text("INSERT INTO companies (id, legal_name, ownership_type, phone, created_at) "
                              "VALUES (:n, 'Harbor Goods LLC', 'llc', '+1 202 555 0100', CURRENT_TIMESTAMP)"), {"n": n})
            conn.execute(text("INSERT INTO trade_accounts (id, company_id, business_type, status, application_step, "
                              "created_at, certified_on) VALUES (:n, :n, 'importer', 'applicant', 'complete', "
                              "CURRENT_TIMESTAMP, :c)"), {"n": n, "c": certified_on})
            conn.execute(text("INSERT INTO security_profiles (id, account_id, catalog_id, status, current_version, "
                              "created_at, lock_version) VALUES (:n, :n, 'msc-2019', 'submitted', 2, "
                              "CURRENT_TIMESTAMP, 1)"), {"n": n})
            for version, status, submitted in ((1, "decided", "2025-01-02 00:00:00"),
                                               (2, "waiting", "2026-03-04 00:00:00")):
                conn.execute(text("INSERT INTO reviews (id, profile_id, version_number, status, submitted_at, summary, "
                                  "overridden, decision_reason, lock_version) VALUES (:id, :n, :v, :s, :sub, '', "
                                  "false, '', 1)"), {"id": 10 * n + version, "n": n, "v": version, "s": status,
                                                     "sub": submitted})
        conn.execute(text("INSERT INTO criterion_ratings (review_id, criterion_id, rating, comment, checklist, "
                          "carried_over, updated_at, version) VALUES (12, '1.1', 'meets', 'kept', '[]', false, "
                          "CURRENT_TIMESTAMP, 1)"))
    command.upgrade(config, "5af754c46783")
    with engine.connect() as conn:
        clocks = {review_id: str(clock)[:10] for review_id, clock in conn.execute(
            text("SELECT id, clock_started_at FROM reviews ORDER BY id"))}
        comments = conn.execute(text("SELECT comment FROM criterion_ratings")).scalars().all()
    engine.dispose()
    assert clocks == {11: "2025-01-02", 12: "2025-01-02", 21: "2025-01-02", 22: "2026-03-04"}
    assert comments == ["kept"]

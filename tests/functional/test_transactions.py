"""How requests use database transactions (portal/db_connections.py, portal/db.py): a request that
only read ends with COMMIT (on PostgreSQL it read in autocommit and has nothing to end), one that
wrote and did not commit is rolled back, PostgreSQL reads run without BEGIN until a statement needs
a transaction, and a dead idle connection is replaced."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, exc, func, select, text

from portal import db_connections
from portal.db import db_session, make_engine
from portal.notifications.inbox import Notification
from tests.conftest import make_test_app


@pytest.mark.parametrize(("statement", "needs"), [
    ("SELECT users.id FROM users WHERE users.id = ?", False),
    ("  select count(*) from notifications", False),
    ("SELECT users.id FROM users WHERE users.id = %(id)s FOR UPDATE", True),
    ("SELECT id FROM outbox FOR UPDATE SKIP LOCKED", True),
    ("SELECT id FROM t FOR NO KEY UPDATE", True),
    ("SELECT id FROM t FOR KEY SHARE", True),
    # Conservative: text that reads like a lock clause opens a transaction too, which costs a round trip.
    ("SELECT 'wait for update' AS note", True),
    ("INSERT INTO audit_events (action) VALUES (?)", True),
    ("update answers set version = 2", True),
    ("DELETE FROM evidence_links WHERE id = ?", True),
    ("WITH moved AS (DELETE FROM t RETURNING id) SELECT id FROM moved", True),
    ("SAVEPOINT sa_savepoint_1", True),
    ("BEGIN", False),
])
def test_statements_that_need_a_transaction(statement, needs):
    assert db_connections._needs_transaction(statement) is needs


@pytest.fixture
def probe_app(database_url, tmp_path):
    """An app with test-only GET routes that write, before any request is handled."""
    app = make_test_app(database_url, tmp_path)
    seen: dict[str, Any] = {}

    def _add(title: str) -> None:
        db_session.add(Notification(user_id=seen["user_id"], title=title))

    def read_only() -> str:
        return str(db_session.scalar(select(func.count()).select_from(Notification)))

    def write_and_commit() -> str:
        db_session.scalar(select(func.count()).select_from(Notification))
        seen["status_after_read"] = _transaction_status()
        _add("committed")
        db_session.flush()
        seen["status_after_write"] = _transaction_status()
        db_session.commit()
        return "ok"

    def write_without_commit() -> str:
        _add("never committed")
        db_session.flush()
        return "ok"

    def write_then_fail() -> str:
        _add("failed")
        db_session.flush()
        raise RuntimeError("boom")

    for view in (read_only, write_and_commit, write_without_commit, write_then_fail):
        app.add_url_rule(f"/_probe/{view.__name__}", view.__name__, view)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        from tests import factories

        seen["user_id"] = factories.user("probe@a.example", name="Pat Probe").id
        db_session.commit()
    app.extensions["probe"] = seen
    return app


def _transaction_status() -> str | None:
    dbapi = db_session.connection().connection.dbapi_connection
    info = getattr(dbapi, "info", None)
    return info.transaction_status.name if info is not None and hasattr(info, "transaction_status") else None


def _notifications(app: Any) -> list[str]:
    with app.app_context():
        return list(db_session.scalars(select(Notification.title).order_by(Notification.id)))


def _ends(app: Any, path: str) -> tuple[int, list[str]]:
    engine = app.extensions["db_engine"]
    ends: list[str] = []
    listeners = {name: (lambda _conn, name=name: ends.append(name)) for name in ("commit", "rollback")}
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        status = app.test_client().get(path).status_code
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)
    return status, ends


def test_a_request_that_only_read_ends_with_commit_or_outside_a_transaction(probe_app, database_url):
    """Never with a ROLLBACK sent to the server: psycopg discards its prepared statements at every one."""
    status, ends = _ends(probe_app, "/_probe/read_only")
    assert status == 200
    if not database_url.startswith("postgresql"):
        assert ends == ["commit"]
        return
    # The GET read in autocommit: there is no transaction to end, so no COMMIT is sent either.
    assert "commit" not in ends
    client = probe_app.test_client()
    for _ in range(15):  # psycopg prepares a statement at its fifth execution on a connection
        assert client.get("/_probe/read_only").status_code == 200
    with probe_app.extensions["db_engine"].connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_prepared_statements")) >= 1


def test_a_write_the_view_did_not_commit_is_rolled_back(probe_app):
    status, ends = _ends(probe_app, "/_probe/write_without_commit")
    assert status == 200 and "rollback" in ends and "commit" not in ends
    assert _notifications(probe_app) == []


def test_a_write_before_an_error_is_rolled_back(probe_app):
    status, _ = _ends(probe_app, "/_probe/write_then_fail")
    assert status == 500
    assert _notifications(probe_app) == []


def test_a_committed_write_in_a_get_is_kept(probe_app):
    status, _ = _ends(probe_app, "/_probe/write_and_commit")
    assert status == 200 and _notifications(probe_app) == ["committed"]


def test_postgresql_reads_run_without_a_transaction_until_a_write(probe_app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite keeps its in-process BEGIN")
    assert probe_app.test_client().get("/_probe/write_and_commit").status_code == 200
    seen = probe_app.extensions["probe"]
    assert seen["status_after_read"] == "IDLE"  # the read ran in autocommit: no BEGIN was sent
    assert seen["status_after_write"] == "INTRANS"  # the INSERT opened a transaction first
    assert _notifications(probe_app) == ["committed"]


def test_postgresql_posts_run_in_a_transaction_from_the_first_statement(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    app = make_test_app(database_url, tmp_path)
    seen: dict[str, Any] = {}

    def read() -> str:
        db_session.scalar(text("SELECT 1"))
        seen["status"] = _transaction_status()
        return "ok"

    app.add_url_rule("/_probe/read", "read", read, methods=["POST"])
    assert app.test_client().post("/_probe/read").status_code == 200
    assert seen["status"] == "INTRANS"


def _terminate(url: str, pid: int) -> None:
    """End a server process from another connection, as a server restart or a proxy's idle timeout would."""
    other = make_engine(url)
    try:
        with other.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar() is True
    finally:
        other.dispose()


def test_postgresql_replaces_a_dead_connection_that_sat_idle(database_url, monkeypatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server to lose")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            dead_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        _terminate(database_url, dead_pid)
        # In steady use the connection is not pinged: the dead one fails...
        monkeypatch.setattr(db_connections, "IDLE_PING_SECONDS", 3600.0)
        conn = engine.connect()
        with pytest.raises(exc.DBAPIError) as failure:
            conn.exec_driver_sql("SELECT 1")
        assert failure.value.connection_invalidated
        conn.close()
        # ...while after an idle spell the ping finds it dead and the pool connects again.
        with engine.connect() as conn:
            first_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        _terminate(database_url, first_pid)
        monkeypatch.setattr(db_connections, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() not in {dead_pid, first_pid}
    finally:
        engine.dispose()


def test_postgresql_result_descriptions_match_psycopgs_and_stay_with_their_result(database_url):
    """The portal's psycopg cursors build ``description`` on demand (db_connections.cursor_class): the
    same columns as psycopg's own cursor, the right length before any is read, still those of their
    result after the cursor ran another statement, None for a statement without rows."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the cursor class is psycopg's")
    import psycopg

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    sql = "SELECT 1 AS a, 'x'::varchar(7) AS b, now() AS c, NULL::numeric(5, 2) AS d"
    try:
        with engine.connect() as conn:
            dbapi_connection = conn.connection.dbapi_connection
            ours = dbapi_connection.cursor()
            assert type(ours) is not psycopg.Cursor
            ours.execute(sql)
            described = ours.description
            assert len(described) == 4
            ours.execute("SELECT 2 AS other")
            theirs = psycopg.Cursor(dbapi_connection)
            theirs.execute(sql)
            expected = [tuple(column) for column in theirs.description]
            assert [tuple(column) for column in described] == expected
            assert [column.name for column in described] == ["a", "b", "c", "d"]
            assert described[-1].precision == 5 and described[1:2][0].display_size == 7
            assert ours.description[0].name == "other"
            ours.execute("CREATE TEMPORARY TABLE described (x int)")
            assert ours.description is None
            ours.execute("SELECT")
            assert ours.description is not None and len(ours.description) == 0
            # Through SQLAlchemy: names and rows as before.
            result = conn.exec_driver_sql(sql)
            assert list(result.keys()) == ["a", "b", "c", "d"] and result.one()[:2] == (1, "x")
    finally:
        engine.dispose()


def _sqlite_pair(path: Any) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    waiter = sqlite3.connect(path, isolation_level=None, timeout=5)
    return holder, waiter


def test_sqlite_begin_immediate_follows_the_writer_in_front_closely(tmp_path):
    """SQLite's own busy handler sleeps up to 100 ms between tries: released after 240 ms, it would
    take the lock at 328 ms. The short steps take it within a few milliseconds of the release."""
    holder, waiter = _sqlite_pair(tmp_path / "w.db")
    holder.execute("BEGIN IMMEDIATE")
    hold = 0.24
    threading.Timer(hold, holder.execute, args=("COMMIT",)).start()
    started = time.monotonic()
    db_connections.begin_immediate(waiter)
    waited = time.monotonic() - started
    waiter.execute("INSERT INTO t VALUES (1)")
    waiter.execute("COMMIT")
    assert hold - 0.01 <= waited < hold + 0.04
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_sqlite_begin_immediate_gives_up_after_the_busy_timeout(tmp_path, monkeypatch):
    holder, waiter = _sqlite_pair(tmp_path / "w.db")
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(db_connections, "SQLITE_BUSY_SECONDS", 0.1)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db_connections.begin_immediate(waiter)
    assert 0.09 <= time.monotonic() - started < 0.5
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 100
    holder.execute("ROLLBACK")

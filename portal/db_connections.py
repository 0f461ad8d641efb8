"""How the portal's database connections behave: transactions per request, SQLite tuning, and
PostgreSQL connection health, each as engine and pool events (DESIGN.md §4).

- **Write tracking.** Every connection knows whether its open transaction has sent anything but
  reads, so that a request that only read can end with COMMIT (``db.end_read_only_transaction``).
- **SQLite.** WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for requests that may write
  (a deferred transaction that reads and then writes cannot upgrade its snapshot under contention),
  retried in short steps while another writer holds the lock. A view registered with
  ``writes_begin_late`` (autosave) reads outside a transaction, as on PostgreSQL, and takes the lock
  with ``BEGIN IMMEDIATE`` just before its first write: SQLite has one writer at a time, and the lock
  then covers the writes alone, not the reads and the work between them.
- **PostgreSQL reads without BEGIN.** A GET checks its connection out in autocommit, the default
  of Django and of PostgreSQL itself, and a transaction starts just before the first statement
  that needs one (a write, a row lock, a savepoint, a server-side cursor). At READ COMMITTED every
  statement reads its own snapshot either way, so reads lose nothing, and a page saves the BEGIN
  and COMMIT round trips. A view registered with ``writes_begin_late`` (autosave) does the same, and
  an ``ATOMIC_STATEMENT`` (its write and audit event in one statement) begins no transaction at all.
  Everything else (POST, CLI, background work) runs in a transaction from its first statement.
- **PostgreSQL result descriptions on demand.** psycopg builds a ``Column`` object per column of every
  result when ``cursor.description`` is read, and SQLAlchemy reads it after every statement, though it
  looks at the columns only the first time a statement runs (it keeps their layout with the compiled
  statement). The portal's cursors build them when they are first looked at.
- **PostgreSQL health check.** A connection idle in the pool for more than ``IDLE_PING_SECONDS`` is
  pinged before use and replaced when dead (server restart, failover, idle timeout in a proxy);
  one in steady use is not, which saves a round trip per request. A server lost in the middle of a
  busy period fails the requests on the connections it held; SQLAlchemy then empties the pool.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, overload

from flask import has_request_context, request
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

IDLE_PING_SECONDS = 30.0
# How long SQLite waits for another writer before "database is locked".
SQLITE_BUSY_SECONDS = 5.0
MAX_PAUSE = 0.0005

_WRITE_KEYWORDS = ("INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "WITH",
                   "SAVEPOINT", "LOCK", "GRANT", "REVOKE", "COMMENT")
# Row locks only hold inside a transaction.
_ROW_LOCK = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b", re.IGNORECASE)
_WROTE = "portal_transaction_wrote"
# An execution option: the statement is atomic on its own (a data-modifying common table expression
# that writes a row and its audit event). Run where no transaction is open (PostgreSQL, autocommit), it
# is its own transaction, so no BEGIN is sent for it.
ATOMIC_STATEMENT = "portal_atomic_statement"
_CHECKED_IN_AT = "portal_checked_in_at"


# Views whose writes are checked by their rows' version alone (optimistic locking): see writes_begin_late.
_LATE_WRITE_ENDPOINTS: set[str] = set()


def writes_begin_late(endpoint: str) -> None:
    """Let the view ``endpoint`` read before its write transaction begins.

    Only for a view whose every write is an UPDATE checked by the row's version (``version_id_col``, or
    the same check in the statement) or an INSERT of a new row, so that nothing it read can be changed
    by another writer unseen between its reads and its write: the version check turns that into a
    conflict. What the view checked of other rows (the profile still editable) holds as of its read, as
    at READ COMMITTED: an autosave racing the profile's submission lands in the draft answers, after the
    submitted version was frozen, and nothing typed is lost.

    On SQLite the writer's lock is then taken by ``BEGIN IMMEDIATE`` just before the first write;
    otherwise it is held from the request's first statement (the signed-in user) to its commit, and
    concurrent autosaves of different answers wait for each other's reads and form checks. On PostgreSQL
    the view's connection reads in autocommit, as a GET's does, and a transaction begins just before a
    write, or not at all for an ``ATOMIC_STATEMENT``: BEGIN's round trip is saved, and COMMIT's too when
    that statement is the view's one write. Such a statement must be the view's last write: run with no
    transaction open it commits at once, and a write after it would begin a transaction of its own.
    """
    _LATE_WRITE_ENDPOINTS.add(endpoint)


def _begins_late() -> bool:
    return has_request_context() and request.endpoint in _LATE_WRITE_ENDPOINTS


def write_transaction_wanted() -> bool:
    """Whether the work at hand may write: everything but GET, HEAD and OPTIONS requests."""
    if has_request_context():
        return request.method not in {"GET", "HEAD", "OPTIONS"}
    return True


@lru_cache(maxsize=2048)
def _needs_transaction(statement: str) -> bool:
    """Whether ``statement`` writes or locks rows. Kept per statement text: the same compiled statements
    come back request after request (and a string keeps its hash), while the test upper-cases the whole
    text, 4 KB for the category page's."""
    head = statement.lstrip()[:9].upper()
    if head.startswith(_WRITE_KEYWORDS):
        return True
    return head.startswith("SELECT") and " FOR " in statement.upper() and bool(_ROW_LOCK.search(statement))


def wrote(conn: Any) -> bool:
    """Whether ``conn``'s open transaction has sent a statement that may have written."""
    return bool(conn.info.get(_WROTE))


def outside_transaction(conn: Any) -> bool:
    """Whether ``conn`` is a PostgreSQL connection reading in autocommit with no transaction open (a GET
    that only read): there is nothing to commit, and returning it to the pool ends nothing either."""
    if conn.dialect.name != "postgresql":
        return False
    dbapi_connection = conn.connection.dbapi_connection
    return bool(dbapi_connection.autocommit) and dbapi_connection.info.transaction_status == 0


def track_writes(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _mark(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _needs_transaction(statement):
            conn.info[_WROTE] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _reset(conn: Any) -> None:
        # A connection the server dropped has no info left to reset (and asking would raise).
        if not conn.invalidated:
            conn.info.pop(_WROTE, None)


def tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite (Python 3.11) so we can emit our own BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Read the file through a memory map (up to 256 MB) instead of a read() per page that is not in this
        # connection's 2 MB page cache: at program scale a queue page touches rows spread over many pages.
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_on_begin(conn: Any) -> None:
        if not write_transaction_wanted():
            conn.exec_driver_sql("BEGIN")
        elif not _begins_late():
            begin_immediate(conn.connection.dbapi_connection)
        # Else the view reads in autocommit until its first write (writes_begin_late).

    @event.listens_for(engine, "before_cursor_execute")
    def _sqlite_begin_at_first_write(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        dbapi_connection = cursor.connection
        # Only a view that begins late is outside a transaction here: every other one began at "begin".
        if not dbapi_connection.in_transaction and _needs_transaction(statement):
            begin_immediate(dbapi_connection)


def begin_immediate(dbapi_connection: Any) -> None:
    """``BEGIN IMMEDIATE``, waiting for the writer in front in steps of at most 2 ms.

    SQLite's own busy handler sleeps 1, 2, 5, ... up to 100 ms between tries, so under a few
    concurrent writers (autosave) the unluckiest save waited ten times longer than the queue in front
    of it. Short steps keep the wait close to the queue. After ``SQLITE_BUSY_SECONDS`` the error is
    raised, as the busy timeout would.
    """
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    pause = 0.0002
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 1.5, MAX_PAUSE)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")


def lazy_read_transactions(engine: Engine) -> None:
    """PostgreSQL (psycopg 3): GETs read in autocommit and begin a transaction when they must."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # Set on every checkout (the mode is not reset at checkin), and only when it changes: psycopg's
        # setter takes the connection's lock and runs a generator even to set the value it has.
        autocommit = not write_transaction_wanted() or _begins_late()
        if dbapi_connection.autocommit != autocommit:
            dbapi_connection.autocommit = autocommit

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_when_needed(conn: Any, cursor: Any, statement: str, _parameters: Any, context: Any,
                           _executemany: bool) -> None:
        dbapi_connection = cursor.connection
        if context is not None and context.execution_options.get(ATOMIC_STATEMENT):
            return
        # A server-side cursor (streamed exports) is DECLAREd, which only works in a transaction.
        streamed = getattr(cursor, "name", None) is not None
        if dbapi_connection.autocommit and (streamed or _needs_transaction(statement)) \
                and dbapi_connection.info.transaction_status == 0:  # idle: no transaction open
            # psycopg then reports the transaction as open, and commit() or rollback() ends it.
            dbapi_connection.execute("BEGIN")

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is None or dbapi_connection.closed:
            return
        try:
            if dbapi_connection.info.transaction_status != 0:
                dbapi_connection.rollback()  # SQLAlchemy ended the transaction already; never leak one
        except engine.dialect.loaded_dbapi.Error as error:
            record.invalidate(error)  # a broken connection is not reused


class _ResultColumns(Sequence[Any]):
    """``cursor.description`` of one result: its length at once, its ``Column`` objects when first read.

    Bound to the result, not to the cursor, so that it stays right after the cursor runs something else.
    """

    __slots__ = ("_columns", "_count", "_result")

    def __init__(self, cursor: Any, result: Any) -> None:
        # What psycopg's Column reads from a cursor, taken now.
        self._result = _DescribedResult(result, cursor._encoding, cursor.adapters)
        self._count: int = result.nfields
        self._columns: list[Any] | None = None

    def _built(self) -> list[Any]:
        if self._columns is None:
            from psycopg import Column

            self._columns = [Column(self._result, index) for index in range(self._count)]  # type: ignore[arg-type]
        return self._columns

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._built()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._built())

    def __eq__(self, other: object) -> bool:
        return list(self) == (list(other) if isinstance(other, Sequence) else other)

    def __repr__(self) -> str:
        return repr(self._built())


class _DescribedResult:
    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, pgresult: Any, encoding: str, adapters: Any) -> None:
        self.pgresult, self._encoding, self.adapters = pgresult, encoding, adapters


def cursor_class() -> type:
    """psycopg's cursor with ``description`` built on demand (``connect(cursor_factory=...)``)."""
    import psycopg
    from psycopg.pq import ExecStatus

    tuples = {ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK}

    class Cursor(psycopg.Cursor):  # type: ignore[type-arg]
        @property
        def description(self) -> Any:
            result = self.pgresult
            # As psycopg: columns when the result has fields or says it returned rows ("SELECT ;").
            if result and (result.nfields or result.status in tuples):
                return _ResultColumns(self, result)
            return None

    return Cursor


def ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections that sat idle in the pool only."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < IDLE_PING_SECONDS:
            return
        try:
            ok = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (SQLAlchemy's pessimistic
            # disconnect handling with a custom ping).
            raise exc.DisconnectionError(str(error)) from error
        if not ok:
            raise exc.DisconnectionError("The database connection did not answer a ping.")

"""Shared fixtures: an app on a fresh database per test (SQLite by default, PostgreSQL when
PORTAL_TEST_DATABASE_URL is set), a test client, a controllable clock and a standard cast of users."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.config import TestConfig
from portal.db import Base, dispose_engines, make_engine
from portal.models import import_all_models
from tests import factories

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")


def _pg_worker_url(base_url: str, worker_id: str) -> str:
    url = make_url(base_url)
    suffix = "" if worker_id in ("master", "") else f"_{worker_id}"
    return url.set(database=f"{url.database}{suffix}").render_as_string(hide_password=False)


def _recreate_pg_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """Build the schema once per test session (per xdist worker).

    SQLite: a template file that each test copies. PostgreSQL: a database that each test empties.
    """
    import_all_models()
    if PG_URL:
        url = _pg_worker_url(PG_URL, worker_id)
        _recreate_pg_database(url)
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    return str(path)


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # TRUNCATE does not fire the audit table's row-level UPDATE/DELETE guard.
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    """A database URL whose contents are empty at the start of the test."""
    if PG_URL:
        _truncate_all(database_template)
        return database_template
    path = tmp_path / "portal.db"
    shutil.copyfile(database_template, path)
    return f"sqlite:///{path}"


def make_test_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """An app on the given database with test settings (several may share one database)."""

    class _Config(TestConfig):
        DATABASE_URL = database_url
        MAIL_OUTBOX_DIR = str(tmp_path / "outbox")
        EVIDENCE_DIR = str(tmp_path / "evidence")

    for key, value in overrides.items():
        setattr(_Config, key, value)
    return create_app(_Config)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_test_app(database_url, tmp_path)
    yield application
    dispose_engines()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """An application context for tests that call services and queries directly."""
    from portal.db import db_session

    with app.app_context():
        yield db_session
        db_session.rollback()


class Clock:
    """A movable clock patched into ``portal.clock`` (and every module that imported ``utcnow``)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    import sys

    moving = Clock(datetime.now(UTC).replace(microsecond=0))
    import portal.clock

    original = portal.clock.utcnow
    for module in list(sys.modules.values()):
        if module is not None and getattr(module, "__name__", "").startswith("portal") \
                and getattr(module, "utcnow", None) is original:
            monkeypatch.setattr(module, "utcnow", moving)
    monkeypatch.setattr(portal.clock, "today", lambda: moving.now.date())
    return moving


@pytest.fixture
def cast(app: Flask) -> factories.Cast:
    """Two companies with users of every trade role, and CBP staff of every role."""
    with app.app_context():
        return factories.build_cast()


@pytest.fixture
def login(client: Any) -> Any:
    """``login(email)`` signs the test client in through the real login form."""

    def _login(email: str, password: str = factories.PASSWORD, test_client: Any = None) -> Any:
        c = test_client or client
        response = c.post("/auth/login", data={"email": email, "password": password})
        assert response.status_code == 302, f"login of {email} failed"
        return response

    return _login

"""The app factory and configuration: production refuses unsafe settings, booleans parse strictly,
and the factory wires the expected blueprints (DESIGN.md §2, issue 2)."""

from __future__ import annotations

import secrets

import pytest

from portal import create_app
from portal.config import DEV_SECRET_KEY, Config, ProductionConfig, TestConfig, check_production_settings, parse_bool
from portal.db import dispose_engines


@pytest.fixture
def overrides(tmp_path):
    """Settings that keep a factory-built app away from the developer's instance/ directory."""
    yield {"DATABASE_URL": f"sqlite:///{tmp_path / 'config.db'}", "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
           "EVIDENCE_DIR": str(tmp_path / "evidence")}
    dispose_engines()


@pytest.mark.parametrize("secret", [None, "", DEV_SECRET_KEY, TestConfig.SECRET_KEY, "short-secret",
                                    "x" * 31], ids=["none", "empty", "dev-default", "test-key", "short", "31-chars"])
def test_production_refuses_a_missing_default_or_short_secret_key(overrides, secret):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({**overrides, "ENV_NAME": "production", "SECRET_KEY": secret})


def test_production_accepts_a_long_random_secret_key(overrides):
    secret = secrets.token_hex(20)
    assert len(secret) == 40
    app = create_app({**overrides, "ENV_NAME": "production", "SECRET_KEY": secret})
    assert app.config["SECRET_KEY"] == secret
    assert app.config["DEBUG"] is False and app.debug is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["WTF_CSRF_ENABLED"] is True


def test_production_refuses_debug(overrides):
    with pytest.raises(RuntimeError, match="DEBUG"):
        create_app({**overrides, "ENV_NAME": "production", "SECRET_KEY": secrets.token_hex(20), "DEBUG": True})


def test_the_guard_is_only_for_production():
    check_production_settings({"ENV_NAME": "development", "SECRET_KEY": DEV_SECRET_KEY, "DEBUG": True})
    check_production_settings({"ENV_NAME": "test", "SECRET_KEY": ""})
    with pytest.raises(RuntimeError):
        check_production_settings({"ENV_NAME": "production"})


def test_production_config_class_is_strict():
    assert ProductionConfig.ENV_NAME == "production"
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert ProductionConfig.DEBUG is False


def test_session_and_lockout_settings_follow_the_design():
    from datetime import timedelta

    assert Config.SESSION_COOKIE_HTTPONLY is True and Config.SESSION_COOKIE_SAMESITE == "Lax"
    assert Config.IDLE_TIMEOUT_TRADE == timedelta(minutes=15)
    assert Config.IDLE_TIMEOUT_STAFF == timedelta(minutes=10)
    assert Config.ABSOLUTE_SESSION_LIFETIME == timedelta(hours=12)
    assert (Config.LOCKOUT_THRESHOLD, Config.LOCKOUT_WINDOW, Config.LOCKOUT_DURATION) == (
        5, timedelta(minutes=15), timedelta(minutes=15))
    assert Config.WTF_CSRF_ENABLED is True and Config.DEBUG is False


@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "yes", "on", " on ", "Yes"])
def test_parse_bool_true(value):
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "off", " OFF "])
def test_parse_bool_false(value):
    assert parse_bool(value, default=True) is False


@pytest.mark.parametrize("default", [True, False])
def test_parse_bool_missing_gives_the_default(default):
    assert parse_bool(None, default=default) is default
    assert parse_bool("", default=default) is default


@pytest.mark.parametrize("value", ["ture", "2", "-1", "enabled", "y", "n", "t", "none", "null", "1.0", "off!"])
def test_parse_bool_refuses_anything_else(value):
    with pytest.raises(ValueError, match="Not a boolean"):
        parse_bool(value)


def test_factory_registers_the_expected_blueprints_and_error_handlers(overrides):
    app = create_app({**overrides, "TESTING": True})
    assert {"main", "auth", "companies", "accounts", "admin"} <= set(app.blueprints)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"main.home", "main.healthz", "auth.login", "auth.logout", "auth.register", "auth.reset_password",
            "admin.users"} <= endpoints
    from flask_wtf.csrf import CSRFError
    from sqlalchemy.exc import OperationalError
    from werkzeug.exceptions import HTTPException

    handled = {cls for by_class in app.error_handler_spec[None].values() for cls in by_class}
    assert {HTTPException, CSRFError, OperationalError, Exception} <= handled
    assert "csrf" in app.extensions and "db_engine" in app.extensions


def test_factory_accepts_a_config_class(overrides):
    class Custom(TestConfig):
        DATABASE_URL = overrides["DATABASE_URL"]
        MAIL_OUTBOX_DIR = overrides["MAIL_OUTBOX_DIR"]
        EXTRA_SETTING = "here"

    app = create_app(Custom)
    assert app.config["EXTRA_SETTING"] == "here"
    assert app.config["TESTING"] is True and app.config["ENV_NAME"] == "test"

"""The CTPAT Portal application package: ``create_app`` wires configuration, database, security,
blueprints, error pages and CLI commands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal.config import PROJECT_ROOT, Config, check_production_settings
from portal.templating import TemplateEnvironment


class DatabaseIntConverter(IntegerConverter):
    """URL ids are database integers: anything past 2**31 - 1 is a 404, never a database error."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002, ANN001, ANN002, ANN003, ANN204 - Werkzeug's signature
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


SYNC_MEMO_ENTRIES = 2_000


class PortalFlask(Flask):
    """The portal's Flask application class: its templates' environment, and its hooks checked once."""

    jinja_environment = TemplateEnvironment

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks for every hook and view of every request whether it is a coroutine function
        # (about 15 per page, each an ``inspect`` walk); the answer for a function never changes.
        try:
            return self._sync_functions[func]
        except KeyError:
            sync = self.async_to_sync(func) if iscoroutinefunction(func) else func
            # Hooks and views are a few hundred functions; a callable made afresh per call is not kept.
            if len(self._sync_functions) < SYNC_MEMO_ENTRIES:
                self._sync_functions[func] = sync
            return sync
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


def create_app(config: type[Config] | Mapping[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` is a config class or a mapping of overrides on ``Config``."""
    app = PortalFlask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "portal" / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    if config is None or isinstance(config, Mapping):
        app.config.from_object(Config)
        if config:
            app.config.update(config)
    else:
        app.config.from_object(config)
    check_production_settings(app.config)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1)  # type: ignore[method-assign]

    register_extensions(app)
    from portal.urls import IdConverter

    app.url_map.converters["int"] = IdConverter  # out-of-range ids are 404, never a driver error
    register_blueprints(app)
    register_template_helpers(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from portal import db, fragment_cache, security
    from portal.models import import_all_models
    from portal.notifications import mail

    import_all_models()
    db.init_app(app)
    security.init_app(app)
    mail.init_app(app)
    fragment_cache.init_app(app)


def register_blueprints(app: Flask) -> None:
    from portal.action_plans.routes import bp as action_plans_bp
    from portal.admin.routes import bp as admin_bp
    from portal.auth.routes import bp as auth_bp
    from portal.catalog.routes import bp as catalog_bp
    from portal.companies.account_routes import bp as accounts_bp
    from portal.companies.routes import bp as companies_bp
    from portal.exports.routes import bp as exports_bp
    from portal.main.routes import bp as main_bp
    from portal.partners.routes import bp as partners_bp
    from portal.profiles.evidence_routes import bp as evidence_bp
    from portal.profiles.routes import bp as profiles_bp
    from portal.profiles.submission_routes import bp as submissions_bp
    from portal.reviews.queue_routes import bp as queue_bp
    from portal.reviews.routes import bp as reviews_bp
    from portal.validations.routes import bp as validations_bp

    for blueprint in (main_bp, auth_bp, companies_bp, accounts_bp, admin_bp, catalog_bp, profiles_bp,
                      submissions_bp, evidence_bp, action_plans_bp, queue_bp, reviews_bp, validations_bp, exports_bp,
                      partners_bp):
        app.register_blueprint(blueprint)
    from portal.audit_routes import bp as audit_bp
    from portal.notifications.routes import bp as notification_settings_bp

    app.register_blueprint(audit_bp)
    app.register_blueprint(notification_settings_bp)


def register_template_helpers(app: Flask) -> None:
    from portal.templating import init_app as init_templating

    init_templating(app)


def register_errorhandlers(app: Flask) -> None:
    from portal.errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from portal.cli import init_app as init_cli

    init_cli(app)

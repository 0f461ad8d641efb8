"""Domain errors raised by services, and the HTTP error pages (no stack trace ever reaches a user)."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from portal.db import db_session


class DomainError(Exception):
    """A business rule refused an action; the view shows the message on the form, never a 500.

    ``field`` names the form field the message belongs to, if any.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class StaleEdit(DomainError):
    """Someone else saved the same row since the form was loaded (optimistic locking, 409)."""

    def __init__(self, message: str, *, mine: Any = None, theirs: Any = None) -> None:
        super().__init__(message)
        self.mine = mine
        self.theirs = theirs


ERROR_TITLES = {
    400: "Bad request",
    403: "Access denied",
    404: "Page not found",
    405: "Method not allowed",
    409: "Edit conflict",
    413: "Upload too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}


def _render_error(code: int, **context: Any) -> tuple[str, int]:
    return render_template(f"errors/{code}.html", code=code, title=ERROR_TITLES.get(code, "Error"), **context), code


def register_errorhandlers(app: Flask) -> None:
    """Map errors to friendly pages; database outages to 503 with the submitted input kept."""

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError) -> tuple[str, int]:
        db_session.rollback()
        return _render_error(400, csrf=True, reason=error.description)

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError) -> tuple[str, int]:
        app.logger.error("Database unavailable: %s", error)
        try:
            db_session.rollback()
        except Exception:  # noqa: BLE001 - the connection may already be gone; the page must still render
            db_session.remove()
        kept = {k: v for k, v in request.form.items() if k not in {"csrf_token", "password", "new_password",
                                                                    "confirm_password", "current_password"}}
        return _render_error(503, kept=kept)

    @app.errorhandler(StaleDataError)
    def _stale(error: StaleDataError) -> tuple[str, int]:
        db_session.rollback()
        return _render_error(409)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        code = error.code or 500
        if code not in ERROR_TITLES:
            return error
        if code >= 500:
            db_session.rollback()
        return _render_error(code, description=error.description if code in {400, 403, 404} else None)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        if app.config.get("TESTING") and not app.config.get("RENDER_500_IN_TESTS"):
            # Tests want the real traceback, not the friendly page.
            raise error
        app.logger.exception("Unhandled error")
        try:
            db_session.rollback()
        except Exception:  # noqa: BLE001
            db_session.remove()
        return _render_error(500)

"""Security plumbing: Flask-Login with rotating session tokens, idle and absolute session limits,
request ids, and the response headers of DESIGN.md §9 (strict CSP, HSTS, nosniff, no-store)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFProtect, generate_csrf
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import defer, joinedload

from portal.clock import utcnow
from portal.db import db_session

login_manager = LoginManager()
csrf = CSRFProtect()

# How stale the recorded last activity may get before a request writes it again (seconds).
ACTIVITY_RESOLUTION_SECONDS = 60

# A request id passed on by a proxy is kept only when it cannot forge log lines or page text.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Sent with every response that does not set them itself.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
)


# How long an app server hands out the same signed CSRF token for a session's secret (seconds).
CSRF_TOKEN_REUSE_SECONDS = 300
# Sessions whose tokens an app server keeps at once; past it the map starts again empty.
CSRF_TOKENS_KEPT = 10_000
_CSRF_TOKENS = "portal_csrf_tokens"


class PortalSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its serializer built once per secret key.

    Flask builds the serializer (key list, signer, salt) twice per request, to read the cookie and to
    write it; with the keys unchanged, it is the same object every time.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # The keys are part of the key: a rotated secret (or its fallbacks) gets a serializer of its own.
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if len(self._serializers) >= 8:
                self._serializers.clear()
            self._serializers[keys] = serializer  # type: ignore[assignment]
        return serializer


def csrf_token() -> str:
    """The session's signed CSRF token, as Flask-WTF's ``generate_csrf`` gives it, signed at most once
    per ``CSRF_TOKEN_REUSE_SECONDS`` per session and app server.

    Flask-WTF signs a new token (a timestamped HMAC of the session's secret) on every request that
    renders a form, and every page has one (sign out). A token signed a few minutes ago names the same
    secret and stays valid for ``WTF_CSRF_TIME_LIMIT`` (12 hours) less those minutes, so handing it out
    again protects as much: the check on a POST is Flask-WTF's own, unchanged. The map is keyed by the
    session's secret, which Flask-WTF keeps in the signed session cookie; a new secret (a new session)
    gets a new token.
    """
    token = g.get("csrf_token")
    if token is not None:
        return str(token)
    tokens: dict[str, tuple[str, float]] = current_app.extensions[_CSRF_TOKENS]
    secret = session.get("csrf_token")
    now = time.monotonic()
    if secret is not None:
        kept = tokens.get(secret)
        if kept is not None and now - kept[1] < CSRF_TOKEN_REUSE_SECONDS:
            g.csrf_token = kept[0]  # where Flask-WTF's form fields look first
            return kept[0]
    token = generate_csrf()
    if len(tokens) >= CSRF_TOKENS_KEPT:
        tokens.clear()
    tokens[session["csrf_token"]] = (token, now)
    return str(token)


@lru_cache(maxsize=1)
def _user_statement() -> Select[Any]:
    """Built once: every request runs it, and building it cost more than running it."""
    from portal.auth.models import User
    from portal.notifications.inbox import unread_count_of

    # What the sign-in and lockout checks alone read (the password hash among them) is left out: a
    # request that needs it (changing the password, a second-factor code) loads it then.
    return (select(User, unread_count_of(User.id))
            .where(User.session_token == bindparam("token"), User.is_active.is_(True))
            .options(joinedload(User.memberships),
                     defer(User.password_hash), defer(User.password_changed_at), defer(User.last_login_at),
                     defer(User.failed_login_count), defer(User.first_failed_login_at), defer(User.locked_until),
                     defer(User.totp_last_step)))


@dataclass(frozen=True)
class ReadWithUser:
    """A page's first read, made in the statement that loads the signed-in user.

    On PostgreSQL each statement of a page is a round trip, and under load each round trip costs more
    than the work it carries (two context switches of a worker that then finds its caches cold): a
    cached category page without its user statement served 23 % more requests per second, without both
    statements 2.4 times as many (docs/PERFORMANCE.md §5.14). A page registered here gets its first
    read in the same statement as the user, as columns outer-joined to the user's row, so that a user
    who is not signed in reads nothing and a missing row reads as NULLs. The page is authorized as before,
    by the view, once it has what it read: nothing read here reaches a response unless the view uses it.

    ``extend`` adds the page's columns and joins to the user's statement (built once per dialect);
    ``parameters`` gives the statement's parameters from the view arguments, or None to read the user
    alone; ``keep`` receives the view arguments and the page's columns of the row, and keeps them for
    the view (on ``flask.g``).
    """

    extend: Callable[[Select[Any], str], Select[Any]]
    parameters: Callable[[dict[str, Any]], dict[str, Any] | None]
    keep: Callable[[dict[str, Any], Sequence[Any]], None]


_READS_WITH_USER: dict[str, ReadWithUser] = {}


def read_with_user(endpoint: str, read: ReadWithUser) -> None:
    """Register ``read`` for the view ``endpoint`` (see ``ReadWithUser``)."""
    _READS_WITH_USER[endpoint] = read


@lru_cache(maxsize=16)
def _user_statement_with(endpoint: str, dialect: str) -> Select[Any]:
    return _READS_WITH_USER[endpoint].extend(_user_statement(), dialect)


@login_manager.user_loader
def _load_user(token: str) -> Any:
    """The user of a session token, with what every page asks of them in the same statement: their
    memberships (permissions) and their unread notification count (the header); and for a page
    registered with ``read_with_user``, that page's first read."""
    statement, parameters = _user_statement(), {"token": token}
    read = _READS_WITH_USER.get(request.endpoint or "") if has_request_context() else None
    page_parameters = read.parameters(request.view_args or {}) if read else None
    if page_parameters and any(isinstance(value, str) and "\x00" in value for value in page_parameters.values()):
        # A path refused for its NUL (security._has_nul) still renders its error page, with the user.
        page_parameters = None
    if read and page_parameters is not None:
        statement = _user_statement_with(request.endpoint, db_session.get_bind().dialect.name)
        parameters.update(page_parameters)
    row = db_session.execute(statement, parameters).unique().first()
    if row is None:
        return None
    if "unread_notifications" not in g:
        g.unread_notifications = row[1]
    if read and page_parameters is not None:
        read.keep(request.view_args or {}, row[2:])
    return row[0]


def is_safe_next(target: str | None) -> bool:
    """A ``next`` URL is followed only when it stays on this site (no scheme, host or '//' trick)."""
    if not target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
        and "\\" not in target


def start_session(user: Any) -> None:
    """Record when the session began and was last active (for the idle and absolute limits), and when
    the user last proved their identity (``auth_at``, for re-authentication: portal/auth/reauth.py)."""
    now = utcnow().timestamp()
    session["login_at"] = now
    session["last_seen"] = now
    session["auth_at"] = now


def _session_expired(now: datetime) -> str | None:
    from flask import current_app

    login_at = session.get("login_at")
    last_seen = session.get("last_seen")
    if login_at is None or last_seen is None:
        return "expired"
    idle_limit = current_app.config["IDLE_TIMEOUT_STAFF" if current_user.is_staff else "IDLE_TIMEOUT_TRADE"]
    if now - datetime.fromtimestamp(last_seen, UTC) > idle_limit:
        return "idle"
    if now - datetime.fromtimestamp(login_at, UTC) > current_app.config["ABSOLUTE_SESSION_LIFETIME"]:
        return "absolute"
    return None


def _has_nul() -> bool:
    """Whether a query or form value, a text parameter of the path, or an upload's name, holds NUL: no
    legitimate form or link sends it and no PostgreSQL text column can store it (the driver would fail:
    a 500 instead of a refusal). Checked before the signed-in user is loaded, whose statement may carry a
    path parameter (``ReadWithUser``)."""
    values = [key for key, _ in request.args.lists()] + [v for _, vs in request.args.lists() for v in vs]
    values += [value for value in (request.view_args or {}).values() if isinstance(value, str)]
    if request.method not in {"GET", "HEAD", "OPTIONS"} and request.mimetype in {
            "application/x-www-form-urlencoded", "multipart/form-data"}:
        values += [key for key, _ in request.form.lists()] + [v for _, vs in request.form.lists() for v in vs]
        values += [upload.filename or "" for _, uploads in request.files.lists() for upload in uploads]
    return any("\x00" in value for value in values)


def init_app(app: Flask) -> None:
    """Wire Flask-Login, CSRF, session limits and security headers into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    # Our own rotating token already revokes stolen sessions; "strong" mode would also log out
    # users whose address changes (mobile networks, VPNs) without adding protection here.
    login_manager.session_protection = None
    csrf.init_app(app)
    app.extensions[_CSRF_TOKENS] = {}
    # In place of Flask-WTF's generate_csrf, which it also hands to every render by a context processor.
    app.jinja_env.globals["csrf_token"] = csrf_token
    processors = app.template_context_processors[None]
    processors[:] = [p for p in processors if getattr(p, "__module__", None) != "flask_wtf.csrf"]
    app.session_interface = PortalSessionInterface()
    if app.config.get("ENV_NAME") == "production":
        # DESIGN.md §9: the session cookie is Secure in production, whatever the environment says.
        app.config["SESSION_COOKIE_SECURE"] = True

    @app.before_request
    def _before() -> Any:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        if _has_nul():
            abort(400, "The request contains a NUL character, which no form field accepts.")
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        reason = _session_expired(utcnow())
        if reason:
            logout_user()
            session.clear()
            flash(
                "You were signed out after a period of inactivity. Sign in again to continue."
                if reason == "idle" else "Your session has ended. Sign in again to continue.",
                "info",
            )
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        # Background fetches (autosave) count as activity too: the user is typing. The time is
        # written at most once a minute: an unchanged session is not signed and sent again with
        # every response, and the idle limit still holds to the minute (it can only end early).
        now = utcnow().timestamp()
        if now - session.get("last_seen", 0) >= ACTIVITY_RESOLUTION_SECONDS:
            session["last_seen"] = now
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        # A view may set its own (a download's CSP, say). Looked up in one pass over the response's
        # headers: ``setdefault`` raises and catches a KeyError for each header that is missing.
        present = {name.lower() for name, _ in headers}
        headers.extend([header for header in SECURITY_HEADERS if header[0].lower() not in present])
        headers["X-Request-ID"] = g.get("request_id", "")
        if request.endpoint != "static" and (current_user.is_authenticated or "Cache-Control" not in headers):
            headers["Cache-Control"] = "no-store"
        return response

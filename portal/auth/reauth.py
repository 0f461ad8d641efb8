"""Re-authentication ("fresh login") before sensitive actions: decisions, exports, role changes and
MFA changes (security-testing.md §1.2, ASVS 5.0 7.5.1).

The session records ``auth_at`` when the user last proved who they are (sign-in or /auth/reauth);
``require_recent_auth`` sends a user whose proof is older than the limit to /auth/reauth and back.
``REAUTH_MAX_AGE = None`` in the configuration turns the check off (the test configuration does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.clock import utcnow
from portal.security import is_safe_next

F = TypeVar("F", bound=Callable[..., Any])

AUTH_AT_KEY = "auth_at"
MESSAGE = "For your security, confirm who you are before you continue."


def mark_recent_auth() -> None:
    """Record that the user proved their identity now (sign-in or re-authentication)."""
    session[AUTH_AT_KEY] = utcnow().timestamp()


def _limit(max_age: timedelta | None) -> timedelta | None:
    configured = current_app.config.get("REAUTH_MAX_AGE")
    if configured is None:
        return None  # turned off for this deployment (or test run)
    return max_age if max_age is not None else configured


def needs_reauth(max_age: timedelta | None = None) -> bool:
    """Whether the signed-in user must confirm their identity before a sensitive action."""
    limit = _limit(max_age)
    if limit is None or not current_user.is_authenticated:
        return False
    auth_at = session.get(AUTH_AT_KEY)
    if not isinstance(auth_at, (int, float)):
        return True
    age = utcnow() - datetime.fromtimestamp(auth_at, UTC)
    return age > limit or age < timedelta(0)


def _return_target() -> str:
    """Where to come back to: the page itself for a GET, the page the form was on for a POST (the
    form's data is not replayed; the user submits it again)."""
    if request.method == "GET":
        target = request.full_path.rstrip("?")
        return target if is_safe_next(target) else url_for("main.dashboard")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        target = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        if is_safe_next(target):
            return target
    return url_for("main.dashboard")


def reauth_redirect() -> Response:
    """Send the user to /auth/reauth, to come back afterwards."""
    flash(MESSAGE, "info")
    return redirect(url_for("auth.reauth", next=_return_target()))


def ensure_recent_auth(max_age: timedelta | None = None) -> Response | None:
    """For use inside a view: a redirect to /auth/reauth when needed, else None."""
    return reauth_redirect() if needs_reauth(max_age) else None


def require_recent_auth(max_age: timedelta | None = None, *,
                        methods: Iterable[str] = ("POST",)) -> Callable[[F], F]:
    """Decorator (below ``@login_required``): requests with one of ``methods`` need an identity proof
    younger than ``max_age`` (default: ``REAUTH_MAX_AGE``, 15 minutes)."""
    guarded = {method.upper() for method in methods}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if request.method in guarded and needs_reauth(max_age):
                return reauth_redirect()
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator

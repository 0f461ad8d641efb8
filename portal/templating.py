"""Jinja globals and filters: permission predicates, enums, date formatting, the CSP-safe asset URLs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import MutableMapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, g, has_request_context, request
from flask.templating import Environment
from flask_login import current_user
from werkzeug.security import safe_join

from portal.auth.permissions import TEMPLATE_PREDICATES
from portal.auth.roles import CompanyRole, StaffRole
from portal.companies.business_types import BusinessType
from portal.companies.workflow import AccountStatus, ApplicationStep

DISPLAY_TZ = ZoneInfo("America/New_York")

# Static files: a URL carrying the file's content hash (``?v=``) never changes meaning, so browsers and
# proxies may keep it for a year without asking again; a URL without it (or with a stale hash, or one
# that CSS references relatively, such as USWDS fonts) is cached briefly and revalidated by ETag.
STATIC_VERSION_ARG = "v"
STATIC_IMMUTABLE = "public, max-age=31536000, immutable"
STATIC_SHORT_MAX_AGE = 300
_FINGERPRINT_LENGTH = 16


class TemplateEnvironment(Environment):
    """Flask's Jinja environment, with each template's globals in a plain dict.

    Jinja gives each template a ``ChainMap`` over the environment's globals (about 80 names here), so
    that a global added after the template was loaded still shows. Every render copies that map into
    its context, and every ``{% from ... import %}`` compares the two templates' names, one
    ``ChainMap.__contains__`` (a Python loop over the maps) per name: 6 % of a cached category page.
    The portal sets all its globals while the application is built (``init_app`` here, blueprints'
    ``record_once``), before any template is loaded, so a copy taken when a template is loaded is the
    same map; ``tests/unit/test_templating.py`` checks that no global is added later.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **d} if d else dict(self.globals)


def format_datetime(value: datetime | None, fmt: str = "%b %d, %Y %H:%M %Z") -> str:
    """Show a UTC timestamp in Eastern time (CBP headquarters), with the zone named."""
    if value is None:
        return ""
    return value.astimezone(DISPLAY_TZ).strftime(fmt)


def format_iso_datetime(value: object) -> str:
    """An ISO 8601 timestamp written in a file (a workbook's metadata, which its holder can edit) shown
    as ``format_datetime`` shows the portal's own times; "" when it is not one. A time without a zone
    is UTC, as the portal writes them."""
    if not isinstance(value, str):
        return ""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return ""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return format_datetime(parsed)


def format_date(value: date | datetime | None, fmt: str = "%b %d, %Y") -> str:
    if value is None:
        return ""
    return value.strftime(fmt)


def _account_profile(account: Any) -> Any:
    from portal.profiles.services import profile_for_account

    return profile_for_account(account)


def _profile_review(profile: Any) -> Any:
    from portal.reviews.queries import current_review

    return current_review(profile)


def static_fingerprint(app: Flask, filename: str) -> str | None:
    """The first hex digits of the SHA-256 of a file in the static folder; None when there is no
    such file (or the name would leave the folder).

    Computed once per file and kept for the life of the process (a deploy restarts it); in debug
    mode a changed modification time or size computes it again, so edits show up at once.
    """
    if not app.static_folder:
        return None
    cache: dict[str, tuple[int, int, str | None]] = app.extensions.setdefault("static_fingerprints", {})
    cached = cache.get(filename)
    if cached is not None and not app.debug:
        return cached[2]
    path = safe_join(app.static_folder, filename)
    if path is None or not os.path.isfile(path):
        cache[filename] = (0, 0, None)
        return None
    info = os.stat(path)
    if cached is not None and cached[:2] == (info.st_mtime_ns, info.st_size):
        return cached[2]
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()[:_FINGERPRINT_LENGTH]
    cache[filename] = (info.st_mtime_ns, info.st_size, digest)
    return digest


# Bound on the memo of template URLs; past it the memo starts again (the URLs of a busy day are few).
URL_MEMO_ENTRIES = 20_000


def _memoized_url_for(app: Flask) -> Any:
    """``url_for`` for templates, remembering the URLs it built.

    A page builds 20-30 URLs, mostly the same on every page (the layout's navigation and assets), and
    Werkzeug's router takes 10-30 µs for each: a fifth of the time a cached category page spends in
    its templates. A URL depends on the endpoint, its values and the application's root path, all in
    the key; ``_external`` and the other ``_`` options, unhashable values and debug mode (where static
    fingerprints follow file edits) go to ``url_for`` itself.
    """
    memo: dict[Any, str] = {}

    def url_for(endpoint: str, **values: Any) -> str:
        if app.debug or not has_request_context() or any(name.startswith("_") for name in values):
            return app.url_for(endpoint, **values)
        try:
            # ".name" is relative to the blueprint of the request.
            blueprint = request.blueprint if endpoint.startswith(".") else None
            # In call order: the query string follows it.
            key = (request.script_root, blueprint, endpoint, *values.items())
            url = memo.get(key)
        except TypeError:  # an unhashable value
            return app.url_for(endpoint, **values)
        if url is None:
            url = app.url_for(endpoint, **values)
            if len(memo) >= URL_MEMO_ENTRIES:
                memo.clear()
            memo[key] = url
        return url

    return url_for


def layout_key() -> tuple[Any, ...]:
    """What base.html shows that depends on the request, for a page kept by the page cache
    (``FragmentCache.render_page``, which itself puts in the CSRF token and the request id, and renders
    afresh a page with a flashed message): whether someone is signed in, their name and staff role (the
    navigation follows the role: validations, users, audit trail), and their unread notifications. The
    current page's links are marked by the view's endpoint, which the page's own key holds.

    Keep it in step with base.html: a value the layout shows that is not here would be shown to the next
    user with the same key (tests/functional/test_page_cache.py renders the layout for each value).
    """
    user = current_user._get_current_object()
    if not user.is_authenticated:
        return (False,)
    # The header's own function, as the template calls it.
    return True, user.full_name, user.staff_role, current_app.jinja_env.globals["unread_notifications"]()


def _init_static_assets(app: Flask) -> None:
    """Fingerprinted ``static`` URLs and the cache lifetimes that go with them."""

    @app.url_defaults
    def _fingerprint_static(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint != "static" or STATIC_VERSION_ARG in values or "filename" not in values:
            return
        version = static_fingerprint(app, values["filename"])
        if version:
            values[STATIC_VERSION_ARG] = version

    @app.after_request
    def _static_cache_control(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        requested = request.args.get(STATIC_VERSION_ARG)
        if requested and requested == static_fingerprint(app, filename):
            response.headers["Cache-Control"] = STATIC_IMMUTABLE
        else:
            response.headers["Cache-Control"] = f"public, max-age={STATIC_SHORT_MAX_AGE}"
        response.headers.pop("Expires", None)
        return response


def init_app(app: Flask) -> None:
    """Register helpers used by every template."""
    app.jinja_env.globals.update(TEMPLATE_PREDICATES)
    app.jinja_env.globals.update(
        CompanyRole=CompanyRole,
        StaffRole=StaffRole,
        BusinessType=BusinessType,
        AccountStatus=AccountStatus,
        ApplicationStep=ApplicationStep,
    )
    app.jinja_env.globals["account_profile"] = _account_profile
    app.jinja_env.globals["profile_review"] = _profile_review
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["iso_datetime"] = format_iso_datetime
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.globals["url_for"] = _memoized_url_for(app)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    _init_static_assets(app)

    @app.context_processor
    def _context() -> dict[str, Any]:
        return {"request_id": g.get("request_id", "")}

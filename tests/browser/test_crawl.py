"""An accessibility and security-header crawl of every page each demo role reaches (issue 8 item 4,
"Accessibility"; T12 of the security reference).

The live server gets the demo data (``portal.demo.load_demo_data``). For each demo role the crawl signs
in (staff enter the code of their fixed demo authenticator seed) and follows every same-origin link
reachable from the dashboard, GET only: sign-out is a form, so it is never followed, and downloads
(``.xlsx``, ``.csv``, ``.ics``, ``/download``, ``/preview``) are left out. URLs are normalised to their
route and the names of their query parameters (another criterion, category or page of the same route
is the same page), at most ``MAX_PAGES`` per role.
On every page:

- the response is 200;
- axe-core finds 0 violations of WCAG 2.0/2.1 A and AA;
- the response carries the security headers (CSP with ``default-src 'self'`` and ``frame-ancestors
  'none'``, ``nosniff``, HSTS, ``Referrer-Policy``, ``Cache-Control: no-store`` once signed in), and any
  cookie it sets is HttpOnly and SameSite=Lax;
- the browser console shows no Content Security Policy violation (the ``new_page`` fixture).

All problems of a role are collected and reported together.
"""

from __future__ import annotations

from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

pytestmark = pytest.mark.browser

MAX_PAGES = 60
SKIPPED_SUFFIXES = (".xlsx", ".csv", ".ics", "/download", "/preview", "/logout")
SKIPPED_PREFIXES = ("/static/", "/auth/logout")

ROLES = {
    "admin": "admin@cbp.example",
    "supervisor": "supervisor@cbp.example",
    "reviewer": "reviewer@cbp.example",
    "acme_officer": "officer@acme-imports.example",
    "acme_employee": "employee@acme-imports.example",
    "maquila_officer": "officer@maquila-mx.example",
}


def normalised(adapter: Any, path: str, query: str) -> str:
    """The crawl's notion of "the same page": the route (endpoint) and the names of its query parameters,
    so that one criterion, review category or page number stands for all of them and the cap is spent
    on different templates."""
    try:
        endpoint, _ = adapter.match(path, method="GET")
    except Exception:  # noqa: BLE001 - not a route (404), a redirect rule or a method the route lacks
        endpoint = path
    names = sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)})
    return endpoint + ("?" + "&".join(names) if names else "")


def crawlable(url: str, origin: str) -> str | None:
    """The path and query to visit, or None for another site, a download or sign-out."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin or parts.scheme not in {"http", "https"}:
        return None
    if parts.path.startswith(SKIPPED_PREFIXES) or parts.path.endswith(SKIPPED_SUFFIXES):
        return None
    return urlunsplit(("", "", parts.path, urlencode(parse_qsl(parts.query, keep_blank_values=True)), ""))


def sign_in(page: Any, app: Any, email: str) -> None:
    from portal.auth.mfa import demo_code
    from portal.auth.models import User
    from portal.db import db_session
    from portal.demo import DEMO_PASSWORD

    page.goto("/auth/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in", exact=True).click()
    if urlsplit(page.url).path == "/auth/mfa":
        with app.app_context():
            code = demo_code(db_session.scalar(db_session.query(User).filter_by(email=email).statement))
            db_session.rollback()
        page.locator("#code").fill(code)
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Verify and sign in").click()
    assert urlsplit(page.url).path not in {"/auth/login", "/auth/mfa"}, f"{email} could not sign in ({page.url})"


def header_problems(response: Any, signed_in: bool) -> list[str]:
    headers = {k.lower(): v for k, v in response.all_headers().items()}
    problems = []
    csp = headers.get("content-security-policy", "")
    if "default-src 'self'" not in csp or "frame-ancestors 'none'" not in csp:
        problems.append(f"Content-Security-Policy is {csp!r}")
    if headers.get("x-content-type-options") != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    if "max-age=" not in headers.get("strict-transport-security", ""):
        problems.append("no Strict-Transport-Security")
    if not headers.get("referrer-policy"):
        problems.append("no Referrer-Policy")
    if signed_in and "no-store" not in headers.get("cache-control", ""):
        problems.append(f"Cache-Control is {headers.get('cache-control')!r} on a signed-in page")
    for cookie in response.headers_array():
        if cookie["name"].lower() == "set-cookie":
            flags = cookie["value"].lower()
            if "httponly" not in flags or "samesite=lax" not in flags:
                problems.append(f"cookie without HttpOnly/SameSite=Lax: {cookie['value'][:80]}")
    return problems


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_of_every_role_is_accessible_and_secured(live_server: Any, new_page: Any,
                                                             assert_accessible: Any, role: str) -> None:
    from portal.db import db_session
    from portal.demo import load_demo_data

    with live_server.app.app_context():
        load_demo_data()
        db_session.commit()
    page = new_page()
    sign_in(page, live_server.app, ROLES[role])
    cookies = {c["name"]: c for c in page.context.cookies()}
    session_cookie = cookies[live_server.app.config["SESSION_COOKIE_NAME"]]
    problems: list[str] = []
    if not session_cookie["httpOnly"] or session_cookie["sameSite"] != "Lax":
        problems.append(f"session cookie flags: {session_cookie}")

    origin = live_server.url
    adapter = live_server.app.url_map.bind("127.0.0.1")
    queue: deque[str] = deque(["/dashboard"])
    seen = {normalised(adapter, "/dashboard", "")}
    visited = 0
    while queue and visited < MAX_PAGES:
        target = queue.popleft()
        response = page.goto(target, wait_until="load")
        visited += 1
        label = f"{role} {target}"
        if response is None or response.status != 200:
            problems.append(f"{label}: status {response.status if response else 'none'}")
            continue
        problems += [f"{label}: {p}" for p in header_problems(response, signed_in=True)]
        try:
            assert_accessible(page, label)
        except AssertionError as error:
            problems.append(str(error))
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            path = crawlable(href, origin)
            if path is None:
                continue
            parts = urlsplit(path)
            key = normalised(adapter, parts.path, parts.query)
            if key not in seen:
                seen.add(key)
                queue.append(path)
    print(f"{role}: {visited} page(s), {len(seen)} seen")  # noqa: T201 - shown with -s
    assert visited >= 5, f"{role}: the crawl reached only {visited} page(s)"
    assert not problems, f"{role}: {len(problems)} problem(s) on {visited} page(s):\n" + "\n".join(problems)

"""The security baseline of DESIGN.md §9 and the "Bad input" part of issue 2: response headers, the
session cookie, no inline script or style, CSRF on every POST route, size limit, database outage,
error pages without a stack trace, and the health check."""

from __future__ import annotations

import re
import secrets
from html.parser import HTMLParser

import itsdangerous
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal.auth import services as auth_services
from portal.auth.models import Membership, User
from portal.auth.roles import CompanyRole
from portal.companies.models import Address, BusinessIdentifier
from portal.db import Base, db_session
from tests import factories
from tests.conftest import make_test_app

UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/x"

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


# --- helpers ---------------------------------------------------------------------------------

def csp_directives(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        assert name not in directives, f"directive {name} given twice"
        directives[name] = value.strip()
    return directives


def meta_csrf_token(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "every page carries the CSRF token in a <meta> tag"
    return match.group(1)


def csrf_login(test_client, email: str) -> None:
    """Sign in through the real form on an app that checks CSRF tokens."""
    token = meta_csrf_token(test_client.get("/auth/login").get_data(as_text=True))
    response = test_client.post("/auth/login", data={"email": email, "password": factories.PASSWORD,
                                                     "csrf_token": token})
    assert response.status_code == 302, "sign-in with a valid token must work"


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {table.name: db_session.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables}


STACK_TRACE_MARKERS = [r"Traceback", r'File "', r"line \d+, in ", r"\b[A-Z]\w*(Error|Exception)\b",
                       r"sqlalchemy", r"werkzeug", r"psycopg", r"/site-packages/", r"\.py\b"]


def no_stack_trace(html: str) -> None:
    for marker in STACK_TRACE_MARKERS:
        match = re.search(marker, html)
        assert match is None, f"{match.group(0)!r} leaked into an error page"


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline <script>/<style>, style= and on*= attributes,
    javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style= on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")
            if name in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    assert parser.tags > 20, "not an HTML page"
    return parser.problems


# --- headers and cookie ----------------------------------------------------------------------

def assert_baseline_headers(response) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert csp_directives(csp) == EXPECTED_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    hsts = headers["Strict-Transport-Security"]
    max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))
    assert max_age >= 31536000 and "includeSubDomains" in hsts
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    for name in ("Content-Security-Policy", "X-Frame-Options", "Permissions-Policy", "Cross-Origin-Opener-Policy",
                 "Strict-Transport-Security", "X-Request-ID"):
        assert len(headers.getlist(name)) == 1, name


def test_public_page_has_the_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert_baseline_headers(response)


def test_signed_in_page_has_the_security_headers_and_no_store(client, cast, login):
    login(cast.email("officer_a"))
    for path in ("/dashboard", f"/companies/{cast.company_a.id}", f"/accounts/{cast.account_a.id}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_baseline_headers(response)
        assert "no-store" in response.headers["Cache-Control"], path


def test_error_pages_and_redirects_carry_the_headers(client, cast, login):
    assert_baseline_headers(client.get("/no-such-page"))
    assert_baseline_headers(client.get("/dashboard"))  # redirect to sign-in
    login(cast.email("officer_a"))
    response = client.get(f"/companies/{cast.company_b.id}")
    assert response.status_code == 404
    assert_baseline_headers(response)
    assert "no-store" in response.headers["Cache-Control"]


def test_static_files_are_served_with_nosniff(client):
    response = client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_request_id_from_a_proxy_is_kept_only_when_well_formed(client):
    assert client.get("/", headers={"X-Request-ID": "lb-7f3a.91_x"}).headers["X-Request-ID"] == "lb-7f3a.91_x"
    forged = client.get("/", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
    assert "<script>alert" not in forged.get_data(as_text=True)


def session_cookie_header(response, name: str) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{name}=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_session_cookie_is_httponly_and_samesite_lax(app, client, cast):
    response = client.post("/auth/login", data={"email": cast.email("officer_a"), "password": factories.PASSWORD})
    cookie = session_cookie_header(response, app.config["SESSION_COOKIE_NAME"])
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Lax"
    assert attributes["path"] == "Path=/"
    assert "secure" not in attributes  # plain http in tests; production below


def test_session_cookie_is_secure_in_production(database_url, tmp_path, cast):
    production = make_test_app(database_url, tmp_path, ENV_NAME="production", TESTING=False,
                               SECRET_KEY=secrets.token_urlsafe(40), SESSION_COOKIE_SECURE=False)
    assert production.config["SESSION_COOKIE_SECURE"] is True
    response = production.test_client().post(
        "/auth/login", base_url="https://localhost",
        data={"email": cast.email("officer_a"), "password": factories.PASSWORD})
    assert response.status_code == 302
    cookie = session_cookie_header(response, production.config["SESSION_COOKIE_NAME"])
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- no inline script or style ---------------------------------------------------------------

def test_rendered_pages_have_no_inline_script_or_style(app, client, cast, login):
    pages: list[tuple[str, str]] = []

    def visit(test_client, path: str, method: str = "get", expect: int = 200, **kwargs) -> None:
        response = getattr(test_client, method)(path, **kwargs)
        assert response.status_code == expect, (path, response.status_code, response.headers.get("Location"))
        html = response.get_data(as_text=True)
        problems = inline_code(html)
        assert not problems, f"{path}: {problems}"
        pages.append((method, path))

    for path in ("/", "/auth/login", "/auth/register", "/auth/forgot", "/auth/reset/not-a-token"):
        visit(client, path, expect=404 if "reset" in path else 200)
    visit(client, "/no-such-page", expect=404)
    visit(client, "/auth/login", "post", data={"email": "x@y.example", "password": "nope"})
    visit(client, "/auth/register", "post", data={"email": "bad"})

    login(cast.email("officer_a"))
    company, account = cast.company_a.id, cast.account_a.id
    for path in ("/dashboard", f"/companies/{company}", f"/companies/{company}/edit",
                 f"/companies/{company}/users", f"/companies/{company}/addresses/new",
                 f"/companies/{company}/accounts/new", f"/accounts/{account}", "/auth/password", "/companies/new"):
        visit(client, path)
    visit(client, f"/companies/{company}/edit", "post", data={"legal_name": ""})
    visit(client, "/auth/logout", expect=405)

    staff = app.test_client()
    login(cast.email("admin"), test_client=staff)
    for path in ("/dashboard", "/admin/users", f"/companies/{company}", f"/accounts/{account}"):
        visit(staff, path)
    assert len(pages) >= 20


# --- CSRF ------------------------------------------------------------------------------------

@pytest.fixture
def csrf_app(database_url, tmp_path):
    return make_test_app(database_url, tmp_path / "csrf", WTF_CSRF_ENABLED=True)


def url_values(app, cast) -> dict[str, object]:
    """A real id for every URL parameter of a POST route, taken from the cast."""
    with app.app_context():
        officer = db_session.get(User, cast.users["officer_a"].id)
        from portal.companies import services as company_services

        company = db_session.get(type(cast.company_a), cast.company_a.id)
        row = company_services.invite_member(company, "invitee@a.example", CompanyRole.EMPLOYEE, by=officer,
                                             accept_url_for=lambda token: f"http://localhost/invitations/{token}")
        db_session.commit()
        values = {
            "company_id": cast.company_a.id,
            "account_id": cast.account_a.id,
            "address_id": db_session.scalar(select(Address.id).where(Address.company_id == cast.company_a.id)),
            "identifier_id": db_session.scalar(
                select(BusinessIdentifier.id).where(BusinessIdentifier.account_id == cast.account_a.id)),
            "membership_id": db_session.scalar(select(Membership.id).where(
                Membership.user_id == cast.users["employee_a"].id)),
            "invitation_id": row.id,
            "token": secrets.token_urlsafe(16),
        }
    assert all(value is not None for value in values.values())
    return values


# Form data that would make most POST routes do something if the token were not checked.
PLAUSIBLE_FORM = {
    "email": "someone@a.example", "full_name": "Some One", "password": factories.PASSWORD,
    "confirm_password": factories.PASSWORD, "current_password": factories.PASSWORD,
    "new_password": "a-brand-new-passphrase-42", "role": "read_only", "legal_name": "Renamed Inc.",
    "typed_name": "Olivia Officer", "business_type": "exporter",
}


def placeholder(rule, name: str) -> object:
    """A value for a URL parameter the cast has no id for (routes added by later features): the CSRF
    check runs before the view, so any value the converter accepts is enough to reach it."""
    return 1 if re.search(rf"<(int|float)(\([^)]*\))?:{name}>", rule.rule) else "x"


def post_routes(app) -> list:
    return sorted((rule for rule in app.url_map.iter_rules() if "POST" in rule.methods), key=lambda r: r.rule)


def test_every_post_route_refuses_a_missing_csrf_token(csrf_app, cast):
    values = url_values(csrf_app, cast)
    adapter = csrf_app.url_map.bind("localhost")
    signed_in = csrf_app.test_client()
    csrf_login(signed_in, cast.email("officer_a"))
    anonymous = csrf_app.test_client()
    token_before = db_session_token(csrf_app, cast.users["officer_a"].id)
    counts_before = row_counts(csrf_app)

    rules = post_routes(csrf_app)
    assert len(rules) >= 15
    for rule in rules:
        url = adapter.build(rule.endpoint, {name: values.get(name) or placeholder(rule, name)
                                            for name in rule.arguments}, method="POST")
        for who, test_client in (("signed in", signed_in), ("anonymous", anonymous)):
            response = test_client.post(url, data=PLAUSIBLE_FORM)
            assert response.status_code == 400, f"{who} POST {url} without a token: {response.status_code}"
            text = response.get_data(as_text=True)
            assert "Reload the page" in text, url
            no_stack_trace(text)

    assert row_counts(csrf_app) == counts_before, "a refused POST changed the database"
    assert db_session_token(csrf_app, cast.users["officer_a"].id) == token_before
    assert signed_in.get("/dashboard").status_code == 200, "still signed in: the sign-out was refused too"


def db_session_token(app, user_id: int) -> str:
    with app.app_context():
        return db_session.get(User, user_id).session_token


def test_a_token_from_another_session_is_refused(csrf_app, cast):
    victim = csrf_app.test_client()
    csrf_login(victim, cast.email("officer_a"))
    attacker = csrf_app.test_client()
    attacker_token = meta_csrf_token(attacker.get("/auth/login").get_data(as_text=True))
    counts_before = row_counts(csrf_app)

    response = victim.post(f"/companies/{cast.company_a.id}/edit",
                           data={"legal_name": "Hijacked Inc.", "csrf_token": attacker_token})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    header = victim.post("/auth/logout", headers={"X-CSRFToken": attacker_token})
    assert header.status_code == 400
    assert row_counts(csrf_app) == counts_before
    assert victim.get("/dashboard").status_code == 200


def test_the_token_works_in_a_form_field_and_in_the_header(csrf_app, cast):
    first = csrf_app.test_client()
    csrf_login(first, cast.email("officer_a"))
    token = meta_csrf_token(first.get("/dashboard").get_data(as_text=True))
    assert first.post("/auth/logout", headers={"X-CSRFToken": token}).status_code == 302
    assert first.get("/dashboard").status_code == 302


def test_a_session_keeps_its_signed_token_for_a_few_minutes_then_gets_a_fresh_one(csrf_app, cast, monkeypatch):
    import portal.security as security

    clock = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: clock[0])
    first = csrf_app.test_client()
    csrf_login(first, cast.email("officer_a"))
    token = meta_csrf_token(first.get("/dashboard").get_data(as_text=True))
    clock[0] += security.CSRF_TOKEN_REUSE_SECONDS - 1
    again = first.get("/dashboard").get_data(as_text=True)
    assert meta_csrf_token(again) == token
    assert f'name="csrf_token" value="{token}"' in again, "the sign-out form carries the same token"

    other = csrf_app.test_client()
    csrf_login(other, cast.email("officer_b"))
    assert meta_csrf_token(other.get("/dashboard").get_data(as_text=True)) != token, "a token per session"

    clock[0] += 2
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 301)
    fresh = meta_csrf_token(first.get("/dashboard").get_data(as_text=True))
    assert fresh != token, "signed again once the reuse window is over"
    # Both name the session's secret: the older one is still accepted within the time limit.
    assert first.post(f"/companies/{cast.company_a.id}/edit", data={"csrf_token": token}).status_code != 400
    assert first.post("/auth/logout", headers={"X-CSRFToken": fresh}).status_code == 302
    # A new session (after signing out) has a new secret, and so a new token.
    after = meta_csrf_token(first.get("/auth/login").get_data(as_text=True))
    assert after not in {token, fresh}


def test_the_kept_tokens_are_bounded(csrf_app, monkeypatch):
    import portal.security as security

    monkeypatch.setattr(security, "CSRF_TOKENS_KEPT", 3)
    tokens = {meta_csrf_token(csrf_app.test_client().get("/auth/login").get_data(as_text=True))
              for _ in range(7)}
    assert len(tokens) == 7
    assert 1 <= len(csrf_app.extensions[security._CSRF_TOKENS]) <= 3


def test_the_session_serializer_is_built_once_per_secret_key(app, cast, login):
    interface = app.session_interface
    serializer = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is serializer
    test_client = app.test_client()
    login(cast.email("officer_a"), test_client=test_client)
    assert test_client.get("/dashboard").status_code == 200

    cookie = test_client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    app.secret_key = "another-secret-key-another-secret-key-0123"
    assert interface.get_signing_serializer(app) is not serializer
    assert test_client.get("/dashboard").status_code == 302, "a cookie signed with the old key is not read"
    app.config["SECRET_KEY_FALLBACKS"] = [serializer.secret_keys[-1]]
    test_client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert test_client.get("/dashboard").status_code == 200, "a fallback key still reads it"


def test_a_stale_token_is_refused(database_url, tmp_path, cast, monkeypatch):
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True, WTF_CSRF_TIME_LIMIT=60)
    test_client = app.test_client()
    token = meta_csrf_token(test_client.get("/auth/login").get_data(as_text=True))
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 120)

    response = test_client.post("/auth/login", data={"email": cast.email("officer_a"),
                                                     "password": factories.PASSWORD, "csrf_token": token})

    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)


# --- size limit, database outage -------------------------------------------------------------

def test_a_body_over_the_size_limit_gets_the_413_page(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/auth/register", data=b"x" * (limit + 1),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert "larger than the portal accepts" in text
    no_stack_trace(text)


def test_an_upload_over_the_size_limit_gets_the_413_page_when_signed_in(database_url, tmp_path, cast):
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True, MAX_CONTENT_LENGTH=4096)
    test_client = app.test_client()
    csrf_login(test_client, cast.email("officer_a"))
    response = test_client.post(f"/companies/{cast.company_a.id}/edit",
                                data={"history": "y" * 5000}, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "larger than the portal accepts" in response.get_data(as_text=True)


def raise_operational_error(*args, **kwargs):
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_database_outage_on_registration_shows_503_with_the_input_but_no_password(app, client, monkeypatch):
    monkeypatch.setattr(auth_services, "register_user", raise_operational_error)
    response = client.post("/auth/register", data={
        "full_name": "Olga Outage", "email": "olga@outage.example", "password": "my-secret-passphrase-1",
        "confirm_password": "my-secret-passphrase-1"})

    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "cannot reach its database" in text
    assert "Olga Outage" in text and "olga@outage.example" in text
    assert "my-secret-passphrase-1" not in text
    no_stack_trace(text)
    with app.app_context():
        assert db_session.scalar(select(User).where(User.email == "olga@outage.example")) is None


def test_database_outage_on_login_never_echoes_the_password(client, cast, monkeypatch):
    monkeypatch.setattr(auth_services, "authenticate", raise_operational_error)
    response = client.post("/auth/login", data={"email": cast.email("officer_a"), "password": factories.PASSWORD})
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert cast.email("officer_a") in text
    assert factories.PASSWORD not in text


def test_database_outage_on_password_change_never_echoes_any_password(client, cast, login, monkeypatch):
    login(cast.email("employee_a"))
    monkeypatch.setattr(auth_services, "change_password", raise_operational_error)
    response = client.post("/auth/password", data={
        "current_password": factories.PASSWORD, "new_password": "a-brand-new-passphrase-42",
        "confirm_password": "a-brand-new-passphrase-42"})
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert factories.PASSWORD not in text and "a-brand-new-passphrase-42" not in text


def test_an_unreachable_database_gives_503_pages_and_health_check(tmp_path):
    app = make_test_app(UNREACHABLE_DB, tmp_path)
    test_client = app.test_client()

    response = test_client.post("/auth/login", data={"email": "kept@example.com", "password": "hidden-secret-1"})
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "kept@example.com" in text and "hidden-secret-1" not in text
    no_stack_trace(text)

    health = test_client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "degraded", "database": "unavailable"}
    assert health.headers["Cache-Control"] == "no-store"


def test_health_check_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


# --- error pages -----------------------------------------------------------------------------

def test_403_404_405_pages_have_no_stack_trace(client, cast, login):
    login(cast.email("employee_a"))
    cases = {
        403: client.get(f"/companies/{cast.company_a.id}/users"),  # only the officer manages users
        404: client.get(f"/companies/{cast.company_b.id}"),  # another tenant's company
        405: client.get("/auth/logout"),
    }
    for code, response in cases.items():
        assert response.status_code == code
        text = response.get_data(as_text=True)
        assert f"Error {code}." in text
        assert re.search(r"Reference [0-9a-f]{32}", text)
        no_stack_trace(text)


def test_500_page_has_no_stack_trace_and_rolls_back(database_url, tmp_path, cast):
    app = make_test_app(database_url, tmp_path, RENDER_500_IN_TESTS=True)

    def explode():
        db_session.add(User(email="ghost@example.com", full_name="Ghost", password_hash="x"))
        db_session.flush()
        raise RuntimeError("secret internal detail at /srv/portal/app.py")

    app.add_url_rule("/test-only/explode", "explode", explode)
    response = app.test_client().get("/test-only/explode")

    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong" in text
    assert "secret internal detail" not in text and "RuntimeError" not in text
    no_stack_trace(text)
    with app.app_context():
        assert db_session.scalar(select(User).where(User.email == "ghost@example.com")) is None

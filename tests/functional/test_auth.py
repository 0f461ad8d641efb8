"""Accounts: registration, sign-in, generic errors, lockout kept in the database, sign-out and
session revocation, password change and reset, safe ``next`` and argon2 rehash (issue 2, DESIGN.md §9)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import PasswordResetToken, User
from portal.auth.routes import GENERIC_LOGIN_ERROR
from portal.db import db_session
from portal.notifications.models import OutboxEmail
from tests import factories
from tests.conftest import make_test_app

NEW_PASSWORD = "a-brand-new-passphrase-42"


# --- helpers ---------------------------------------------------------------------------------

def location_path(response) -> str:
    """The path (and query) a redirect points to; fails when it leaves the site."""
    parts = urlsplit(response.headers["Location"])
    assert parts.netloc in ("", "localhost"), response.headers["Location"]
    return parts.path + (f"?{parts.query}" if parts.query else "")


def field_error(html: str, field_id: str) -> str:
    """The error message rendered at a field (empty when there is none)."""
    match = re.search(rf'<span class="usa-error-message" id="{re.escape(field_id)}-error"[^>]*>(.*?)</span>',
                      html, re.S)
    return match.group(1).strip() if match else ""


def summary_messages(html: str) -> list[str]:
    """The messages of the error summary at the top of a form."""
    match = re.search(r"data-error-summary>(.*?)</ul>", html, re.S)
    if not match:
        return []
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert match, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else None


def audit_actions(app, action: str | None = None, user_id: int | None = None) -> list[str]:
    with app.app_context():
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        if user_id is not None:
            query = query.where(AuditEvent.object_type == "User", AuditEvent.object_id == str(user_id))
        return list(db_session.scalars(query))


def load_user(app, email: str) -> User:
    with app.app_context():
        return db_session.scalar(select(User).where(User.email == email))


def count(app, model) -> int:
    with app.app_context():
        return db_session.scalar(select(func.count()).select_from(model))


def is_signed_in(test_client) -> bool:
    response = test_client.get("/dashboard")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and location_path(response).startswith("/auth/login")
    return False


def attempt(test_client, email: str, password: str):
    return test_client.post("/auth/login", data={"email": email, "password": password})


def register(test_client, **overrides):
    data = {"full_name": "Dana Newcomer", "email": "dana@newco.example", "password": factories.PASSWORD,
            "confirm_password": factories.PASSWORD}
    data.update(overrides)
    return test_client.post("/auth/register", data=data)


# --- registration ----------------------------------------------------------------------------

def test_registration_creates_the_user_signs_in_and_sends_to_the_company_step(app, client):
    response = register(client, email="  Dana.Newcomer@NewCo.Example ")

    assert response.status_code == 302
    assert location_path(response) == "/companies/new"
    user = load_user(app, "dana.newcomer@newco.example")
    assert user is not None, "the e-mail must be stored lower-cased"
    assert user.full_name == "Dana Newcomer"
    assert user.staff_role is None
    assert user.password_hash.startswith("$argon2id$") and factories.PASSWORD not in user.password_hash
    assert audit_actions(app, "user.registered", user.id) == ["user.registered"]
    assert is_signed_in(client)


def test_registration_with_a_safe_next_goes_there(client):
    response = client.post("/auth/register?next=/auth/password", data={
        "full_name": "Nina Next", "email": "nina@next.example", "password": factories.PASSWORD,
        "confirm_password": factories.PASSWORD})
    assert location_path(response) == "/auth/password"


def test_login_with_an_upper_case_email_finds_the_registered_user(app, client, cast):
    response = attempt(client, "  OFFICER@A.Example", factories.PASSWORD)
    assert response.status_code == 302
    assert is_signed_in(client)


def test_duplicate_email_is_refused_at_the_field_and_keeps_the_other_values(app, client, cast):
    users_before = count(app, User)

    response = register(client, full_name="Dana Duplicate", email="Officer@A.example")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "already exists" in field_error(html, "email")
    assert input_value(html, "full_name") == "Dana Duplicate"
    assert input_value(html, "email") == "Officer@A.example"
    # Passwords are never sent back to the browser.
    assert input_value(html, "password") in (None, "")
    assert factories.PASSWORD not in html
    assert count(app, User) == users_before
    assert not is_signed_in(client)


LONG_PASSPHRASE = ("correct horse battery staple " * 5)[:129]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pass1", "Use between 12 and 128 characters."),  # 11 characters
        (LONG_PASSPHRASE, "Use between 12 and 128 characters."),  # 129 characters
        ("password1234", "too common"),
        ("PASSWORD1234", "too common"),
        ("dana@newco.example", "e-mail address"),
    ],
    ids=["11-chars", "129-chars", "common", "common-upper-case", "email"],
)
def test_weak_passwords_are_refused_at_the_password_field(app, client, password, message):
    response = register(client, password=password, confirm_password=password)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in field_error(html, "password")
    assert input_value(html, "full_name") == "Dana Newcomer"
    assert input_value(html, "email") == "dana@newco.example"
    assert load_user(app, "dana@newco.example") is None
    assert not is_signed_in(client)


def test_password_length_limits_are_inclusive(app, client):
    assert len("short-pass1") == 11 and len(LONG_PASSPHRASE) == 129
    twelve = "kx7-vq2-lm9p"
    assert len(twelve) == 12
    assert register(client, password=twelve, confirm_password=twelve).status_code == 302
    other = app.test_client()
    longest = LONG_PASSPHRASE[:128]
    assert register(other, email="long@newco.example", password=longest, confirm_password=longest).status_code == 302


def test_name_as_password_is_refused(app, client):
    response = register(client, full_name="Dana Newcomer Smith", password="dananewcomersmith",
                        confirm_password="dananewcomersmith")
    assert "your name" in field_error(response.get_data(as_text=True), "password")
    assert load_user(app, "dana@newco.example") is None


def test_mismatched_confirmation_is_refused_at_the_confirmation_field(app, client):
    response = register(client, confirm_password="correct-horse-battery-8")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_error(html, "confirm_password") == "The passwords do not match."
    assert load_user(app, "dana@newco.example") is None


def test_signed_in_user_is_sent_away_from_registration(client, cast, login):
    login(cast.email("officer_a"))
    response = client.get("/auth/register")
    assert response.status_code == 302 and location_path(response) == "/dashboard"


# --- login -----------------------------------------------------------------------------------

def test_login_succeeds_rotates_the_token_and_is_audited(app, client, cast):
    before = load_user(app, cast.email("officer_a"))

    response = attempt(client, cast.email("officer_a"), factories.PASSWORD)

    assert response.status_code == 302 and location_path(response) == "/dashboard"
    after = load_user(app, cast.email("officer_a"))
    assert after.session_token != before.session_token
    assert after.last_login_at is not None
    assert audit_actions(app, "auth.login", after.id) == ["auth.login"]
    with app.app_context():
        event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
        assert event.actor_id == after.id and event.request_id and event.ip_address == "127.0.0.1"
    assert is_signed_in(client)


def test_unknown_email_and_wrong_password_get_the_same_generic_message(app, client, cast):
    unknown = attempt(client, "nobody@nowhere.example", factories.PASSWORD)
    wrong = attempt(client, cast.email("officer_a"), "not-the-right-password")

    assert unknown.status_code == wrong.status_code == 200
    unknown_messages = summary_messages(unknown.get_data(as_text=True))
    wrong_messages = summary_messages(wrong.get_data(as_text=True))
    assert unknown_messages == wrong_messages == [GENERIC_LOGIN_ERROR]
    # Nothing at the fields gives away which part was wrong.
    for response in (unknown, wrong):
        html = response.get_data(as_text=True)
        assert field_error(html, "email") == "" and field_error(html, "password") == ""
    assert audit_actions(app, "auth.login_failed") == ["auth.login_failed", "auth.login_failed"]
    assert not is_signed_in(client)


def test_lockout_after_five_failures_then_unlocks_after_fifteen_minutes(app, client, cast, clock):
    email = cast.email("employee_a")
    user_id = load_user(app, email).id
    for _ in range(5):
        assert attempt(client, email, "wrong-password-guess").status_code == 200

    assert load_user(app, email).locked_until == clock.now + app.config["LOCKOUT_DURATION"]
    assert audit_actions(app, "auth.lockout", user_id) == ["auth.lockout"]

    locked = attempt(client, email, factories.PASSWORD)
    assert locked.status_code == 200
    assert summary_messages(locked.get_data(as_text=True)) == [GENERIC_LOGIN_ERROR]
    assert not is_signed_in(client)
    assert audit_actions(app, "auth.login_locked", user_id) == ["auth.login_locked"]

    clock.advance(minutes=14)
    assert attempt(client, email, factories.PASSWORD).status_code == 200
    clock.advance(minutes=2)
    assert attempt(client, email, factories.PASSWORD).status_code == 302
    assert is_signed_in(client)
    assert audit_actions(app, user_id=user_id) == ["auth.login_failed"] * 5 + [
        "auth.lockout", "auth.login_locked", "auth.login_locked", "auth.login"]


def test_lockout_is_shared_by_two_app_instances_on_one_database(app, client, cast, database_url, tmp_path):
    other_app = make_test_app(database_url, tmp_path / "second")
    other_client = other_app.test_client()
    email = cast.email("consultant_a")

    for _ in range(3):
        attempt(client, email, "wrong-password-guess")
    for _ in range(2):
        attempt(other_client, email, "wrong-password-guess")

    assert attempt(client, email, factories.PASSWORD).status_code == 200
    assert attempt(other_client, email, factories.PASSWORD).status_code == 200
    assert not is_signed_in(client) and not is_signed_in(other_client)
    assert audit_actions(app, "auth.lockout") == ["auth.lockout"]


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(app, client, cast, clock):
    email = cast.email("readonly_a")
    for _ in range(5):
        attempt(client, email, "wrong-password-guess")
        clock.advance(minutes=4)  # failures at 0, 4, 8, 12 and 16 minutes

    assert load_user(app, email).locked_until is None
    assert audit_actions(app, "auth.lockout") == []
    assert attempt(client, email, factories.PASSWORD).status_code == 302


def test_five_failures_within_any_fifteen_minutes_lock(app, client, cast, clock):
    """A burst that straddles the end of the first failure's window still counts (sliding window)."""
    email = cast.email("readonly_a")
    attempt(client, email, "wrong-password-guess")
    clock.advance(minutes=10)
    for _ in range(3):
        attempt(client, email, "wrong-password-guess")
    clock.advance(minutes=6)
    for _ in range(2):
        attempt(client, email, "wrong-password-guess")  # 5 failures between minute 10 and 16

    assert audit_actions(app, "auth.lockout") == ["auth.lockout"]
    assert attempt(client, email, factories.PASSWORD).status_code == 200


def test_a_successful_login_clears_earlier_failures(app, client, cast, login):
    email = cast.email("officer_b")
    for _ in range(4):
        attempt(client, email, "wrong-password-guess")
    login(email)
    client.post("/auth/logout")
    for _ in range(4):
        attempt(client, email, "wrong-password-guess")
    assert load_user(app, email).locked_until is None
    assert attempt(client, email, factories.PASSWORD).status_code == 302


# --- logout and session revocation -----------------------------------------------------------

def test_logout_is_post_only(client, cast, login):
    login(cast.email("officer_a"))
    response = client.get("/auth/logout")
    assert response.status_code == 405
    assert is_signed_in(client), "a GET must not sign the user out"


def test_logout_signs_out_rotates_the_token_and_is_audited(app, client, cast, login):
    login(cast.email("officer_a"))
    token = load_user(app, cast.email("officer_a")).session_token

    response = client.post("/auth/logout")

    assert response.status_code == 302 and location_path(response) == "/auth/login"
    user = load_user(app, cast.email("officer_a"))
    assert user.session_token != token
    assert audit_actions(app, "auth.logout", user.id) == ["auth.logout"]
    assert not is_signed_in(client)


def copy_session(app, source) -> object:
    """A second browser holding a copy of ``source``'s session cookie."""
    cookie = source.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value)
    return thief


def test_a_session_cookie_replayed_after_logout_is_rejected(app, client, cast, login):
    login(cast.email("officer_a"))
    thief = copy_session(app, client)
    assert is_signed_in(thief), "the copied cookie works while the session is live"

    client.post("/auth/logout")

    response = thief.get("/dashboard")
    assert response.status_code == 302
    assert location_path(response).startswith("/auth/login")


def test_signing_in_again_revokes_the_previous_session(app, client, cast, login):
    login(cast.email("officer_a"))
    old = copy_session(app, client)
    login(cast.email("officer_a"), test_client=app.test_client())
    assert not is_signed_in(old)


# --- password change -------------------------------------------------------------------------

def test_password_change_revokes_other_sessions_and_keeps_this_one(app, client, cast, login):
    email = cast.email("employee_a")
    login(email)
    other = copy_session(app, client)
    old_hash = load_user(app, email).password_hash

    response = client.post("/auth/password", data={
        "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})

    assert response.status_code == 302 and location_path(response) == "/dashboard"
    assert is_signed_in(client)
    assert not is_signed_in(other)
    user = load_user(app, email)
    assert user.password_hash != old_hash
    assert audit_actions(app, "auth.password_changed", user.id) == ["auth.password_changed"]
    fresh = app.test_client()
    assert attempt(fresh, email, factories.PASSWORD).status_code == 200
    assert attempt(fresh, email, NEW_PASSWORD).status_code == 302


def test_password_change_with_a_wrong_current_password_changes_nothing(app, client, cast, login):
    email = cast.email("employee_a")
    login(email)
    before = load_user(app, email)

    response = client.post("/auth/password", data={
        "current_password": "not-my-password-at-all", "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})

    assert response.status_code == 200
    assert "not correct" in field_error(response.get_data(as_text=True), "current_password")
    after = load_user(app, email)
    assert (after.password_hash, after.session_token) == (before.password_hash, before.session_token)
    assert audit_actions(app, "auth.password_changed") == []


def test_password_change_refuses_a_common_password(app, client, cast, login):
    login(cast.email("employee_a"))
    response = client.post("/auth/password", data={
        "current_password": factories.PASSWORD, "new_password": "password1234", "confirm_password": "password1234"})
    assert "too common" in field_error(response.get_data(as_text=True), "new_password")
    assert audit_actions(app, "auth.password_changed") == []


def test_password_change_needs_a_session(client):
    response = client.get("/auth/password")
    assert response.status_code == 302 and location_path(response).startswith("/auth/login")


# --- password reset --------------------------------------------------------------------------

def request_reset(app, test_client, email: str) -> str:
    """Ask for a reset link and return its path, read from the outbox."""
    response = test_client.post("/auth/forgot", data={"email": email})
    assert response.status_code == 302 and location_path(response) == "/auth/login"
    with app.app_context():
        message = db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
    assert message is not None and message.recipient == email.lower()
    match = re.search(r"https?://[^\s]+/auth/reset/[A-Za-z0-9_\-]+", message.body)
    assert match, message.body
    return urlsplit(match.group(0)).path


def test_password_reset_mails_a_link_that_works_once(app, client, cast):
    email = cast.email("officer_b")
    old = load_user(app, email)

    path = request_reset(app, client, email)

    with app.app_context():
        message = db_session.scalar(select(OutboxEmail))
        assert message.subject == "Reset your CTPAT Portal password"
        assert message.sent_at is not None, "delivered after the request committed"
        token_row = db_session.scalar(select(PasswordResetToken))
        assert path.rsplit("/", 1)[1] not in token_row.token_hash, "only the hash of the token is stored"
    eml_files = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    assert len(eml_files) == 1
    eml = eml_files[0].read_text()
    assert f"To: {email}" in eml and path in eml.replace("=\n", "")

    assert client.get(path).status_code == 200
    response = client.post(path, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302 and location_path(response) == "/auth/login"

    user = load_user(app, email)
    assert user.password_hash != old.password_hash
    assert user.session_token != old.session_token
    assert audit_actions(app, "auth.password_reset", user.id) == ["auth.password_reset"]
    assert attempt(client, email, NEW_PASSWORD).status_code == 302
    client.post("/auth/logout")

    # The link is used up.
    assert client.get(path).status_code == 404
    again = client.post(path, data={"new_password": "yet-another-passphrase-7", "confirm_password":
                                    "yet-another-passphrase-7"})
    assert again.status_code == 404
    assert "not valid" in again.get_data(as_text=True)
    assert load_user(app, email).password_hash == user.password_hash
    assert audit_actions(app, "auth.password_reset") == ["auth.password_reset"]


def test_password_reset_unlocks_a_locked_account(app, client, cast):
    email = cast.email("officer_b")
    for _ in range(5):
        attempt(client, email, "wrong-password-guess")
    path = request_reset(app, client, email)
    client.post(path, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert attempt(client, email, NEW_PASSWORD).status_code == 302


def test_an_expired_reset_link_shows_the_invalid_page_and_changes_nothing(app, client, cast, clock):
    email = cast.email("officer_b")
    old = load_user(app, email)
    path = request_reset(app, client, email)

    clock.advance(hours=2)

    page = client.get(path)
    assert page.status_code == 404
    assert "This reset link is not valid" in page.get_data(as_text=True)
    post = client.post(path, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert post.status_code == 404
    user = load_user(app, email)
    assert (user.password_hash, user.session_token) == (old.password_hash, old.session_token)
    assert audit_actions(app, "auth.password_reset") == []
    assert attempt(client, email, NEW_PASSWORD).status_code == 200


def test_a_made_up_reset_token_shows_the_invalid_page(client):
    assert client.get("/auth/reset/not-a-real-token").status_code == 404


def test_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(app, client, cast):
    known = client.post("/auth/forgot", data={"email": cast.email("officer_b")}, follow_redirects=True)
    unknown_client = app.test_client()
    unknown = unknown_client.post("/auth/forgot", data={"email": "nobody@nowhere.example"}, follow_redirects=True)

    def alerts(response) -> list[str]:
        return re.findall(r'<p class="usa-alert__text">(.*?)</p>', response.get_data(as_text=True), re.S)

    assert alerts(known) == alerts(unknown) and len(alerts(known)) == 1
    assert "If an account exists" in alerts(known)[0]
    with app.app_context():
        assert [m.recipient for m in db_session.scalars(select(OutboxEmail))] == [cast.email("officer_b")]
    assert audit_actions(app, "auth.password_reset_requested") == ["auth.password_reset_requested"] * 2


def test_reset_refuses_a_weak_password_and_keeps_the_link_usable(app, client, cast):
    path = request_reset(app, client, cast.email("officer_b"))
    response = client.post(path, data={"new_password": "password1234", "confirm_password": "password1234"})
    assert response.status_code == 200
    assert "too common" in field_error(response.get_data(as_text=True), "new_password")
    assert client.get(path).status_code == 200


# --- safe next -------------------------------------------------------------------------------

LOCAL_TARGETS = ["/dashboard", "/auth/password", "/companies/new?step=1"]
OFF_SITE_TARGETS = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "evil.example",
]


def login_with_next(app, email: str, target: str):
    # A fresh browser per attempt: a signed-in one would be redirected before the form is read.
    return app.test_client().post("/auth/login", query_string={"next": target},
                                  data={"email": email, "password": factories.PASSWORD})


def test_login_follows_a_local_next(app, cast):
    for target in LOCAL_TARGETS:
        response = login_with_next(app, cast.email("officer_a"), target)
        assert response.status_code == 302
        assert location_path(response) == target, target


def test_login_does_not_follow_an_off_site_next(app, cast):
    for target in OFF_SITE_TARGETS:
        response = login_with_next(app, cast.email("officer_a"), target)
        assert response.status_code == 302
        assert response.headers["Location"] == "/dashboard", repr(target)


def test_a_signed_in_user_visiting_login_is_not_sent_off_site(client, cast, login):
    login(cast.email("officer_a"))
    assert client.get("/auth/login?next=//evil.example").headers["Location"] == "/dashboard"
    assert client.get("/auth/login?next=/auth/password").headers["Location"] == "/auth/password"


def test_next_in_the_form_body_is_checked_too(client, cast):
    response = client.post("/auth/login", data={"email": cast.email("officer_a"), "password": factories.PASSWORD,
                                                "next": "//evil.example"})
    assert response.headers["Location"] == "/dashboard"


def test_register_does_not_follow_an_off_site_next(client):
    response = client.post("/auth/register?next=//evil.example", data={
        "full_name": "Ed Evil", "email": "ed@evil.example", "password": factories.PASSWORD,
        "confirm_password": factories.PASSWORD})
    assert response.headers["Location"] == "/companies/new"


# --- argon2 rehash ---------------------------------------------------------------------------

def test_login_rehashes_a_password_hashed_with_other_parameters(app, client, cast):
    email = cast.email("employee_a")
    old_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(factories.PASSWORD)
    with app.app_context():
        user = db_session.scalar(select(User).where(User.email == email))
        user.password_hash = old_hash
        db_session.commit()

    assert attempt(client, email, factories.PASSWORD).status_code == 302

    new_hash = load_user(app, email).password_hash
    assert new_hash != old_hash
    with app.app_context():
        from portal.auth.passwords import needs_rehash, verify_password

        assert not needs_rehash(new_hash)
        assert verify_password(new_hash, factories.PASSWORD)


def test_login_keeps_a_current_hash(app, client, cast):
    email = cast.email("employee_a")
    before = load_user(app, email).password_hash
    assert attempt(client, email, factories.PASSWORD).status_code == 302
    assert load_user(app, email).password_hash == before

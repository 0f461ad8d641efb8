"""Multi-factor authentication (DESIGN.md §9, security-testing.md §1.2 "MFA", T9, T11): TOTP required for
CBP staff and optional for trade users, enrolment with an SVG QR code and ten hashed single-use recovery
codes, replay refused, wrong codes counted by the lockout, pending sign-ins that expire, admin reset,
and the demo accounts' codes from the CLI."""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from urllib.parse import unquote, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.auth import mfa
from portal.auth.models import RecoveryCode, User
from portal.db import db_session
from tests import factories

SETUP = "/auth/mfa/setup"
VERIFY = "/auth/mfa"


@pytest.fixture
def mfa_on(app):
    app.config["MFA_REQUIRED_FOR_STAFF"] = True
    return app


def _user(app, email: str) -> User:
    with app.app_context():
        return db_session.scalar(select(User).where(User.email == email))


def _actions(app, email: str | None = None) -> Counter:
    with app.app_context():
        stmt = select(AuditEvent.action)
        if email:
            user = db_session.scalar(select(User).where(User.email == email))
            stmt = stmt.where(AuditEvent.object_type == "User", AuditEvent.object_id == str(user.id))
        return Counter(db_session.scalars(stmt))


def _password(client, email: str, next_url: str | None = None):
    url = "/auth/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": factories.PASSWORD})


def _secret_from_setup_page(html: str) -> str:
    match = re.search(r'<code[^>]*id="setup-key"[^>]*>([A-Z2-7 ]+)</code>', html)
    assert match, "the setup key is shown as text for manual entry"
    return match.group(1).replace(" ", "")


def _enrol(app, client, email: str, clock) -> tuple[str, list[str]]:
    """Sign in with the password, enrol through the pages; returns (secret, recovery codes)."""
    response = _password(client, email)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == SETUP
    secret = _secret_from_setup_page(client.post(SETUP, data={"start": "1"}).get_data(as_text=True))
    page = client.post(SETUP, data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert page.status_code == 200
    codes = re.findall(r"<li>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</li>", page.get_data(as_text=True))
    return secret, codes


def _signed_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


def _enrol_directly(app, email: str) -> str:
    """Enrol a user without the pages (a known secret, no recovery codes shown)."""
    with app.app_context():
        user = db_session.scalar(select(User).where(User.email == email))
        secret = pyotp.random_base32()
        user.totp_secret = secret
        user.mfa_enrolled_at = user.created_at
        db_session.commit()
        return secret


# -- staff must enrol, then verify --------------------------------------------------------------------

def test_a_correct_password_alone_does_not_sign_staff_in(mfa_on, client, cast):
    response = _password(client, cast.email("reviewer"))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == SETUP
    assert not _signed_in(client)
    assert "auth.login" not in _actions(mfa_on, cast.email("reviewer"))


def test_enrolment_shows_an_svg_qr_code_and_the_key_then_ten_recovery_codes(mfa_on, client, cast, clock):
    email = cast.email("supervisor")
    _password(client, email)
    intro = client.get(SETUP)
    assert intro.status_code == 200 and 'name="start"' in intro.get_data(as_text=True)
    assert _user(mfa_on, email).totp_secret is None, "a GET changes nothing"
    page = client.post(SETUP, data={"start": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # The QR code is an SVG data: URI (the CSP allows data: images) without any style attribute.
    src = re.search(r'<img[^>]+src="(data:image/svg\+xml[^"]+)"', html).group(1)
    svg = unquote(src.split(",", 1)[1]) if ";base64," not in src else base64.b64decode(src.split(",", 1)[1]).decode()
    assert svg.lstrip().startswith("<svg") or "<svg" in svg
    assert "style=" not in svg and "<script" not in svg
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]
    assert 'alt="QR code' in html
    secret = _secret_from_setup_page(html)
    # The QR encodes the otpauth URI of that secret, issued by the portal, for this account.
    with mfa_on.app_context():
        user = db_session.scalar(select(User).where(User.email == email))
        uri = mfa.provisioning_uri(user)
    assert f"secret={secret}" in uri and "issuer=CTPAT%20Portal" in uri and "supervisor%40cbp.example" in uri
    # Reloading keeps the same secret (the app was maybe already scanned).
    assert _secret_from_setup_page(client.get(SETUP).get_data(as_text=True)) == secret

    wrong = client.post(SETUP, data={"code": "000000" if pyotp.TOTP(secret).at(clock.now) != "000000" else "111111"})
    assert wrong.status_code == 200 and "The code is not correct" in wrong.get_data(as_text=True)
    assert 'class="usa-alert usa-alert--error' in wrong.get_data(as_text=True), "error summary shown"
    assert not _signed_in(client)

    done = client.post(SETUP, data={"code": pyotp.TOTP(secret).at(clock.now)})
    codes = re.findall(r"<li>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</li>", done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert _signed_in(client)
    with mfa_on.app_context():
        user = db_session.scalar(select(User).where(User.email == email))
        assert user.mfa_enrolled and user.totp_secret == secret and user.totp_last_step is not None
        stored = db_session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    # Stored hashed (SHA-256 of the code without the dashes), never in clear.
    assert len(stored) == 10
    assert sorted(stored) == sorted(hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes)
    assert not any(code.replace("-", "") in h or code in h for code in codes for h in stored)
    actions = _actions(mfa_on, email)
    assert actions["mfa.enrolled"] == 1 and actions["mfa.failed"] == 1 and actions["auth.login"] == 1


def test_an_enrolled_user_signs_in_with_a_code_and_lands_on_next(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    secret, _codes = _enrol(mfa_on, client, email, clock)
    client.post("/auth/logout")
    clock.advance(seconds=30)
    response = _password(client, email, next_url="/reviews")
    assert urlsplit(response.headers["Location"]).path == VERIFY
    assert not _signed_in(client)
    done = client.post(VERIFY, data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert done.status_code == 302 and done.headers["Location"] == "/reviews"
    assert _signed_in(client)
    actions = _actions(mfa_on, email)
    assert actions["mfa.verified"] == 1 and actions["auth.login"] == 2


def test_an_unsafe_next_is_not_followed_after_the_code(mfa_on, client, cast, clock):
    secret = _enrol_directly(mfa_on, cast.email("reviewer"))
    _password(client, cast.email("reviewer"), next_url="//evil.example/x")
    done = client.post(VERIFY, data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert done.headers["Location"] == "/dashboard"


def test_a_code_works_once_replay_is_refused(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    secret = _enrol_directly(mfa_on, email)
    code = pyotp.TOTP(secret).at(clock.now)
    _password(client, email)
    assert client.post(VERIFY, data={"code": code}).status_code == 302
    other = mfa_on.test_client()
    _password(other, email)
    replay = other.post(VERIFY, data={"code": code})
    assert replay.status_code == 200 and mfa.WRONG_CODE in replay.get_data(as_text=True)
    assert not _signed_in(other)
    with mfa_on.app_context():
        summaries = db_session.scalars(select(AuditEvent.summary).where(AuditEvent.action == "mfa.failed")).all()
    assert summaries == ["Reused code (sign-in)"]
    # The next time step's code works.
    clock.advance(seconds=30)
    assert other.post(VERIFY, data={"code": pyotp.TOTP(secret).at(clock.now)}).status_code == 302


def test_one_step_of_clock_drift_is_accepted_but_not_two(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    secret = _enrol_directly(mfa_on, email)
    totp = pyotp.TOTP(secret)
    _password(client, email)
    assert client.post(VERIFY, data={"code": totp.at(clock.now, counter_offset=-2)}).status_code == 200
    assert client.post(VERIFY, data={"code": totp.at(clock.now, counter_offset=-1)}).status_code == 302


def test_recovery_codes_work_once_each(mfa_on, client, cast, clock):
    email = cast.email("admin")
    _secret, codes = _enrol(mfa_on, client, email, clock)
    client.post("/auth/logout")
    _password(client, email)
    # Upper case and spaces are forgiven.
    done = client.post(VERIFY, data={"code": codes[0].upper().replace("-", " ")})
    assert done.status_code == 302
    landing = client.get(done.headers["Location"])
    assert landing.status_code == 200 and "9 unused code(s) left" in landing.get_data(as_text=True)
    client.post("/auth/logout")
    _password(client, email)
    again = client.post(VERIFY, data={"code": codes[0]})
    assert again.status_code == 200 and not _signed_in(client)
    with mfa_on.app_context():
        user = db_session.scalar(select(User).where(User.email == email))
        assert mfa.remaining_recovery_codes(user) == 9
    actions = _actions(mfa_on, email)
    assert actions["mfa.recovery_code_used"] == 1 and actions["mfa.failed"] == 1


def test_the_pending_sign_in_expires_after_five_minutes(mfa_on, client, cast, clock):
    secret = _enrol_directly(mfa_on, cast.email("reviewer"))
    _password(client, cast.email("reviewer"))
    clock.advance(minutes=5, seconds=1)
    expired = client.post(VERIFY, data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert expired.status_code == 302 and urlsplit(expired.headers["Location"]).path == "/auth/login"
    assert not _signed_in(client)
    assert client.get(VERIFY).status_code == 302


def test_the_code_page_needs_a_password_first(mfa_on, client, cast):
    response = client.get(VERIFY)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/auth/login"
    assert client.get(SETUP).status_code == 302


def test_wrong_codes_count_towards_the_lockout_with_wrong_passwords(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    secret = _enrol_directly(mfa_on, email)
    for _ in range(2):
        client.post("/auth/login", data={"email": email, "password": "wrong-password-123"})
    _password(client, email)
    # A correct password does not reset the count: only a complete sign-in does.
    for attempt in range(3):
        response = client.post(VERIFY, data={"code": "12345" + str(attempt)})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/auth/login"
    with mfa_on.app_context():
        user = db_session.scalar(select(User).where(User.email == email))
        assert user.locked_until is not None
    actions = _actions(mfa_on, email)
    assert actions["auth.lockout"] == 1 and actions["mfa.failed"] == 3 and actions["auth.login_failed"] == 2
    # Locked: the right password and code get nowhere.
    refused = _password(client, email)
    assert refused.status_code == 200 and "locked" in refused.get_data(as_text=True)
    clock.advance(minutes=16)
    _password(client, email)
    assert client.post(VERIFY, data={"code": pyotp.TOTP(secret).at(clock.now)}).status_code == 302


def test_five_wrong_codes_lock_the_account(mfa_on, client, cast, clock):
    email = cast.email("admin")
    _enrol_directly(mfa_on, email)
    _password(client, email)
    statuses = [client.post(VERIFY, data={"code": "999999"}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 302]
    assert _actions(mfa_on, email)["auth.lockout"] == 1
    assert client.get(VERIFY).status_code == 302  # the pending sign-in is gone


# -- trade users: optional ------------------------------------------------------------------------------

def test_trade_users_sign_in_with_a_password_alone_until_they_enrol(mfa_on, client, cast, login, clock):
    email = cast.email("officer_a")
    response = login(email)
    assert response.headers["Location"] == "/dashboard"
    page = client.get("/auth/security")
    assert "Set up two-step verification" in page.get_data(as_text=True)
    secret = _secret_from_setup_page(client.post(SETUP, data={"start": "1"}).get_data(as_text=True))
    done = client.post(SETUP, data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert done.status_code == 200 and "Save your recovery codes" in done.get_data(as_text=True)
    client.post("/auth/logout")
    clock.advance(seconds=30)
    response = _password(client, email)
    assert urlsplit(response.headers["Location"]).path == VERIFY
    assert client.post(VERIFY, data={"code": pyotp.TOTP(secret).at(clock.now)}).status_code == 302
    # They may turn it off again; staff may not.
    assert client.post("/auth/mfa/disable").status_code == 302
    assert not _user(mfa_on, email).mfa_enrolled
    client.post("/auth/logout")
    assert _password(client, email).headers["Location"] == "/dashboard"
    assert _actions(mfa_on, email)["mfa.reset"] == 1


def test_staff_cannot_turn_mfa_off_while_it_is_required(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    _enrol(mfa_on, client, email, clock)
    client.post("/auth/mfa/disable")
    assert _user(mfa_on, email).mfa_enrolled


def test_new_recovery_codes_replace_the_old_ones(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    _secret, old_codes = _enrol(mfa_on, client, email, clock)
    page = client.post("/auth/mfa/recovery-codes")
    new_codes = re.findall(r"<li>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</li>", page.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    client.post("/auth/logout")
    _password(client, email)
    assert client.post(VERIFY, data={"code": old_codes[1]}).status_code == 200
    assert client.post(VERIFY, data={"code": new_codes[1]}).status_code == 302


def test_staff_signed_in_without_an_authenticator_must_enrol_first(app, client, cast, login):
    login(cast.email("reviewer"))  # MFA not yet required when this session started
    app.config["MFA_REQUIRED_FOR_STAFF"] = True
    response = client.get("/reviews")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == SETUP
    assert client.get(SETUP).status_code == 200


# -- admin reset ----------------------------------------------------------------------------------------

def test_an_admin_resets_a_users_mfa_and_their_sessions_end(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    _enrol(mfa_on, client, email, clock)
    assert _signed_in(client)
    admin = mfa_on.test_client()
    admin_secret = _enrol_directly(mfa_on, cast.email("admin"))
    _password(admin, cast.email("admin"))
    admin.post(VERIFY, data={"code": pyotp.TOTP(admin_secret).at(clock.now)})
    users_page = admin.get("/admin/users").get_data(as_text=True)
    user_id = _user(mfa_on, email).id
    assert f"/auth/users/{user_id}/mfa/reset" in users_page
    assert admin.post(f"/auth/users/{user_id}/mfa/reset").status_code == 302
    user = _user(mfa_on, email)
    assert not user.mfa_enrolled and user.totp_secret is None
    with mfa_on.app_context():
        assert db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)).all() == []
        event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "mfa.reset"))
        assert event.actor_email == cast.email("admin") and event.object_id == str(user_id)
    assert not _signed_in(client)
    # At the next sign-in they enrol again.
    assert urlsplit(_password(client, email).headers["Location"]).path == SETUP


def test_only_admins_reset_mfa(mfa_on, client, cast, login, clock):
    target = _user(mfa_on, cast.email("reviewer"))
    _enrol_directly(mfa_on, cast.email("reviewer"))
    login(cast.email("officer_a"))
    assert client.post(f"/auth/users/{target.id}/mfa/reset").status_code == 404
    assert _user(mfa_on, cast.email("reviewer")).mfa_enrolled


# -- demo accounts --------------------------------------------------------------------------------------

def test_demo_staff_are_enrolled_and_the_cli_prints_their_code(mfa_on, clock):
    runner = mfa_on.test_cli_runner()
    loaded = runner.invoke(args=["demo-data"])
    assert loaded.exit_code == 0, loaded.output
    assert "users totp EMAIL" in loaded.output
    with mfa_on.app_context():
        staff = db_session.scalars(select(User).where(User.staff_role.is_not(None))).all()
        assert len(staff) == 4 and all(user.mfa_enrolled for user in staff)
        assert all(user.totp_secret == mfa.demo_secret(user.email) for user in staff)
    result = runner.invoke(args=["users", "totp", "reviewer@cbp.example"])
    assert result.exit_code == 0, result.output
    code = result.output.strip().splitlines()[0]
    assert re.fullmatch(r"\d{6}", code)
    client = mfa_on.test_client()
    from portal.demo import DEMO_PASSWORD

    client.post("/auth/login", data={"email": "reviewer@cbp.example", "password": DEMO_PASSWORD})
    assert client.post(VERIFY, data={"code": code}).status_code == 302
    assert _signed_in(client)
    refused = runner.invoke(args=["users", "totp", "officer@acme-imports.example"])
    assert refused.exit_code != 0 and "not a demo account" in refused.output


def test_the_totp_command_refuses_in_production(mfa_on):
    mfa_on.config["ENV_NAME"] = "production"
    result = mfa_on.test_cli_runner().invoke(args=["users", "totp", "reviewer@cbp.example"])
    assert result.exit_code != 0 and "development only" in result.output


def test_pending_marker_holds_only_the_user_id_and_time(mfa_on, client, cast):
    _password(client, cast.email("reviewer"))
    with client.session_transaction() as session:
        pending = session[mfa.PENDING_KEY]
        assert set(pending) == {"user_id", "at", "next"}
        assert "_user_id" not in session  # Flask-Login has no user yet


def test_a_locked_account_cannot_finish_an_enrolment_started_before(mfa_on, client, cast, clock):
    email = cast.email("reviewer")
    _password(client, email)
    secret = _secret_from_setup_page(client.post(SETUP, data={"start": "1"}).get_data(as_text=True))
    other = mfa_on.test_client()
    for attempt in range(5):
        other.post("/auth/login", data={"email": email, "password": f"wrong-password-{attempt}"})
    done = client.post(SETUP, data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert done.status_code == 302 and urlsplit(done.headers["Location"]).path == "/auth/login"
    assert not _signed_in(client) and not _user(mfa_on, email).mfa_enrolled

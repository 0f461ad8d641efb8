"""Re-authentication ("fresh login", security-testing.md §1.2, ASVS 5.0 7.5.1) before decisions, exports and
role changes: ``require_recent_auth`` sends a user whose last proof of identity is older than
``REAUTH_MAX_AGE`` to /auth/reauth (password, plus a code when enrolled) and back."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.auth.models import Membership, User
from portal.auth.roles import CompanyRole
from portal.db import db_session
from portal.reviews.models import Review
from portal.reviews.workflow import ReviewStatus
from tests import factories


@pytest.fixture
def fresh(app):
    app.config["REAUTH_MAX_AGE"] = timedelta(minutes=15)
    return app


def _age(client, clock, minutes: int) -> None:
    """Let ``minutes`` pass with some activity on the way, so the idle limit (10 minutes for staff)
    never signs the user out, while the sign-in itself grows old."""
    while minutes > 0:
        step = min(minutes, 8)
        clock.advance(minutes=step)
        assert client.get("/dashboard").status_code == 200
        minutes -= step


def _reauth_target(response) -> str:
    assert response.status_code == 302, response.status_code
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/reauth"
    return parse_qs(location.query)["next"][0]


def _membership(app, cast, key: str) -> int:
    with app.app_context():
        return db_session.scalar(select(Membership.id).where(Membership.user_id == cast.users[key].id))


def _role(app, membership_id: int) -> CompanyRole | None:
    with app.app_context():
        row = db_session.get(Membership, membership_id)
        return row.role if row else None


def _recommended_review(app, cast) -> int:
    from portal.profiles.submission import submit_profile
    from portal.reviews import services
    from portal.reviews.scoring import Rating
    from portal.reviews.workflow import Recommendation

    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        submit_profile(profile, "Olivia Officer", by=cast.users["officer_a"])
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id))
        reviewer = db_session.get(User, cast.users["reviewer"].id)
        review.reviewer_id = reviewer.id
        services.start(review, by=reviewer)
        for criterion in services.criteria_in_version(review).values():
            services.save_rating(review, criterion, services.RatingInput(Rating.MEETS, "ok", (), None), by=reviewer)
        from portal.reviews import decisions

        decisions.recommend(review, Recommendation.CERTIFY, "All Musts met.", by=reviewer)
        db_session.commit()
        return review.id


def test_a_fresh_sign_in_needs_no_reauthentication(fresh, client, cast, login):
    login(cast.email("officer_a"))
    membership = _membership(fresh, cast, "employee_a")
    response = client.post(f"/companies/{cast.company_a.id}/users/{membership}/role", data={"role": "read_only"})
    assert response.status_code == 302 and "/auth/reauth" not in response.headers["Location"]
    assert _role(fresh, membership) == CompanyRole.READ_ONLY


def test_a_role_change_after_15_minutes_asks_for_the_password_again(fresh, client, cast, login, clock):
    login(cast.email("officer_a"))
    membership = _membership(fresh, cast, "employee_a")
    members_page = f"/companies/{cast.company_a.id}/users"
    _age(client, clock, 16)
    response = client.post(f"/companies/{cast.company_a.id}/users/{membership}/role", data={"role": "read_only"},
                           headers={"Referer": f"http://localhost{members_page}"})
    assert _reauth_target(response) == members_page, "back to the page the form was on"
    assert _role(fresh, membership) == CompanyRole.EMPLOYEE, "nothing changed yet"
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="password"' in html and 'name="code"' not in html

    wrong = client.post(response.headers["Location"], data={"password": "not-my-password-1"})
    assert wrong.status_code == 200 and "The password is not correct." in wrong.get_data(as_text=True)
    done = client.post(response.headers["Location"], data={"password": factories.PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == members_page
    assert client.post(f"/companies/{cast.company_a.id}/users/{membership}/role",
                       data={"role": "read_only"}).status_code == 302
    assert _role(fresh, membership) == CompanyRole.READ_ONLY
    with fresh.app_context():
        actions = Counter(db_session.scalars(select(AuditEvent.action)))
    assert actions["auth.reauth"] == 1 and actions["auth.reauth_failed"] == 1 and actions["member.role_changed"] == 1


def test_removing_a_member_needs_a_recent_sign_in(fresh, client, cast, login, clock):
    login(cast.email("officer_a"))
    membership = _membership(fresh, cast, "consultant_a")
    _age(client, clock, 16)
    response = client.post(f"/companies/{cast.company_a.id}/users/{membership}/remove")
    assert _reauth_target(response) == "/dashboard", "no referrer: back to the dashboard"
    assert _role(fresh, membership) == CompanyRole.CONSULTANT


def test_a_supervisor_decision_needs_a_recent_sign_in(fresh, client, cast, login, clock):
    review_id = _recommended_review(fresh, cast)
    login(cast.email("supervisor"))
    _age(client, clock, 16)
    # Reading the decision page is fine; deciding is not.
    assert client.get(f"/reviews/{review_id}/decision").status_code == 200
    response = client.post(f"/reviews/{review_id}/decision", data={"decision": "approve"},
                           headers={"Referer": f"http://localhost/reviews/{review_id}/decision"})
    assert _reauth_target(response) == f"/reviews/{review_id}/decision"
    with fresh.app_context():
        assert db_session.get(Review, review_id).status == ReviewStatus.RECOMMENDED
    client.post(response.headers["Location"], data={"password": factories.PASSWORD})
    assert client.post(f"/reviews/{review_id}/decision", data={"decision": "approve"}).status_code == 302
    with fresh.app_context():
        assert db_session.get(Review, review_id).status == ReviewStatus.DECIDED


def test_enrolled_users_also_give_a_code(fresh, client, cast, clock):
    fresh.config["MFA_REQUIRED_FOR_STAFF"] = True
    email = cast.email("supervisor")
    with fresh.app_context():
        user = db_session.scalar(select(User).where(User.email == email))
        secret = pyotp.random_base32()
        user.totp_secret, user.mfa_enrolled_at = secret, user.created_at
        db_session.commit()
    client.post("/auth/login", data={"email": email, "password": factories.PASSWORD})
    client.post("/auth/mfa", data={"code": pyotp.TOTP(secret).at(clock.now)})
    _age(client, clock, 16)
    url = "/auth/reauth?next=/reviews"
    assert 'name="code"' in client.get(url).get_data(as_text=True)
    missing = client.post(url, data={"password": factories.PASSWORD})
    assert missing.status_code == 200 and "Enter the code" in missing.get_data(as_text=True)
    wrong = client.post(url, data={"password": factories.PASSWORD, "code": "000000"
                                   if pyotp.TOTP(secret).at(clock.now) != "000000" else "111111"})
    assert wrong.status_code == 200
    done = client.post(url, data={"password": factories.PASSWORD, "code": pyotp.TOTP(secret).at(clock.now)})
    assert done.status_code == 302 and done.headers["Location"] == "/reviews"
    with fresh.app_context():
        actions = Counter(db_session.scalars(select(AuditEvent.action)))
    assert actions["mfa.failed"] == 1 and actions["auth.reauth"] == 1


def test_wrong_passwords_at_reauthentication_lock_the_account_and_sign_out(fresh, client, cast, login, clock):
    login(cast.email("officer_a"))
    _age(client, clock, 16)
    for attempt in range(5):
        response = client.post("/auth/reauth", data={"password": f"wrong-password-{attempt}"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/auth/login"
    assert client.get("/dashboard").status_code == 302
    with fresh.app_context():
        user = db_session.scalar(select(User).where(User.email == cast.email("officer_a")))
        assert user.locked_until is not None


def test_reauthentication_does_not_follow_an_unsafe_next(fresh, client, cast, login):
    login(cast.email("officer_a"))
    done = client.post("/auth/reauth?next=https://evil.example/", data={"password": factories.PASSWORD})
    assert done.headers["Location"] == "/dashboard"


def test_exports_need_a_recent_sign_in(fresh, client, cast, login, clock):
    profile = None
    with fresh.app_context():
        profile = factories.profile_of(cast.account_a).id
    login(cast.email("officer_a"))
    _age(client, clock, 16)
    url = f"/profiles/{profile}/action-plans.xlsx"
    assert _reauth_target(client.get(url)) == url
    client.post(f"/auth/reauth?next={url}", data={"password": factories.PASSWORD})
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")


def test_the_check_is_off_when_the_setting_is_none(app, client, cast, login, clock):
    assert app.config["REAUTH_MAX_AGE"] is None
    login(cast.email("officer_a"))
    _age(client, clock, 30)
    membership = _membership(app, cast, "employee_a")
    response = client.post(f"/companies/{cast.company_a.id}/users/{membership}/role", data={"role": "read_only"})
    assert "/auth/reauth" not in response.headers["Location"]


def test_sign_in_records_auth_at(fresh, client, cast, login, clock):
    login(cast.email("officer_a"))
    with client.session_transaction() as session:
        assert session["auth_at"] == clock.now.timestamp() == session["login_at"]

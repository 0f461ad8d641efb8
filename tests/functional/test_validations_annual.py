"""The annual profile review: the window 90 days before the anniversary, confirming criteria unchanged
(one or a whole category), editing, the officer's attestation, the delta the reviewer sees, and the
missed-deadline flag on the reviewer's validation dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.models import ProfileVersion
from portal.profiles.submission import submit_profile
from portal.profiles.workflow import ProfileStatus
from portal.reviews.models import Review
from portal.reviews.workflow import ReviewStatus
from portal.validations import annual
from tests import factories
from tests.functional.test_validations import certify, relogin, user


def _certified_with_profile(app, cast, clock, days_ago: int) -> dict:
    """Account A submitted and approved ``days_ago`` days before now, then certified that day."""
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        submit_profile(profile, "Olivia Officer", by=user("officer_a", cast))
        profile.status = ProfileStatus.APPROVED
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id))
        review.status = ReviewStatus.DECIDED
        certify(cast.account_a.id, cast, on=clock.now.date())
        db_session.commit()
        profile_id = profile.id
    clock.advance(days=days_ago)
    return {"profile": profile_id, "account": cast.account_a.id}


def _categories(app, account_id) -> dict[int, list[str]]:
    with app.app_context():
        account = db_session.get(TradeAccount, account_id)
        cycle = annual.current_cycle(account)
        result: dict[int, list[str]] = {}
        for state in annual.criterion_states(account, cycle):
            result.setdefault(state.criterion.category, []).append(state.criterion.id)
        return result


def test_the_window_opens_90_days_before_the_anniversary(app, cast, clock):
    ids = _certified_with_profile(app, cast, clock, days_ago=200)
    with app.app_context():
        account = db_session.get(TradeAccount, ids["account"])
        cycle = annual.current_cycle(account)
        assert cycle.anniversary_on == account.anniversary_on
        assert cycle.opens_on == cycle.anniversary_on - timedelta(days=90)
        assert not cycle.is_open(clock.now.date())
        with pytest.raises(DomainError, match="window opens on"):
            annual.confirm_unchanged(account, ["1.1"], by=user("officer_a", cast))
    clock.advance(days=80)  # 280 days after certification: open
    with app.app_context():
        account = db_session.get(TradeAccount, ids["account"])
        assert annual.current_cycle(account).is_open(clock.now.date())
        # The next year's cycle follows the next anniversary.
        later = annual.anniversary_for(account.certified_on, account.certified_on + timedelta(days=700))
        assert later.year == account.certified_on.year + 2


def test_confirm_edit_attest_and_the_reviewer_sees_only_the_changes(app, client, login, cast, clock):
    ids = _certified_with_profile(app, cast, clock, days_ago=300)
    categories = _categories(app, ids["account"])
    first_category, *other_categories = sorted(categories)
    login(cast.email("employee_a"))
    page = client.get(f"/accounts/{ids['account']}/annual-review").get_data(as_text=True)
    assert "To do" in page and "Confirm unchanged" in page and "days left" in page

    # One criterion, then the rest of its category at once.
    single = categories[first_category][0]
    assert client.post(f"/accounts/{ids['account']}/annual-review/confirm",
                       data={"criterion_id": single}).status_code == 302
    assert client.post(f"/accounts/{ids['account']}/annual-review/confirm",
                       data={"category": first_category}).status_code == 302
    # The partner updates one criterion in the questionnaire instead of confirming it.
    edited = categories[other_categories[0]][0]
    with app.app_context():
        profile = factories.profile_of(db_session.get(TradeAccount, ids["account"]))
        factories.answer(profile, edited, narrative="New seal verification process since March.",
                         by=user("employee_a", cast))
        db_session.commit()

    # Only the officer attests, and only when every criterion is confirmed or updated.
    assert client.post(f"/accounts/{ids['account']}/annual-review/submit",
                       data={"typed_name": "Evan Employee"}).status_code == 403
    officer = app.test_client()
    relogin(login, cast.email("officer_a"), test_client=officer)
    early = officer.post(f"/accounts/{ids['account']}/annual-review/submit", data={"typed_name": "Olivia Officer"})
    assert early.status_code == 200 and "Confirm or update every criterion first" in early.get_data(as_text=True)
    for number in other_categories:
        assert officer.post(f"/accounts/{ids['account']}/annual-review/confirm",
                            data={"category": number}).status_code == 302
    with app.app_context():
        account = db_session.get(TradeAccount, ids["account"])
        states = {s.criterion.id: s.state for s in annual.criterion_states(account, annual.current_cycle(account))}
    assert states[edited] == "changed" and set(states.values()) == {"changed", "confirmed"}
    done = officer.post(f"/accounts/{ids['account']}/annual-review/submit", data={"typed_name": "Olivia Officer"})
    assert done.status_code == 302

    with app.app_context():
        account = db_session.get(TradeAccount, ids["account"])
        cycle = annual.current_cycle(account)
        assert cycle.submitted_version == 2 and not cycle.is_open(clock.now.date())
        delta = annual.annual_delta(account, cycle)
        assert [(row.criterion_id, row.fields) for row in delta] == [(edited, ("narrative",))]
        assert db_session.scalar(select(ProfileVersion).where(ProfileVersion.number == 2)) is not None
        assert db_session.scalar(select(Review).where(Review.version_number == 2)).status == ReviewStatus.WAITING
    reviewer = app.test_client()
    login(cast.email("reviewer"), test_client=reviewer)
    page = reviewer.get(f"/accounts/{ids['account']}/annual-review").get_data(as_text=True)
    assert "Changes in version 2" in page and f"<strong>{edited}</strong>" in page
    assert f"<strong>{single}</strong>" not in page
    # A second submission in the same cycle is refused.
    with app.app_context():
        with pytest.raises(DomainError, match="already submitted"):
            annual.confirm_unchanged(db_session.get(TradeAccount, ids["account"]), [single],
                                     by=user("officer_a", cast))


def test_a_missed_deadline_flags_the_account_on_the_dashboard(app, client, login, cast, clock):
    ids = _certified_with_profile(app, cast, clock, days_ago=370)
    login(cast.email("reviewer"))
    page = client.get("/validations").get_data(as_text=True)
    assert "Deadline missed" in page and "Alpha Imports Inc." in page.split('id="missed-annual"')[1]
    # The validation due one year after certification is overdue too.
    assert f'data-account-id="{ids["account"]}"' in page.split('id="due-overdue"')[1].split('id="due-30"')[0]
    officer = app.test_client()
    login(cast.email("officer_a"), test_client=officer)
    assert "Deadline missed" in officer.get(f"/accounts/{ids['account']}/annual-review").get_data(as_text=True)


def test_confirming_is_for_the_companys_editors(app, client, login, cast, clock):
    ids = _certified_with_profile(app, cast, clock, days_ago=300)
    login(cast.email("readonly_a"))
    assert client.get(f"/accounts/{ids['account']}/annual-review").status_code == 200
    assert client.post(f"/accounts/{ids['account']}/annual-review/confirm",
                       data={"criterion_id": "1.1"}).status_code == 403
    other = app.test_client()
    login(cast.email("officer_b"), test_client=other)
    assert other.get(f"/accounts/{ids['account']}/annual-review").status_code == 404
    with app.app_context():
        with pytest.raises(DomainError, match="criteria of the security profile"):
            annual.confirm_unchanged(db_session.get(TradeAccount, ids["account"]), ["77.7"],
                                     by=user("officer_a", cast))

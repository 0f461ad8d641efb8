"""Visits: bad windows, conflicts with the travel buffer (naming the other visit), the notice rule and
its supervisor override, blackout dates, the partner's counter-proposal, stale edits, the suggestion,
the .ics per visit, the reviewer's feed with token revocation and the month calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from portal.companies.models import Company
from portal.db import db_session
from portal.errors import DomainError
from portal.validations import services, visits
from portal.validations.models import Validation, ValidationSite, Visit
from portal.validations.workflow import SiteMode, VisitStatus
from tests.functional.test_validations import (
    certify,
    facility,
    next_weekday,
    planned,
    schedule,
    user,
    visit_form,
    window,
)


def _errors(response) -> str:
    return response.get_data(as_text=True)


def _soon(days: int = 45) -> date:
    return next_weekday(date.today() + timedelta(days=days))


# -- bad input ---------------------------------------------------------------------------------------


def test_bad_windows_are_refused_with_a_message(app, client, login, cast):
    ids = planned(app, cast)
    login(cast.email("reviewer"))
    url = f"/validations/{ids['validation']}/visits/new"
    day = _soon()
    backwards = client.post(url, data=visit_form(ids["us_site"], day, start_time="17:00", end_time="09:00"))
    assert backwards.status_code == 200 and "The visit must end after it starts" in _errors(backwards)
    unknown = client.post(url, data=visit_form(ids["us_site"], day, tz="Mars/Olympus"))
    assert unknown.status_code == 200 and "is not a known time zone" in _errors(unknown)
    too_long = client.post(url, data=visit_form(ids["us_site"], day, days=12))
    assert "at most 10 days" in _errors(too_long)
    with app.app_context():
        assert db_session.scalar(select(Visit)) is None


def test_a_site_of_another_validation_or_company_is_not_offered(app, client, login, cast):
    ids = planned(app, cast)
    with app.app_context():
        account_b = certify(cast.account_b.id, cast)
        other = services.create_validation(account_b, user("reviewer2", cast), by=user("reviewer2", cast))
        site_b = services.add_site(other, facility(cast.company_b.id, cast, country="MX", tz="America/Monterrey",
                                                   name="Bravo plant"), SiteMode.ONSITE, by=user("reviewer2", cast))
        db_session.commit()
        site_b_id = site_b.id
    login(cast.email("reviewer"))
    response = client.post(f"/validations/{ids['validation']}/visits/new", data=visit_form(site_b_id, _soon()))
    assert response.status_code == 200 and "Not a valid choice" in _errors(response)
    with app.app_context():
        with pytest.raises(DomainError, match="this validation's sites"):
            visits.schedule_visit(db_session.get(Validation, ids["validation"]),
                                  db_session.get(ValidationSite, site_b_id), window(_soon()), by=user("reviewer", cast))


# -- conflicts ---------------------------------------------------------------------------------------


def _second_validation(app, cast, lead: str = "reviewer2", members: tuple[str, ...] = ("reviewer",)) -> dict:
    """A validation of company B (Mexico) whose team shares a reviewer with company A's."""
    with app.app_context():
        account_b = certify(cast.account_b.id, cast)
        lead_user = user(lead, cast)
        validation = services.create_validation(account_b, lead_user, by=lead_user)
        services.set_team(validation, lead_user, [user(m, cast) for m in members], by=lead_user)
        mx = services.add_site(validation, facility(cast.company_b.id, cast, country="MX", tz="America/Monterrey",
                                                    name="Bravo plant"), SiteMode.ONSITE, by=lead_user)
        us = services.add_site(validation, facility(cast.company_b.id, cast, country="US", tz="America/Chicago",
                                                    name="Laredo yard"), SiteMode.ONSITE, by=lead_user)
        db_session.commit()
        return {"validation": validation.id, "mx_site": mx.id, "us_site": us.id}


def test_a_reviewer_in_two_overlapping_visits_is_refused_naming_the_other(app, client, login, cast):
    ids = planned(app, cast)
    other = _second_validation(app, cast)
    day = _soon()
    schedule(app, cast, other, day, site="us_site", by="reviewer2")
    login(cast.email("reviewer"))
    response = client.post(f"/validations/{ids['validation']}/visits/new", data=visit_form(ids["us_site"], day))
    page = _errors(response)
    assert response.status_code == 200
    assert "Riley Reviewer is already on the visit" in page and "Bravo Manufacturing S.A.: Laredo yard (US)" in page


def test_visits_in_different_countries_need_a_travel_day(app, cast):
    ids = planned(app, cast)
    other = _second_validation(app, cast)
    day = _soon()
    schedule(app, cast, other, day, site="mx_site", tz="America/Monterrey", by="reviewer2")
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        lead = user("reviewer", cast)
        next_day = window(day + timedelta(days=1))
        with pytest.raises(DomainError, match="needs a day to travel") as error:
            visits.schedule_visit(validation, db_session.get(ValidationSite, ids["us_site"]), next_day, by=lead)
        assert "Monterrey" in str(error.value) or "Bravo plant" in str(error.value)
        # A visit in the same country the next day is fine, and so is the other country a day later.
        visits.schedule_visit(validation, db_session.get(ValidationSite, ids["mx_site"]),
                              window(day + timedelta(days=1), tz="America/Monterrey"), by=lead)
        visits.schedule_visit(validation, db_session.get(ValidationSite, ids["us_site"]),
                              window(day + timedelta(days=3)), by=lead)


def test_a_cancelled_visit_frees_the_team(app, cast):
    ids = planned(app, cast)
    day = _soon()
    first = schedule(app, cast, ids, day)
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        with pytest.raises(DomainError, match="already on the visit"):
            visits.schedule_visit(validation, db_session.get(ValidationSite, ids["us_site"]), window(day),
                                  by=user("reviewer", cast))
        with pytest.raises(DomainError, match="reason"):
            visits.cancel_visit(db_session.get(Visit, first), "", by=user("reviewer", cast))
        visits.cancel_visit(db_session.get(Visit, first), "Plant closed", by=user("reviewer", cast))
        visits.schedule_visit(validation, db_session.get(ValidationSite, ids["us_site"]), window(day),
                              by=user("reviewer", cast))


# -- notice and blackouts ----------------------------------------------------------------------------


def test_short_notice_needs_a_supervisor_and_a_reason(app, client, login, cast):
    ids = planned(app, cast)
    day = next_weekday(date.today() + timedelta(days=10))
    login(cast.email("reviewer"))
    url = f"/validations/{ids['validation']}/visits/new"
    refused = client.post(url, data=visit_form(ids["us_site"], day, override_reason="Urgent"))
    assert "at least 30 days are required" in _errors(refused) and "Only a supervisor" in _errors(refused)
    supervisor = app.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    no_reason = supervisor.post(url, data=visit_form(ids["us_site"], day))
    assert "give the reason for overriding" in _errors(no_reason)
    assert supervisor.post(url, data=visit_form(ids["us_site"], day,
                                                override_reason="Post-incident visit")).status_code == 302
    past = supervisor.post(url, data=visit_form(ids["us_site"], date.today() - timedelta(days=3),
                                                override_reason="x"))
    assert "must start in the future" in _errors(past)
    with app.app_context():
        visit = db_session.scalar(select(Visit))
        assert visit.notice_override_reason == "Post-incident visit"
        assert visit.notice_override_by_id == cast.users["supervisor"].id


def test_partner_blackout_dates_are_respected(app, client, login, cast):
    ids = planned(app, cast)
    day = _soon()
    login(cast.email("employee_a"))
    response = client.post(f"/companies/{cast.company_a.id}/blackouts", data={
        "starts_on": (day - timedelta(days=1)).isoformat(), "ends_on": day.isoformat(), "reason": "Plant shutdown"})
    assert response.status_code == 302
    bad = client.post(f"/companies/{cast.company_a.id}/blackouts", data={
        "starts_on": day.isoformat(), "ends_on": (day - timedelta(days=2)).isoformat(), "reason": "x"})
    assert "must not be before" in _errors(bad)
    with app.app_context():
        with pytest.raises(DomainError, match="Plant shutdown"):
            visits.schedule_visit(db_session.get(Validation, ids["validation"]),
                                  db_session.get(ValidationSite, ids["us_site"]), window(day),
                                  by=user("reviewer", cast))
    reader = app.test_client()
    login(cast.email("readonly_a"), test_client=reader)
    assert reader.get(f"/companies/{cast.company_a.id}/blackouts").status_code == 200
    assert reader.post(f"/companies/{cast.company_a.id}/blackouts", data={}).status_code == 403


# -- the partner's answer and the team's reply -------------------------------------------------------


def test_the_partner_proposes_another_window_and_the_reviewer_accepts_it(app, client, login, cast):
    ids = planned(app, cast)
    day = _soon()
    visit_id = schedule(app, cast, ids, day)
    login(cast.email("officer_a"))
    page = client.get(f"/visits/{visit_id}/respond").get_data(as_text=True)
    assert "America/Chicago" in page and "Riley Reviewer" in page
    later = day + timedelta(days=7)
    no_reason = client.post(f"/visits/{visit_id}/respond", data={
        "decision": "propose", "start_date": later.isoformat(), "start_time": "10:00",
        "end_date": later.isoformat(), "end_time": "15:00"})
    assert "does not suit you" in _errors(no_reason)
    assert client.post(f"/visits/{visit_id}/respond", data={
        "decision": "propose", "start_date": later.isoformat(), "start_time": "10:00", "end_date": later.isoformat(),
        "end_time": "15:00", "reason": "Our security manager is away that week."}).status_code == 302
    with app.app_context():
        visit = db_session.get(Visit, visit_id)
        assert visit.status == VisitStatus.COUNTER_PROPOSED and visit.proposal_reason.startswith("Our security")
        version, uid = visit.version, visit.uid
    staff = app.test_client()
    login(cast.email("reviewer"), test_client=staff)
    assert "Our security manager is away" in staff.get(f"/validations/{ids['validation']}").get_data(as_text=True)
    assert staff.post(f"/visits/{visit_id}/accept", data={"version": version}).status_code == 302
    with app.app_context():
        visit = db_session.get(Visit, visit_id)
        assert visit.status == VisitStatus.CONFIRMED and visit.sequence == 1 and visit.uid == uid
        assert visit.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago")).hour == 10


def test_a_stale_reschedule_gets_the_409_page_with_both_values(app, client, login, cast):
    ids = planned(app, cast)
    day = _soon()
    visit_id = schedule(app, cast, ids, day)
    with app.app_context():
        old_version = db_session.get(Visit, visit_id).version
        visits.reschedule_visit(db_session.get(Visit, visit_id), window(day + timedelta(days=3)),
                                by=user("reviewer2", cast), expected_version=old_version)
        db_session.commit()
    login(cast.email("reviewer"))
    response = client.post(f"/visits/{visit_id}/reschedule", data=visit_form(None, day + timedelta(days=5),
                                                                              version=str(old_version)))
    assert response.status_code == 409
    page = _errors(response)
    assert "Your version" in page and "The saved version" in page and "proposed to the partner" in page


def test_rescheduling_asks_the_partner_again_and_keeps_the_uid(app, client, login, cast):
    ids = planned(app, cast)
    day = _soon()
    visit_id = schedule(app, cast, ids, day)
    with app.app_context():
        visits.confirm_visit(db_session.get(Visit, visit_id), by=user("officer_a", cast))
        db_session.commit()
        version = db_session.get(Visit, visit_id).version
    login(cast.email("reviewer"))
    form = client.get(f"/visits/{visit_id}/reschedule").get_data(as_text=True)
    assert day.isoformat() in form and "America/Chicago" in form
    assert client.post(f"/visits/{visit_id}/reschedule", data=visit_form(None, day + timedelta(days=2),
                                                                          version=str(version))).status_code == 302
    with app.app_context():
        visit = db_session.get(Visit, visit_id)
        assert visit.status == VisitStatus.PROPOSED and visit.sequence == 1


# -- suggestion --------------------------------------------------------------------------------------


def test_suggest_finds_the_earliest_free_window_for_the_team(app, client, login, cast):
    ids = planned(app, cast)
    start = next_weekday(date.today() + timedelta(days=35))
    while start.weekday() != 0:  # a Monday, so the first two working days are Monday and Tuesday
        start += timedelta(days=1)
    schedule(app, cast, ids, start)  # the team is busy on Monday
    login(cast.email("reviewer"))
    response = client.get(f"/validations/{ids['validation']}/suggest", query_string={
        "site_id": ids["us_site"], "from_day": start.isoformat(), "to_day": (start + timedelta(days=20)).isoformat(),
        "days": "2", "timezone": "America/Chicago"})
    page = _errors(response)
    assert response.status_code == 200 and "Earliest free window" in page
    tuesday = start + timedelta(days=1)
    assert tuesday.strftime("%b %d, %Y") in page
    assert f"start_date={tuesday.isoformat()}" in page  # the link that pre-fills the visit form
    prefilled = client.get(f"/validations/{ids['validation']}/visits/new", query_string={
        "site_id": ids["us_site"], "start_date": tuesday.isoformat(), "end_date": (tuesday + timedelta(days=1))
        .isoformat(), "start_time": "09:00", "end_time": "17:00", "timezone": "America/Chicago"})
    assert tuesday.isoformat() in prefilled.get_data(as_text=True)
    none = client.get(f"/validations/{ids['validation']}/suggest", query_string={
        "site_id": ids["us_site"], "from_day": start.isoformat(), "to_day": start.isoformat(), "days": "1",
        "timezone": "America/Chicago"})
    assert "No free window" in _errors(none)
    assert "Earliest free window" not in client.get(f"/validations/{ids['validation']}/suggest").get_data(
        as_text=True)


# -- calendars ---------------------------------------------------------------------------------------


def test_the_visit_ics_parses_back_with_its_fields(app, client, login, cast):
    ids = planned(app, cast)
    day = _soon()
    visit_id = schedule(app, cast, ids, day, days=2)
    login(cast.email("officer_a"))
    response = client.get(f"/visits/{visit_id}/visit.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    [event] = Calendar.from_ical(response.data).walk("VEVENT")
    with app.app_context():
        visit = db_session.get(Visit, visit_id)
        assert str(event["UID"]) == f"visit-{visit.uid}@ctpat-portal.example"
        assert event.decoded("DTSTART") == visit.starts_at and event.decoded("DTEND") == visit.ends_at
        assert str(event["LOCATION"]) == visit.site.address.one_line
    assert "DTSTAMP" in event and str(event["STATUS"]) == "TENTATIVE"
    assert "America/Chicago" in str(event["DESCRIPTION"])
    other = app.test_client()
    login(cast.email("officer_b"), test_client=other)
    assert other.get(f"/visits/{visit_id}/visit.ics").status_code == 404


def test_the_feed_token_shows_my_visits_until_it_is_revoked(app, client, login, cast):
    ids = planned(app, cast)
    visit_id = schedule(app, cast, ids, _soon())
    login(cast.email("reviewer2"))
    page = client.post("/calendar/feed", data={"create": "1"}).get_data(as_text=True)
    feed_url = page.split('id="feed-url" readonly value="')[1].split('"')[0]
    path = feed_url.replace("http://localhost", "")
    anonymous = app.test_client()
    feed = anonymous.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    with app.app_context():
        uid = db_session.get(Visit, visit_id).uid
    assert [str(e["UID"]) for e in Calendar.from_ical(feed.data).walk("VEVENT")] == [
        f"visit-{uid}@ctpat-portal.example"]
    # A new link revokes the old one; revoking ends the new one too.
    second = client.post("/calendar/feed", data={"create": "1"}).get_data(as_text=True)
    new_path = second.split('id="feed-url" readonly value="')[1].split('"')[0].replace("http://localhost", "")
    assert anonymous.get(path).status_code == 404
    assert anonymous.get(new_path).status_code == 200
    assert client.post("/calendar/feed", data={"revoke": "1"}).status_code == 302
    assert anonymous.get(new_path).status_code == 404
    assert anonymous.get("/calendar/feed/not-a-token.ics").status_code == 404
    with app.app_context():
        from portal.validations.models import CalendarFeedToken

        assert all(row.token_hash not in new_path for row in db_session.scalars(select(CalendarFeedToken)))


def test_the_month_calendar_shows_my_visits_in_local_time(app, client, login, cast):
    ids = planned(app, cast)
    day = _soon()
    schedule(app, cast, ids, day)
    login(cast.email("reviewer"))
    page = client.get("/calendar", query_string={"month": day.strftime("%Y-%m")}).get_data(as_text=True)
    assert "Alpha Imports Inc.: Chicago DC (US)" in page and "09:00 C" in page
    assert day.strftime("%B %Y") in page
    assert "Alpha Imports" not in client.get("/calendar", query_string={"month": "2001-01"}).get_data(as_text=True)
    assert client.get("/calendar", query_string={"month": "garbage"}).status_code == 200
    other = app.test_client()
    login(cast.email("supervisor"), test_client=other)
    assert "Alpha Imports Inc.: Chicago" not in other.get(
        "/calendar", query_string={"month": day.strftime("%Y-%m")}).get_data(as_text=True)


def test_blackout_belongs_to_its_company(app, client, login, cast):
    with app.app_context():
        row = visits.add_blackout(db_session.get(Company, cast.company_b.id), _soon(), _soon(), "Holiday",
                                  by=user("officer_b", cast))
        db_session.commit()
        row_id = row.id
    login(cast.email("officer_a"))
    assert client.post(f"/companies/{cast.company_a.id}/blackouts/{row_id}/delete").status_code == 404
    assert client.post(f"/companies/{cast.company_b.id}/blackouts/{row_id}/delete").status_code == 404

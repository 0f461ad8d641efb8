"""The audit viewer (issue 8, item 2): /audit for CBP supervisors and admins with filters by company, actor,
action and date range, newest first, in pages; /companies/<id>/history for the company's officer with
only that company's events, and of CBP's only those the partner is told about."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from portal import audit
from portal.auth.models import User
from portal.db import db_session


def _event(action: str, *, actor_key: str | None, cast, company=None, summary: str = "", at=None, clock=None):
    if clock is not None and at is not None:
        clock.now = at
    actor = db_session.get(User, cast.users[actor_key].id) if actor_key else None
    audit.record(action, actor=actor, company_id=company.id if company else None, summary=summary)


@pytest.fixture
def trail(app, cast, clock):
    """A known set of events on three days (Eastern Time), in two companies."""
    start = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 11:00 in New York
    with app.app_context():
        _event("answer.saved", actor_key="officer_a", cast=cast, company=cast.company_a, summary="A answer",
               at=start, clock=clock)
        _event("review.rated", actor_key="reviewer", cast=cast, company=cast.company_a, summary="internal rating",
               at=start + timedelta(hours=1), clock=clock)
        _event("review.decided", actor_key="supervisor", cast=cast, company=cast.company_a, summary="Certified",
               at=start + timedelta(days=1), clock=clock)
        _event("answer.saved", actor_key="officer_b", cast=cast, company=cast.company_b, summary="B answer",
               at=start + timedelta(days=1, hours=1), clock=clock)
        _event("user.staff_created", actor_key="admin", cast=cast, summary="Created reviewer",
               at=start + timedelta(days=2), clock=clock)
        db_session.commit()
    clock.now = start + timedelta(days=3)
    return start


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<code>([a-z_.]+)</code>", body)


def _summaries(html: str) -> list[str]:
    return re.findall(r'<td class="portal-preformatted">(.*?)</td>', html, re.S)


# -- access ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("actor", "status"), [("officer_a", 404), ("readonly_a", 404), ("reviewer", 403),
                                               ("supervisor", 200), ("admin", 200)])
def test_the_trail_is_for_supervisors_and_admins(client, cast, login, actor, status):
    login(cast.email(actor))
    assert client.get("/audit").status_code == status


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/audit")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize(("actor", "status"), [("officer_a", 200), ("employee_a", 403), ("consultant_a", 403),
                                               ("readonly_a", 403), ("officer_b", 404), ("reviewer", 403),
                                               ("admin", 403)])
def test_the_company_history_is_for_its_officer(client, cast, login, actor, status):
    login(cast.email(actor))
    assert client.get(f"/companies/{cast.company_a.id}/history").status_code == status


def test_navigation_and_company_page_link_to_the_viewers(client, cast, login):
    login(cast.email("supervisor"))
    assert 'href="/audit"' in client.get("/dashboard").get_data(as_text=True)
    officer = client.application.test_client()
    login(cast.email("officer_a"), test_client=officer)
    page = officer.get(f"/companies/{cast.company_a.id}").get_data(as_text=True)
    assert f'href="/companies/{cast.company_a.id}/history"' in page
    assert 'href="/audit"' not in page
    employee = client.application.test_client()
    login(cast.email("employee_a"), test_client=employee)
    assert "/history" not in employee.get(f"/companies/{cast.company_a.id}").get_data(as_text=True)
    reviewer = client.application.test_client()
    login(cast.email("reviewer"), test_client=reviewer)
    assert 'href="/audit"' not in reviewer.get("/dashboard").get_data(as_text=True)


# -- filters --------------------------------------------------------------------------------------------

def test_newest_first_with_every_event(app, client, cast, login, trail):
    login(cast.email("admin"))
    html = client.get("/audit?action=").get_data(as_text=True)
    summaries = [s for s in _summaries(html) if s in {"A answer", "internal rating", "Certified", "B answer",
                                                        "Created reviewer"}]
    assert summaries == ["Created reviewer", "B answer", "Certified", "internal rating", "A answer"]


def test_filter_by_company_actor_action_and_dates(app, client, cast, login, trail):
    login(cast.email("supervisor"))
    by_company = client.get(f"/audit?company={cast.company_b.id}").get_data(as_text=True)
    assert "B answer" in _summaries(by_company)
    assert all(s not in _summaries(by_company) for s in ("A answer", "Certified"))

    by_actor = client.get("/audit?actor=REVIEWER@cbp").get_data(as_text=True)
    assert "internal rating" in _summaries(by_actor) and "A answer" not in _summaries(by_actor)

    page = client.get("/audit?action=answer.saved")
    html = page.get_data(as_text=True)
    assert set(_rows(html)) == {"answer.saved"} and len(_rows(html)) >= 2
    # The action filter is a select of the actions that occur.
    options = re.findall(r'<option[^>]*value="([a-z_.]+)"', html)
    assert {"answer.saved", "review.rated", "review.decided", "user.staff_created"} <= set(options)
    assert options == sorted(options)

    # Dates are days in Eastern Time: 2026-03-11 holds the decision and company B's answer.
    day = client.get("/audit?date_from=2026-03-11&date_to=2026-03-11").get_data(as_text=True)
    assert _summaries(day) == ["B answer", "Certified"]
    since = client.get("/audit?date_from=2026-03-12").get_data(as_text=True)
    assert "Created reviewer" in _summaries(since) and "Certified" not in _summaries(since)

    combined = client.get(f"/audit?company={cast.company_a.id}&action=review.decided&date_to=2026-03-11")
    assert _summaries(combined.get_data(as_text=True)) == ["Certified"]


def test_invalid_filters_are_shown_in_the_error_summary(client, cast, login, trail):
    login(cast.email("admin"))
    response = client.get("/audit?date_from=2026-03-12&date_to=2026-03-10&company=99999")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in html and "The end date must be on or after the start date." in html
    bad_date = client.get("/audit?date_from=yesterday")
    assert bad_date.status_code == 200 and "There is a problem" in bad_date.get_data(as_text=True)


def test_pages_of_fifty(app, client, cast, login, clock):
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with app.app_context():
        for n in range(60):
            _event("test.event", actor_key="officer_a", cast=cast, company=cast.company_a, summary=f"event {n:02d}",
                   at=start + timedelta(minutes=n), clock=clock)
        db_session.commit()
    login(cast.email("admin"))
    first = client.get("/audit?action=test.event").get_data(as_text=True)
    assert _summaries(first)[:2] == ["event 59", "event 58"] and len(_summaries(first)) == 50
    assert "Events 1 to 50 of 60" in first
    assert 'href="/audit?page=2&amp;action=test.event"' in first or "page=2" in first
    second = client.get("/audit?action=test.event&page=2").get_data(as_text=True)
    assert _summaries(second) == [f"event {n:02d}" for n in range(9, -1, -1)]
    beyond = client.get("/audit?action=test.event&page=99").get_data(as_text=True)
    assert _summaries(beyond) == _summaries(second), "a page past the end shows the last page"
    assert client.get("/audit?page=abc").status_code == 200


def test_the_export_link_carries_the_filters_for_admins(client, cast, login, trail):
    login(cast.email("admin"))
    html = client.get(f"/audit?company={cast.company_a.id}&action=answer.saved").get_data(as_text=True)
    link = re.search(r'href="(/admin/audit-events\.xlsx[^"]*)"', html)
    assert link, "admins get the Excel download of the filtered view"
    assert f"company_id={cast.company_a.id}" in link.group(1) and "action=answer.saved" in link.group(1)
    supervisor = client.application.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    assert "audit-events.xlsx" not in supervisor.get("/audit").get_data(as_text=True)


# -- a company's own history ----------------------------------------------------------------------------

def test_the_officer_sees_the_company_events_and_cbp_decisions_only(client, cast, login, trail):
    login(cast.email("officer_a"))
    html = client.get(f"/companies/{cast.company_a.id}/history").get_data(as_text=True)
    summaries = _summaries(html)
    assert "A answer" in summaries and "Certified" in summaries
    assert "B answer" not in summaries, "another company's event"
    assert "internal rating" not in summaries, "CBP's internal review steps stay internal"
    assert "Created reviewer" not in summaries
    assert "supervisor@cbp.example" not in html and "<td>CBP</td>" in html
    assert "IP address" not in html
    options = re.findall(r'<option[^>]*value="([a-z_.]+)"', html)
    assert "review.rated" not in options and "answer.saved" in options
    filtered = client.get(f"/companies/{cast.company_a.id}/history?action=review.decided").get_data(as_text=True)
    assert _summaries(filtered) == ["Certified"]

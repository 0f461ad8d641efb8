"""The validation dashboard reads a fixed number of statements however many validations are open:
the team of each validation, the partner answers to review and the accounts shown are read for all
of them at once, never one validation at a time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, update

from portal.companies.models import TradeAccount
from portal.companies.workflow import AccountStatus
from portal.db import db_session
from portal.reviews.models import Review
from portal.validations.models import Finding, Validation, validation_members
from portal.validations.workflow import FindingKind, FindingStatus, ValidationKind, ValidationStatus
from tests.functional.test_queue import bulk_reviews


def _open_validations(cast: Any, count: int, *, name: str) -> None:
    """``count`` certified accounts, each with an open validation led by reviewer with reviewer2 on the
    team and one partner answer to review; the first has its report awaiting a supervisor."""
    review_ids = bulk_reviews(count, cast.users["officer_a"].id, start=datetime(2026, 1, 1, tzinfo=UTC),
                              certified_on=date.today() - timedelta(days=300), name=lambda i: f"{name} {i} LLC")
    account_ids = [db_session.get(Review, review_id).profile.account_id for review_id in review_ids]
    db_session.execute(update(TradeAccount).where(TradeAccount.id.in_(account_ids)).values(
        status=AccountStatus.CERTIFIED, next_validation_due=date.today() + timedelta(days=40)))
    for n, account_id in enumerate(account_ids):
        validation = Validation(account_id=account_id, kind=ValidationKind.INITIAL, due_on=date.today(),
                                lead_id=cast.users["reviewer"].id,
                                status=ValidationStatus.REPORT_SUBMITTED if n == 0 else ValidationStatus.PLANNED)
        db_session.add(validation)
        db_session.flush()
        db_session.execute(insert(validation_members).values(validation_id=validation.id,
                                                             user_id=cast.users["reviewer2"].id))
        db_session.add(Finding(validation_id=validation.id, criterion_id="1.1", kind=FindingKind.REQUIRED_ACTION,
                               text="Seal log", status=FindingStatus.ANSWERED))
    db_session.commit()


def _statements(app: Any, client: Any) -> tuple[int, str]:
    engine = app.extensions["db_engine"]
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/validations")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen), response.get_data(as_text=True)


def test_the_dashboard_reads_the_same_statements_for_2_and_12_open_validations(app, client, login, cast):
    with app.app_context():
        _open_validations(cast, 2, name="First")
    login(cast.email("reviewer2"))
    few, html = _statements(app, client)
    assert html.count("First 0 LLC") >= 2 and "2 partner answer(s) to review" in html
    with app.app_context():
        _open_validations(cast, 10, name="Second")
    many, html = _statements(app, client)
    assert "12 partner answer(s) to review" in html and "Second 9 LLC" in html
    assert many == few, f"{few} statements for 2 open validations, {many} for 12"
    # A supervisor outside the teams sees the reports awaiting approval; reviewer2 (on the team) does not.
    assert "/report/decision" not in html
    supervisor = app.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    page = supervisor.get("/validations").get_data(as_text=True)
    assert page.count("/report/decision") == 2 and "Reports awaiting my approval" in page


def test_each_list_shows_its_25_most_urgent_and_opens_in_pages(app, client, login, cast):
    with app.app_context():
        review_ids = bulk_reviews(130, cast.users["officer_a"].id, start=datetime(2026, 1, 1, tzinfo=UTC),
                                  certified_on=date.today() - timedelta(days=300), name=lambda i: f"Due {i:03d} LLC")
        account_ids = [db_session.get(Review, review_id).profile.account_id for review_id in review_ids]
        for n, account_id in enumerate(account_ids):  # all due in 40 to 83 days: the "within 90 days" list
            db_session.execute(update(TradeAccount).where(TradeAccount.id == account_id).values(
                status=AccountStatus.CERTIFIED, next_validation_due=date.today() + timedelta(days=40 + n // 3)))
        db_session.commit()
    login(cast.email("reviewer"))

    def page(url: str) -> tuple[list[str], str]:
        response = client.get(url)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        part = html[html.index('id="due-90"'):html.index('id="annual-heading"')]
        return list(dict.fromkeys(re.findall(r"Due \d{3} LLC", part))), part  # each row names it twice

    names, part = page("/validations")
    assert names == [f"Due {n:03d} LLC" for n in range(25)]                  # the soonest due first
    assert "The 25 most urgent of 130 are shown." in part and 'href="/validations?list=90#due-90">Show all 130' in part
    names, part = page("/validations?list=90")
    assert names == [f"Due {n:03d} LLC" for n in range(100)] and "Showing 1 to 100 of 130." in part
    # The page links come back to the list, not to the top of the dashboard.
    assert re.search(r'href="/validations\?[^"]*page=2[^"]*#due-90"', part)
    names, part = page("/validations?list=90&page=2")
    assert names == [f"Due {n:03d} LLC" for n in range(100, 130)] and "Showing 101 to 130 of 130." in part
    # Pages beyond the end and unknown lists fall back instead of failing.
    assert page("/validations?list=90&page=9")[0] == names
    assert len(page("/validations?list=nonsense&page=abc")[0]) == 25


def test_the_partner_dashboard_reads_the_profiles_of_all_accounts_in_one_query(app, client, login, cast):
    """A company with an account per business type: each account links its own profile, and the
    profiles are read in one statement, not one per account."""
    from portal.companies.business_types import BusinessType
    from tests import factories

    with app.app_context():
        officer = db_session.get(type(cast.users["officer_a"]), cast.users["officer_a"].id)
        company = db_session.get(type(cast.company_a), cast.company_a.id)
        extra = [factories.account(company, officer, kind) for kind in (BusinessType.HIGHWAY_CARRIER,
                                                                       BusinessType.FOREIGN_MANUFACTURER)]
        profile_ids = [factories.profile_of(account).id for account in (cast.account_a, *extra)]
        db_session.commit()
    login(cast.email("officer_a"))
    seen: list[str] = []
    engine = app.extensions["db_engine"]

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        html = client.get("/dashboard").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert all(f'href="/profiles/{profile_id}/dashboard"' in html for profile_id in profile_ids)
    assert sum("FROM security_profiles" in s for s in seen) == 1

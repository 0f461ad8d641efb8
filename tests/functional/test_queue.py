"""The review queue (filters, search, sorting, pages, overdue, take and assign, a constant number of
SQL statements), the reviewer and supervisor dashboards, and the notifications inbox (issue 4, items
1, 6 and 7)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from portal import pagination
from portal.auth.models import User
from portal.companies.business_types import BusinessType
from portal.companies.identifiers import IdentifierKind
from portal.companies.models import Address, BusinessIdentifier, Company, TradeAccount
from portal.companies.workflow import AccountStatus, AddressKind, OwnershipType
from portal.db import db_session
from portal.notifications.inbox import Notification
from portal.profiles.models import ProfileVersion, SecurityProfile
from portal.profiles.submission import submit_profile
from portal.profiles.workflow import ProfileStatus
from portal.reviews import dashboards, queue, services
from portal.reviews.decision_months import rebuild_decision_months
from portal.reviews.models import Review
from portal.reviews.workflow import Recommendation, ReviewStatus
from tests import factories

_numbers = itertools.count(1)


# -- builders --------------------------------------------------------------------------------------


def bulk_reviews(count: int, officer_id: int, *, start: datetime, step: timedelta = timedelta(minutes=1),
                 name: Callable[[int], str] | None = None, dba: str | None = None,
                 business_type: BusinessType = BusinessType.IMPORTER, status: ReviewStatus = ReviewStatus.WAITING,
                 reviewer_id: int | None = None, country: str = "US", certified_on: date | None = None,
                 identifier: str | None = None) -> list[int]:
    """Insert ``count`` submitted profiles with their review rows straight through the ORM (no
    questionnaire), the i-th submitted at ``start + i * step``. Returns the review ids in that order."""
    numbers = [next(_numbers) for _ in range(count)]
    companies = [Company(legal_name=name(i) if name else f"Bulk Trading {n:05d} LLC", dba=dba,
                         ownership_type=OwnershipType.LLC, phone="+1 202 555 0100")
                 for i, n in enumerate(numbers)]
    db_session.add_all(companies)
    db_session.flush()
    db_session.add_all([Address(company_id=c.id, kind=AddressKind.HEADQUARTERS, line1=f"{n} Dock Rd", city="Laredo",
                                country=country) for c, n in zip(companies, numbers, strict=True)])
    accounts = [TradeAccount(company_id=c.id, business_type=business_type, account_number=f"QA{n:08d}",
                             status=AccountStatus.CERTIFIED if certified_on else AccountStatus.APPLICANT,
                             certified_on=certified_on)
                for c, n in zip(companies, numbers, strict=True)]
    db_session.add_all(accounts)
    db_session.flush()
    db_session.add_all([BusinessIdentifier(account_id=a.id, kind=IdentifierKind.SCAC,
                                           value=identifier or f"Q{n:03d}"[-4:])
                        for a, n in zip(accounts, numbers, strict=True)])
    submitted = [start + i * step for i in range(count)]
    profiles = [SecurityProfile(account_id=a.id, catalog_id="msc-2019", status=ProfileStatus.SUBMITTED,
                                current_version=1, submitted_at=when)
                for a, when in zip(accounts, submitted, strict=True)]
    db_session.add_all(profiles)
    db_session.flush()
    db_session.add_all([ProfileVersion(profile_id=p.id, number=1, catalog_id="msc-2019", content={"criteria": []},
                                       sha256="0" * 64, submitted_at=when, submitted_by_id=officer_id,
                                       attested_name="Bulk Officer", attestation_text="Bulk.")
                        for p, when in zip(profiles, submitted, strict=True)])
    reviews = [Review(profile_id=p.id, version_number=1, status=status, submitted_at=when, clock_started_at=when,
                      reviewer_id=reviewer_id, assigned_at=when if reviewer_id else None)
               for p, when in zip(profiles, submitted, strict=True)]
    db_session.add_all(reviews)
    db_session.flush()
    return [r.id for r in reviews]


def submit_cast_account(account_id: int, officer_id: int) -> int:
    """Answer and submit a cast account's profile through the real services; returns the review id."""
    officer = db_session.get(User, officer_id)
    profile = db_session.scalar(select(SecurityProfile).where(SecurityProfile.account_id == account_id))
    factories.answer_all(profile)
    submit_profile(profile, officer.full_name, by=officer)
    return db_session.scalar(select(Review.id).where(Review.profile_id == profile.id))


def set_review(review_id: int, **values: Any) -> None:
    db_session.execute(update(Review).where(Review.id == review_id).values(**values)
                       .execution_options(synchronize_session=False))


def row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-review-id="(\d+)"', html)]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def ids(cast: factories.Cast) -> dict[str, int]:
    return {key: user.id for key, user in cast.users.items()}


def get(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# -- access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["officer_a", "employee_a", "readonly_a", "officer_b"])
def test_trade_users_get_404_on_every_queue_route(app, client, login, cast, ids, who):
    with app.app_context():
        review_id = bulk_reviews(1, ids["officer_a"], start=now())[0]
        db_session.commit()
    login(cast.email(who))
    assert client.get("/reviews").status_code == 404
    assert client.get("/reviews?status=all&page=2").status_code == 404
    assert client.get("/reviews/dashboard").status_code == 404
    assert client.post(f"/reviews/{review_id}/take").status_code == 404
    assert client.post("/reviews/assign", data={"review_ids": review_id,
                                                "reviewer_id": ids["reviewer"]}).status_code == 404
    with app.app_context():
        assert db_session.get(Review, review_id).reviewer_id is None


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in ("/reviews", "/reviews/dashboard", "/notifications"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("who", ["reviewer", "supervisor", "admin"])
def test_staff_see_the_queue_and_the_dashboard(client, login, cast, who):
    login(cast.email(who))
    assert "Review queue" in get(client, "/reviews")
    assert "Review dashboard" in get(client, "/reviews/dashboard")


def test_the_staff_dashboard_links_to_the_queue_and_the_review_dashboard(client, login, cast):
    login(cast.email("reviewer"))
    html = get(client, "/dashboard")
    assert 'href="/reviews"' in html and 'href="/reviews/dashboard"' in html


# -- the queue: rows, filters, search --------------------------------------------------------------


def test_a_submitted_profile_appears_with_every_column(app, client, login, cast, ids):
    with app.app_context():
        review_id = submit_cast_account(cast.account_b.id, ids["officer_b"])
        db_session.commit()
        account_number = db_session.get(TradeAccount, cast.account_b.id).account_number
    login(cast.email("reviewer"))
    html = get(client, "/reviews")
    assert row_ids(html) == [review_id]
    row = html[html.index(f'data-review-id="{review_id}"'):]
    row = row[:row.index("</tr>")]
    assert "Bravo Manufacturing S.A." in row and account_number in row
    assert "Foreign Manufacturer" in row
    assert ">MX<" in row                       # headquarters country
    assert '<td data-label="Version">1</td>' in row
    assert "89 days" in row or "90 days" in row  # days left to the 90-day target
    assert "Unassigned" in row and "Waiting" in row
    assert f'href="/reviews/{review_id}"' in row
    assert "Overdue" not in row


def test_status_filter_defaults_to_open_reviews(app, client, login, cast, ids):
    start = now() - timedelta(days=5)
    with app.app_context():
        by_status = {status: bulk_reviews(1, ids["officer_a"], start=start, status=status,
                                          reviewer_id=ids["reviewer"] if status != ReviewStatus.WAITING else None)[0]
                     for status in ReviewStatus}
        db_session.commit()
    login(cast.email("reviewer"))
    assert set(row_ids(get(client, "/reviews"))) == {by_status[s] for s in ReviewStatus if s != ReviewStatus.DECIDED}
    for status in ReviewStatus:
        assert row_ids(get(client, f"/reviews?status={status.value}")) == [by_status[status]]
    assert set(row_ids(get(client, "/reviews?status=all"))) == set(by_status.values())
    # An unknown status falls back to the default.
    assert len(row_ids(get(client, "/reviews?status=bogus"))) == 3


def test_business_type_filter(app, client, login, cast, ids):
    with app.app_context():
        importers = bulk_reviews(2, ids["officer_a"], start=now())
        carriers = bulk_reviews(1, ids["officer_a"], start=now(), business_type=BusinessType.HIGHWAY_CARRIER)
        db_session.commit()
    login(cast.email("reviewer"))
    assert row_ids(get(client, "/reviews?business_type=highway_carrier")) == carriers
    assert row_ids(get(client, "/reviews?business_type=importer")) == importers
    assert len(row_ids(get(client, "/reviews?business_type=nonsense"))) == 3


def test_assigned_to_me_and_unassigned_filters(app, client, login, cast, ids):
    with app.app_context():
        mine = bulk_reviews(2, ids["officer_a"], start=now(), reviewer_id=ids["reviewer"])
        theirs = bulk_reviews(1, ids["officer_a"], start=now(), reviewer_id=ids["reviewer2"])
        nobody = bulk_reviews(3, ids["officer_a"], start=now())
        db_session.commit()
    login(cast.email("reviewer"))
    assert row_ids(get(client, "/reviews?assigned=me")) == mine
    assert row_ids(get(client, "/reviews?assigned=none")) == nobody
    assert set(row_ids(get(client, "/reviews"))) == set(mine + theirs + nobody)
    html = get(client, "/reviews?assigned=me")
    assert "Riley Reviewer" in html


def test_overdue_filter_and_tag(app, client, login, cast, ids):
    with app.app_context():
        late = bulk_reviews(2, ids["officer_a"], start=now() - timedelta(days=95))
        fresh = bulk_reviews(2, ids["officer_a"], start=now() - timedelta(days=10))
        decided_late = bulk_reviews(1, ids["officer_a"], start=now() - timedelta(days=200),
                                    status=ReviewStatus.DECIDED)
        db_session.commit()
    login(cast.email("reviewer"))
    assert row_ids(get(client, "/reviews?overdue=1")) == late
    assert row_ids(get(client, "/reviews?overdue=1&status=all")) == late  # a decided review is never overdue
    html = get(client, "/reviews")
    for review_id in late:
        row = html[html.index(f'data-review-id="{review_id}"'):]
        row = row[:row.index("</tr>")]
        assert 'data-overdue="true"' in row and ">Overdue</span>" in row and "days past" in row
    for review_id in fresh:
        row = html[html.index(f'data-review-id="{review_id}"'):]
        assert "Overdue" not in row[:row.index("</tr>")]
    assert decided_late[0] not in row_ids(html)


def test_overdue_after_91_days_on_the_moving_clock(app, client, login, cast, ids, clock):
    with app.app_context():
        review_id = submit_cast_account(cast.account_a.id, ids["officer_a"])
        db_session.commit()
    clock.advance(days=89)
    login(cast.email("reviewer"))
    assert row_ids(get(client, "/reviews?overdue=1")) == []
    clock.advance(days=2)
    later = app.test_client()                      # the first session has long timed out
    login(cast.email("reviewer"), test_client=later)
    html = get(later, "/reviews?overdue=1")
    assert row_ids(html) == [review_id] and ">Overdue</span>" in html and "1 day past" in html


def test_target_counts_from_the_first_submission_of_an_applicant(app, cast, ids, db):
    """A resubmission after a return keeps the applicant's 90-day clock; a certified account's later
    submission starts its own."""
    reviewer = db.get(User, ids["reviewer"])
    long_ago, recently = now() - timedelta(days=100), now() - timedelta(days=5)
    applicant = bulk_reviews(1, ids["officer_a"], start=long_ago, status=ReviewStatus.DECIDED)[0]
    applicant_profile = db.get(Review, applicant).profile
    resubmitted = Review(profile_id=applicant_profile.id, version_number=2, status=ReviewStatus.WAITING,
                         submitted_at=recently, clock_started_at=services.clock_start(applicant_profile, recently))
    certified = bulk_reviews(1, ids["officer_a"], start=now() - timedelta(days=400), status=ReviewStatus.DECIDED,
                             certified_on=date.today() - timedelta(days=300))[0]
    certified_profile = db.get(Review, certified).profile
    later = Review(profile_id=certified_profile.id, version_number=2, status=ReviewStatus.WAITING,
                   submitted_at=recently, clock_started_at=services.clock_start(certified_profile, recently))
    db.add_all([resubmitted, later])
    db.flush()
    rows = {r.review_id: r for r in queue.queue_page(queue.QueueFilters(), queue.QueueSort(), 1, user=reviewer).rows}
    assert rows[resubmitted.id].overdue and rows[resubmitted.id].days_left == -10
    assert rows[resubmitted.id].target_at == long_ago + timedelta(days=90)
    assert not rows[later.id].overdue and rows[later.id].days_left == 85
    overdue = queue.queue_page(queue.QueueFilters(overdue=True), queue.QueueSort(), 1, user=reviewer)
    assert [r.review_id for r in overdue.rows] == [resubmitted.id]


def test_search_by_name_dba_identifier_and_account_number(app, client, login, cast, ids):
    with app.app_context():
        review_a = submit_cast_account(cast.account_a.id, ids["officer_a"])
        review_b = submit_cast_account(cast.account_b.id, ids["officer_b"])
        dba = bulk_reviews(1, ids["officer_a"], start=now(), name=lambda i: "Zeta Holdings Corp.",
                           dba="Harbor Freight Movers", identifier="ZZQX")[0]
        percent = bulk_reviews(1, ids["officer_a"], start=now(), name=lambda i: "100% Cargo Ltd")[0]
        account_number = db_session.get(TradeAccount, cast.account_b.id).account_number
        db_session.commit()
    login(cast.email("reviewer"))
    assert row_ids(get(client, "/reviews?q=alpha")) == [review_a]            # legal name, any case
    assert row_ids(get(client, "/reviews?q=BRAVO+manufacturing")) == [review_b]
    assert row_ids(get(client, "/reviews?q=harbor+freight")) == [dba]        # DBA
    assert row_ids(get(client, "/reviews?q=mxmaqnor12apo")) == [review_b]    # MID of company B
    assert row_ids(get(client, "/reviews?q=36-4812345")) == [review_a]       # IOR of company A
    assert row_ids(get(client, "/reviews?q=364812345")) == [review_a]        # without the dash
    assert row_ids(get(client, "/reviews?q=zzqx")) == [dba]                  # SCAC
    assert row_ids(get(client, f"/reviews?q={account_number.lower()}")) == [review_b]
    assert row_ids(get(client, "/reviews?q=%25")) == [percent]               # a literal %, not a wildcard
    html = get(client, "/reviews?q=nothing-like-this")
    assert row_ids(html) == [] and "No reviews match these filters" in html
    assert 'value="nothing-like-this"' in html                              # the form keeps the search


# -- sorting and pages -----------------------------------------------------------------------------


def test_sorting(app, client, login, cast, ids):
    base = now() - timedelta(days=30)
    names = ["Mango Imports", "apple Logistics", "Zebra Freight", "Kiwi Trade"]
    with app.app_context():
        created = bulk_reviews(4, ids["officer_a"], start=base, step=timedelta(days=1), name=lambda i: names[i])
        set_review(created[3], status=ReviewStatus.IN_PROGRESS, reviewer_id=ids["reviewer"])
        set_review(created[0], status=ReviewStatus.RECOMMENDED, reviewer_id=ids["reviewer"])
        db_session.commit()
    login(cast.email("reviewer"))
    oldest_first = created
    assert row_ids(get(client, "/reviews")) == oldest_first
    assert row_ids(get(client, "/reviews?sort=submitted&dir=desc")) == oldest_first[::-1]
    assert row_ids(get(client, "/reviews?sort=days_left")) == oldest_first        # fewest days left first
    assert row_ids(get(client, "/reviews?sort=days_left&dir=desc")) == oldest_first[::-1]
    by_name = [created[1], created[3], created[0], created[2]]                      # case-insensitive
    assert row_ids(get(client, "/reviews?sort=company")) == by_name
    assert row_ids(get(client, "/reviews?sort=company&dir=desc")) == by_name[::-1]
    # Workflow order: waiting, in review, awaiting approval; ties by submission date.
    assert row_ids(get(client, "/reviews?sort=status")) == [created[1], created[2], created[3], created[0]]
    assert row_ids(get(client, "/reviews?sort=nonsense")) == oldest_first
    html = get(client, "/reviews?sort=company&q=a")
    assert 'aria-sort="ascending"' in html
    assert "/reviews?q=a&amp;sort=company&amp;dir=desc" in html                    # the header toggles


def test_pagination_edges(app, client, login, cast, ids):
    with app.app_context():
        created = bulk_reviews(30, ids["officer_a"], start=now() - timedelta(days=20))
        db_session.commit()
    login(cast.email("reviewer"))
    first = get(client, "/reviews")
    assert row_ids(first) == created[:25]
    assert "Showing 1 to 25 of 30 reviews" in first
    assert 'class="usa-pagination"' in first and 'aria-current="page">1</a>' in first
    assert "/reviews?page=2" in first and "Next" in first
    second = get(client, "/reviews?page=2")
    assert row_ids(second) == created[25:] and "Showing 26 to 30 of 30 reviews" in second
    assert 'aria-current="page">2</a>' in second and "Previous" in second
    for bad in ("0", "-3", "abc", "", "1.5", "2e3x"):
        assert row_ids(get(client, f"/reviews?page={bad}")) == created[:25], bad
    assert row_ids(get(client, "/reviews?page=99")) == created[25:]                # beyond the end: last page
    assert row_ids(get(client, "/reviews?page=99999999999999999999")) == created[25:]
    # Filters and sort survive in the page links.
    html = get(client, "/reviews?status=all&sort=company&dir=desc")
    assert "/reviews?page=2&amp;status=all&amp;sort=company&amp;dir=desc" in html


def test_postgresql_plans_the_queue_statement_once(app, cast, ids, database_url):
    """The page statement is prepared by psycopg after 5 executions, one per page (LIMIT and OFFSET are in
    its text), and PostgreSQL then plans it once (a generic plan) instead of at every execution. With LIMIT
    and OFFSET as parameters, the generic plan of the program-scale queue was never chosen
    (docs/PERFORMANCE.md §5.17); here there would be one statement for both pages."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no prepared statements on the server")
    from sqlalchemy import text

    with app.app_context():
        bulk_reviews(60, ids["officer_a"], start=now() - timedelta(days=20))
        db_session.commit()
        reviewer = db_session.get(User, ids["reviewer"])
        for page in (1, 2) * 14:
            result = queue.queue_page(queue.QueueFilters(), queue.QueueSort(), page, user=reviewer)
            assert len(result.rows) == 25 and result.total == 60
        plans = db_session.execute(text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%page_ids%'")).all()
        # The supervisor dashboard's list awaiting approval: no parameter left, one plan from the start.
        for _ in range(8):
            dashboards.awaiting_approval()
        awaiting = db_session.execute(text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%recommender%'")).all()
        db_session.rollback()
    assert len(plans) == 2, "one prepared statement per page: the page is part of its text"
    for generic, custom in plans:
        assert generic >= 1 and custom <= 5, (generic, custom)
    assert len(awaiting) == 1 and awaiting[0][0] >= 1 and awaiting[0][1] == 0, awaiting


def test_an_empty_queue(client, login, cast):
    login(cast.email("supervisor"))
    html = get(client, "/reviews?page=3")
    assert "No reviews in the queue" in html and "usa-pagination" not in html


def test_page_numbers_with_ellipses():
    assert pagination.page_numbers(1, 1) == [1]
    assert pagination.page_numbers(1, 3) == [1, 2, 3]
    assert pagination.page_numbers(5, 10) == [1, None, 4, 5, 6, None, 10]
    assert pagination.page_numbers(3, 10) == [1, 2, 3, 4, None, 10]
    assert pagination.page_numbers(10, 10) == [1, None, 9, 10]


def test_parse_page():
    assert [pagination.parse_page(v) for v in (None, "", "x", "0", "-1", "1", " 7 ", 3)] == [1, 1, 1, 1, 1, 1, 7, 3]


# -- take and assign -------------------------------------------------------------------------------


def test_a_reviewer_takes_an_unassigned_review(app, client, login, cast, ids):
    with app.app_context():
        free, taken = bulk_reviews(2, ids["officer_a"], start=now())
        set_review(taken, reviewer_id=ids["reviewer2"])
        db_session.commit()
    login(cast.email("reviewer"))
    html = get(client, "/reviews")
    assert f'action="/reviews/{free}/take"' in html and f'action="/reviews/{taken}/take"' not in html
    assert "/assign" not in html                                         # reviewers do not assign
    response = client.post(f"/reviews/{free}/take")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/reviews/{free}")
    with app.app_context():
        assert db_session.get(Review, free).reviewer_id == ids["reviewer"]
    assert client.post(f"/reviews/{taken}/take").status_code == 403
    with app.app_context():
        assert db_session.get(Review, taken).reviewer_id == ids["reviewer2"]


def test_a_supervisor_assigns_and_reassigns_from_the_queue(app, client, login, cast, ids):
    with app.app_context():
        review_id = bulk_reviews(1, ids["officer_a"], start=now())[0]
        db_session.commit()
    login(cast.email("supervisor"))
    html = get(client, "/reviews?status=all&sort=company")
    assert 'action="/reviews/assign"' in html
    assert 'name="next" value="/reviews?status=all&amp;sort=company"' in html
    assert (f'id="select-{review_id}" type="checkbox" name="review_ids" value="{review_id}" form="assign-form"'
            in html)
    assert f'<label class="usa-checkbox__label" for="select-{review_id}">' in html
    response = client.post("/reviews/assign", data={"review_ids": review_id, "reviewer_id": ids["reviewer"],
                                                     "next": "/reviews?status=all&sort=company"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/reviews?status=all&sort=company")
    with app.app_context():
        assert db_session.get(Review, review_id).reviewer_id == ids["reviewer"]
    html = get(client, "/reviews")
    assert "1 review assigned to Riley Reviewer." in html
    assert "Riley Reviewer" in html[html.index(f'data-review-id="{review_id}"'):]
    client.post("/reviews/assign", data={"review_ids": review_id, "reviewer_id": ids["reviewer2"], "next": "/reviews"})
    with app.app_context():
        assert db_session.get(Review, review_id).reviewer_id == ids["reviewer2"]


def test_the_reviewer_list_appears_once_per_page_not_once_per_row(app, client, login, cast, ids):
    with app.app_context():
        bulk_reviews(5, ids["officer_a"], start=now())
        db_session.commit()
    login(cast.email("supervisor"))
    html = get(client, "/reviews")
    assert html.count('name="reviewer_id"') == 1
    assert html.count('name="review_ids"') == 5
    assert html.count(">Riley Reviewer</option>") == 1


def test_a_supervisor_assigns_several_reviews_at_once(app, client, login, cast, ids):
    with app.app_context():
        review_ids = bulk_reviews(3, ids["officer_a"], start=now())
        db_session.commit()
    login(cast.email("supervisor"))
    response = client.post("/reviews/assign", data={"review_ids": review_ids[:2], "reviewer_id": ids["reviewer"]},
                           follow_redirects=True)
    assert "2 reviews assigned to Riley Reviewer." in response.get_data(as_text=True)
    with app.app_context():
        assert [db_session.get(Review, i).reviewer_id for i in review_ids] == [ids["reviewer"]] * 2 + [None]


@pytest.mark.parametrize(("data", "message"), [
    ({}, "Select at least one review in the table."),
    ({"review_ids": "first"}, "The selection is not valid: reload the queue and tick the reviews again."),
    ({"review_ids": "{first}"}, "Choose a reviewer."),
    ({"review_ids": "{first}", "reviewer_id": "{officer}"}, "Not a valid choice"),
    ({"review_ids": ["{first}", "999999"], "reviewer_id": "{reviewer}"}, "no longer exist; nothing was assigned"),
    ({"review_ids": ["{first}", "{decided}"], "reviewer_id": "{reviewer}"}, "is already decided; nothing was assigned"),
])
def test_bad_assignments_change_nothing(app, client, login, cast, ids, data, message):
    with app.app_context():
        first = bulk_reviews(1, ids["officer_a"], start=now())[0]
        decided = bulk_reviews(1, ids["officer_a"], start=now(), status=ReviewStatus.DECIDED)[0]
        db_session.commit()
    values = {"first": first, "decided": decided, "officer": ids["officer_a"], "reviewer": ids["reviewer"]}

    def fill(value):
        return [fill(v) for v in value] if isinstance(value, list) else value.format(**values)

    login(cast.email("supervisor"))
    response = client.post("/reviews/assign", data={key: fill(value) for key, value in data.items()},
                           follow_redirects=True)
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db_session.get(Review, first).reviewer_id is None


def test_at_most_100_reviews_are_assigned_at_once(app, client, login, cast, ids):
    login(cast.email("supervisor"))
    response = client.post("/reviews/assign", data={"review_ids": list(range(1, 102)), "reviewer_id": ids["reviewer"]},
                           follow_redirects=True)
    assert "Select at most 100 reviews at a time." in response.get_data(as_text=True)


def test_a_reviewer_cannot_assign(app, client, login, cast, ids):
    with app.app_context():
        review_id = bulk_reviews(1, ids["officer_a"], start=now())[0]
        db_session.commit()
    login(cast.email("reviewer"))
    response = client.post("/reviews/assign", data={"review_ids": review_id, "reviewer_id": ids["reviewer2"]})
    assert response.status_code == 403
    with app.app_context():
        assert db_session.get(Review, review_id).reviewer_id is None


# -- a constant number of statements ---------------------------------------------------------------


def count_statements(app: Any, client: Any, url: str) -> tuple[int, str]:
    engine = app.extensions["db_engine"]
    statements: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def test_the_queue_issues_the_same_number_of_statements_for_10_and_500_profiles(app, client, login, cast, ids):
    def add(count: int, start: datetime) -> None:
        with app.app_context():
            half = count // 2
            bulk_reviews(half, ids["officer_a"], start=start, reviewer_id=ids["reviewer"])
            bulk_reviews(count - half, ids["officer_a"], start=start + timedelta(days=1),
                         business_type=BusinessType.HIGHWAY_CARRIER, country="MX")
            db_session.commit()

    add(10, now() - timedelta(days=120))
    login(cast.email("supervisor"))
    urls = ["/reviews", "/reviews?sort=days_left&dir=desc", "/reviews?q=bulk&overdue=1",
            "/reviews/dashboard"]
    few = {url: count_statements(app, client, url) for url in urls}
    add(490, now() - timedelta(days=30))
    many = {url: count_statements(app, client, url) for url in urls}
    for url in urls:
        assert few[url][0] == many[url][0], url
    assert len(row_ids(many["/reviews"][1])) == 25 and "of 500 reviews" in many["/reviews"][1]
    assert len(row_ids(few["/reviews"][1])) == 10
    assert few["/reviews"][0] <= 12
    # The page and its total are one statement; a page past the end asks for the total, then the last page.
    in_range, html = count_statements(app, client, "/reviews?sort=days_left&dir=desc&page=20")
    past_end, past_html = count_statements(app, client, "/reviews?sort=days_left&dir=desc&page=21")
    assert "Showing 476 to 500 of 500" in html and "Showing 476 to 500 of 500" in past_html
    assert row_ids(html) == row_ids(past_html) and len(row_ids(html)) == 25
    assert past_end == in_range + 2


# -- dashboards ------------------------------------------------------------------------------------


def dashboard_count(html: str, status: str) -> int:
    match = re.search(rf'<tr data-status="{status}">.*?<td>(\d+)</td>', html)
    assert match, status
    return int(match.group(1))


def test_the_reviewer_dashboard_counts_my_reviews(app, client, login, cast, ids):
    fresh, late = now() - timedelta(days=3), now() - timedelta(days=120)
    with app.app_context():
        bulk_reviews(2, ids["officer_a"], start=fresh, reviewer_id=ids["reviewer"])
        overdue = bulk_reviews(1, ids["officer_a"], start=late, reviewer_id=ids["reviewer"],
                               name=lambda i: "Late Lumber Co.", status=ReviewStatus.IN_PROGRESS)
        bulk_reviews(1, ids["officer_a"], start=fresh, reviewer_id=ids["reviewer"], status=ReviewStatus.RECOMMENDED)
        bulk_reviews(1, ids["officer_a"], start=late, reviewer_id=ids["reviewer"], status=ReviewStatus.DECIDED)
        bulk_reviews(4, ids["officer_a"], start=late, reviewer_id=ids["reviewer2"])   # someone else's
        bulk_reviews(3, ids["officer_a"], start=fresh)                                # unassigned
        bulk_reviews(1, ids["officer_a"], start=fresh, status=ReviewStatus.DECIDED)   # decided, not in the queue
        db_session.commit()
    login(cast.email("reviewer"))
    html = get(client, "/reviews/dashboard")
    assert [dashboard_count(html, s.value) for s in ReviewStatus] == [2, 1, 1, 1]
    assert "1 of my open reviews is past the 90-day" in html
    assert f'href="/reviews/{overdue[0]}">Late Lumber Co.' in html
    assert "3 open reviews without a reviewer" in html
    assert "Recommendations awaiting approval" not in html and "Decisions per month" not in html


def test_the_supervisor_dashboard_lists_the_25_oldest_recommendations_and_links_to_the_rest(
        app, client, login, cast, ids):
    current = now()
    with app.app_context():
        awaiting = bulk_reviews(27, ids["officer_a"], start=current - timedelta(days=20), reviewer_id=ids["reviewer"],
                                status=ReviewStatus.RECOMMENDED)
        for index, review_id in enumerate(awaiting):
            set_review(review_id, recommendation=Recommendation.CERTIFY, recommended_by_id=ids["reviewer"],
                       recommended_at=current - timedelta(hours=100 - index))
        db_session.commit()
    login(cast.email("supervisor"))
    html = get(client, "/reviews/dashboard")
    listed = [int(i) for i in re.findall(r'<tr data-review-id="(\d+)">', html[html.index('id="awaiting"'):])]
    assert listed == awaiting[:25]                                       # the oldest 25, oldest first
    assert "27 recommendations await a decision. The 25 oldest are listed;" in html
    assert 'href="/reviews?status=recommended">see them all in the queue' in html


def test_the_supervisor_dashboard(app, client, login, cast, ids):
    current = now()
    this_month = current.replace(day=1, hour=0, minute=0, second=0)
    two_months_ago = (this_month - timedelta(days=40)).replace(day=1)
    thirteen_months_ago = (this_month - timedelta(days=380)).replace(day=1)
    with app.app_context():
        awaiting = bulk_reviews(2, ids["officer_a"], start=current - timedelta(days=20), reviewer_id=ids["reviewer"],
                                status=ReviewStatus.RECOMMENDED, name=lambda i: f"Awaiting {i} Inc.")
        for review_id, when in zip(awaiting, (2, 1), strict=True):
            set_review(review_id, recommendation=Recommendation.CERTIFY, recommended_by_id=ids["reviewer"],
                       recommended_at=current - timedelta(days=when))
        # Certifications after 30, 60 and 90 days; a return and a denial do not count towards the mean.
        plan = [(Recommendation.CERTIFY, this_month + timedelta(hours=1), 30),
                (Recommendation.CERTIFY, this_month + timedelta(hours=2), 60),
                (Recommendation.RETURN, this_month + timedelta(hours=3), 10),
                (Recommendation.DENY, two_months_ago + timedelta(days=3), 10),
                (Recommendation.CERTIFY, thirteen_months_ago + timedelta(days=3), 90)]
        decided = bulk_reviews(len(plan), ids["officer_a"], start=thirteen_months_ago - timedelta(days=100),
                               reviewer_id=ids["reviewer"], status=ReviewStatus.DECIDED)
        for review_id, (outcome, when, days) in zip(decided, plan, strict=True):
            set_review(review_id, outcome=outcome, decided_at=when, submitted_at=when - timedelta(days=days))
        rebuild_decision_months()  # decisions written straight to the table, not through decisions.decide
        db_session.commit()
    login(cast.email("supervisor"))
    html = get(client, "/reviews/dashboard")
    for review_id in awaiting:
        assert f'href="/reviews/{review_id}/decision">Decide' in html
    assert html.index("Awaiting 0 Inc.") < html.index("Awaiting 1 Inc.")           # oldest recommendation first
    # (30 + 60) / 2: the certification 13 months ago is outside the 12 months of the chart.
    assert "<strong>45.0 days</strong>" in html and "over 2 certifications decided since" in html
    assert 'id="decisions-per-month"' in html and "<svg" in html
    rows = dict(re.findall(r'<tr data-month="(\d{4}-\d\d)">(.*?)</tr>', html, re.S))
    assert len(rows) == 12 and list(rows)[-1] == this_month.strftime("%Y-%m")

    def cells(month: datetime) -> list[int]:
        return [int(x) for x in re.findall(r"<td>(\d+)</td>", rows[month.strftime("%Y-%m")])]

    assert thirteen_months_ago.strftime("%Y-%m") not in rows
    assert cells(two_months_ago) == [0, 0, 1, 1]                                    # certify, return, deny, total
    assert cells(this_month) == [2, 1, 0, 3]
    assert all(cells(datetime.strptime(key + "-01", "%Y-%m-%d")) == [0, 0, 0, 0] for key in rows
               if key not in {this_month.strftime("%Y-%m"), two_months_ago.strftime("%Y-%m")})
    login(cast.email("admin"))
    assert "Recommendations awaiting approval" in get(client, "/reviews/dashboard")


def test_average_days_on_the_database(db, cast, ids):
    decided = bulk_reviews(2, ids["officer_a"], start=datetime(2024, 1, 1, tzinfo=UTC), status=ReviewStatus.DECIDED)
    set_review(decided[0], outcome=Recommendation.CERTIFY, decided_at=datetime(2024, 1, 11, 12, tzinfo=UTC))
    set_review(decided[1], outcome=Recommendation.CERTIFY, decided_at=datetime(2024, 1, 21, 6, tzinfo=UTC),
               submitted_at=datetime(2024, 1, 1, tzinfo=UTC))
    rebuild_decision_months()
    result = dashboards.decision_summary(now=datetime(2024, 6, 1, tzinfo=UTC)).certification  # (10.5+20.25)/2
    assert result.certifications == 2 and result.average_days == 15.4
    later = dashboards.decision_summary(now=datetime(2025, 2, 1, tzinfo=UTC)).certification  # from Mar 2024
    assert later.certifications == 0 and later.average_days is None and later.since == date(2024, 3, 1)


def test_decisions_per_month_fills_empty_months(db, cast, ids):
    moment = datetime(2025, 3, 15, 12, tzinfo=UTC)
    decided = bulk_reviews(3, ids["officer_a"], start=datetime(2024, 1, 1, tzinfo=UTC), status=ReviewStatus.DECIDED)
    set_review(decided[0], outcome=Recommendation.CERTIFY, decided_at=datetime(2025, 3, 1, 0, 30, tzinfo=UTC))
    set_review(decided[1], outcome=Recommendation.DENY, decided_at=datetime(2024, 4, 30, 23, 30, tzinfo=UTC))
    set_review(decided[2], outcome=Recommendation.RETURN, decided_at=datetime(2024, 3, 31, 23, 59, tzinfo=UTC))
    rebuild_decision_months()
    months = dashboards.decision_summary(now=moment).months
    assert [m.key for m in months][0] == "2024-04" and months[-1].key == "2025-03" and len(months) == 12
    assert months[0].counts[Recommendation.DENY] == 1 and months[0].total == 1
    assert months[-1].counts == {Recommendation.CERTIFY: 1, Recommendation.RETURN: 0, Recommendation.DENY: 0}
    assert sum(m.total for m in months) == 2


# -- notifications ---------------------------------------------------------------------------------


def add_notifications(user_id: int, titles: list[str], *, read: set[str] = frozenset()) -> list[int]:
    start = now() - timedelta(hours=len(titles))
    rows = [Notification(user_id=user_id, title=title, body=f"Body of {title}", link="/dashboard",
                         created_at=start + timedelta(minutes=10 * i), read_at=now() if title in read else None)
            for i, title in enumerate(titles)]
    db_session.add_all(rows)
    db_session.flush()
    return [row.id for row in rows]


@pytest.mark.parametrize("who", ["officer_a", "reviewer"])
def test_the_inbox_lists_my_notifications_newest_first(app, client, login, cast, ids, who):
    with app.app_context():
        add_notifications(ids[who], ["First note", "Second note", "Third note"], read={"First note"})
        add_notifications(ids["employee_a"], ["Not yours"])
        db_session.commit()
    login(cast.email(who))
    html = get(client, "/notifications")
    assert html.index("Third note") < html.index("Second note") < html.index("First note")
    assert "Not yours" not in html
    assert "You have 2 unread notifications." in html
    assert html.count('data-unread="true"') == 2 and html.count(">Unread</span>") == 2
    assert "Notifications (2)" in html and 'aria-current="page"><span>Notifications (2)' in html


def test_mark_one_as_read(app, client, login, cast, ids):
    with app.app_context():
        first, second = add_notifications(ids["officer_a"], ["Profile returned", "Profile certified"])
        db_session.commit()
    login(cast.email("officer_a"))
    assert "Notifications (2)" in get(client, "/dashboard")
    response = client.post(f"/notifications/{first}/read", data={"next": "/notifications?page=1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications?page=1")
    with app.app_context():
        assert db_session.get(Notification, first).read_at is not None
        assert db_session.get(Notification, second).read_at is None
    html = get(client, "/notifications")
    assert "Notifications (1)" in html and html.count('data-unread="true"') == 1
    assert client.post(f"/notifications/{first}/read").status_code == 302          # again: no change, no error
    # An unsafe next is ignored.
    response = client.post(f"/notifications/{second}/read", data={"next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/notifications")


def test_mark_all_as_read(app, client, login, cast, ids):
    with app.app_context():
        add_notifications(ids["officer_a"], ["One", "Two", "Three"])
        others = add_notifications(ids["employee_a"], ["Colleague's"])
        db_session.commit()
    login(cast.email("officer_a"))
    response = client.post("/notifications/read-all")
    assert response.status_code == 302
    html = get(client, "/notifications")
    assert "Notifications (0)" in html and 'data-unread="true"' not in html
    assert "3 notifications marked as read." in html and "Mark all as read" not in html
    with app.app_context():
        assert db_session.get(Notification, others[0]).read_at is None


def test_another_users_notification_is_404(app, client, login, cast, ids):
    with app.app_context():
        theirs = add_notifications(ids["officer_b"], ["Bravo's note"])[0]
        db_session.commit()
    login(cast.email("officer_a"))
    assert client.post(f"/notifications/{theirs}/read").status_code == 404
    assert client.post("/notifications/999999/read").status_code == 404
    with app.app_context():
        assert db_session.get(Notification, theirs).read_at is None


def test_the_header_shows_the_unread_count_only_when_signed_in(app, client, login, cast, ids):
    assert "Notifications (" not in get(client, "/")
    with app.app_context():
        add_notifications(ids["reviewer"], ["A", "B", "C"], read={"A"})
        db_session.commit()
    login(cast.email("reviewer"))
    assert "Notifications (2)" in get(client, "/reviews")


def test_notification_links_are_only_same_site_or_http(app, client, login, cast, ids):
    with app.app_context():
        db_session.add_all([
            Notification(user_id=ids["officer_a"], title="Script", link="javascript:alert(1)", created_at=now()),
            Notification(user_id=ids["officer_a"], title="Outcome", link="http://localhost/profiles/1/outcome",
                         created_at=now()),
        ])
        db_session.commit()
    login(cast.email("officer_a"))
    html = get(client, "/notifications")
    assert "javascript:" not in html and 'href="http://localhost/profiles/1/outcome"' in html


def test_the_inbox_paginates(app, client, login, cast, ids):
    with app.app_context():
        add_notifications(ids["officer_a"], [f"Note {i:02d}" for i in range(30)])
        db_session.commit()
    login(cast.email("officer_a"))
    first = get(client, "/notifications")
    assert "Note 29" in first and "Note 04" not in first and "/notifications?page=2" in first
    last = get(client, "/notifications?page=7")
    assert "Note 04" in last and "Note 05" not in last

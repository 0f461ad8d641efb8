"""The review queue's row cache (portal/fragment_cache.py, queue_routes._cached_rows): every change of
what a row shows reaches the queue after the row was cached, each user sees the actions of their own
rights, each session gets its own CSRF token in a cached row; and the queue page's cached parts (filter
form, table header, pagination) are what an app without the cache renders."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from portal.auth.models import User
from portal.companies.models import Company
from portal.db import db_session
from portal.fragment_cache import fragment_cache, page_cache, row_cache
from portal.reviews.models import Review
from portal.reviews.workflow import ReviewStatus
from tests import factories
from tests.conftest import make_test_app
from tests.functional.test_queue import bulk_reviews


def _rows(html: str) -> dict[int, str]:
    """The queue's rows by review id, CSRF tokens blanked."""
    rows = re.findall(r'(<tr data-review-id="(\d+)".*?</tr>)', html, re.S)
    return {int(review_id): re.sub(r'(name="csrf_token" value=")[^"]+"', r'\1"', row) for row, review_id in rows}


def _queue(client: Any, url: str = "/reviews?status=all") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _review(review_id: int) -> Review:
    return db_session.get(Review, review_id)


def _company(review_id: int) -> Company:
    return _review(review_id).profile.account.company


def _assign(cast: Any, review_id: int) -> None:
    _review(review_id).reviewer_id = cast.users["reviewer2"].id


def _rename_reviewer(cast: Any, review_id: int) -> None:
    _review(review_id).reviewer_id = cast.users["reviewer2"].id
    db_session.flush()
    db_session.get(User, cast.users["reviewer2"].id).full_name = "Renamed Reviewer"


def _start(cast: Any, review_id: int) -> None:
    db_session.execute(update(Review).where(Review.id == review_id).values(status=ReviewStatus.IN_PROGRESS))


def _decide(cast: Any, review_id: int) -> None:
    db_session.execute(update(Review).where(Review.id == review_id).values(status=ReviewStatus.DECIDED))


def _rename_company(cast: Any, review_id: int) -> None:
    _company(review_id).legal_name = "Renamed Freight LLC"


def _add_dba(cast: Any, review_id: int) -> None:
    _company(review_id).dba = "Quick Ship"


def _submitted_later(cast: Any, review_id: int) -> None:
    db_session.execute(update(Review).where(Review.id == review_id).values(submitted_at=_three_days_ago()))


def _three_days_ago() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


# Each change, and a piece of the row's HTML that must show it.
CHANGES: dict[str, tuple[Callable[[Any, int], None], Callable[[], str]]] = {
    "assigned": (_assign, lambda: "Robin Reviewer"),
    "reviewer renamed": (_rename_reviewer, lambda: "Renamed Reviewer"),
    "started": (_start, lambda: "In review"),
    "decided": (_decide, lambda: "decided"),
    "company renamed": (_rename_company, lambda: "Renamed Freight LLC"),
    "dba added": (_add_dba, lambda: "(DBA Quick Ship)"),
    "submitted again": (_submitted_later, lambda: _three_days_ago().strftime("%b %d, %Y")),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_change_made_after_the_row_was_cached_is_shown(app, client, login, cast, tmp_path, database_url, name):
    change, expected = CHANGES[name]
    shown = expected()
    with app.app_context():
        first = datetime.now(UTC) - timedelta(days=200)
        review_id = bulk_reviews(1, cast.users["officer_a"].id, start=first, name=lambda i: "Harbor Freight LLC")[0]
        db_session.commit()
    login(cast.email("supervisor"))
    before = _rows(_queue(client))[review_id]
    assert _rows(_queue(client))[review_id] == before       # served again from the cache
    assert row_cache(app).hits >= 1
    assert shown not in before
    with app.app_context():
        change(cast, review_id)
        db_session.commit()
    after = _rows(_queue(client))[review_id]
    assert shown in after and after != before
    # The cached row is what an app without the row cache renders.
    uncached = make_test_app(database_url, tmp_path, ROW_CACHE_ENTRIES=0)
    fresh = uncached.test_client()
    login(cast.email("supervisor"), test_client=fresh)
    assert _rows(_queue(fresh))[review_id] == after
    assert len(row_cache(uncached)) == 0


def test_days_left_change_with_the_day(app, client, login, cast, clock):
    with app.app_context():
        review_id = bulk_reviews(1, cast.users["officer_a"].id, start=clock.now - timedelta(days=80))[0]
        db_session.commit()
    login(cast.email("reviewer"))
    assert ">10 days<" in _rows(_queue(client))[review_id].replace("\n", "")


    def signed_in() -> Any:  # a day later the session has expired: sign in again
        browser = app.test_client()
        login(cast.email("reviewer"), test_client=browser)
        return browser

    clock.advance(days=1)
    assert ">9 days<" in _rows(_queue(signed_in()))[review_id].replace("\n", "")
    clock.advance(days=10)
    row = _rows(_queue(signed_in()))[review_id]
    assert "Overdue" in row and 'data-overdue="true"' in row


def test_each_user_sees_the_actions_of_their_own_rights(app, login, cast):
    """One row, cached by whoever saw it first: a reviewer may take it, a supervisor may take and
    select it, an admin may only select it."""
    with app.app_context():
        review_id = bulk_reviews(1, cast.users["officer_a"].id, start=datetime.now(UTC))[0]
        db_session.commit()
    seen = {}
    for who in ("reviewer", "supervisor", "admin", "reviewer2"):
        browser = app.test_client()
        login(cast.email(who), test_client=browser)
        seen[who] = _rows(_queue(browser))[review_id]
    assert f'action="/reviews/{review_id}/take"' in seen["reviewer"] and 'name="review_ids"' not in seen["reviewer"]
    assert f'action="/reviews/{review_id}/take"' in seen["supervisor"] and 'name="review_ids"' in seen["supervisor"]
    assert "/take" not in seen["admin"] and 'name="review_ids"' in seen["admin"]
    assert seen["reviewer2"] == seen["reviewer"]
    assert len(row_cache(app)) == 3 and row_cache(app).hits == 1


def test_each_session_gets_its_own_csrf_token_in_a_cached_row(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        cast = factories.build_cast()
        review_ids = bulk_reviews(2, cast.users["officer_a"].id, start=datetime.now(UTC))
        db_session.commit()
    pages = {}
    for who in ("reviewer", "reviewer2"):
        browser = app.test_client()
        login_page = browser.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
        assert browser.post("/auth/login", data={"email": cast.email(who), "password": factories.PASSWORD,
                                                 "csrf_token": token}).status_code == 302
        pages[who] = (browser, _queue(browser))
    cache = row_cache(app)
    assert len(cache) == 2 and cache.hits == 2            # the second reviewer's rows came from the cache
    tokens = {}
    for who, (_, html) in pages.items():
        assert cache.csrf_placeholder not in html
        meta = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        in_rows = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
        assert len(in_rows) == 1
        tokens[who] = (meta, in_rows.pop())
    assert tokens["reviewer"][1] != tokens["reviewer2"][1]
    # The token in the cached row works: the second reviewer takes the review with it.
    browser, html = pages["reviewer2"]
    assert browser.post(f"/reviews/{review_ids[0]}/take",
                        data={"csrf_token": tokens["reviewer2"][1]}).status_code == 302
    with app.app_context():
        assert db_session.get(Review, review_ids[0]).reviewer_id == cast.users["reviewer2"].id


def test_the_dashboards_overdue_list_shows_a_change_made_after_it_was_cached(app, client, login, cast):
    with app.app_context():
        review_id = bulk_reviews(1, cast.users["officer_a"].id, start=datetime.now(UTC) - timedelta(days=120),
                                 reviewer_id=cast.users["reviewer"].id, name=lambda i: "Harbor Freight LLC")[0]
        db_session.commit()
    login(cast.email("reviewer"))

    def overdue() -> str:
        response = client.get("/reviews/dashboard")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        start = html.index('<ul class="usa-list" id="my-overdue">')
        return html[start:html.index("</ul>", start)]

    first = overdue()
    assert f'href="/reviews/{review_id}">Harbor Freight LLC' in first and "30 days past" in first
    assert overdue() == first and row_cache(app).hits == 1
    with app.app_context():
        _rename_company(cast, review_id)
        db_session.execute(update(Review).where(Review.id == review_id)
                           .values(clock_started_at=datetime.now(UTC) - timedelta(days=100)))
        db_session.commit()
    after = overdue()
    assert "Renamed Freight LLC" in after and "10 days past" in after and "Harbor Freight" not in after


def _blank_tokens(html: str) -> str:
    """A page with what differs per request blanked: its session's CSRF tokens (meta and hidden fields)
    and the request id in the footer."""
    html = re.sub(r'(name="csrf_token" value=")[^"]+"', r'\1"', html)
    html = re.sub(r'(name="csrf-token" content=")[^"]+"', r'\1"', html)
    return re.sub(r"Request [0-9a-f]{32}", "Request", html)


# Filters and orders of the queue whose parts (filter form, table header, pagination) differ.
QUEUE_VIEWS = (
    "/reviews",
    "/reviews?page=2",
    "/reviews?status=all&sort=company&dir=desc",
    "/reviews?q=Harbor&assigned=none&overdue=1",
    "/reviews?business_type=importer&sort=days_left",
)


def test_the_queues_cached_parts_are_what_an_app_without_the_cache_renders(app, client, login, cast, database_url,
                                                                             tmp_path):
    """The filter form and the table's header are kept in the fragment cache by their arguments (a
    search's are not): each view of the queue, shown again from the cache, is the page an app without
    the caches renders, and views with other filters, order or page get their own parts."""
    with app.app_context():
        bulk_reviews(30, cast.users["officer_a"].id, start=datetime.now(UTC) - timedelta(days=100),
                     name=lambda i: f"Harbor Freight {i:02d} LLC")
        db_session.commit()
    login(cast.email("supervisor"))
    cache, pages = fragment_cache(app), page_cache(app)
    first = {url: _queue(client, url) for url in QUEUE_VIEWS}
    hits = cache.hits
    again = {url: _queue(client, url) for url in QUEUE_VIEWS}
    # Shown again, each view but the search's comes whole from the page cache, its parts included.
    assert pages.hits == len(QUEUE_VIEWS) - 1 and cache.hits == hits
    entries = len(cache), len(pages)
    assert 'value="Harbor Freight 07"' in _queue(client, "/reviews?q=Harbor+Freight+07")
    assert (len(cache), len(pages)) == entries
    uncached = make_test_app(database_url, tmp_path, FRAGMENT_CACHE_ENTRIES=0, ROW_CACHE_ENTRIES=0,
                             PAGE_CACHE_ENTRIES=0)
    fresh = uncached.test_client()
    login(cast.email("supervisor"), test_client=fresh)
    for url in QUEUE_VIEWS:
        assert _blank_tokens(again[url]) == _blank_tokens(first[url]) == _blank_tokens(_queue(fresh, url)), url
    assert len(fragment_cache(uncached)) == 0
    # What each view's parts show is its own.
    assert 'value="Harbor"' in first["/reviews?q=Harbor&assigned=none&overdue=1"]
    assert re.search(r'id="assigned-none" type="radio" name="assigned" value="none" checked',
                     first["/reviews?q=Harbor&assigned=none&overdue=1"])
    assert 'value="Harbor"' not in first["/reviews"]
    assert 'aria-sort="descending"' in first["/reviews?status=all&sort=company&dir=desc"]
    assert 'aria-current="page">2<' in first["/reviews?page=2"] and 'aria-current="page">1<' in first["/reviews"]
    assert re.search(r'<option value="importer" selected>', first["/reviews?business_type=importer&sort=days_left"])

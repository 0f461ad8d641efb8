"""The page cache: the rest of a category page around its criteria (layout, navigation, header), kept per
app server under a key of what it shows (portal/fragment_cache.py, ``FragmentCache.render_page``).

A page from the cache must be the page rendered afresh, for every value the layout and the header show;
what differs per request (the CSRF token, the request id, a flashed message) must never be kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from markupsafe import Markup
from sqlalchemy import select, update

from portal.auth.models import User
from portal.auth.roles import StaffRole
from portal.companies.models import Company, TradeAccount
from portal.db import db_session
from portal.fragment_cache import FragmentCache, page_cache
from portal.notifications.inbox import notify
from portal.profiles.models import Answer
from portal.profiles.workflow import ProfileStatus
from portal.reviews.models import Review
from portal.reviews.workflow import ReviewStatus
from tests import factories
from tests.conftest import make_test_app
from tests.functional.test_queue import bulk_reviews


def _url(app: Any, cast: Any) -> str:
    with app.app_context():
        return f"/profiles/{factories.profile_of(cast.account_a).id}/categories/1"


def _page(client: Any, url: str) -> tuple[str, str]:
    """The page and the request id its response names."""
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True), response.headers["X-Request-ID"]


def _blank(html: str) -> str:
    """The page with what differs per request blanked: CSRF tokens and the footer's request id."""
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1"', html)
    html = re.sub(r'(name="csrf-token" content=")[^"]+"', r'\1"', html)
    return re.sub(r"Request [0-9a-f]{32}", "Request", html)


def _user(email: str) -> User:
    return db_session.scalar(select(User).where(User.email == email))


# Signed in as: (who, what the page must show of them).
VIEWERS = {
    "company employee": ("employee@a.example", "Signed in as Evan Employee<"),
    "company officer": ("officer@a.example", "data-autosave-url"),
    "reviewer": ("reviewer@cbp.example", ">Validations<"),
    "supervisor": ("supervisor@cbp.example", ">Audit trail<"),
    "admin": ("admin@cbp.example", ">Users<"),
}


@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_a_page_from_the_cache_is_the_page_rendered_afresh(app, client, login, cast, database_url, tmp_path,
                                                           viewer):
    email, shown = VIEWERS[viewer]
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1")
        db_session.commit()
    login(email)
    url = _url(app, cast)
    cache = page_cache(app)
    first, _ = _page(client, url)
    again, _ = _page(client, url)
    assert cache.hits == 1 and len(cache) == 1
    assert shown in again
    for placeholder in (cache.csrf_placeholder, cache.request_id_placeholder, cache.body_placeholder):
        assert placeholder not in first and placeholder not in again
    uncached = make_test_app(database_url, tmp_path, PAGE_CACHE_ENTRIES=0, FRAGMENT_CACHE_ENTRIES=0)
    fresh = uncached.test_client()
    login(email, test_client=fresh)
    rendered, _ = _page(fresh, url)
    assert len(page_cache(uncached)) == 0
    assert _blank(again) == _blank(first) == _blank(rendered)
    uncached.extensions["db_engine"].dispose()


def _rename_user(cast: Any) -> None:
    _user("employee@a.example").full_name = "Evan Renamed"


def _notify(cast: Any) -> None:
    notify(_user("employee@a.example"), "Your profile was returned", email=False)


def _make_staff(cast: Any) -> None:
    # Staff see the validations link; the company membership keeps the page open to them.
    _user("employee@a.example").staff_role = StaffRole.SUPERVISOR


def _rename_company(cast: Any) -> None:
    db_session.get(Company, cast.account_a.company_id).legal_name = "Alpha Renamed LLC"


def _renumber_account(cast: Any) -> None:
    db_session.get(TradeAccount, cast.account_a.id).account_number = "CTP-RENUMBERED"


def _submit(cast: Any) -> None:
    profile = factories.profile_of(cast.account_a)
    profile.status = ProfileStatus.SUBMITTED
    profile.current_version = 3


def _demote(cast: Any) -> None:
    membership = _user("employee@a.example").membership_for(cast.account_a.company_id)
    from portal.auth.roles import CompanyRole

    membership.role = CompanyRole.READ_ONLY


def _promote_reviewer(cast: Any) -> None:
    _user("reviewer@cbp.example").staff_role = StaffRole.ADMIN


def _start_review(cast: Any) -> None:
    factories.profile_of(cast.account_a).status = ProfileStatus.IN_REVIEW


def _new_version(cast: Any) -> None:
    factories.profile_of(cast.account_a).current_version = 3


CHANGES: dict[str, tuple[str, Callable[[Any], None], str, str | None]] = {
    # name: (who views the page, change, text shown after, text gone after)
    "user renamed": ("employee_a", _rename_user, "Signed in as Evan Renamed", "Signed in as Evan Employee"),
    "notification received": ("employee_a", _notify, "Notifications (1)", "Notifications (0)"),
    "user made staff": ("employee_a", _make_staff, ">Audit trail<", None),
    "company renamed": ("employee_a", _rename_company, "Alpha Renamed LLC:", "Alpha Imports Inc.:"),
    "account renumbered": ("employee_a", _renumber_account, "CTP-RENUMBERED", None),
    "profile submitted": ("employee_a", _submit, "last submitted version 3", 'id="category-form"'),
    "member made read-only": ("employee_a", _demote, "<dt>Implementation status</dt>", 'id="category-form"'),
    # Seen by a reviewer, who may not edit: these change the page without changing that right.
    "reviewer made admin": ("reviewer", _promote_reviewer, ">Users<", None),
    "profile in review": ("reviewer", _start_review, ">In review</span>", None),
    "profile's version": ("reviewer", _new_version, "last submitted version 3", None),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_change_the_page_shows_outside_its_criteria_is_shown(app, client, login, cast, name):
    viewer, change, shown, gone = CHANGES[name]
    login(cast.email(viewer))
    url = _url(app, cast)
    _page(client, url)
    before, _ = _page(client, url)
    assert page_cache(app).hits == 1
    assert shown not in before
    if gone:
        assert gone in before
    with app.app_context():
        change(cast)
        db_session.commit()
    after, _ = _page(client, url)
    assert shown in after
    if gone:
        assert gone not in after


def _one_token(html: str) -> str:
    """The page's CSRF token: the meta tag's, which every form on the page must carry too."""
    meta = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    forms = set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html))
    assert forms == {meta}, (meta, forms)
    return meta


def test_each_response_names_its_own_request_id(app, client, login, cast):
    login(cast.email("employee_a"))
    url = _url(app, cast)
    ids = set()
    for _ in range(3):
        html, request_id = _page(client, url)
        assert f"Request {request_id}<" in html
        ids.add(request_id)
    assert len(ids) == 3
    assert page_cache(app).hits == 2


def test_a_flashed_message_is_shown_once_and_never_kept(app, client, login, cast):
    login(cast.email("employee_a"))
    url = _url(app, cast)
    _page(client, url)
    cache = page_cache(app)
    saved = client.post(url, data={"c_1_1-status": "implemented", "c_1_1-narrative": "Gate checks logged.",
                                   "c_1_1-justification": "", "c_1_1-version": "", "save": "1"})
    assert saved.status_code == 302
    with app.app_context():
        assert db_session.scalar(select(Answer.narrative)) == "Gate checks logged."
    shown, _ = _page(client, url)
    assert "Category 1 saved at" in shown
    hits = cache.hits
    after, _ = _page(client, url)
    assert "Category 1 saved at" not in after
    assert "Gate checks logged." in after
    assert cache.hits == hits + 1  # the page after the flash is the one kept, without the message
    assert all("saved at" not in html for html in cache._entries.values())


def test_two_sessions_of_one_user_each_get_their_own_token_from_a_kept_page(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        cast = factories.build_cast()
        db_session.commit()
        profile_id = factories.profile_of(cast.account_a).id
    url = f"/profiles/{profile_id}/categories/1"
    browsers = []
    for _ in range(2):
        browser = app.test_client()
        login_page = browser.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
        assert browser.post("/auth/login", data={"email": "employee@a.example", "password": factories.PASSWORD,
                                                 "csrf_token": token}).status_code == 302
        browsers.append(browser)
    # A second sign-in of the same user ends the first session (the session token rotates): the first
    # browser signs in again after the second has its page, so both pages come from one kept entry.
    second_html, _ = _page(browsers[1], url)
    login_page = browsers[0].get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
    assert browsers[0].post("/auth/login", data={"email": "employee@a.example", "password": factories.PASSWORD,
                                                 "csrf_token": token}).status_code == 302
    first_html, _ = _page(browsers[0], url)
    cache = page_cache(app)
    assert cache.hits == 1 and len(cache) == 1
    # Every form of each page (sign-out, the category's) carries its own session's token.
    meta = [_one_token(html) for html in (first_html, second_html)]
    assert meta[0] != meta[1]
    assert 'id="category-form"' in first_html
    # The kept page's token is the session's own: signing out with it works.
    response = browsers[0].post("/auth/logout", data={"csrf_token": meta[0]})
    assert response.status_code == 302
    assert browsers[0].get(url).status_code == 302  # signed out: sent to the sign-in page
    app.extensions["db_engine"].dispose()


# -- the review queue -----------------------------------------------------------------------------

def _new_review(cast: Any) -> None:
    bulk_reviews(1, cast.users["officer_a"].id, start=datetime.now(UTC) - timedelta(days=3),
                 name=lambda _i: "Late Arrival LLC")


def _new_reviewer(cast: Any) -> None:
    factories.user("rowan@cbp.example", name="Rowan Newcomer", staff_role=StaffRole.REVIEWER)


def _decide_all(cast: Any) -> None:
    db_session.execute(update(Review).values(status=ReviewStatus.DECIDED))


def _rename_supervisor(cast: Any) -> None:
    _user("supervisor@cbp.example").full_name = "Sam Renamed"


QUEUE_CHANGES: dict[str, tuple[Callable[[Any], None], str | None, str | None]] = {
    # name: (change, text shown after, text gone after)
    "review submitted": (_new_review, "Showing 1 to 25 of 31 reviews", "Showing 1 to 25 of 30 reviews"),
    "reviewer added": (_new_reviewer, '">Rowan Newcomer</option>', None),
    "supervisor renamed": (_rename_supervisor, "Signed in as Sam Renamed", "Signed in as Sam Supervisor"),
    # No review on the page can be assigned any more: the assign form goes.
    "every review decided": (_decide_all, None, 'id="assign-form"'),
}


@pytest.mark.parametrize("name", list(QUEUE_CHANGES))
def test_a_change_the_queue_shows_outside_its_rows_is_shown(app, client, login, cast, name):
    change, shown, gone = QUEUE_CHANGES[name]
    with app.app_context():
        bulk_reviews(30, cast.users["officer_a"].id, start=datetime.now(UTC) - timedelta(days=100))
        db_session.commit()
    login(cast.email("supervisor"))
    url = "/reviews?status=all"
    _page(client, url)
    before, _ = _page(client, url)
    assert page_cache(app).hits == 1
    assert (shown is None or shown not in before) and (gone is None or gone in before)
    with app.app_context():
        change(cast)
        db_session.commit()
    after, _ = _page(client, url)
    assert (shown is None or shown in after) and (gone is None or gone not in after)
    assert "Showing 1 to 25 of" in after


def test_each_session_gets_its_own_token_in_the_queues_kept_page(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        cast = factories.build_cast()
        bulk_reviews(3, cast.users["officer_a"].id, start=datetime.now(UTC) - timedelta(days=10))
        # Two supervisors with the same name: their pages share one kept entry.
        factories.user("deputy@cbp.example", name="Sam Supervisor", staff_role=StaffRole.SUPERVISOR)
        db_session.commit()
    pages = []
    for email in ("supervisor@cbp.example", "deputy@cbp.example"):
        browser = app.test_client()
        login_page = browser.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
        response = browser.post("/auth/login", data={"email": email, "password": factories.PASSWORD,
                                                     "csrf_token": token})
        assert response.status_code == 302
        pages.append((browser, _page(browser, "/reviews")[0]))
    cache = page_cache(app)
    assert cache.hits == 1 and len(cache) == 1
    tokens = [_one_token(html) for _, html in pages]
    assert tokens[0] != tokens[1] and all('id="assign-form"' in html for _, html in pages)
    # The kept page's token works for its own session: the second supervisor assigns a review with it.
    browser, html = pages[1]
    review_id = re.search(r'name="review_ids" value="(\d+)"', html).group(1)
    reviewer_id = re.search(r'<option value="(\d+)">Riley Reviewer</option>', html).group(1)
    response = browser.post("/reviews/assign", data={"csrf_token": tokens[1], "review_ids": review_id,
                                                     "reviewer_id": reviewer_id, "next": "/reviews"})
    assert response.status_code == 302
    with app.app_context():
        assert db_session.get(Review, int(review_id)).reviewer_id == int(reviewer_id)
    app.extensions["db_engine"].dispose()


def test_a_queue_page_without_rows_is_kept_without_them(app, client, login, cast):
    login(cast.email("reviewer"))
    first, _ = _page(client, "/reviews?assigned=me")
    again, _ = _page(client, "/reviews?assigned=me")
    cache = page_cache(app)
    assert cache.hits == 1
    assert "No reviews match these filters." in again and "<tbody>" not in again
    assert _blank(again) == _blank(first)
    assert cache.body_placeholder not in again


# -- the cache itself -----------------------------------------------------------------------------

def _shell(calls: list[str]) -> Callable[[Callable[[], Any], str, Markup], str]:
    def render(csrf_token: Callable[[], Any], request_id: str, body: Markup) -> str:
        calls.append(request_id)
        return f'<meta content="{csrf_token()}"><main>{body}</main><footer>{request_id}</footer>'

    return render


def test_the_body_is_placed_as_html_and_last(app):
    cache = FragmentCache(10)
    calls: list[str] = []
    # A body that holds the placeholders' text is placed as it is: it goes in after the substitutions.
    body = Markup(f"<p>A &amp; B {cache.csrf_placeholder} {cache.request_id_placeholder}</p>")
    with app.test_request_context("/"):
        from flask import g

        g.request_id = "abc123"
        first = cache.render_page("page", _shell(calls), body, csrf=lambda: "token-1")
        g.request_id = "def456"
        again = cache.render_page("page", _shell(calls), body, csrf=lambda: "token-2")
        fresh = cache.render_page(None, _shell(calls), body, csrf=lambda: "token-3")
    assert calls == [cache.request_id_placeholder, "def456"]  # rendered once for the key, once without one
    assert first == f'<meta content="token-1"><main>{body}</main><footer>abc123</footer>'
    assert again == f'<meta content="token-2"><main>{body}</main><footer>def456</footer>'
    assert fresh == f'<meta content="token-3"><main>{body}</main><footer>def456</footer>'
    assert "&amp;lt;" not in again and "<p>A &amp; B" in again


def test_a_page_with_a_message_waiting_is_rendered_afresh_and_not_kept(app):
    cache = FragmentCache(10)
    calls: list[str] = []
    with app.test_request_context("/"):
        from flask import flash

        flash("Saved.", "success")
        cache.render_page("page", _shell(calls), Markup("<p>body</p>"), csrf=lambda: "token")
    assert len(cache) == 0 and len(calls) == 1


def test_the_body_goes_wherever_the_page_places_it(app):
    cache = FragmentCache(10)

    def render(csrf_token: Callable[[], Any], request_id: str, body: Markup) -> str:
        return f"<nav>{body}</nav><main>{body}</main><p>{csrf_token()}</p>"

    with app.test_request_context("/"):
        cache.render_page("page", render, Markup("<b>x</b>"), csrf=lambda: "t")
        again = cache.render_page("page", render, Markup("<b>y</b>"), csrf=lambda: "u")
    assert again == "<nav><b>y</b></nav><main><b>y</b></main><p>u</p>"


def test_nothing_is_kept_in_debug_mode(app):
    cache = FragmentCache(10)
    calls: list[str] = []
    app.debug = True
    try:
        with app.test_request_context("/"):
            for _ in range(2):
                cache.render_page("page", _shell(calls), Markup("<p>body</p>"), csrf=lambda: "token")
    finally:
        app.debug = False
    assert len(cache) == 0 and len(calls) == 2

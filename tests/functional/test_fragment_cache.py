"""The category page's fragment cache (portal/fragment_cache.py): every change of what the page shows
reaches the page after it was cached, each session gets its own CSRF token, and a cached page costs
two statements."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from portal import clock
from portal.action_plans.models import ActionPlan
from portal.auth.models import Membership, User
from portal.auth.roles import CompanyRole
from portal.catalog import get_catalog
from portal.db import db_session
from portal.fragment_cache import FragmentCache, fragment_cache
from portal.profiles.models import Answer, EvidenceFile, EvidenceLink, SecurityProfile
from portal.profiles.workflow import ActionPlanStatus, ImplementationStatus, ProfileStatus
from tests import factories
from tests.conftest import make_test_app

CRITERION = "1.1"


def _url(app: Any, cast: Any) -> str:
    with app.app_context():
        return f"/profiles/{factories.profile_of(cast.account_a).id}/categories/1"


def _html(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _criteria(html: str) -> str:
    """The criteria part of the page (the footer carries a request id of its own), CSRF tokens blanked
    (a token carries the second it was signed in)."""
    start = html.index('<section class="portal-criterion')
    part = html[start:html.index("</main>", start)]
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1"', part)


# -- one change per thing the page shows -----------------------------------------------------------

def _profile(cast: Any) -> SecurityProfile:
    return factories.profile_of(cast.account_a)


def _answer_row() -> Answer:
    return db_session.scalar(select(Answer).where(Answer.criterion_id == CRITERION))


def _document(cast: Any, title: str | None = "Gate log", name: str = "gate-log.pdf") -> EvidenceFile:
    row = EvidenceFile(company_id=cast.company_a.id, sha256="0" * 64, storage_key=f"key-{name}", original_name=name,
                       content_type="application/pdf", size=2048, title=title)
    db_session.add(row)
    db_session.flush()
    return row


def _link(cast: Any, document: EvidenceFile) -> None:
    db_session.add(EvidenceLink(profile_id=_profile(cast).id, criterion_id=CRITERION, evidence_id=document.id))


def _plan(cast: Any, owner: str = "employee_a") -> None:
    db_session.add(ActionPlan(profile_id=_profile(cast).id, criterion_id=CRITERION, gap="No review",
                              corrective_action="Schedule one", owner_user_id=cast.users[owner].id,
                              target_date=clock.today() + timedelta(days=30)))


def _user(cast: Any, key: str) -> User:
    return db_session.get(User, cast.users[key].id)


def _nothing(cast: Any) -> None:
    return None


def _answered(cast: Any) -> None:
    factories.answer(_profile(cast), CRITERION, narrative="Before the change.", by=_user(cast, "employee_a"))


def _linked(cast: Any) -> None:
    _link(cast, _document(cast))


def _library_only(cast: Any) -> None:
    _document(cast, title="Old title")


def _planned(cast: Any) -> None:
    _plan(cast)


def _change_narrative(cast: Any) -> None:
    _answer_row().narrative = "After the change."


def _change_status(cast: Any) -> None:
    _answer_row().status = ImplementationStatus.PARTIALLY_IMPLEMENTED


def _rename_editor(cast: Any) -> None:
    _user(cast, "employee_a").full_name = "Evan Renamed"


def _unlink(cast: Any) -> None:
    db_session.delete(db_session.scalar(select(EvidenceLink)))


def _retitle(cast: Any) -> None:
    db_session.scalar(select(EvidenceFile)).title = "New title"


def _date_document(cast: Any) -> None:
    db_session.scalar(select(EvidenceFile)).effective_date = clock.today().replace(year=2026, month=3, day=9)


def _complete_plan(cast: Any) -> None:
    db_session.scalar(select(ActionPlan)).status = ActionPlanStatus.COMPLETED


def _rename_owner(cast: Any) -> None:
    _user(cast, "employee_a").full_name = "Owen Owner"


def _submit(cast: Any) -> None:
    _profile(cast).status = ProfileStatus.SUBMITTED


def _demote(cast: Any) -> None:
    db_session.scalar(select(Membership).where(Membership.user_id == cast.users["employee_a"].id)).role = \
        CompanyRole.READ_ONLY


CHANGES = {
    # name: (state before, change, text shown after, text gone after)
    "answer text": (_answered, _change_narrative, "After the change.", "Before the change."),
    "answer status": (_answered, _change_status, 'value="partially_implemented" checked', None),
    "editor renamed": (_answered, _rename_editor, "by Evan Renamed", "by Evan Employee"),
    "evidence linked": (_nothing, _linked, "Gate log<span", "No evidence is linked to criterion 1.1 yet."),
    "evidence unlinked": (_linked, _unlink, "No evidence is linked to criterion 1.1 yet.", "Gate log<span"),
    "library document renamed": (_library_only, _retitle, ">New title</option>", ">Old title</option>"),
    "document dated": (_linked, _date_document, "effective Mar 09, 2026", None),
    "plan added": (_nothing, _planned, "Action plans for 1.1", None),
    "plan completed": (_planned, _complete_plan, "Completed", None),
    "plan owner renamed": (_planned, _rename_owner, "Owner: Owen Owner", "Owner: Evan Employee"),
    "profile submitted": (_nothing, _submit, "<dt>Implementation status</dt>", "data-autosave-url"),
    "member made read-only": (_nothing, _demote, "<dt>Implementation status</dt>", "data-autosave-url"),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_change_made_after_the_page_was_cached_is_shown(app, client, login, cast, name):
    before, change, shown, gone = CHANGES[name]
    with app.app_context():
        before(cast)
        db_session.commit()
    login(cast.email("employee_a"))
    url = _url(app, cast)
    first = _html(client, url)
    assert _criteria(_html(client, url)) == _criteria(first)  # served again from the cache, token included
    assert fragment_cache(app).hits == 1
    if gone:
        assert gone in first
    with app.app_context():
        change(cast)
        db_session.commit()
    after = _html(client, url)
    assert shown in after
    if gone:
        assert gone not in after


def test_an_action_plan_turns_overdue_when_the_day_changes(app, client, login, cast, monkeypatch):
    with app.app_context():
        db_session.add(ActionPlan(profile_id=_profile(cast).id, criterion_id=CRITERION, gap="No review",
                                  corrective_action="Schedule one", owner_user_id=cast.users["employee_a"].id,
                                  target_date=clock.today() + timedelta(days=1)))
        db_session.commit()
    login(cast.email("employee_a"))
    url = _url(app, cast)
    assert "Overdue" not in _html(client, url)
    later = clock.today() + timedelta(days=3)
    import portal.action_plans.models as plan_models

    monkeypatch.setattr(clock, "today", lambda: later)
    monkeypatch.setattr(plan_models, "today", lambda: later)
    assert "Overdue" in _html(client, url)


@contextmanager
def _counting_selects(app: Any) -> Iterator[list[str]]:
    """The SELECT statements sent while the block runs."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_cached_page_costs_one_statement(app, client, login, cast):
    with app.app_context():
        _answered(cast)
        _linked(cast)
        _planned(cast)
        db_session.commit()
    login(cast.email("employee_a"))
    url = _url(app, cast)
    with _counting_selects(app) as statements:
        first = _html(client, url)
    on_miss = len(statements)
    with _counting_selects(app) as statements:
        assert _criteria(_html(client, url)) == _criteria(first)
    # The signed-in user (with memberships and unread count), the profile and the fingerprint of the rows
    # the page shows, in one statement (portal/security.py, ReadWithUser).
    assert len(statements) == 1, statements
    assert "session_token" in statements[0] and "fingerprint" in statements[0]
    assert on_miss > len(statements)


def _selects(app: Any, client: Any, url: str) -> tuple[int, list[str]]:
    with _counting_selects(app) as statements:
        status = client.get(url).status_code
    return status, statements


def test_the_profile_read_with_the_user_is_still_authorized_by_the_page(app, client, login, cast):
    """The category page's profile is read in the user's statement, before the view checks access: a
    member of another company gets 404 for it as for a profile that does not exist, each in one
    statement, and the page's content is not in the response."""
    with app.app_context():
        other = factories.profile_of(cast.account_b).id
    login(cast.email("employee_a"))
    status, statements = _selects(app, client, f"/profiles/{other}/categories/1")
    assert status == 404 and len(statements) == 1
    status, statements = _selects(app, client, "/profiles/999999/categories/1")
    assert status == 404 and len(statements) == 1
    page = client.get(f"/profiles/{other}/categories/1").get_data(as_text=True)
    assert "Bravo Manufacturing" not in page


def test_a_read_with_the_user_serves_its_own_page_only(app, cast):
    """What the user's statement read for one category is not taken for another (or another profile)."""
    from flask import g

    from portal.profiles import queries

    with app.test_request_context():
        profile = _profile(cast)
        g.category_read = (profile.id, 1, None, None)  # as kept for category 1 of a missing profile
        found, fingerprint = queries.get_profile_with_fingerprint_or_404(profile.id, 2)
        assert found.id == profile.id and isinstance(fingerprint, str)
        assert "category_read" not in g


def test_statements_read_on_every_page_fit_psycopgs_conversion_cache():
    """psycopg converts the placeholders of a statement of at most 4,096 bytes once per process, and of
    a longer one at every execution (docs/PERFORMANCE.md §5.13): the statements every page or every
    category page runs must stay under it on PostgreSQL."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
    from sqlalchemy.dialects import postgresql

    import portal.profiles.routes  # noqa: F401 (registers the category page's read)
    from portal.profiles import queries
    from portal.security import _user_statement, _user_statement_with

    for statement in (_user_statement(), _user_statement_with("profiles.category", "postgresql"),
                      _user_statement_with("profiles.autosave", "postgresql"),
                      queries._profile_statement_with_fingerprint("postgresql")):
        text = str(statement.compile(dialect=postgresql.psycopg.dialect()))
        assert len(text.encode()) <= MAX_CACHED_STATEMENT_LENGTH, len(text)


# -- CSRF tokens ----------------------------------------------------------------------------------

def _tokens(html: str) -> tuple[str, set[str]]:
    meta = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert meta
    return meta.group(1), set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html))


def test_each_session_gets_its_own_csrf_token_from_a_cached_page(database_url, tmp_path, login):
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        cast = factories.build_cast()
        _linked(cast)
        db_session.commit()
        profile_id = _profile(cast).id
    url = f"/profiles/{profile_id}/categories/1"
    pages = {}
    for email in ("employee@a.example", "officer@a.example"):
        browser = app.test_client()
        # The sign-in form itself needs the token of the login page.
        login_page = browser.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
        assert browser.post("/auth/login", data={"email": email, "password": factories.PASSWORD,
                                                 "csrf_token": token}).status_code == 302
        pages[email] = (browser, _html(browser, url))
    cache = fragment_cache(app)
    assert cache.hits >= 1 and len(cache) == 1  # both pages show the same data: one entry
    meta_a, forms_a = _tokens(pages["employee@a.example"][1])
    meta_b, forms_b = _tokens(pages["officer@a.example"][1])
    assert meta_a != meta_b
    assert len(forms_a) == len(forms_b) == 1 and forms_a != forms_b
    for _, html in pages.values():
        assert cache.csrf_placeholder not in html
    # The token in the cached fragment works: the second user removes the link with it.
    browser, html = pages["officer@a.example"]
    action = re.search(r'<form method="post" action="([^"]+/evidence-links/\d+/delete)"', html)
    assert action, "no remove form on the page"
    response = browser.post(action.group(1), data={"csrf_token": forms_b.pop(), "next": url})
    assert response.status_code == 302
    with app.app_context():
        assert db_session.scalar(select(EvidenceLink)) is None
    assert "No evidence is linked to criterion 1.1 yet." in _html(browser, url)
    app.extensions["db_engine"].dispose()


# -- the cache itself -----------------------------------------------------------------------------

def _renderer(calls: list[str], text: str = "page") -> Callable[[Callable[[], Any]], str]:
    def render(csrf_token: Callable[[], Any]) -> str:
        calls.append(text)
        return f"<p>{text}</p><input value=\"{csrf_token()}\">"

    return render


def test_the_cache_keeps_the_most_recently_used_entries(app):
    cache = FragmentCache(2)
    calls: list[str] = []
    with app.test_request_context("/"):
        cache.render("a", _renderer(calls, "a"))
        cache.render("b", _renderer(calls, "b"))
        cache.render("a", _renderer(calls, "a"))  # a is now the most recent
        cache.render("c", _renderer(calls, "c"))  # evicts b
        cache.render("a", _renderer(calls, "a"))
        cache.render("b", _renderer(calls, "b"))
    assert calls == ["a", "b", "c", "b"]
    assert len(cache) == 2 and (cache.hits, cache.misses) == (2, 4)


def test_no_key_or_no_room_renders_every_time(app):
    calls: list[str] = []
    with app.test_request_context("/"):
        off = FragmentCache(0)
        off.render("a", _renderer(calls))
        off.render("a", _renderer(calls))
        on = FragmentCache(10)
        on.render(None, _renderer(calls))
        html = on.render(None, _renderer(calls))
    assert len(calls) == 4 and len(off) == 0 and len(on) == 0
    assert on.csrf_placeholder not in html and 'value=""' not in html


def _decode(fingerprint: str) -> list[str | None]:
    """The fields of a fingerprint: "~" for NULL, else the length, a colon and the value."""
    fields: list[str | None] = []
    i = 0
    while i < len(fingerprint):
        if fingerprint[i] == "~":
            fields.append(None)
            i += 1
            continue
        colon = fingerprint.index(":", i)
        length = int(fingerprint[i:colon])
        fields.append(fingerprint[colon + 1:colon + 1 + length])
        i = colon + 1 + length
    return fields


def test_the_fingerprint_of_a_category_holds_its_own_criteria_only(app, cast):
    """Criterion IDs are "category.number": category 1's fingerprint reads 1.x and never 10.x or 11.x,
    and each category's rows are all in its own (on PostgreSQL whatever the database's collation)."""
    from portal.profiles.queries import get_profile_with_fingerprint_or_404

    with app.app_context():
        profile = _profile(cast)
        catalog = get_catalog(profile.catalog_id)
        for category in (1, 10, 11):
            for criterion in catalog.criteria_in(category, profile.account.business_type):
                factories.answer(profile, criterion.id)
        db_session.commit()
        fingerprints = {n: get_profile_with_fingerprint_or_404(profile.id, n)[1] for n in (1, 10, 11)}
        for n, fingerprint in fingerprints.items():
            fields = _decode(fingerprint)
            rows = [fields[i:i + 6] for i in range(0, len(fields), 6)]
            ids = {row[1] for row in rows if row[0] == "a"}
            expected = {c.id for c in catalog.criteria_in(n, profile.account.business_type)}
            assert ids == expected and expected, (n, ids, expected)

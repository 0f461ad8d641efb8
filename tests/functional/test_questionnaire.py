"""The guided questionnaire: progress, category pages, plain-POST and autosave saving, resume,
edit conflicts, bad input, and tenant isolation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, func, select

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.db import db_session
from portal.profiles.models import Answer
from tests import factories


@pytest.fixture
def profile_id(app, cast):
    with app.app_context():
        return factories.profile_of(cast.account_a).id


def _answer(app, profile_id, criterion_id):
    with app.app_context():
        return db_session.scalar(select(Answer).where(Answer.profile_id == profile_id,
                                                      Answer.criterion_id == criterion_id))


def _category_form(criteria: dict[str, dict[str, str]], **extra: str) -> dict[str, str]:
    data: dict[str, str] = dict(extra)
    for cid, values in criteria.items():
        key = "c_" + cid.replace(".", "_")
        for name in ("status", "narrative", "justification", "version"):
            if name in values:
                data[f"{key}-{name}"] = values[name]
    return data


def test_overview_shows_progress_per_category_and_overall(app, client, login, cast, profile_id):
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer(profile, "1.1")
        factories.answer(profile, "1.3", "partially_implemented", "Audit started in March.")
        factories.answer(profile, "2.1", None, "Draft only, no status yet")
        db_session.commit()
    login(cast.email("employee_a"))
    html = client.get(f"/profiles/{profile_id}").get_data(as_text=True)
    # Category 1 has 4 criteria for importers: 1.1 and 1.3 complete; 2.1 has no status so it is not answered.
    assert re.search(r"1\. Security Vision[^<]*</a>.*?<td>2 / 4</td>", html, re.S)
    assert re.search(r"2\. Risk Assessment[^<]*</a>.*?<td>0 / 4</td>", html, re.S)
    assert "Criteria answered: 2 of 95" in html


def test_save_and_continue_stores_answers_and_moves_to_the_next_category(app, client, login, cast, profile_id):
    login(cast.email("employee_a"))
    response = client.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
        {"1.1": {"status": "implemented", "narrative": "Signed by the CEO in 2025."},
         "1.2": {"status": "not_applicable", "justification": "One-person security function."}},
        **{"continue": "1"}))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/profiles/{profile_id}/categories/2")
    assert _answer(app, profile_id, "1.1").narrative == "Signed by the CEO in 2025."
    assert _answer(app, profile_id, "1.2").status.value == "not_applicable"
    overview = client.get(f"/profiles/{profile_id}").get_data(as_text=True)
    assert "Resume with category 1" in overview


def test_a_narrative_over_the_limit_is_refused_with_the_count_and_nothing_is_stored(app, client, login, cast,
                                                                                     profile_id):
    login(cast.email("employee_a"))
    response = client.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
        {"1.1": {"status": "implemented", "narrative": "x" * 10_001},
         "1.2": {"status": "implemented", "narrative": "Kept on the page"}}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "10,001 characters long; the limit is 10,000" in html
    assert "Kept on the page" in html
    assert _answer(app, profile_id, "1.1") is None and _answer(app, profile_id, "1.2") is None


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)//<a href=x>",
    "{{ 7*7 }}<iframe src=//evil>",
])
def test_html_in_narratives_is_shown_escaped(app, client, login, cast, profile_id, payload):
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative=payload)
        db_session.commit()
    login(cast.email("employee_a"))
    html = client.get(f"/profiles/{profile_id}/categories/1").get_data(as_text=True)
    assert payload not in html
    assert "<script>alert" not in html and "<svg/onload" not in html and "<img src=x" not in html
    assert "&lt;" in html
    assert "{{ 7*7 }}" not in payload or "49" not in html.split("c_1_1-narrative")[1][:300]


def test_autosave_saves_one_answer_and_reports_the_time(app, client, login, cast, profile_id):
    login(cast.email("consultant_a"))
    response = client.post(f"/profiles/{profile_id}/criteria/4.1/autosave",
                           data={"status": "implemented", "narrative": "Written IT security policy v3.", "version": ""})
    assert response.status_code == 200
    assert response.json["ok"] is True and response.json["version"] == 1
    saved = _answer(app, profile_id, "4.1")
    assert saved.narrative == "Written IT security policy v3."
    assert saved.updated_by_id == cast.users["consultant_a"].id


def test_autosave_reads_the_profile_with_the_signed_in_user(app, client, login, cast, profile_id):
    """The profile of an autosave is read in the statement that loads the user (portal/security.py):
    the user's statement names the profile, no other statement reads it, and a member of another
    company still gets 404 for it, with nothing stored."""
    engine = app.extensions["db_engine"]
    selects: list[str] = []

    def before(conn, cursor, statement, *args):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    login(cast.email("consultant_a"))
    event.listen(engine, "before_cursor_execute", before)
    try:
        response = client.post(f"/profiles/{profile_id}/criteria/4.1/autosave",
                               data={"status": "implemented", "narrative": "Badge audit monthly.", "version": ""})
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert response.status_code == 200 and response.json["ok"] is True
    assert "session_token" in selects[0] and "security_profiles" in selects[0]
    assert not any("FROM security_profiles" in statement for statement in selects[1:]), selects
    other = app.test_client()
    login(cast.email("officer_b"), test_client=other)
    response = other.post(f"/profiles/{profile_id}/criteria/4.2/autosave",
                           data={"status": "implemented", "narrative": "Not theirs.", "version": ""})
    assert response.status_code == 404
    assert _answer(app, profile_id, "4.2") is None


def _selects_of(app, call):  # noqa: ANN001, ANN202
    """The SELECT statements ``call()`` sends, and what it returned."""
    engine = app.extensions["db_engine"]
    selects: list[str] = []

    def before(conn, cursor, statement, *args):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        return selects, call()
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_autosave_reads_the_answer_with_the_signed_in_user(app, client, login, cast, profile_id):
    """The answer an autosave saves is read in the user's statement too, whether it exists yet or not:
    no other statement reads it, and the save still checks its version."""
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative="First text")
        db_session.commit()
    login(cast.email("employee_a"))
    for criterion_id, version, expected in (("1.1", "1", 2), ("1.2", "", 1)):
        selects, response = _selects_of(app, lambda c=criterion_id, v=version: client.post(
            f"/profiles/{profile_id}/criteria/{c}/autosave",
            data={"status": "implemented", "narrative": f"Saved for {c}", "version": v}))
        assert response.status_code == 200 and response.json["version"] == expected, response.json
        assert "session_token" in selects[0] and "answers" in selects[0]
        assert not any("FROM answers" in statement for statement in selects[1:]), selects
        assert _answer(app, profile_id, criterion_id).narrative == f"Saved for {criterion_id}"
    # The version read with the user is the one the UPDATE checks: an old one is a conflict.
    response = client.post(f"/profiles/{profile_id}/criteria/1.1/autosave",
                           data={"status": "implemented", "narrative": "From an old page", "version": "1"})
    assert response.status_code == 409 and response.json["theirs"] == "Saved for 1.1"


def _other_writer(app, monkeypatch, sql: str, **values: object) -> list[str]:  # noqa: ANN001
    """Make another connection run ``sql`` and commit, between the moment autosave has read the answer
    and its write (the answer read with the user is handed to the service then)."""
    from sqlalchemy import create_engine, text

    from portal.profiles import queries

    done: list[str] = []
    original = queries.stored_answer

    def in_between(profile, criterion_id):  # noqa: ANN001, ANN202
        stored = original(profile, criterion_id)
        # Not the app's engine: a plain connection of its own, as another app server would have. On SQLite
        # it would wait for the writer's lock if autosave held it while reading, and fail after 5 seconds.
        other = create_engine(app.extensions["db_engine"].url)
        try:
            with other.begin() as connection:
                connection.execute(text(sql), {"profile_id": profile.id, "criterion_id": criterion_id, **values})
        finally:
            other.dispose()
        done.append(criterion_id)
        return stored

    monkeypatch.setattr(queries, "stored_answer", in_between)
    return done


# What another save commits between autosave's read and its write: the SQL, the criterion, the version the
# page sends back, and the text and version that must win.
IN_BETWEEN = {
    "a save": ("UPDATE answers SET narrative = 'Saved in between', version = version + 1 "
               "WHERE profile_id = :profile_id AND criterion_id = :criterion_id", "1.1", "1", "Saved in between", 2),
    "a first answer": ("INSERT INTO answers (profile_id, criterion_id, narrative, justification, updated_at, version) "
                       "VALUES (:profile_id, :criterion_id, 'Inserted in between', '', :now, 1)", "1.2", "",
                       "Inserted in between", 1),
}


@pytest.mark.parametrize("what", sorted(IN_BETWEEN))
def test_a_save_committed_between_autosaves_read_and_write_is_a_conflict(app, client, login, cast, profile_id,
                                                                           monkeypatch, what):
    """Another save of the answer, or a first answer to the criterion (the answer's unique key), committed
    between autosave's read and its write is a 409 with their text, and theirs is kept; the losing save
    leaves no audit event."""
    from datetime import UTC, datetime

    sql, criterion_id, version, theirs, their_version = IN_BETWEEN[what]
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative="First text")
        db_session.commit()
        saved = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "answer.saved")
        events = db_session.scalar(saved)
    login(cast.email("employee_a"))
    done = _other_writer(app, monkeypatch, sql, now=datetime.now(UTC).replace(tzinfo=None))
    response = client.post(f"/profiles/{profile_id}/criteria/{criterion_id}/autosave",
                           data={"status": "implemented", "narrative": "Mine", "version": version})
    assert done == [criterion_id]
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.json["theirs"] == theirs and response.json["version"] == their_version
    assert _answer(app, profile_id, criterion_id).narrative == theirs
    with app.app_context():
        assert db_session.scalar(saved) == events


def test_a_category_save_racing_another_shows_their_version_and_author(app, client, login, cast, profile_id,
                                                                       monkeypatch, database_url):
    """A save committed between the category page's read of an answer and its rewrite is a conflict on
    that criterion, and the page offers their text, their version and their name: the next save then
    replaces theirs deliberately instead of conflicting again."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only: on SQLite the page holds the writer's lock from its first statement")
    from sqlalchemy import create_engine, text

    from portal.profiles import services

    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative="First text")
        db_session.commit()
    consultant = cast.users["consultant_a"]
    original = services._rewrite

    def racing(profile, criterion, answer, data, by):  # noqa: ANN001, ANN202
        other = create_engine(app.extensions["db_engine"].url)
        try:
            with other.begin() as connection:
                connection.execute(text("UPDATE answers SET narrative = 'Saved in between', version = version + 1, "
                                        "updated_by_id = :user WHERE id = :id"),
                                   {"user": consultant.id, "id": answer.id})
        finally:
            other.dispose()
        return original(profile, criterion, answer, data, by)

    monkeypatch.setattr(services, "_rewrite", racing)
    login(cast.email("employee_a"))
    response = client.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
        {"1.1": {"status": "implemented", "narrative": "Mine", "version": "1"}}))
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    field = re.search(r'<input[^>]*name="c_1_1-version"[^>]*>', html).group(0)
    assert 'value="2"' in field, field
    assert "Saved in between" in html and consultant.full_name in html
    assert _answer(app, profile_id, "1.1").narrative == "Saved in between"


def test_autosave_reads_outside_a_transaction_and_writes_inside_one(app, client, login, cast, profile_id,
                                                                    database_url):
    """Autosave reads outside a transaction and begins its write transaction just before its first write
    (on SQLite BEGIN IMMEDIATE, the writer's lock), while another POST is in one from its first statement.
    The rewrite of a stored answer is on PostgreSQL one statement with its audit event, run as its own
    transaction; on SQLite an UPDATE and an INSERT in one."""
    engine = app.extensions["db_engine"]
    sqlite = database_url.startswith("sqlite")
    seen: list[tuple[str, bool]] = []

    def before(conn, cursor, statement, *args):  # noqa: ANN001
        dbapi_connection = cursor.connection
        # psycopg sends BEGIN with the first statement of a connection that is not in autocommit; the
        # portal sends its own (before this listener runs) in autocommit.
        in_transaction = dbapi_connection.in_transaction if sqlite else \
            not dbapi_connection.autocommit or dbapi_connection.info.transaction_status != 0
        seen.append((statement.lstrip().split()[0].upper(), in_transaction))

    def events() -> int:
        with app.app_context():
            return db_session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.action == "answer.saved"))

    login(cast.email("employee_a"))
    event.listen(engine, "before_cursor_execute", before)
    try:
        first = client.post(f"/profiles/{profile_id}/criteria/1.1/autosave",
                            data={"status": "implemented", "narrative": "Mine", "version": ""})
        insert, seen[:] = list(seen), []
        saved_before = events()
        seen[:] = []
        second = client.post(f"/profiles/{profile_id}/criteria/1.1/autosave",
                             data={"status": "implemented", "narrative": "Mine, again",
                                   "version": str(first.get_json()["version"])})
        rewrite, seen[:] = list(seen), []
        client.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
            {"1.2": {"status": "implemented", "narrative": "By the page"}}))
        category = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert second.get_json()["version"] == first.get_json()["version"] + 1
    assert _answer(app, profile_id, "1.1").narrative == "Mine, again"
    assert events() == saved_before + 2  # the rewrite's own and the category page's
    assert _answer(app, profile_id, "1.2").narrative == "By the page"
    for statements in (insert, rewrite):
        first_write = next(index for index, (head, _) in enumerate(statements) if head in {"INSERT", "UPDATE", "WITH"})
        assert first_write > 0
        assert not any(in_transaction for _, in_transaction in statements[:first_write]), statements
        if sqlite or statements is insert:
            assert all(in_transaction for _, in_transaction in statements[first_write:]), statements
    if sqlite:
        assert [head for head, _ in rewrite[-2:]] == ["UPDATE", "INSERT"], rewrite
    else:
        assert rewrite[-1] == ("WITH", False), rewrite  # the save and its event: one statement, no BEGIN
    assert category[0] == ("SELECT", True), category


def test_a_rewritten_answer_object_holds_what_its_row_holds(app, cast):
    """The rewrite is a statement, not a flush: the answer object it returns is brought up to date with
    the row (text, status, version, author), with nothing left for the ORM to write."""
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        officer, employee = (db_session.get(User, cast.users[key].id) for key in ("officer_a", "employee_a"))
        first = factories.answer(profile, "1.1", narrative="First", by=officer)
        assert first.updated_by is officer
        db_session.flush()
        version = first.version
        again = factories.answer(profile, "1.1", "partially_implemented", narrative="Second", by=employee)
        assert again is first and not db_session.dirty
        assert (again.narrative, again.status.value, again.version) == ("Second", "partially_implemented",
                                                                        version + 1)
        assert again.updated_by is employee and again.updated_by_id == employee.id
        employee_id, profile_id = employee.id, profile.id
        db_session.commit()
    stored = _answer(app, profile_id, "1.1")
    assert (stored.narrative, stored.version, stored.updated_by_id) == ("Second", version + 1, employee_id)


def test_a_nul_in_autosaves_criterion_is_refused_before_the_user_is_read(app, client, login, cast, profile_id):
    """The criterion of the path goes into the statement that loads the user (AUTOSAVE_READ): a NUL in
    it, which no PostgreSQL text parameter takes, is a 400 before that statement, not a 500."""
    login(cast.email("employee_a"))
    response = client.post(f"/profiles/{profile_id}/criteria/1.1%00/autosave",
                           data={"status": "implemented", "narrative": "x", "version": ""})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    assert _answer(app, profile_id, "1.1") is None


def test_autosave_of_a_crafted_or_inapplicable_criterion_is_404(app, client, login, cast, profile_id):
    login(cast.email("employee_a"))
    for criterion_id in ("99.9", "3.8", "6.4", "1.1;drop", "../1.1"):
        response = client.post(f"/profiles/{profile_id}/criteria/{criterion_id}/autosave",
                               data={"status": "implemented", "narrative": "x"})
        assert response.status_code == 404, criterion_id
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(Answer)) == 0


def test_two_clients_editing_the_same_answer_get_a_conflict_not_a_silent_overwrite(app, cast, profile_id, login):
    first, second = app.test_client(), app.test_client()
    login(cast.email("officer_a"), test_client=first)
    login(cast.email("employee_a"), test_client=second)
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative="Original text")
        db_session.commit()
    # Both opened the page at version 1.
    assert first.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
        {"1.1": {"status": "implemented", "narrative": "Officer's text", "version": "1"}})).status_code == 302
    response = second.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
        {"1.1": {"status": "implemented", "narrative": "Employee's text", "version": "1"},
         "1.2": {"status": "implemented", "narrative": "Unrelated answer"}}))
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Officer&#39;s text" in html and "Employee&#39;s text" in html
    assert _answer(app, profile_id, "1.1").narrative == "Officer's text"
    # The employee's other answer was saved; nothing they typed is lost.
    assert _answer(app, profile_id, "1.2").narrative == "Unrelated answer"
    # Saving again from the conflict page (which carries the new version) overwrites deliberately.
    version = re.search(r'name="c_1_1-version"[^>]*value="(\d+)"', html) or re.search(
        r'value="(\d+)"[^>]*name="c_1_1-version"', html)
    assert version and version.group(1) == "2"
    assert second.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
        {"1.1": {"status": "implemented", "narrative": "Employee's text", "version": "2"},
         "1.2": {"status": "implemented", "narrative": "Unrelated answer", "version": "1"}})).status_code == 302
    assert _answer(app, profile_id, "1.1").narrative == "Employee's text"


def test_autosave_conflict_returns_both_texts(app, client, login, cast, profile_id):
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative="Theirs")
        db_session.commit()
    login(cast.email("employee_a"))
    response = client.post(f"/profiles/{profile_id}/criteria/1.1/autosave",
                           data={"status": "implemented", "narrative": "Mine", "version": ""})
    assert response.status_code == 409
    assert response.json["theirs"] == "Theirs" and response.json["mine"] == "Mine"
    assert _answer(app, profile_id, "1.1").narrative == "Theirs"


def test_other_companies_and_read_only_users_cannot_edit(app, client, login, cast, profile_id):
    login(cast.email("officer_b"))
    assert client.get(f"/profiles/{profile_id}").status_code == 404
    assert client.get(f"/profiles/{profile_id}/categories/1").status_code == 404
    assert client.post(f"/profiles/{profile_id}/criteria/1.1/autosave", data={"narrative": "x"}).status_code == 404
    reader = app.test_client()
    login(cast.email("readonly_a"), test_client=reader)
    page = reader.get(f"/profiles/{profile_id}/categories/1")
    assert page.status_code == 200 and "data-autosave-url" not in page.get_data(as_text=True)
    assert reader.post(f"/profiles/{profile_id}/categories/1", data=_category_form(
        {"1.1": {"status": "implemented", "narrative": "x"}})).status_code == 403
    assert reader.post(f"/profiles/{profile_id}/criteria/1.1/autosave", data={"narrative": "x"}).status_code == 403
    assert _answer(app, profile_id, "1.1") is None


def test_unknown_category_is_404(client, login, cast, profile_id):
    login(cast.email("employee_a"))
    assert client.get(f"/profiles/{profile_id}/categories/13").status_code == 404
    assert client.get(f"/profiles/{profile_id}/categories/0").status_code == 404


def _count_statements(app, fn):
    engine = app.extensions["db_engine"]
    statements = []

    def before(conn, cursor, statement, *args):  # noqa: ANN001
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(statements)


def test_category_page_statement_count_does_not_grow_with_the_number_of_criteria(app, client, login, cast,
                                                                                profile_id, monkeypatch):
    """The same number of SQL statements for a category of 5 criteria and one of 60."""
    from dataclasses import replace

    from portal.catalog import get_catalog
    from portal.catalog.schema import Catalog
    from portal.profiles import services

    base = get_catalog()
    template = base.criterion("1.1")
    criteria = [replace(template, id=f"1.{n}", title=f"Synthetic {n}", category=1) for n in range(1, 6)]
    criteria += [replace(template, id=f"2.{n}", title=f"Synthetic {n}", category=2) for n in range(1, 61)]
    synthetic = Catalog(id=base.id, title=base.title, effective_date=base.effective_date,
                        answer_scale=base.answer_scale, focus_areas=base.focus_areas,
                        categories=tuple(c for c in base.categories if c.number in (1, 2)), criteria=tuple(criteria))
    monkeypatch.setattr(services, "get_catalog", lambda catalog_id=None: synthetic)
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        for criterion in criteria:
            factories.answer(profile, criterion.id, narrative=f"Answer {criterion.id}")
        db_session.commit()
    login(cast.email("employee_a"))
    small = _count_statements(app, lambda: client.get(f"/profiles/{profile_id}/categories/1"))
    large = _count_statements(app, lambda: client.get(f"/profiles/{profile_id}/categories/2"))
    assert client.get(f"/profiles/{profile_id}/categories/2").get_data(as_text=True).count("Synthetic") >= 60
    assert small == large, f"5 criteria: {small} statements, 60 criteria: {large}"

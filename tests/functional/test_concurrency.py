"""Concurrent saves of the same row (issue 8 item 4, "Concurrency"; T2 of the security reference).

10 threads × 20 saves of the same answer (autosave), the same rating (the review's category page, which
calls ``portal.reviews.services.save_rating``) and the same validation visit (reschedule). Each save reads
the current version first and posts it back, as a browser does (read in one request, write in the next),
so saves race. For each:

- no response is a 5xx (a deadlock or a "database is locked" would surface as one);
- every save is either accepted or refused as a conflict (409);
- accepted saves = final version - initial version, and no two accepted saves got the same version:
  no update was lost;
- the stored content is that of the accepted save with the highest version.

Every thread has its own test client; they share one signed-in session (signing the same user in again
would rotate the session token and sign the other clients out), copied from one client's cookie.

Runs on SQLite (writes take the lock up front with BEGIN IMMEDIATE and wait up to busy_timeout) and on
PostgreSQL (the version check in the UPDATE's WHERE clause re-evaluates after the row lock).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portal.db import db_session, dispose_engines
from tests import factories
from tests.conftest import make_test_app
from tests.functional.test_access_matrix import SHARED_BYTECODE, build_world

THREADS = 10
SAVES = 20


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Any:
    """An app whose pool has a connection for every thread (and the test's own)."""
    application = make_test_app(database_url, tmp_path, DB_POOL_SIZE=THREADS + 2, DB_MAX_OVERFLOW=4)
    application.jinja_env.bytecode_cache = SHARED_BYTECODE
    yield application
    dispose_engines()


@dataclass
class Tally:
    accepted: dict[int, str] = field(default_factory=dict)   # version -> content saved
    duplicates: list[int] = field(default_factory=list)
    conflicts: int = 0
    other: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, version: int, content: str) -> None:
        with self.lock:
            if version in self.accepted:
                self.duplicates.append(version)
            self.accepted[version] = content


def shared_clients(app: Any, email: str) -> list[Any]:
    """THREADS clients signed in as one user through one login (the cookie is copied)."""
    first = app.test_client()
    assert first.post("/auth/login", data={"email": email, "password": factories.PASSWORD}).status_code == 302
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    value = first.get_cookie(cookie_name).value
    clients = [first]
    for _ in range(THREADS - 1):
        client = app.test_client()
        client.set_cookie(cookie_name, value)
        clients.append(client)
    return clients


def race(app: Any, clients: list[Any], save: Callable[[Any, int, int, Tally], None]) -> Tally:
    tally = Tally()

    def worker(number: int) -> None:
        for attempt in range(SAVES):
            try:
                save(clients[number], number, attempt, tally)
            except Exception as error:  # noqa: BLE001 - TESTING re-raises what would be a 500
                with tally.lock:
                    tally.other.append(f"thread {number} save {attempt}: {type(error).__name__}: {error}"[:300])
            finally:
                db_session.remove()  # this thread's session (scoped per thread)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    return tally


def read(app: Any, query: Any) -> Any:
    with app.app_context():
        value = db_session.execute(query).one()
        db_session.rollback()
        return value


def check(tally: Tally, initial: int, final: int, stored: str) -> None:
    assert tally.other == [], "\n".join(tally.other[:20])
    assert len(tally.accepted) + tally.conflicts == THREADS * SAVES
    assert tally.duplicates == [], f"two accepted saves got the same version: {tally.duplicates}"
    assert len(tally.accepted) == final - initial, (len(tally.accepted), initial, final)
    assert len(tally.accepted) >= 1
    assert tally.accepted[final] == stored, "the stored content is not that of the last accepted save"


def test_concurrent_autosaves_of_one_answer(app: Any, cast: Any) -> None:
    from portal.profiles.models import Answer

    world = build_world(app, cast)
    profile_id = world.params["profile_id"]
    query = select(Answer.version, Answer.narrative).where(Answer.profile_id == profile_id,
                                                          Answer.criterion_id == "1.1")
    initial, _ = read(app, query)
    clients = shared_clients(app, cast.email("officer_a"))

    def save(client: Any, number: int, attempt: int, tally: Tally) -> None:
        version, _ = read(app, query)
        narrative = f"thread {number} save {attempt}"
        response = client.post(f"/profiles/{profile_id}/criteria/1.1/autosave", data={
            "status": "partially_implemented", "narrative": narrative, "justification": "", "version": str(version)})
        body = response.get_json(silent=True) or {}
        if response.status_code == 200 and body.get("ok"):
            tally.accept(body["version"], narrative)
        elif response.status_code == 409 and body.get("conflict"):
            with tally.lock:
                tally.conflicts += 1
        else:
            with tally.lock:
                tally.other.append(f"{response.status_code}: {response.get_data(as_text=True)[:200]}")

    tally = race(app, clients, save)
    final, stored = read(app, query)
    check(tally, initial, final, stored)


def test_concurrent_saves_of_one_rating(app: Any, cast: Any) -> None:
    from portal.auth.models import User
    from portal.reviews import services
    from portal.reviews.models import CriterionRating, Review
    from portal.reviews.scoring import Rating

    world = build_world(app, cast)
    review_id = world.params["review_id"]
    with app.app_context():
        review = db_session.get(Review, review_id)
        reviewer = db_session.get(User, cast.users["reviewer"].id)
        services.start(review, by=reviewer)
        services.save_rating(review, services.criteria_in_version(review)["1.1"],
                             services.RatingInput(Rating.MEETS, "first", (), None), by=reviewer)
        db_session.commit()
    query = select(CriterionRating.version, CriterionRating.comment).where(
        CriterionRating.review_id == review_id, CriterionRating.criterion_id == "1.1")
    initial, _ = read(app, query)
    clients = shared_clients(app, cast.email("reviewer"))

    def save(client: Any, number: int, attempt: int, tally: Tally) -> None:
        version, _ = read(app, query)
        comment = f"thread {number} save {attempt}"
        response = client.post(f"/reviews/{review_id}/categories/1", data={
            "c_1_1-rating": "partially_meets", "c_1_1-comment": comment, "c_1_1-version": str(version)})
        if response.status_code == 302:
            # The page saved it; which version it became is read back under the same comment.
            with app.app_context():
                saved = db_session.scalar(select(CriterionRating.version).where(
                    CriterionRating.review_id == review_id, CriterionRating.criterion_id == "1.1",
                    CriterionRating.comment == comment))
                db_session.rollback()
            tally.accept(saved if saved is not None else -1 - number * SAVES - attempt, comment)
        elif response.status_code == 409:
            with tally.lock:
                tally.conflicts += 1
        else:
            with tally.lock:
                tally.other.append(f"{response.status_code}: {response.get_data(as_text=True)[:200]}")

    tally = race(app, clients, save)
    final, stored = read(app, query)
    # A save overwritten before it was read back is still counted (under a negative placeholder).
    check(tally, initial, final, stored)


def test_concurrent_reschedules_of_one_visit(app: Any, cast: Any) -> None:
    from portal.validations.models import Visit

    world = build_world(app, cast)
    visit_id = world.params["visit_id"]
    query = select(Visit.version, Visit.starts_at).where(Visit.id == visit_id)
    initial, _ = read(app, query)
    clients = shared_clients(app, cast.email("reviewer"))
    first_monday = date.today() + timedelta(days=130)  # after the blackout period of build_world
    first_monday += timedelta(days=(7 - first_monday.weekday()) % 7)

    def save(client: Any, number: int, attempt: int, tally: Tally) -> None:
        version, _ = read(app, query)
        # A distinct weekday for every save (200 of them), so each accepted save changes the row.
        day = first_monday + timedelta(weeks=(number * SAVES + attempt) // 5, days=(number * SAVES + attempt) % 5)
        response = client.post(f"/visits/{visit_id}/reschedule", data={
            "start_date": day.isoformat(), "start_time": "09:00", "end_date": day.isoformat(),
            "end_time": "17:00", "timezone": "America/Chicago", "version": str(version)})
        if response.status_code == 302:
            tally.accept(version + 1, day.isoformat())
        elif response.status_code == 409:
            with tally.lock:
                tally.conflicts += 1
        else:
            with tally.lock:
                tally.other.append(f"{day}: {response.status_code}: {response.get_data(as_text=True)[:300]}")

    tally = race(app, clients, save)
    final, starts_at = read(app, query)
    from zoneinfo import ZoneInfo

    check(tally, initial, final, starts_at.astimezone(ZoneInfo("America/Chicago")).date().isoformat())

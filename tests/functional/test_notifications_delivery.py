"""The notification centre's e-mail side (issue 8, item 3): a per-user e-mail preference that ``notify``
respects, and ``notify send`` delivery over SMTP with retries (at most 5 attempts) and no duplicates,
also with two senders at once (row claims with FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on
SQLite)."""

from __future__ import annotations

import smtplib
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.db import db_session
from portal.notifications.inbox import Notification, notify
from portal.notifications.mail import MAX_ATTEMPTS, deliver_pending, queue_email
from portal.notifications.models import OutboxEmail


class FakeSMTP:
    """Stands in for smtplib.SMTP: records each message; ``failures`` makes the first N sends fail."""

    sent: list[str] = []
    failures = 0
    delay = 0.0
    lock = threading.Lock()

    def __init__(self, host: str, port: int, timeout: float = 0) -> None:
        self.host = host

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        return None

    def send_message(self, message) -> None:  # noqa: ANN001
        with FakeSMTP.lock:
            if FakeSMTP.failures > 0:
                FakeSMTP.failures -= 1
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        if FakeSMTP.delay:
            time.sleep(FakeSMTP.delay)
        with FakeSMTP.lock:
            FakeSMTP.sent.append(message["Message-ID"])


@pytest.fixture
def smtp(app, monkeypatch):
    FakeSMTP.sent = []
    FakeSMTP.failures = 0
    FakeSMTP.delay = 0.0
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    app.config.update(SMTP_HOST="smtp.test.invalid", SMTP_PORT=2525, MAIL_DELIVER_AFTER_REQUEST=False)
    return FakeSMTP


def _queue(app, count: int) -> None:
    with app.app_context():
        for n in range(count):
            queue_email(f"person{n}@example.com", f"Message {n}", "Hello")
        db_session.commit()


def _outbox(app) -> list[OutboxEmail]:
    with app.app_context():
        return list(db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


# -- the preference ---------------------------------------------------------------------------------

def test_the_preference_page_turns_email_off_and_on(app, client, cast, login):
    login(cast.email("officer_a"))
    page = client.get("/account/notifications")
    assert page.status_code == 200
    assert 'id="email_notifications"' in page.get_data(as_text=True) and "checked" in page.get_data(as_text=True)
    assert client.post("/account/notifications", data={}).status_code == 302
    with app.app_context():
        user = db_session.get(User, cast.users["officer_a"].id)
        assert user.email_notifications is False
    assert "checked" not in client.get("/account/notifications").get_data(as_text=True)
    client.post("/account/notifications", data={"email_notifications": "y"})
    with app.app_context():
        assert db_session.get(User, cast.users["officer_a"].id).email_notifications is True
        actions = list(db_session.scalars(select(AuditEvent.summary).where(
            AuditEvent.action == "user.email_notifications_changed")))
    assert actions == ["E-mail notifications off", "E-mail notifications on"]
    # Saving without a change writes no event.
    client.post("/account/notifications", data={"email_notifications": "y"})
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "user.email_notifications_changed")) == 2


def test_the_preference_page_needs_a_sign_in(client):
    response = client.get("/account/notifications")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_notify_queues_email_only_for_users_who_want_it(app, cast):
    with app.app_context():
        keen = db_session.get(User, cast.users["officer_a"].id)
        quiet = db_session.get(User, cast.users["employee_a"].id)
        quiet.email_notifications = False
        notify(keen, "Your profile was returned", "Please look at 3.4.", "/dashboard")
        notify(quiet, "Your profile was returned", "Please look at 3.4.", "/dashboard")
        db_session.commit()
        recipients = list(db_session.scalars(select(OutboxEmail.recipient)))
        in_app = db_session.scalar(select(func.count()).select_from(Notification))
    assert recipients == ["officer@a.example"], "the quiet user still gets the in-app notification"
    assert in_app == 2


def test_the_inbox_links_to_the_preferences(client, cast, login):
    login(cast.email("officer_a"))
    assert 'href="/account/notifications"' in client.get("/notifications").get_data(as_text=True)


# -- delivery: retries and no duplicates ------------------------------------------------------------

def test_a_failing_smtp_server_is_retried_at_most_five_times(app, smtp):
    _queue(app, 1)
    smtp.failures = 100
    for run in range(1, MAX_ATTEMPTS + 3):
        with app.app_context():
            sent, failed = deliver_pending()
        message = _outbox(app)[0]
        assert sent == 0
        assert failed == (1 if run <= MAX_ATTEMPTS else 0), "given up after the fifth attempt"
        assert message.attempts == min(run, MAX_ATTEMPTS)
        assert message.sent_at is None and "unexpectedly closed" in message.last_error
    assert smtp.sent == []


def test_a_message_that_failed_is_sent_once_when_the_server_recovers(app, smtp):
    _queue(app, 3)
    smtp.failures = 2  # the first two sends of the first run fail
    with app.app_context():
        assert deliver_pending() == (1, 2)
    with app.app_context():
        assert deliver_pending() == (2, 0)
    with app.app_context():
        assert deliver_pending() == (0, 0), "nothing is sent twice"
    rows = _outbox(app)
    assert all(row.sent_at is not None and row.last_error is None for row in rows)
    assert [row.attempts for row in rows] == [2, 2, 1]
    assert len(smtp.sent) == 3 and len(set(smtp.sent)) == 3


def test_running_the_sender_twice_sends_nothing_twice(app, smtp):
    _queue(app, 5)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["notify", "send"])
    second = runner.invoke(args=["notify", "send"])
    assert "Sent 5 message(s); 0 failed" in first.output
    assert "Sent 0 message(s); 0 failed" in second.output
    assert len(smtp.sent) == 5 and len(set(smtp.sent)) == 5


def test_one_run_tries_each_message_once(app, smtp):
    _queue(app, 2)
    smtp.failures = 100
    with app.app_context():
        assert deliver_pending() == (0, 2)
    assert [row.attempts for row in _outbox(app)] == [1, 1]


def test_the_limit_bounds_a_run(app, smtp):
    _queue(app, 5)
    with app.app_context():
        assert deliver_pending(limit=2) == (2, 0)
        assert deliver_pending(limit=10) == (3, 0)


def test_two_senders_at_once_deliver_each_message_exactly_once(app, smtp):
    """Two deliverers in threads, each with its own connection: on PostgreSQL they take different rows
    (SKIP LOCKED), on SQLite they take turns (BEGIN IMMEDIATE); either way no message goes out twice."""
    total = 30
    _queue(app, total)
    smtp.delay = 0.01  # an SMTP conversation takes a little while, so the runs overlap
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def sender() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(deliver_pending(limit=total))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(sent for sent, _failed in results) == total
    assert len(smtp.sent) == total
    assert not [mid for mid, n in Counter(smtp.sent).items() if n > 1], "a message was sent twice"
    rows = _outbox(app)
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows)


@pytest.mark.skipif(not __import__("os").environ.get("PORTAL_TEST_DATABASE_URL"), reason="PostgreSQL only")
def test_on_postgresql_the_senders_share_the_work(app, smtp):
    """With SKIP LOCKED neither sender waits for the other's SMTP conversation: both deliver some."""
    total = 40
    _queue(app, total)
    smtp.delay = 0.02
    results: list[tuple[int, int]] = []
    barrier = threading.Barrier(2)

    def sender() -> None:
        with app.app_context():
            barrier.wait(timeout=10)
            results.append(deliver_pending(limit=total))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent for sent, _ in results)[0] > 0, results
    assert sum(sent for sent, _ in results) == total == len(set(smtp.sent)) == len(smtp.sent)

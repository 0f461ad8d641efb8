"""``flask --app wsgi reminders run``: annual window opening, required actions due in 30/7/1 days and
overdue, visits within 7 days, certification targets; idempotent per day and per milestone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from portal.db import db_session
from portal.notifications.inbox import Notification
from portal.notifications.models import OutboxEmail
from portal.profiles.submission import submit_profile
from portal.reviews.models import Review
from portal.validations.models import Finding, ReminderSent, Visit
from portal.validations.workflow import FindingKind, VisitStatus
from tests import factories
from tests.functional.test_validations import certify, planned, sent_with, user


def _count(model) -> int:
    return db_session.scalar(select(func.count()).select_from(model)) or 0


def _run(app) -> str:
    result = app.test_cli_runner().invoke(args=["reminders", "run"])
    assert result.exit_code == 0, result.output
    return result.output


def _scenario(app, cast, clock) -> dict:
    today = clock.now.date()
    # Certified 300 days ago: the annual window (90 days before the anniversary) is open.
    ids = planned(app, cast, certified_on=today - timedelta(days=300))
    soon, late, far = sent_with(app, cast, ids, (FindingKind.REQUIRED_ACTION,) * 3)
    with app.app_context():
        # A visit 35 days ahead (stored directly: this validation's report is already out).
        visit = Visit(validation_id=ids["validation"], site_id=ids["mx_site"], timezone="America/Monterrey",
                      starts_at=clock.now + timedelta(days=35), ends_at=clock.now + timedelta(days=35, hours=8),
                      status=VisitStatus.CONFIRMED)
        db_session.add(visit)
        db_session.flush()
        visit_id = visit.id
        db_session.get(Finding, soon).due_on = today + timedelta(days=5)
        db_session.get(Finding, late).due_on = today - timedelta(days=2)
        db_session.get(Finding, far).due_on = today + timedelta(days=80)
        # Company B's application waits 80 days for its review: the 90-day target is near.
        profile = factories.profile_of(cast.account_b)
        factories.answer_all(profile)
        submit_profile(profile, "Bruno Officer", by=user("officer_b", cast))
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id))
        review.submitted_at = review.clock_started_at = clock.now - timedelta(days=80)
        review.reviewer_id = cast.users["reviewer2"].id
        db_session.commit()
    return {**ids, "visit": visit_id, "soon": soon, "late": late, "far": far}


def test_reminders_run_twice_create_no_duplicates(app, cast, clock):
    _scenario(app, cast, clock)
    output = _run(app)
    for kind in ("annual_window: 1", "finding_due_7: 1", "finding_overdue: 1", "certification_target: 1"):
        assert kind in output
    assert "visit_soon" not in output  # 35 days away
    with app.app_context():
        counts = (_count(Notification), _count(OutboxEmail), _count(ReminderSent))
        assert counts[0] > 0 and counts[1] > 0
        officer_titles = set(db_session.scalars(select(Notification.title).where(
            Notification.user_id == cast.users["officer_a"].id)))
        assert {"Your CTPAT annual profile review is open", "A CTPAT required action is due soon",
                "A CTPAT required action is overdue"} <= officer_titles
        reviewer2_titles = set(db_session.scalars(select(Notification.title).where(
            Notification.user_id == cast.users["reviewer2"].id)))
        assert "A review is nearing its 90-day certification target" in reviewer2_titles
    assert _run(app) == "No reminders due.\n"
    with app.app_context():
        assert (_count(Notification), _count(OutboxEmail), _count(ReminderSent)) == counts


def test_each_milestone_is_sent_once_as_days_pass(app, cast, clock):
    ids = _scenario(app, cast, clock)
    _run(app)
    clock.advance(days=1)
    assert "No reminders due" in _run(app)  # still the same milestones
    clock.advance(days=3)  # 1 day left on the first action; the visit is 30 days away
    output = _run(app)
    assert "finding_due_1: 1" in output and "finding_overdue" not in output
    clock.advance(days=26)  # the visit is within 7 days; the third action is due in 50 days
    output = _run(app)
    assert "visit_soon: 1" in output and "finding_overdue: 1" in output  # the first action now overdue
    with app.app_context():
        visit = db_session.get(Visit, ids["visit"])
        team_titles = set(db_session.scalars(select(Notification.title).where(
            Notification.user_id == cast.users["reviewer"].id)))
        assert "A CTPAT validation visit is coming up" in team_titles and visit is not None
        kinds = set(db_session.scalars(select(ReminderSent.kind)))
    assert {"finding_due_7", "finding_due_1", "finding_overdue", "visit_soon", "annual_window",
            "certification_target"} <= kinds
    clock.advance(days=25)
    assert "finding_due_30: 1" in _run(app)  # the third action: 25 days left


def test_answered_actions_and_submitted_annual_reviews_are_not_reminded(app, cast, clock):
    ids = _scenario(app, cast, clock)
    with app.app_context():
        from portal.validations import findings

        for key in ("soon", "late"):
            findings.answer_finding(db_session.get(Finding, ids[key]), "Done.", [], by=user("officer_a", cast))
        db_session.commit()
    output = _run(app)
    assert "finding_due_7" not in output and "finding_overdue" not in output


def test_accounts_outside_the_window_get_no_annual_reminder(app, cast, clock):
    with app.app_context():
        certify(cast.account_a.id, cast, on=clock.now.date() - timedelta(days=30))
        db_session.commit()
    assert "annual_window" not in _run(app)


def test_a_run_reads_the_same_statements_for_2_and_12_accounts_in_their_window(app, cast, clock):
    """The reminders run reads accounts, cycles, officers, open reviews and the reminders already sent
    for all of them at once: a program of 10,000 accounts is not 10,000 queries a day."""
    from datetime import UTC, datetime

    from sqlalchemy import event

    from portal.companies.models import TradeAccount
    from portal.companies.workflow import AccountStatus
    from tests.functional.test_queue import bulk_reviews

    def accounts_in_window(count: int) -> None:
        with app.app_context():
            review_ids = bulk_reviews(count, cast.users["officer_a"].id, start=datetime(2025, 1, 1, tzinfo=UTC),
                                      certified_on=clock.now.date() - timedelta(days=300))
            account_ids = [db_session.get(Review, r).profile.account_id for r in review_ids]
            db_session.execute(TradeAccount.__table__.update().where(TradeAccount.id.in_(account_ids))
                               .values(status=AccountStatus.CERTIFIED.value))
            db_session.commit()

    def statements_of_a_run() -> int:
        seen: list[str] = []
        engine = app.extensions["db_engine"]

        def count(_conn, _cursor, statement, *_args) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            _run(app)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    accounts_in_window(2)
    _run(app)
    few = statements_of_a_run()
    accounts_in_window(10)
    _run(app)
    many = statements_of_a_run()
    assert many == few, f"{few} statements with 2 accounts in their window, {many} with 12"

"""Maintenance commands: planner statistics (`flask db analyze`) and the monthly summary of decisions
rebuilt from the reviews (`flask reviews rebuild-summary`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text, update

from portal.db import db_session
from portal.reviews.models import DecisionMonth, Review
from portal.reviews.workflow import Recommendation, ReviewStatus
from tests.functional.test_queue import bulk_reviews


def test_db_analyze_gives_the_planner_statistics_of_the_reviews(app, cast):
    with app.app_context():
        bulk_reviews(30, cast.users["officer_a"].id, start=datetime(2026, 1, 1, tzinfo=UTC))
        db_session.commit()
    result = app.test_cli_runner().invoke(args=["db", "analyze"])
    assert result.exit_code == 0 and "Planner statistics refreshed." in result.output
    with app.app_context():
        if db_session.get_bind().dialect.name == "sqlite":
            stats = dict(db_session.execute(text("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'reviews'")).all())
            assert stats["ix_reviews_open_submitted_at"].split()[0] == "30"
        else:
            rows = db_session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'reviews'"))
            assert rows == 30


def test_rebuild_summary_counts_reviews_decided_outside_the_portal(app, cast):
    with app.app_context():
        decided = bulk_reviews(3, cast.users["officer_a"].id, start=datetime(2026, 1, 1, tzinfo=UTC),
                               status=ReviewStatus.DECIDED)
        for review_id, outcome, day in zip(decided, (Recommendation.CERTIFY, Recommendation.CERTIFY,
                                                     Recommendation.DENY), (11, 21, 31), strict=True):
            db_session.execute(update(Review).where(Review.id == review_id).values(
                outcome=outcome, decided_at=datetime(2026, 1, day, tzinfo=UTC)))
        db_session.commit()
        assert db_session.scalars(select(DecisionMonth)).all() == []
    result = app.test_cli_runner().invoke(args=["reviews", "rebuild-summary"])
    assert result.exit_code == 0 and "2 month and outcome row(s)" in result.output
    with app.app_context():
        rows = {row.outcome: (row.month.isoformat(), row.decisions)
                for row in db_session.scalars(select(DecisionMonth))}
        assert rows == {Recommendation.CERTIFY: ("2026-01-01", 2), Recommendation.DENY: ("2026-01-01", 1)}

"""The monthly summary of decisions (``DecisionMonth``): kept up to date by each decision, read by the
supervisor dashboard, and rebuilt from the reviews when needed (migration, generator, ``flask``
command).

Months are calendar months in UTC, the same as the dashboard's chart. A month's row for an outcome holds
how many decisions had that outcome and the sum of their days from submission to decision.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, extract, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from portal.db import db_session
from portal.reviews.models import DecisionMonth, Review
from portal.reviews.workflow import Recommendation, ReviewStatus


def month_of(moment: datetime) -> date:
    """The first day of the UTC calendar month of an aware timestamp."""
    if moment.tzinfo is None:
        raise ValueError("A decision time must be timezone-aware.")
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def days_between(later: datetime, earlier: datetime) -> float:
    """Days, with the fraction, from ``earlier`` to ``later``."""
    return (later - earlier).total_seconds() / 86400.0


def record_decision(outcome: Recommendation, *, submitted_at: datetime, decided_at: datetime) -> None:
    """Count one decision in its month, in the caller's transaction.

    One ``INSERT ... ON CONFLICT DO UPDATE``: two supervisors deciding at once in a month that has no
    row yet cannot both insert one, and neither increment is lost.
    """
    dialect = db_session.get_bind().dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = dialect_insert(DecisionMonth).values(month=month_of(decided_at), outcome=outcome, decisions=1,
                                                days_total=days_between(decided_at, submitted_at))
    db_session.execute(stmt.on_conflict_do_update(
        index_elements=[DecisionMonth.month, DecisionMonth.outcome],
        set_={"decisions": DecisionMonth.decisions + 1,
              "days_total": DecisionMonth.days_total + stmt.excluded.days_total}))


def _month_key(column: Any) -> Any:
    if db_session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM")


def _days_sql(later: Any, earlier: Any) -> Any:
    if db_session.get_bind().dialect.name == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return extract("epoch", later - earlier) / 86400.0


def rebuild_decision_months() -> int:
    """Recompute the whole summary from the decided reviews, in the caller's transaction; returns the
    number of month and outcome rows written."""
    month = _month_key(Review.decided_at).label("month")
    rows = [{"month": date.fromisoformat(f"{key}-01"), "outcome": outcome, "decisions": count,
             "days_total": float(days or 0.0)}
            for key, outcome, count, days in db_session.execute(
                select(month, Review.outcome, func.count(Review.id),
                       func.sum(_days_sql(Review.decided_at, Review.submitted_at)))
                .where(Review.status == ReviewStatus.DECIDED, Review.decided_at.is_not(None),
                       Review.outcome.is_not(None))
                .group_by(month, Review.outcome))]
    db_session.execute(delete(DecisionMonth))
    if rows:
        db_session.execute(insert(DecisionMonth), rows)
    return len(rows)

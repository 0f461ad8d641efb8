"""Reads for the reviewer and supervisor dashboards: my reviews, recommendations awaiting approval,
time to certification and decisions per month, each in a fixed number of queries (the last two from
the monthly summary kept in ``decision_months``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Integer, bindparam, func, literal_column, select
from sqlalchemy.orm import aliased

from portal import clock
from portal.auth.models import User
from portal.companies.business_types import BusinessType
from portal.companies.models import Company, TradeAccount
from portal.db import db_session
from portal.reviews.models import DecisionMonth, Review
from portal.reviews.queue import OPEN_REVIEW, QueueFilters, QueuePage, QueueSort, join_review_context, queue_page
from portal.reviews.workflow import Recommendation, ReviewStatus

# -- dashboards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerDashboard:
    my_counts: dict[ReviewStatus, int]
    my_overdue: QueuePage
    unassigned: int


def reviewer_dashboard(user: User, *, now: datetime | None = None, overdue_limit: int = 20) -> ReviewerDashboard:
    """My reviews by status, my overdue reviews (most overdue first) and the unassigned open reviews."""
    now = now or clock.utcnow()
    counts = dict(db_session.execute(select(Review.status, func.count(Review.id))
                                     .where(Review.reviewer_id == user.id).group_by(Review.status)).all())
    my_counts = {status: counts.get(status, 0) for status in ReviewStatus}
    overdue = queue_page(QueueFilters(assigned="me", overdue=True), QueueSort(key="days_left"), 1,
                         per_page=overdue_limit, user=user, now=now)
    unassigned = db_session.scalar(select(func.count(Review.id)).where(Review.reviewer_id.is_(None), OPEN_REVIEW)) or 0
    return ReviewerDashboard(my_counts=my_counts, my_overdue=overdue, unassigned=unassigned)


@dataclass(frozen=True)
class AwaitingApproval:
    """A recommendation waiting for a supervisor's four-eyes decision."""

    review_id: int
    company_name: str
    business_type: BusinessType
    version: int
    recommendation: Recommendation | None
    recommended_at: datetime | None
    recommended_by_id: int | None
    recommended_by_name: str | None
    reviewer_id: int | None


@dataclass(frozen=True)
class AwaitingList:
    """The oldest recommendations awaiting approval, and how many there are in all."""

    rows: list[AwaitingApproval]
    total: int


AWAITING_SHOWN = 25


def awaiting_approval(limit: int = AWAITING_SHOWN) -> AwaitingList:
    """The oldest ``limit`` recommended reviews, oldest recommendation first, and the total: the
    dashboard shows a fixed number of rows (the queue filtered on "recommended" lists them all)."""
    recommender = aliased(User)
    total = db_session.scalar(select(func.count(Review.id)).where(Review.status == ReviewStatus.RECOMMENDED)) or 0
    stmt = (join_review_context(select(Review.id, Review.version_number, Review.recommendation, Review.recommended_at,
                           Review.recommended_by_id, Review.reviewer_id, Company.legal_name,
                           TradeAccount.business_type, recommender.full_name.label("recommender"))
                    .select_from(Review))
            .outerjoin(recommender, recommender.id == Review.recommended_by_id)
            # The status and the limit written into the statement, as the queue's (queue._statements): with
            # them as parameters PostgreSQL never took the prepared statement's generic plan and planned it
            # again at every view (1.1 ms), as pg_prepared_statements showed (docs/PERFORMANCE.md §5.17).
            .where(Review.status == literal_column(f"'{ReviewStatus.RECOMMENDED.value}'"))
            .order_by(Review.recommended_at.asc(), Review.id.asc())
            .limit(bindparam("limit", limit, type_=Integer, literal_execute=True)))
    rows = [AwaitingApproval(review_id=r.id, company_name=r.legal_name, business_type=r.business_type,
                             version=r.version_number, recommendation=r.recommendation,
                             recommended_at=r.recommended_at, recommended_by_id=r.recommended_by_id,
                             recommended_by_name=r.recommender, reviewer_id=r.reviewer_id)
            for r in db_session.execute(stmt)]
    return AwaitingList(rows=rows, total=total)


@dataclass(frozen=True)
class CertificationTime:
    average_days: float | None
    certifications: int
    since: date | None = None      # the first day of the window


@dataclass(frozen=True)
class MonthDecisions:
    month: date  # first day of the month (UTC)
    counts: dict[Recommendation, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def label(self) -> str:
        return self.month.strftime("%b %Y")

    @property
    def key(self) -> str:
        return self.month.strftime("%Y-%m")


def _months_back(today: date, months: int) -> list[date]:
    result = []
    year, month = today.year, today.month
    for _ in range(months):
        result.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(result))


@dataclass(frozen=True)
class DecisionSummary:
    """The supervisor dashboard's figures over the last months: decisions per month and outcome, and
    the average time to certification."""

    months: list[MonthDecisions]
    certification: CertificationTime


def decision_summary(months: int = 12, *, now: datetime | None = None) -> DecisionSummary:
    """Decisions per calendar month (UTC) and outcome for the last ``months`` months, oldest first,
    months without decisions included; and the mean days from submission to the supervisor's decision
    over the certifications of the same months.

    One statement over at most ``months`` x 3 rows of the monthly summary (``DecisionMonth``), however
    many reviews were decided: a window rather than all time, because the figure tells how the team
    does now.
    """
    now = now or clock.utcnow()
    calendar = _months_back(now.date(), months)
    counts: dict[date, dict[Recommendation, int]] = {}
    certify_days = 0.0
    for row in db_session.execute(select(DecisionMonth.month, DecisionMonth.outcome, DecisionMonth.decisions,
                                         DecisionMonth.days_total)
                                  .where(DecisionMonth.month.between(calendar[0], calendar[-1]))):
        counts.setdefault(row.month, {})[row.outcome] = row.decisions
        if row.outcome == Recommendation.CERTIFY:
            certify_days += row.days_total
    per_month = [MonthDecisions(month=first, counts={outcome: counts.get(first, {}).get(outcome, 0)
                                                     for outcome in Recommendation})
                 for first in calendar]
    certifications = sum(m.counts[Recommendation.CERTIFY] for m in per_month)
    average = round(certify_days / certifications, 1) if certifications else None
    return DecisionSummary(months=per_month,
                           certification=CertificationTime(average_days=average, certifications=certifications,
                                                           since=calendar[0]))

"""Reviews of submitted profile versions: assignment, ratings per criterion, information requests,
the recommendation and the supervisor's decision."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.db import Base, UTCDateTime, str_enum
from portal.reviews.scoring import Rating
from portal.reviews.workflow import Recommendation, ReviewStatus

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.profiles.models import SecurityProfile


class Review(Base):
    """CBP's review of one submitted version of a security profile."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("profile_id", "version_number"),
        # The supervisor dashboard (docs/PERFORMANCE.md): awaiting approval read in order without a sort,
        # decisions per month as a range, and the time to certification from the index alone.
        Index("ix_reviews_status_recommended_at", "status", "recommended_at", "id"),
        Index("ix_reviews_status_decided_at", "status", "decided_at", "outcome"),
        Index("ix_reviews_status_outcome_decided_at", "status", "outcome", "decided_at", "submitted_at"),
        # The queue of open reviews in submission order: a partial index, so that page 100 walks 2,500
        # index entries of open reviews instead of filtering every review ever submitted. Queries must
        # spell the condition with the literal (queue.OPEN_REVIEW) for the planners to match it.
        Index("ix_reviews_open_submitted_at", "submitted_at", "id",
              sqlite_where=text("status != 'decided'"), postgresql_where=text("status != 'decided'")),
        # Open reviews by reviewer and by the start of their 90-day clock: "unassigned" on both dashboards
        # counts index entries alone, and a reviewer's overdue reviews are a range of it.
        Index("ix_reviews_open_reviewer_clock", "reviewer_id", "clock_started_at",
              sqlite_where=text("status != 'decided'"), postgresql_where=text("status != 'decided'")),
        # "My reviews" by status on the reviewer dashboard from the index alone (with the status beside the
        # reviewer, the rows of a reviewer's history need not be read); also the reviewer foreign key's index.
        Index("ix_reviews_reviewer_status", "reviewer_id", "status"),
        # The queue by days left, and every overdue open review, without computing a date per review.
        Index("ix_reviews_open_clock_started_at", "clock_started_at", "id",
              sqlite_where=text("status != 'decided'"), postgresql_where=text("status != 'decided'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("security_profiles.id", ondelete="CASCADE"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus, "review_status"),
                                                 default=ReviewStatus.WAITING, index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # When the 90-day certification clock started, fixed when the version is submitted
    # (services.clock_start): the first submission of an applicant's profile, also after a return;
    # the version's own submission for an account already certified.
    clock_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Indexed with the status (ix_reviews_reviewer_status): a reviewer's counts by status read the index alone.
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recommendation: Mapped[Recommendation | None] = mapped_column(str_enum(Recommendation, "recommendation"))
    summary: Mapped[str] = mapped_column(Text, default="")
    recommended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recommended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[Recommendation | None] = mapped_column(str_enum(Recommendation, "outcome"))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": lock_version}

    profile: Mapped[SecurityProfile] = relationship()
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    recommended_by: Mapped[User | None] = relationship(foreign_keys=[recommended_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    ratings: Mapped[list[CriterionRating]] = relationship(back_populates="review", cascade="all, delete-orphan")
    info_requests: Mapped[list[InfoRequest]] = relationship(back_populates="review", cascade="all, delete-orphan",
                                                            order_by="InfoRequest.id")


class CriterionRating(Base):
    """A reviewer's rating of one criterion in one review (saved as a draft until the decision)."""

    __tablename__ = "criterion_ratings"
    __table_args__ = (UniqueConstraint("review_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(10))
    rating: Mapped[Rating] = mapped_column(str_enum(Rating, "rating"))
    comment: Mapped[str] = mapped_column(Text, default="")
    checklist: Mapped[list[str]] = mapped_column(JSON, default=list)
    carried_over: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    review: Mapped[Review] = relationship(back_populates="ratings")
    updated_by: Mapped[User | None] = relationship()


class InfoRequest(Base):
    """A reviewer's question on one criterion; the partner sees it when the profile is returned."""

    __tablename__ = "info_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(10))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    review: Mapped[Review] = relationship(back_populates="info_requests")
    asked_by: Mapped[User | None] = relationship()


class DecisionMonth(Base):
    """Decisions made in one calendar month (UTC) with one outcome, kept by ``decisions.decide``.

    The supervisor dashboard reads twelve months of these instead of aggregating every review decided
    in a year, which grew with the program (docs/PERFORMANCE.md §5.7). ``days_total`` is the sum of
    days from submission to decision over the month's decisions, so that an average over any run of
    months is ``sum(days_total) / sum(decisions)``. The rows count decisions as they were made: a
    decision stays counted in its month whatever happens to the account later.
    ``dashboards.rebuild_decision_months`` recomputes the table from the reviews.
    """

    __tablename__ = "decision_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)        # the first day of the month
    outcome: Mapped[Recommendation] = mapped_column(str_enum(Recommendation, "decision_month_outcome"),
                                                    primary_key=True)
    decisions: Mapped[int] = mapped_column(Integer, default=0)
    days_total: Mapped[float] = mapped_column(Float, default=0.0)

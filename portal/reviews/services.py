"""Review verbs: open a review per submission, assign and take it, start it, rate criteria with
optimistic locking, request information, and carry ratings over from an approved earlier version.
Services flush and audit; views commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from portal import audit
from portal.auth.models import User
from portal.auth.roles import StaffRole
from portal.catalog import get_catalog
from portal.catalog.schema import Criterion
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.profiles.models import ProfileVersion, SecurityProfile
from portal.profiles.submission import diff_versions
from portal.profiles.workflow import ProfileAction, next_profile_status
from portal.reviews.models import CriterionRating, InfoRequest, Review
from portal.reviews.scoring import Rating
from portal.reviews.workflow import ReviewAction, ReviewStatus, next_review_status

COMMENT_MAX = 4_000


def clock_start(profile: SecurityProfile, submitted_at: datetime) -> datetime:
    """When the 90-day certification clock of a version submitted at ``submitted_at`` starts.

    An account never certified (an applicant, also after a return and resubmission) counts from the
    first submission of its profile (6 U.S.C. 964(c): within 90 days of receiving the application);
    a certified account's later submission counts from its own date.
    """
    if profile.account.certified_on is not None:
        return submitted_at
    first = db_session.scalar(select(func.min(Review.submitted_at)).where(Review.profile_id == profile.id))
    return min(first, submitted_at) if first is not None else submitted_at


def open_review(profile: SecurityProfile, version: ProfileVersion) -> Review:
    """Put a newly submitted version in the review queue (unassigned), its 90-day clock started."""
    review = Review(profile_id=profile.id, version_number=version.number, status=ReviewStatus.WAITING,
                    submitted_at=version.submitted_at, clock_started_at=clock_start(profile, version.submitted_at))
    db_session.add(review)
    db_session.flush()
    return review


def version_of(review: Review) -> ProfileVersion:
    return db_session.scalar(select(ProfileVersion).where(ProfileVersion.profile_id == review.profile_id,
                                                          ProfileVersion.number == review.version_number))


def criteria_in_version(review: Review) -> dict[str, Criterion]:
    """The criteria frozen in the reviewed version, by ID (ratings may only target these)."""
    version = version_of(review)
    catalog = get_catalog(version.catalog_id)
    return {row["id"]: catalog.criterion(row["id"]) for row in version.content["criteria"]
            if catalog.has_criterion(row["id"])}


def _company_id(review: Review) -> int:
    return review.profile.account.company_id


def assign(review: Review, reviewer: User, *, by: User) -> None:
    """A supervisor assigns or reassigns a review to a reviewer.

    :raise DomainError: when the assignee is not CBP review staff or the review is decided.
    """
    if reviewer.staff_role not in {StaffRole.REVIEWER, StaffRole.SUPERVISOR}:
        raise DomainError("Reviews can only be assigned to reviewers or supervisors.", field="reviewer_id")
    if review.status == ReviewStatus.DECIDED:
        raise DomainError("This review is already decided.")
    previous = review.reviewer.email if review.reviewer else "nobody"
    review.reviewer = reviewer
    review.assigned_at = utcnow()
    audit.record("review.assigned", actor=by, company_id=_company_id(review), obj=review,
                 summary=f"{previous} -> {reviewer.email}")


def assign_many(reviews: Iterable[Review], reviewer: User, *, by: User) -> int:
    """Assign several reviews to one reviewer at once (the queue's selection): all or none.

    :raise DomainError: as ``assign`` does, naming the review that cannot be assigned.
    """
    count = 0
    for review in reviews:
        if review.status == ReviewStatus.DECIDED:
            raise DomainError(f"The review of {review.profile.account.company.legal_name}, version "
                              f"{review.version_number}, is already decided; nothing was assigned.")
        assign(review, reviewer, by=by)
        count += 1
    return count


def take(review: Review, *, by: User) -> None:
    """A reviewer takes an unassigned review from the shared queue.

    :raise DomainError: when someone already has it.
    """
    if review.reviewer_id is not None:
        raise DomainError("Someone else already took this review.")
    assign(review, by, by=by)


def start(review: Review, *, by: User) -> None:
    """Begin the review: the profile becomes ``in_review`` (the partner sees that CBP is on it)."""
    if review.status != ReviewStatus.WAITING:
        return
    review.status = next_review_status(review.status, ReviewAction.START)
    review.started_at = utcnow()
    profile = review.profile
    profile.status = next_profile_status(profile.status, ProfileAction.START_REVIEW)
    audit.record("review.started", actor=by, company_id=_company_id(review), obj=review,
                 summary=f"Version {review.version_number}")


@dataclass(frozen=True)
class RatingInput:
    rating: Rating
    comment: str
    checklist: tuple[str, ...]
    expected_version: int | None


def ratings_of(review: Review) -> dict[str, CriterionRating]:
    return {r.criterion_id: r for r in db_session.scalars(
        select(CriterionRating).where(CriterionRating.review_id == review.id))}


def save_rating(review: Review, criterion: Criterion, data: RatingInput, *, by: User) -> CriterionRating:
    """Save a draft rating of one criterion.

    :raise DomainError: when the review is not in progress, a comment is missing below meets,
        or a checklist item is not the criterion's.
    :raise StaleEdit: when another reviewer saved this rating since the form was loaded.
    """
    if review.status != ReviewStatus.IN_PROGRESS:
        raise DomainError("Ratings can only be changed while the review is in progress.")
    comment = data.comment.strip()
    if data.rating.needs_comment and not comment:
        raise DomainError(f"Explain the rating '{data.rating.label}' in a comment.", field="comment")
    if len(comment) > COMMENT_MAX:
        raise DomainError(f"The comment is {len(comment):,} characters long; the limit is {COMMENT_MAX:,}.",
                          field="comment")
    unknown = set(data.checklist) - set(criterion.checklist)
    if unknown:
        raise DomainError("Tick only the checklist items listed for this criterion.", field="checklist")
    rating = db_session.scalar(select(CriterionRating).where(CriterionRating.review_id == review.id,
                                                             CriterionRating.criterion_id == criterion.id))
    if rating is None:
        if data.expected_version not in (None, 0):
            raise StaleEdit("This rating was removed since you opened the page.", mine=comment, theirs="")
        rating = CriterionRating(review_id=review.id, criterion_id=criterion.id)
        db_session.add(rating)
    elif data.expected_version != rating.version:
        raise StaleEdit(f"Someone else saved the rating of {criterion.id} after you opened it.",
                        mine=f"{data.rating.label}: {comment}", theirs=f"{rating.rating.label}: {rating.comment}")
    rating.rating = data.rating
    rating.comment = comment
    rating.checklist = [item for item in criterion.checklist if item in data.checklist]
    rating.carried_over = False
    rating.updated_at = utcnow()
    rating.updated_by_id = by.id
    db_session.flush()
    audit.record("review.rated", actor=by, company_id=_company_id(review), obj=rating,
                 summary=f"{criterion.id}: {data.rating.value}")
    return rating


def request_info(review: Review, criterion: Criterion, question: str, *, by: User) -> InfoRequest:
    """Ask the partner about one criterion; the question reaches them with a return for revision."""
    question = question.strip()
    if not question:
        raise DomainError("Write the question.", field="question")
    if len(question) > COMMENT_MAX:
        raise DomainError(f"The question is longer than {COMMENT_MAX:,} characters.", field="question")
    if review.status != ReviewStatus.IN_PROGRESS:
        raise DomainError("Questions can only be added while the review is in progress.")
    row = InfoRequest(review_id=review.id, criterion_id=criterion.id, question=question, asked_by_id=by.id)
    db_session.add(row)
    db_session.flush()
    audit.record("review.info_requested", actor=by, company_id=_company_id(review), obj=row,
                 summary=criterion.id)
    return row


def previous_approved_review(review: Review) -> Review | None:
    """The latest earlier review of the same profile whose outcome was certification."""
    from portal.reviews.workflow import Recommendation

    return db_session.scalar(
        select(Review).where(Review.profile_id == review.profile_id, Review.version_number < review.version_number,
                             Review.status == ReviewStatus.DECIDED, Review.outcome == Recommendation.CERTIFY)
        .order_by(Review.version_number.desc()).limit(1))


def changed_criteria(review: Review) -> set[str]:
    """Criteria whose answer, evidence or plans changed since the previous version (all if none)."""
    version = version_of(review)
    if review.version_number <= 1:
        return {row["id"] for row in version.content["criteria"]}
    previous = db_session.scalar(select(ProfileVersion).where(ProfileVersion.profile_id == review.profile_id,
                                                              ProfileVersion.number == review.version_number - 1))
    if previous is None:
        return {row["id"] for row in version.content["criteria"]}
    return {row.criterion_id for row in diff_versions(previous.content, version.content) if row.change != "unchanged"}


def carry_over(review: Review, *, by: User) -> list[str]:
    """Copy ratings of criteria unchanged since the last approved version, marked as carried over.

    Only criteria without a rating in this review are filled; returns the IDs carried over.
    """
    if review.status != ReviewStatus.IN_PROGRESS:
        raise DomainError("Ratings can only be carried over while the review is in progress.")
    earlier = previous_approved_review(review)
    if earlier is None:
        raise DomainError("There is no approved earlier version to carry ratings over from.")
    earlier_version = db_session.scalar(select(ProfileVersion).where(
        ProfileVersion.profile_id == review.profile_id, ProfileVersion.number == earlier.version_number))
    unchanged = {row.criterion_id for row in diff_versions(earlier_version.content, version_of(review).content)
                 if row.change == "unchanged"}
    existing = ratings_of(review)
    carried = []
    for old in ratings_of(earlier).values():
        if old.criterion_id in unchanged and old.criterion_id not in existing:
            db_session.add(CriterionRating(review_id=review.id, criterion_id=old.criterion_id, rating=old.rating,
                                           comment=old.comment, checklist=list(old.checklist), carried_over=True,
                                           updated_at=utcnow(), updated_by_id=by.id))
            carried.append(old.criterion_id)
    db_session.flush()
    audit.record("review.ratings_carried_over", actor=by, company_id=_company_id(review), obj=review,
                 summary=f"{len(carried)} rating(s) from version {earlier.version_number}")
    return sorted(carried)


_ASSIGNABLE = (User.staff_role.in_([StaffRole.REVIEWER, StaffRole.SUPERVISOR]), User.is_active.is_(True))


def reviewers() -> Iterable[User]:
    """CBP staff who can be assigned reviews."""
    return db_session.scalars(select(User).where(*_ASSIGNABLE).order_by(User.full_name, User.id))


def reviewer_choices() -> list[tuple[int, str]]:
    """(id, full name) of the staff who can be assigned reviews, by name: the choices of an assignment
    list, read without loading users (a program has a reviewer per 200 accounts)."""
    # By id among equal names: the same list on every page (it is part of the queue's page cache key).
    statement = select(User.id, User.full_name).where(*_ASSIGNABLE).order_by(User.full_name, User.id)
    return [(row.id, row.full_name) for row in db_session.execute(statement)]

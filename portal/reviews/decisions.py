"""Recommendations and four-eyes decisions, and applying a decision to the account and profile.

A reviewer recommends; a supervisor who is not that reviewer approves, overrides with a reason, or
sends it back. Only an approved decision changes the account and reaches the partner.
"""

from __future__ import annotations

from datetime import date

from portal import audit
from portal.auth.models import User
from portal.auth.roles import CompanyRole, StaffRole
from portal.catalog import get_catalog
from portal.catalog.schema import Criterion
from portal.clock import utcnow
from portal.companies.applications import change_status
from portal.companies.business_types import BusinessType
from portal.companies.workflow import AccountAction
from portal.errors import DomainError
from portal.notifications.inbox import notify
from portal.profiles.workflow import ProfileAction, next_profile_status
from portal.reviews.decision_months import record_decision
from portal.reviews.models import CriterionRating, Review
from portal.reviews.scoring import open_must_gaps
from portal.reviews.services import criteria_in_version, ratings_of
from portal.reviews.workflow import Recommendation, ReviewAction, ReviewStatus, next_review_status
from portal.urls import external_url

SUMMARY_MAX = 4_000
TIERED_TYPES = {BusinessType.IMPORTER, BusinessType.EXPORTER}


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def recommendation_problems(review: Review, recommendation: Recommendation) -> list[str]:
    """Why a recommendation is refused (empty when it may be made)."""
    return _problems(review, recommendation, ratings_of(review), criteria_in_version(review))


def gates(review: Review) -> dict[Recommendation, list[str]]:
    """``recommendation_problems`` of every recommendation, reading the ratings and the version once."""
    ratings, criteria = ratings_of(review), criteria_in_version(review)
    return {recommendation: _problems(review, recommendation, ratings, criteria) for recommendation in Recommendation}


def _problems(review: Review, recommendation: Recommendation, ratings: dict[str, CriterionRating],
              criteria: dict[str, Criterion]) -> list[str]:
    problems = []
    unrated = [cid for cid in criteria if cid not in ratings]
    if recommendation == Recommendation.CERTIFY:
        catalog = get_catalog(review.profile.catalog_id)
        business_type = review.profile.account.business_type
        rating_values = {cid: r.rating for cid, r in ratings.items()}
        for criterion in open_must_gaps(catalog, business_type, rating_values):
            if criterion.id not in criteria:
                continue
            rating = ratings.get(criterion.id)
            state = rating.rating.label.lower() if rating else "not rated"
            problems.append(f"Must {criterion.id} {criterion.title} is {state}.")
        problems.extend(f"{cid} is not rated yet." for cid in unrated
                        if not criteria[cid].is_must)
    elif recommendation == Recommendation.RETURN:
        if not any(r.comment.strip() for r in ratings.values()) and not review.info_requests:
            problems.append("A return needs at least one criterion comment or question for the partner.")
    return problems


def recommend(review: Review, recommendation: Recommendation, summary: str, *, by: User) -> None:
    """The assigned reviewer recommends a decision with a summary.

    :raise DomainError: listing each reason when the gate refuses (e.g. a Must below meets).
    """
    if review.reviewer_id != by.id:
        raise DomainError("Only the assigned reviewer can recommend a decision.")
    if review.status != ReviewStatus.IN_PROGRESS:
        raise DomainError("The review is not in progress.")
    summary = summary.strip()
    if not summary:
        raise DomainError("Write a summary of the review.", field="summary")
    if len(summary) > SUMMARY_MAX:
        raise DomainError(f"The summary is longer than {SUMMARY_MAX:,} characters.", field="summary")
    problems = recommendation_problems(review, recommendation)
    if problems:
        raise DomainError(f"Cannot recommend '{recommendation.label}': " + " ".join(problems))
    review.recommendation = recommendation
    review.summary = summary
    review.recommended_at = utcnow()
    review.recommended_by_id = by.id
    review.status = next_review_status(review.status, ReviewAction.RECOMMEND)
    audit.record("review.recommended", actor=by, company_id=review.profile.account.company_id, obj=review,
                 summary=recommendation.value)


def _check_supervisor(review: Review, by: User) -> None:
    if by.staff_role not in {StaffRole.SUPERVISOR, StaffRole.ADMIN}:
        raise DomainError("Only a supervisor can decide.")
    if by.id in {review.recommended_by_id, review.reviewer_id}:
        raise DomainError("A supervisor cannot approve their own recommendation (four-eyes rule).")
    if review.status != ReviewStatus.RECOMMENDED:
        raise DomainError("There is no recommendation awaiting a decision.")


def send_back(review: Review, reason: str, *, by: User) -> None:
    """The supervisor returns the recommendation to the reviewer with a reason."""
    _check_supervisor(review, by)
    if not reason.strip():
        raise DomainError("Say why the recommendation goes back to the reviewer.", field="reason")
    review.status = next_review_status(review.status, ReviewAction.SEND_BACK)
    review.decision_reason = reason.strip()
    audit.record("review.sent_back", actor=by, company_id=review.profile.account.company_id, obj=review,
                 summary=reason.strip()[:500])
    if review.reviewer is not None:
        notify(review.reviewer, "A recommendation was sent back to you",
               f"{by.full_name} sent back your recommendation on {review.profile.account.company.legal_name}: "
               f"{reason.strip()}", external_url("reviews.review", review_id=review.id), email=False)


def decide(review: Review, *, by: User, override: Recommendation | None = None, reason: str = "") -> Recommendation:
    """Approve the recommendation, or override it with a reason, and apply the outcome.

    :raise DomainError: for the reviewer themself, a missing reason, or a certification while a Must
        is below meets.
    """
    _check_supervisor(review, by)
    outcome = override or review.recommendation
    if outcome is None:
        raise DomainError("There is no recommendation to approve.")
    if override is not None and override != review.recommendation:
        if not reason.strip():
            raise DomainError("Give the reason for overriding the recommendation.", field="reason")
        problems = recommendation_problems(review, override)
        if problems:
            raise DomainError(f"Cannot decide '{override.label}': " + " ".join(problems))
        review.overridden = True
    review.outcome = outcome
    review.decision_reason = reason.strip()
    review.decided_at = utcnow()
    review.decided_by_id = by.id
    review.status = next_review_status(review.status, ReviewAction.DECIDE)
    record_decision(outcome, submitted_at=review.submitted_at, decided_at=review.decided_at)
    audit.record("review.decided", actor=by, company_id=review.profile.account.company_id, obj=review,
                 summary=f"{outcome.value}{' (override)' if review.overridden else ''}")
    apply_outcome(review, outcome, by=by)
    return outcome


def apply_outcome(review: Review, outcome: Recommendation, *, by: User) -> None:
    """Change the profile and account, and tell the company officers."""
    profile = review.profile
    account = profile.account
    today = utcnow().date()
    reason = review.decision_reason or review.summary
    if outcome == Recommendation.CERTIFY:
        profile.status = next_profile_status(profile.status, ProfileAction.APPROVE)
        if account.certified_on is None:
            change_status(account, AccountAction.CERTIFY, by=by, reason=f"Profile version {review.version_number} "
                                                                        "approved")
            account.certified_on = today
            account.anniversary_on = _add_years(today, 1)
            account.next_validation_due = _add_years(today, 1)
            if account.business_type in TIERED_TYPES:
                account.tier = 1
        title = f"{account.company.legal_name} is certified in CTPAT"
        body = (f"CBP approved version {review.version_number} of your {account.business_type.label} security "
                f"profile. Account {account.account_number} is certified as of {today:%B %d, %Y}; your first "
                "validation is due within one year.")
    elif outcome == Recommendation.RETURN:
        profile.status = next_profile_status(profile.status, ProfileAction.RETURN)
        if account.status.value == "applicant":
            change_status(account, AccountAction.RETURN, by=by, reason="Profile returned for revision")
        title = "Your CTPAT security profile was returned for revision"
        body = (f"CBP returned version {review.version_number} of the security profile of "
                f"{account.company.legal_name}. Open the profile to see what needs revision on each criterion, "
                "update it and submit it again.")
    else:
        profile.status = next_profile_status(profile.status, ProfileAction.RETURN)
        change_status(account, AccountAction.DENY, by=by, reason=reason or "Application denied")
        title = "Your CTPAT application was denied"
        body = (f"CBP determined that {account.company.legal_name} is not eligible for CTPAT as "
                f"{account.business_type.label}. Reason: {reason}")
    link = external_url("reviews.outcome", profile_id=profile.id)
    for membership in account.company.memberships:
        if membership.role == CompanyRole.OFFICER:
            notify(membership.user, title, body, link)

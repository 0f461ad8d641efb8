"""Review lifecycle (DESIGN.md §7): a review per submitted version, a recommendation by the
reviewer, and a four-eyes decision by a supervisor who is not the reviewer."""

from __future__ import annotations

from enum import StrEnum


class ReviewStatus(StrEnum):
    """Where a review of one submitted version stands."""

    WAITING = "waiting"            # submitted, not yet started
    IN_PROGRESS = "in_progress"    # the reviewer is rating
    RECOMMENDED = "recommended"    # awaiting supervisor approval
    DECIDED = "decided"            # the supervisor approved or overrode; applied to the account

    @property
    def label(self) -> str:
        return {"waiting": "Waiting", "in_progress": "In review", "recommended": "Awaiting approval",
                "decided": "Decided"}[self.value]

    @property
    def badge(self) -> str:
        return {"waiting": "info", "in_progress": "info", "recommended": "warning", "decided": "success"}[self.value]


class Recommendation(StrEnum):
    """What the reviewer recommends and the supervisor finally decides."""

    CERTIFY = "certify"
    RETURN = "return"
    DENY = "deny"

    @property
    def label(self) -> str:
        return {"certify": "Certify", "return": "Return for revision", "deny": "Deny"}[self.value]


class ReviewAction(StrEnum):
    START = "start"
    RECOMMEND = "recommend"
    SEND_BACK = "send_back"
    DECIDE = "decide"


TRANSITIONS: dict[tuple[ReviewStatus, ReviewAction], ReviewStatus] = {
    (ReviewStatus.WAITING, ReviewAction.START): ReviewStatus.IN_PROGRESS,
    (ReviewStatus.IN_PROGRESS, ReviewAction.RECOMMEND): ReviewStatus.RECOMMENDED,
    (ReviewStatus.RECOMMENDED, ReviewAction.SEND_BACK): ReviewStatus.IN_PROGRESS,
    (ReviewStatus.RECOMMENDED, ReviewAction.DECIDE): ReviewStatus.DECIDED,
}


class InvalidReviewTransition(Exception):
    """The review's status does not allow the action."""


def next_review_status(status: ReviewStatus, action: ReviewAction) -> ReviewStatus:
    """:raise InvalidReviewTransition: when the table has no such move."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidReviewTransition(
            f"A review that is {status.label.lower()} cannot be given '{action.value}'.") from None

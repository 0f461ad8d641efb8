"""Security-profile lifecycle and answer vocabulary (DESIGN.md §7): enums and the transition table."""

from __future__ import annotations

from enum import StrEnum


class ProfileStatus(StrEnum):
    """Where a security profile is in its submission and review cycle."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return {"draft": "Draft", "submitted": "Submitted", "in_review": "In review", "approved": "Approved",
                "returned": "Returned for revision"}[self.value]

    @property
    def badge(self) -> str:
        return {"draft": "base", "submitted": "info", "in_review": "info", "approved": "success",
                "returned": "warning"}[self.value]

    @property
    def editable(self) -> bool:
        """Partners edit a draft, a returned profile, and an approved one (annual updates)."""
        return self in EDITABLE


EDITABLE: frozenset[ProfileStatus] = frozenset({ProfileStatus.DRAFT, ProfileStatus.RETURNED, ProfileStatus.APPROVED})


class ProfileAction(StrEnum):
    SUBMIT = "submit"
    START_REVIEW = "start_review"
    APPROVE = "approve"
    RETURN = "return"


TRANSITIONS: dict[tuple[ProfileStatus, ProfileAction], ProfileStatus] = {
    (ProfileStatus.DRAFT, ProfileAction.SUBMIT): ProfileStatus.SUBMITTED,
    (ProfileStatus.RETURNED, ProfileAction.SUBMIT): ProfileStatus.SUBMITTED,
    (ProfileStatus.APPROVED, ProfileAction.SUBMIT): ProfileStatus.SUBMITTED,
    (ProfileStatus.SUBMITTED, ProfileAction.START_REVIEW): ProfileStatus.IN_REVIEW,
    (ProfileStatus.IN_REVIEW, ProfileAction.APPROVE): ProfileStatus.APPROVED,
    (ProfileStatus.IN_REVIEW, ProfileAction.RETURN): ProfileStatus.RETURNED,
    (ProfileStatus.SUBMITTED, ProfileAction.RETURN): ProfileStatus.RETURNED,
}


class InvalidProfileTransition(Exception):
    """The profile's status does not allow the action."""


def next_profile_status(status: ProfileStatus, action: ProfileAction) -> ProfileStatus:
    """:raise InvalidProfileTransition: when the table has no such move."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidProfileTransition(f"A {status.label.lower()} profile cannot be given '{action.value}'.") from None


class ImplementationStatus(StrEnum):
    """The partner's own statement of how far a criterion is implemented."""

    IMPLEMENTED = "implemented"
    PARTIALLY_IMPLEMENTED = "partially_implemented"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return {"implemented": "Implemented", "partially_implemented": "Partially implemented",
                "not_implemented": "Not implemented", "not_applicable": "Not applicable"}[self.value]

    @property
    def is_gap(self) -> bool:
        return self in {ImplementationStatus.PARTIALLY_IMPLEMENTED, ImplementationStatus.NOT_IMPLEMENTED}


NARRATIVE_MAX = 10_000
JUSTIFICATION_MAX = 2_000


class ActionPlanStatus(StrEnum):
    """An action plan's own status; "overdue" is derived from the target date, never stored."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    VERIFIED = "verified"

    @property
    def label(self) -> str:
        return {"open": "Open", "in_progress": "In progress", "completed": "Completed",
                "verified": "Verified by CBP"}[self.value]

    @property
    def is_closed(self) -> bool:
        return self in {ActionPlanStatus.COMPLETED, ActionPlanStatus.VERIFIED}

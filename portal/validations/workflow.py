"""Validation and finding lifecycles (DESIGN.md §7): enums, transition tables and their guards.

A validation goes ``planned -> scheduled -> visits done -> report drafted -> report submitted ->
report approved -> sent to partner -> response submitted -> response accepted | response returned
-> closed``. A required-action finding goes ``open -> answered -> accepted | rejected`` (a rejected
one is answered again). Recommendations and best practices need no answer.
"""

from __future__ import annotations

from enum import StrEnum


class ValidationKind(StrEnum):
    """Initial validation (within 1 year of certification) or revalidation (at least every 4 years)."""

    INITIAL = "initial"
    REVALIDATION = "revalidation"

    @property
    def label(self) -> str:
        return {"initial": "Initial validation", "revalidation": "Revalidation"}[self.value]


class ValidationStatus(StrEnum):
    PLANNED = "planned"
    SCHEDULED = "scheduled"
    VISITS_DONE = "visits_done"
    REPORT_DRAFTED = "report_drafted"
    REPORT_SUBMITTED = "report_submitted"
    REPORT_APPROVED = "report_approved"
    SENT_TO_PARTNER = "sent_to_partner"
    RESPONSE_SUBMITTED = "response_submitted"
    RESPONSE_RETURNED = "response_returned"
    RESPONSE_ACCEPTED = "response_accepted"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {
            "planned": "Planned", "scheduled": "Scheduled", "visits_done": "Visits done",
            "report_drafted": "Report drafted", "report_submitted": "Report awaiting approval",
            "report_approved": "Report approved", "sent_to_partner": "Report sent to partner",
            "response_submitted": "Response submitted", "response_returned": "Response returned",
            "response_accepted": "Response accepted", "closed": "Closed",
        }[self.value]

    @property
    def badge(self) -> str:
        if self in {ValidationStatus.CLOSED, ValidationStatus.RESPONSE_ACCEPTED}:
            return "success"
        if self in {ValidationStatus.REPORT_SUBMITTED, ValidationStatus.RESPONSE_RETURNED}:
            return "warning"
        return "info"

    @property
    def findings_editable(self) -> bool:
        """The team records and removes findings until the report goes to the supervisor."""
        return self in FINDINGS_EDITABLE

    @property
    def visible_to_partner(self) -> bool:
        """Findings and the report reach the partner only once the report is sent."""
        return self in PARTNER_SEES_REPORT

    @property
    def is_open(self) -> bool:
        return self != ValidationStatus.CLOSED


FINDINGS_EDITABLE = frozenset({ValidationStatus.PLANNED, ValidationStatus.SCHEDULED, ValidationStatus.VISITS_DONE,
                               ValidationStatus.REPORT_DRAFTED})
PARTNER_SEES_REPORT = frozenset({ValidationStatus.SENT_TO_PARTNER, ValidationStatus.RESPONSE_SUBMITTED,
                                 ValidationStatus.RESPONSE_RETURNED, ValidationStatus.RESPONSE_ACCEPTED,
                                 ValidationStatus.CLOSED})
PLANNING_OPEN = frozenset({ValidationStatus.PLANNED, ValidationStatus.SCHEDULED, ValidationStatus.VISITS_DONE})


class ValidationAction(StrEnum):
    SCHEDULE = "schedule"
    FINISH_VISITS = "finish_visits"
    DRAFT_REPORT = "draft_report"
    SUBMIT_REPORT = "submit_report"
    RETURN_REPORT = "return_report"
    APPROVE_REPORT = "approve_report"
    SEND = "send"
    SUBMIT_RESPONSE = "submit_response"
    RETURN_RESPONSE = "return_response"
    ACCEPT_RESPONSE = "accept_response"
    CLOSE = "close"


V = ValidationStatus
VA = ValidationAction

TRANSITIONS: dict[tuple[ValidationStatus, ValidationAction], ValidationStatus] = {
    (V.PLANNED, VA.SCHEDULE): V.SCHEDULED,
    (V.SCHEDULED, VA.FINISH_VISITS): V.VISITS_DONE,
    # A virtual validation without a visit may go straight to the report.
    (V.PLANNED, VA.DRAFT_REPORT): V.REPORT_DRAFTED,
    (V.VISITS_DONE, VA.DRAFT_REPORT): V.REPORT_DRAFTED,
    (V.REPORT_DRAFTED, VA.DRAFT_REPORT): V.REPORT_DRAFTED,
    (V.REPORT_DRAFTED, VA.SUBMIT_REPORT): V.REPORT_SUBMITTED,
    (V.REPORT_SUBMITTED, VA.RETURN_REPORT): V.REPORT_DRAFTED,
    (V.REPORT_SUBMITTED, VA.APPROVE_REPORT): V.REPORT_APPROVED,
    (V.REPORT_APPROVED, VA.SEND): V.SENT_TO_PARTNER,
    (V.SENT_TO_PARTNER, VA.SUBMIT_RESPONSE): V.RESPONSE_SUBMITTED,
    (V.RESPONSE_RETURNED, VA.SUBMIT_RESPONSE): V.RESPONSE_SUBMITTED,
    (V.RESPONSE_SUBMITTED, VA.RETURN_RESPONSE): V.RESPONSE_RETURNED,
    (V.RESPONSE_SUBMITTED, VA.ACCEPT_RESPONSE): V.RESPONSE_ACCEPTED,
    (V.RESPONSE_ACCEPTED, VA.CLOSE): V.CLOSED,
    # A report without required actions needs no response: it closes once sent.
    (V.SENT_TO_PARTNER, VA.CLOSE): V.CLOSED,
}


class InvalidValidationTransition(Exception):
    """The validation's status does not allow the action."""


def next_validation_status(status: ValidationStatus, action: ValidationAction) -> ValidationStatus:
    """:raise InvalidValidationTransition: when the table has no such move."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidValidationTransition(
            f"A validation that is {status.label.lower()} cannot be given '{action.value}'.") from None


class SiteMode(StrEnum):
    ONSITE = "onsite"
    VIRTUAL = "virtual"

    @property
    def label(self) -> str:
        return {"onsite": "On site", "virtual": "Virtual"}[self.value]


class NoGoReason(StrEnum):
    """Why a site is not visited (CBP's "Plan a Validation with No Visit" choices)."""

    BUDGET = "budget"
    SECURITY = "security"
    TRAVEL_RESTRICTION = "travel_restriction"
    MRA_VALIDATED = "mra_validated"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"budget": "Budget", "security": "Security situation", "travel_restriction": "Travel restriction",
                "mra_validated": "Validated under a Mutual Recognition Arrangement", "other": "Other"}[self.value]


class VisitStatus(StrEnum):
    PROPOSED = "proposed"          # CBP proposed the window; waiting for the partner
    COUNTER_PROPOSED = "counter_proposed"  # the partner asked for another window
    CONFIRMED = "confirmed"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"proposed": "Proposed to the partner", "counter_proposed": "Partner proposed another window",
                "confirmed": "Confirmed", "done": "Done", "cancelled": "Cancelled"}[self.value]

    @property
    def badge(self) -> str:
        return {"proposed": "info", "counter_proposed": "warning", "confirmed": "success", "done": "base",
                "cancelled": "base"}[self.value]

    @property
    def active(self) -> bool:
        """Whether the visit still occupies its team's time (conflict checks, calendars)."""
        return self != VisitStatus.CANCELLED


class FindingKind(StrEnum):
    REQUIRED_ACTION = "required_action"
    RECOMMENDATION = "recommendation"
    BEST_PRACTICE = "best_practice"

    @property
    def label(self) -> str:
        return {"required_action": "Required action", "recommendation": "Recommendation",
                "best_practice": "Best practice"}[self.value]


class FindingStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {"open": "Awaiting answer", "answered": "Answered", "accepted": "Accepted",
                "rejected": "Rejected: answer again"}[self.value]

    @property
    def badge(self) -> str:
        return {"open": "info", "answered": "info", "accepted": "success", "rejected": "error"}[self.value]


class FindingAction(StrEnum):
    ANSWER = "answer"
    ACCEPT = "accept"
    REJECT = "reject"


FINDING_TRANSITIONS: dict[tuple[FindingStatus, FindingAction], FindingStatus] = {
    (FindingStatus.OPEN, FindingAction.ANSWER): FindingStatus.ANSWERED,
    (FindingStatus.REJECTED, FindingAction.ANSWER): FindingStatus.ANSWERED,
    (FindingStatus.ANSWERED, FindingAction.ACCEPT): FindingStatus.ACCEPTED,
    (FindingStatus.ANSWERED, FindingAction.REJECT): FindingStatus.REJECTED,
}


class InvalidFindingTransition(Exception):
    """The finding's status does not allow the action."""


def next_finding_status(status: FindingStatus, action: FindingAction) -> FindingStatus:
    """:raise InvalidFindingTransition: when the table has no such move."""
    try:
        return FINDING_TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidFindingTransition(
            f"A finding that is {status.label.lower()} cannot be given '{action.value}'.") from None


# The five requirements of CBP's July 2021 Best Practices Framework; all must hold for a best practice
# to count towards Tier 3 (reference: ctpat-domain.md §3.4).
BEST_PRACTICE_REQUIREMENTS: tuple[tuple[str, str], ...] = (
    ("senior_management", "Backed by senior management"),
    ("innovative", "Innovative for the company's size and industry"),
    ("documented", "Documented in a written process"),
    ("verifiable", "Verifiable, with evidence of implementation"),
    ("checks_and_balances", "Subject to checks and balances (tested and reviewed)"),
)

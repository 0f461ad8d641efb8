"""Trade-account lifecycle: statuses, the transition table and application steps (DESIGN.md §7)."""

from __future__ import annotations

from enum import StrEnum


class AccountStatus(StrEnum):
    """The CTPAT status of one account (one per company and business type)."""

    APPLICANT = "applicant"
    RETURNED = "returned"
    CERTIFIED = "certified"
    VALIDATED = "validated"
    INELIGIBLE = "ineligible"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    REMOVED = "removed"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def badge(self) -> str:
        """The colour class used by the status badge macro."""
        return {
            "applicant": "info",
            "returned": "warning",
            "certified": "success",
            "validated": "success",
            "ineligible": "error",
            "suspended": "error",
            "reinstated": "success",
            "removed": "error",
            "withdrawn": "base",
        }[self.value]


class AccountAction(StrEnum):
    """Things that change an account's status."""

    RETURN = "return"
    RESUBMIT = "resubmit"
    CERTIFY = "certify"
    DENY = "deny"
    VALIDATE = "validate"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REMOVE = "remove"
    WITHDRAW = "withdraw"


S = AccountStatus
A = AccountAction

TRANSITIONS: dict[tuple[AccountStatus, AccountAction], AccountStatus] = {
    (S.APPLICANT, A.RETURN): S.RETURNED,
    (S.APPLICANT, A.CERTIFY): S.CERTIFIED,
    (S.APPLICANT, A.DENY): S.INELIGIBLE,
    (S.APPLICANT, A.WITHDRAW): S.WITHDRAWN,
    (S.RETURNED, A.RESUBMIT): S.APPLICANT,
    (S.RETURNED, A.DENY): S.INELIGIBLE,
    (S.RETURNED, A.WITHDRAW): S.WITHDRAWN,
    (S.CERTIFIED, A.VALIDATE): S.VALIDATED,
    (S.CERTIFIED, A.SUSPEND): S.SUSPENDED,
    (S.CERTIFIED, A.REMOVE): S.REMOVED,
    (S.CERTIFIED, A.WITHDRAW): S.WITHDRAWN,
    (S.VALIDATED, A.VALIDATE): S.VALIDATED,
    (S.VALIDATED, A.SUSPEND): S.SUSPENDED,
    (S.VALIDATED, A.REMOVE): S.REMOVED,
    (S.VALIDATED, A.WITHDRAW): S.WITHDRAWN,
    (S.SUSPENDED, A.REINSTATE): S.REINSTATED,
    (S.SUSPENDED, A.REMOVE): S.REMOVED,
    (S.SUSPENDED, A.WITHDRAW): S.WITHDRAWN,
    (S.REINSTATED, A.VALIDATE): S.VALIDATED,
    (S.REINSTATED, A.SUSPEND): S.SUSPENDED,
    (S.REINSTATED, A.REMOVE): S.REMOVED,
    (S.REINSTATED, A.WITHDRAW): S.WITHDRAWN,
}

TERMINAL: frozenset[AccountStatus] = frozenset({S.INELIGIBLE, S.REMOVED, S.WITHDRAWN})


class InvalidTransition(Exception):
    """An action that the account's current status does not allow."""

    def __init__(self, status: AccountStatus, action: AccountAction) -> None:
        super().__init__(f"An account that is {status.label.lower()} cannot be given the action '{action.value}'.")
        self.status = status
        self.action = action


def next_status(status: AccountStatus, action: AccountAction) -> AccountStatus:
    """Return the status an action leads to.

    :raise InvalidTransition: when the table has no such move.
    """
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(status, action) from None


class ApplicationStep(StrEnum):
    """How far the company profile step of the application has got."""

    ELIGIBILITY = "eligibility"
    IDENTIFIERS = "identifiers"
    AGREEMENT = "agreement"
    COMPLETE = "complete"
    NOT_ELIGIBLE = "not_eligible"

    @property
    def label(self) -> str:
        return {
            "eligibility": "Eligibility questions",
            "identifiers": "Business entity identifiers",
            "agreement": "Partner Agreement",
            "complete": "Application complete",
            "not_eligible": "Not eligible",
        }[self.value]


class OwnershipType(StrEnum):
    """How the company is owned, as the application asks."""

    CORPORATION = "corporation"
    PUBLIC_COMPANY = "public_company"
    LLC = "llc"
    PARTNERSHIP = "partnership"
    SOLE_PROPRIETORSHIP = "sole_proprietorship"
    GOVERNMENT = "government"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "corporation": "Privately held corporation",
            "public_company": "Publicly traded company",
            "llc": "Limited liability company",
            "partnership": "Partnership",
            "sole_proprietorship": "Sole proprietorship",
            "government": "Government-owned",
            "other": "Other",
        }[self.value]


class AddressKind(StrEnum):
    """What an address is used for."""

    HEADQUARTERS = "headquarters"
    MAILING = "mailing"
    FACILITY = "facility"
    FOREIGN_SITE = "foreign_site"

    @property
    def label(self) -> str:
        return {
            "headquarters": "Headquarters",
            "mailing": "Mailing address",
            "facility": "Cargo-handling facility",
            "foreign_site": "Foreign site",
        }[self.value]

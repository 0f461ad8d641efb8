"""Named permission predicates for validations, visits, findings, calendars, the annual review and
the account lifecycle (DESIGN.md §5). Templates use the same predicates through the blueprint's
context processor.

CBP staff see every validation; the team (lead and members) and supervisors change it. A company's
users see their own validations, visits and (once the report is sent) findings; editors answer them,
read-only users only look. Objects of another company answer 404 (``can_view_*`` is False).
"""

from __future__ import annotations

from typing import Any

from portal.auth.permissions import can_edit_company, can_view_company, is_member, is_staff
from portal.auth.roles import CompanyRole, StaffRole
from portal.companies.workflow import AccountStatus
from portal.validations.workflow import (
    PLANNING_OPEN,
    FindingKind,
    FindingStatus,
    ValidationStatus,
    VisitStatus,
)

VALIDATABLE = frozenset({AccountStatus.CERTIFIED, AccountStatus.VALIDATED, AccountStatus.REINSTATED})


def _is_supervisor(user: Any) -> bool:
    return is_staff(user, StaffRole.SUPERVISOR, StaffRole.ADMIN)


def on_team(user: Any, validation: Any) -> bool:
    return is_staff(user) and user.id in validation.team_ids


def can_view_validation(user: Any, validation: Any) -> bool:
    """CBP staff, and every user of the validated company."""
    return can_view_company(user, validation.account.company)


def can_plan_validation(user: Any, account: Any) -> bool:
    """Reviewers and supervisors open a validation for a certified (or validated) account."""
    return is_staff(user, StaffRole.REVIEWER, StaffRole.SUPERVISOR, StaffRole.ADMIN) \
        and account.status in VALIDATABLE


def can_manage_validation(user: Any, validation: Any) -> bool:
    """The team and supervisors change sites, the team, visits and findings of an open validation."""
    return (on_team(user, validation) or _is_supervisor(user)) and validation.status != ValidationStatus.CLOSED


def can_edit_planning(user: Any, validation: Any) -> bool:
    return can_manage_validation(user, validation) and validation.status in PLANNING_OPEN


def can_override_notice(user: Any) -> bool:
    """Only a supervisor may schedule a visit with less than 30 days' notice (with a reason)."""
    return _is_supervisor(user)


def can_edit_findings(user: Any, validation: Any) -> bool:
    return can_manage_validation(user, validation) and validation.status.findings_editable


def can_view_mr_records(user: Any, validation: Any) -> bool:
    """Whoever sees the validation sees its MR records (the company's own foreign partners); the
    team's notes on them stay with CBP staff (the template shows them to staff only)."""
    return can_view_validation(user, validation)


def can_edit_mr_records(user: Any, validation: Any) -> bool:
    """The team and supervisors add and remove MR records until the report goes to the supervisor."""
    return can_manage_validation(user, validation) and validation.status.findings_editable


def can_approve_report(user: Any, validation: Any) -> bool:
    """A supervisor who is not on the team approves the report (four-eyes rule)."""
    return _is_supervisor(user) and user.id not in validation.team_ids \
        and validation.status == ValidationStatus.REPORT_SUBMITTED


def can_recognise_best_practice(user: Any, finding: Any) -> bool:
    """Only a supervisor decides whether a best practice is recognised; a reviewer only recommends it."""
    return _is_supervisor(user) and finding.kind == FindingKind.BEST_PRACTICE \
        and finding.validation.status != ValidationStatus.CLOSED


def can_respond_visit(user: Any, visit: Any) -> bool:
    """Company editors confirm a proposed visit or propose another window."""
    return can_edit_company(user, visit.validation.account.company) \
        and visit.status in {VisitStatus.PROPOSED, VisitStatus.CONFIRMED}


def can_view_findings(user: Any, validation: Any) -> bool:
    """Staff always; the company once the report is sent."""
    if is_staff(user):
        return True
    return is_member(user, validation.account.company) and validation.status.visible_to_partner


def can_answer_finding(user: Any, finding: Any) -> bool:
    """Company editors answer an open or rejected required action of a report sent to them."""
    validation = finding.validation
    return can_edit_company(user, validation.account.company) and finding.kind == FindingKind.REQUIRED_ACTION \
        and finding.status in {FindingStatus.OPEN, FindingStatus.REJECTED} \
        and validation.status in {ValidationStatus.SENT_TO_PARTNER, ValidationStatus.RESPONSE_RETURNED,
                                  ValidationStatus.RESPONSE_SUBMITTED}


def can_review_answer(user: Any, finding: Any) -> bool:
    """The team or a supervisor accepts or rejects an answered required action."""
    return can_manage_validation(user, finding.validation) and finding.status == FindingStatus.ANSWERED


def can_manage_blackouts(user: Any, company: Any) -> bool:
    return can_edit_company(user, company)


def can_manage_lifecycle(user: Any, account: Any = None) -> bool:
    """Supervisors suspend, reinstate, remove and withdraw accounts."""
    return _is_supervisor(user)


def can_view_history(user: Any, account: Any) -> bool:
    return can_view_company(user, account.company)


def can_confirm_annual(user: Any, account: Any) -> bool:
    """Company editors confirm criteria unchanged in the annual review."""
    return can_edit_company(user, account.company) and account.status in VALIDATABLE


def can_submit_annual(user: Any, account: Any) -> bool:
    """Only the company officer attests and submits the annual review."""
    return is_member(user, account.company) and user.role_in(account.company_id) == CompanyRole.OFFICER \
        and account.status in VALIDATABLE


def can_use_calendar(user: Any) -> bool:
    """CBP staff have a visit calendar and a feed."""
    return is_staff(user)


TEMPLATE_PREDICATES = {
    "can_view_validation": can_view_validation,
    "can_plan_validation": can_plan_validation,
    "can_manage_validation": can_manage_validation,
    "can_edit_planning": can_edit_planning,
    "can_override_notice": can_override_notice,
    "can_edit_findings": can_edit_findings,
    "can_view_mr_records": can_view_mr_records,
    "can_edit_mr_records": can_edit_mr_records,
    "can_approve_report": can_approve_report,
    "can_recognise_best_practice": can_recognise_best_practice,
    "can_respond_visit": can_respond_visit,
    "can_view_findings": can_view_findings,
    "can_answer_finding": can_answer_finding,
    "can_review_answer": can_review_answer,
    "can_manage_blackouts": can_manage_blackouts,
    "can_manage_lifecycle": can_manage_lifecycle,
    "can_view_history": can_view_history,
    "can_confirm_annual": can_confirm_annual,
    "can_submit_annual": can_submit_annual,
    "can_use_calendar": can_use_calendar,
}

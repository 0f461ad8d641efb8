"""Findings and the report: record findings per criterion, the report summary and its four-eyes
approval, sending it to the partner, the partner's answers with action plans and evidence, CBP's
verdict on each answer, best-practice recognition, and the close-out that validates the account.

The tier and close-out rules are pure functions at the top, tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from portal import audit, clock
from portal.auth.models import User
from portal.auth.roles import StaffRole
from portal.catalog import get_catalog
from portal.companies.applications import change_status
from portal.companies.business_types import BusinessType
from portal.companies.workflow import AccountAction, InvalidTransition
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.models import EvidenceFile
from portal.profiles.services import profile_for_account
from portal.validations.models import Finding, FindingResponse, Validation
from portal.validations.services import (
    REVALIDATION_YEARS,
    add_years,
    notify_company,
    notify_team,
    portal_link,
    record_event,
)
from portal.validations.workflow import (
    BEST_PRACTICE_REQUIREMENTS,
    FindingAction,
    FindingKind,
    FindingStatus,
    ValidationAction,
    ValidationStatus,
    next_finding_status,
    next_validation_status,
)

TEXT_MAX = 10_000
TIERED_TYPES = frozenset({BusinessType.IMPORTER, BusinessType.EXPORTER})
REQUIREMENT_KEYS = tuple(key for key, _label in BEST_PRACTICE_REQUIREMENTS)


# -- pure rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BestPracticeCheck:
    """A best-practice finding as the tier rule sees it."""

    recognised: bool
    requirements_met: frozenset[str]

    @property
    def qualifies(self) -> bool:
        """Recognised by a supervisor and meeting all five framework requirements."""
        return self.recognised and set(REQUIREMENT_KEYS) <= self.requirements_met


def outcome_tier(business_type: BusinessType, best_practices: Iterable[BestPracticeCheck]) -> int | None:
    """The tier a closed validation gives: tiers are for importers and exporters only; Tier 3 when
    at least one recognised best practice meets all five requirements, else Tier 2."""
    if business_type not in TIERED_TYPES:
        return None
    return 3 if any(check.qualifies for check in best_practices) else 2


def close_out_problems(status: ValidationStatus, required: Sequence[FindingStatus]) -> list[str]:
    """Why a validation cannot close yet (empty when it can): the report must have been sent and
    every required action accepted."""
    problems = []
    if status not in {ValidationStatus.SENT_TO_PARTNER, ValidationStatus.RESPONSE_ACCEPTED}:
        problems.append({ValidationStatus.CLOSED: "The validation is already closed.",
                         ValidationStatus.RESPONSE_SUBMITTED: "The partner's answers are not all accepted yet.",
                         ValidationStatus.RESPONSE_RETURNED: "The partner has not answered every required action."}
                        .get(status, "The report has not been sent to the partner yet."))
    waiting = sum(1 for s in required if s != FindingStatus.ACCEPTED)
    if waiting:
        problems.append(f"{waiting} required action(s) are not accepted yet.")
    return problems


def response_state(required: Sequence[FindingStatus]) -> str:
    """Where the partner's response stands: 'none' (nothing to answer), 'waiting' (an open or rejected
    action), 'submitted' (all answered, some not reviewed), 'accepted' (all accepted)."""
    if not required:
        return "none"
    if any(s in {FindingStatus.OPEN, FindingStatus.REJECTED} for s in required):
        return "waiting"
    if all(s == FindingStatus.ACCEPTED for s in required):
        return "accepted"
    return "submitted"


# -- findings ----------------------------------------------------------------------------------------


def _company_id(validation: Validation) -> int:
    return validation.account.company_id


def add_finding(validation: Validation, criterion_id: str, kind: FindingKind, text: str, *, by: User,
                due_on: date | None = None) -> Finding:
    """Record a finding on one of the profile's criteria.

    :raise DomainError: for an unknown criterion, an empty text, a required action without a due
        date in the future, or a validation whose report has gone to the supervisor.
    """
    if not validation.status.findings_editable:
        raise DomainError("Findings can only be recorded until the report is submitted.")
    profile = profile_for_account(validation.account)
    catalog = get_catalog(profile.catalog_id) if profile else None
    criterion_id = criterion_id.strip()
    if catalog is None or not catalog.has_criterion(criterion_id) \
            or not catalog.criterion(criterion_id).applies(validation.account.business_type):
        raise DomainError("Choose a criterion of the account's security profile.", field="criterion_id")
    text = text.strip()
    if not text:
        raise DomainError("Describe the finding.", field="text")
    if len(text) > TEXT_MAX:
        raise DomainError(f"The text is longer than {TEXT_MAX:,} characters.", field="text")
    if kind == FindingKind.REQUIRED_ACTION:
        if due_on is None:
            raise DomainError("A required action needs a due date.", field="due_on")
        if due_on <= clock.utcnow().date():
            raise DomainError("The due date must be in the future.", field="due_on")
    finding = Finding(validation_id=validation.id, criterion_id=criterion_id, kind=kind, text=text,
                      due_on=due_on if kind == FindingKind.REQUIRED_ACTION else None, status=FindingStatus.OPEN,
                      created_at=clock.utcnow(), created_by_id=by.id, best_practice_checks=[])
    validation.findings.append(finding)
    db_session.flush()
    audit.record("finding.recorded", actor=by, company_id=_company_id(validation), obj=finding,
                 summary=f"{criterion_id} {kind.value}")
    return finding


def delete_finding(finding: Finding, *, by: User) -> None:
    validation = finding.validation
    if not validation.status.findings_editable:
        raise DomainError("Findings can only be removed until the report is submitted.")
    audit.record("finding.deleted", actor=by, company_id=_company_id(validation), obj=finding,
                 summary=f"{finding.criterion_id} {finding.kind.value}")
    # Leaving the collection deletes the finding (delete-orphan). A db_session.delete() after it made
    # the cascade load ``responses``, whose autoflush already deleted the orphan: a stale delete, a 500.
    validation.findings.remove(finding)
    db_session.flush()


# -- the report --------------------------------------------------------------------------------------


def save_report(validation: Validation, summary: str, *, by: User) -> None:
    """Write or revise the report summary (the visits must be done, or there were none)."""
    summary = summary.strip()
    if not summary:
        raise DomainError("Write the report summary.", field="summary")
    if len(summary) > TEXT_MAX:
        raise DomainError(f"The summary is longer than {TEXT_MAX:,} characters.", field="summary")
    if validation.status == ValidationStatus.SCHEDULED:
        raise DomainError("Mark the visits done before drafting the report.")
    if validation.status == ValidationStatus.PLANNED and any(v.status.active for v in validation.visits):
        raise DomainError("Mark the visits done before drafting the report.")
    try:
        new_status = next_validation_status(validation.status, ValidationAction.DRAFT_REPORT)
    except Exception:
        raise DomainError(f"The report cannot be changed while the validation is "
                          f"{validation.status.label.lower()}.") from None
    first = validation.status != ValidationStatus.REPORT_DRAFTED
    validation.status = new_status
    validation.report_summary = summary
    if first:
        record_event(validation, "report_drafted", by=by)


def submit_report(validation: Validation, *, by: User) -> None:
    if validation.status != ValidationStatus.REPORT_DRAFTED or not validation.report_summary.strip():
        raise DomainError("Draft the report summary before submitting it.")
    validation.status = next_validation_status(validation.status, ValidationAction.SUBMIT_REPORT)
    validation.report_submitted_at = clock.utcnow()
    record_event(validation, "report_submitted", by=by, note=f"{len(validation.findings)} finding(s)")


def _check_approver(validation: Validation, by: User) -> None:
    if by.staff_role not in {StaffRole.SUPERVISOR, StaffRole.ADMIN}:
        raise DomainError("Only a supervisor approves a validation report.")
    if by.id in validation.team_ids:
        raise DomainError("A supervisor on the team cannot approve its own report (four-eyes rule).")
    if validation.status != ValidationStatus.REPORT_SUBMITTED:
        raise DomainError("There is no report awaiting approval.")


def approve_report(validation: Validation, *, by: User) -> None:
    _check_approver(validation, by)
    validation.status = next_validation_status(validation.status, ValidationAction.APPROVE_REPORT)
    validation.report_approved_at = clock.utcnow()
    validation.report_approved_by_id = by.id
    record_event(validation, "report_approved", by=by)
    notify_team(validation, "Validation report approved", f"{validation.account.title}: send it to the partner.",
                portal_link("validations.show", validation_id=validation.id))


def return_report(validation: Validation, reason: str, *, by: User) -> None:
    _check_approver(validation, by)
    reason = reason.strip()
    if not reason:
        raise DomainError("Say what the team should revise.", field="reason")
    validation.status = next_validation_status(validation.status, ValidationAction.RETURN_REPORT)
    record_event(validation, "report_returned", by=by, note=reason)
    notify_team(validation, "Validation report returned", f"{validation.account.title}: {reason}",
                portal_link("validations.show", validation_id=validation.id))


def send_report(validation: Validation, *, by: User) -> None:
    """Send the approved report; the partner now sees the findings and answers the required actions."""
    if validation.status != ValidationStatus.REPORT_APPROVED:
        raise DomainError("Only an approved report can be sent to the partner.")
    validation.status = next_validation_status(validation.status, ValidationAction.SEND)
    validation.sent_at = clock.utcnow()
    required = validation.required_actions
    record_event(validation, "sent", by=by, note=f"{len(required)} required action(s)")
    body = (f"CBP sent the validation report of {validation.account.title}. "
            + (f"Answer each of the {len(required)} required action(s) with an action plan and evidence by its "
               "due date." if required else "It has no required actions."))
    notify_company(validation.account, "Your CTPAT validation report", body,
                   portal_link("validations.show", validation_id=validation.id))


# -- the partner's answers and CBP's verdicts --------------------------------------------------------


def _sync_response_status(validation: Validation, *, by: User) -> None:
    """Move the validation with its findings: all answered -> response submitted; any rejected ->
    returned; all accepted -> accepted."""
    state = response_state([f.status for f in validation.required_actions])
    status = validation.status
    if state == "submitted" and status in {ValidationStatus.SENT_TO_PARTNER, ValidationStatus.RESPONSE_RETURNED}:
        validation.status = next_validation_status(status, ValidationAction.SUBMIT_RESPONSE)
        validation.response_submitted_at = clock.utcnow()
        record_event(validation, "response_submitted", by=by)
        notify_team(validation, "The partner answered every required action", validation.account.title,
                    portal_link("validations.show", validation_id=validation.id))
    elif state == "waiting" and status == ValidationStatus.RESPONSE_SUBMITTED:
        validation.status = next_validation_status(status, ValidationAction.RETURN_RESPONSE)
        record_event(validation, "response_returned", by=by)
    elif state == "accepted" and status == ValidationStatus.RESPONSE_SUBMITTED:
        validation.status = next_validation_status(status, ValidationAction.ACCEPT_RESPONSE)
        validation.response_accepted_at = clock.utcnow()
        record_event(validation, "response_accepted", by=by)


def answer_finding(finding: Finding, action_plan: str, evidence: Iterable[EvidenceFile], *,
                   by: User) -> FindingResponse:
    """The partner answers a required action with an action plan and evidence from its library.

    :raise DomainError: for another company's evidence, an empty plan, or a finding not awaiting an answer.
    """
    validation = finding.validation
    if finding.kind != FindingKind.REQUIRED_ACTION:
        raise DomainError("Only required actions are answered.")
    if validation.status not in {ValidationStatus.SENT_TO_PARTNER, ValidationStatus.RESPONSE_RETURNED,
                                 ValidationStatus.RESPONSE_SUBMITTED}:
        raise DomainError("This report is not waiting for your answers.")
    action_plan = action_plan.strip()
    if not action_plan:
        raise DomainError("Describe the action plan: what the company did or will do, and when.",
                          field="action_plan")
    if len(action_plan) > TEXT_MAX:
        raise DomainError(f"The action plan is longer than {TEXT_MAX:,} characters.", field="action_plan")
    files = list(evidence)
    if any(f.company_id != validation.account.company_id for f in files):
        raise DomainError("Choose documents from your company's evidence library.", field="evidence_ids")
    try:
        finding.status = next_finding_status(finding.status, FindingAction.ANSWER)
    except Exception:
        raise DomainError(f"This required action is {finding.status.label.lower()} and cannot be answered now.") \
            from None
    response = FindingResponse(finding_id=finding.id, action_plan=action_plan, submitted_at=clock.utcnow(),
                               submitted_by_id=by.id)
    response.evidence = files
    finding.responses.append(response)
    db_session.flush()
    audit.record("finding.answered", actor=by, company_id=_company_id(validation), obj=finding,
                 summary=f"{finding.criterion_id}: {len(files)} document(s)")
    _sync_response_status(validation, by=by)
    return response


def review_answer(finding: Finding, accept: bool, comment: str, *, by: User) -> None:
    """CBP accepts or rejects the latest answer; a rejection needs a comment and reopens the action."""
    comment = comment.strip()
    if not accept and not comment:
        raise DomainError("Explain what is missing when rejecting an answer.", field="comment")
    if len(comment) > TEXT_MAX:
        raise DomainError(f"The comment is longer than {TEXT_MAX:,} characters.", field="comment")
    response = finding.latest_response
    if finding.status != FindingStatus.ANSWERED or response is None:
        raise DomainError("There is no answer waiting for review.")
    finding.status = next_finding_status(finding.status, FindingAction.ACCEPT if accept else FindingAction.REJECT)
    response.accepted = accept
    response.review_comment = comment
    response.reviewed_at = clock.utcnow()
    response.reviewed_by_id = by.id
    db_session.flush()
    validation = finding.validation
    audit.record("finding.accepted" if accept else "finding.rejected", actor=by, company_id=_company_id(validation),
                 obj=finding, summary=f"{finding.criterion_id}: {comment[:300]}")
    if not accept:
        notify_company(validation.account, "CBP asks you to answer a required action again",
                       f"Criterion {finding.criterion_id}: {comment}",
                       portal_link("validations.answer_finding", finding_id=finding.id))
    _sync_response_status(validation, by=by)


def recognise_best_practice(finding: Finding, requirements: Iterable[str], *, by: User) -> None:
    """A supervisor records which framework requirements a best practice meets; with all five it is
    recognised (and counts towards Tier 3)."""
    if by.staff_role not in {StaffRole.SUPERVISOR, StaffRole.ADMIN}:
        raise DomainError("Only a supervisor recognises best practices.")
    if finding.kind != FindingKind.BEST_PRACTICE:
        raise DomainError("Only best-practice findings can be recognised.")
    if finding.validation.status == ValidationStatus.CLOSED:
        raise DomainError("The validation is closed.")
    met = [key for key in REQUIREMENT_KEYS if key in set(requirements)]
    finding.best_practice_checks = met
    recognised = len(met) == len(REQUIREMENT_KEYS)
    finding.recognised_at = clock.utcnow() if recognised else None
    finding.recognised_by_id = by.id if recognised else None
    db_session.flush()
    record_event(finding.validation, "best_practice_recognised" if recognised else "best_practice_reviewed", by=by,
                 note=f"{finding.criterion_id}: {len(met)} of {len(REQUIREMENT_KEYS)} requirements met")


def best_practice_checks(validation: Validation) -> list[BestPracticeCheck]:
    return [BestPracticeCheck(f.recognised_at is not None, frozenset(f.best_practice_checks or ()))
            for f in validation.findings if f.kind == FindingKind.BEST_PRACTICE]


def close_validation(validation: Validation, *, by: User) -> int | None:
    """Close the validation once every required action is accepted: the account becomes validated,
    with its tier, the last validation date and the next revalidation due (4 years).

    :raise DomainError: listing what still blocks the close-out.
    """
    problems = close_out_problems(validation.status, [f.status for f in validation.required_actions])
    if problems:
        raise DomainError("The validation cannot close yet: " + " ".join(problems))
    account = validation.account
    tier = outcome_tier(account.business_type, best_practice_checks(validation))
    try:
        change_status(account, AccountAction.VALIDATE, by=by,
                      reason=f"{validation.kind.label} closed" + (f": Tier {tier}" if tier else ""))
    except InvalidTransition as error:
        raise DomainError(str(error)) from None
    validation.status = next_validation_status(validation.status, ValidationAction.CLOSE)
    today = clock.utcnow().date()
    validation.closed_at = clock.utcnow()
    validation.closed_by_id = by.id
    validation.outcome_tier = tier
    account.last_validated_on = today
    account.next_validation_due = add_years(today, REVALIDATION_YEARS)
    if tier is not None:
        account.tier = tier
    record_event(validation, "closed", by=by, note=f"Validated{f', Tier {tier}' if tier else ''}; next revalidation "
                                                   f"due {account.next_validation_due:%B %d, %Y}")
    notify_company(account, "Your CTPAT validation is complete",
                   f"{account.title} is validated{f' (Tier {tier})' if tier else ''}. The next revalidation is due "
                   f"by {account.next_validation_due:%B %d, %Y}.",
                   portal_link("validations.show", validation_id=validation.id))
    return tier

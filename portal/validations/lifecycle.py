"""Account lifecycle actions by supervisors: suspend (with a corrective action plan and its due
date), reinstate, remove, and withdraw at the partner's request. Each needs a reason, goes through the
transition table of ``portal.companies.workflow`` (via ``change_status``, which keeps the status
history and writes the audit event), and tells the company officers.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal import audit, clock
from portal.auth.models import User
from portal.auth.roles import CompanyRole, StaffRole
from portal.companies.applications import change_status
from portal.companies.models import TradeAccount
from portal.companies.workflow import TRANSITIONS, AccountAction, InvalidTransition
from portal.db import db_session
from portal.errors import DomainError
from portal.validations.models import Suspension
from portal.validations.services import notify_company, portal_link

LIFECYCLE_ACTIONS: tuple[AccountAction, ...] = (AccountAction.SUSPEND, AccountAction.REINSTATE,
                                                AccountAction.REMOVE, AccountAction.WITHDRAW)
ACTION_LABELS = {AccountAction.SUSPEND: "Suspend", AccountAction.REINSTATE: "Reinstate",
                 AccountAction.REMOVE: "Remove", AccountAction.WITHDRAW: "Withdraw at the partner's request"}
TEXT_MAX = 4_000


def available_actions(account: TradeAccount) -> list[AccountAction]:
    """The lifecycle actions the account's current status allows (from the transition table)."""
    return [action for action in LIFECYCLE_ACTIONS if (account.status, action) in TRANSITIONS]


def open_suspension(account: TradeAccount) -> Suspension | None:
    return db_session.scalar(select(Suspension).where(Suspension.account_id == account.id,
                                                      Suspension.lifted_at.is_(None))
                             .order_by(Suspension.id.desc()).limit(1))


def suspensions(account: TradeAccount) -> list[Suspension]:
    return list(db_session.scalars(select(Suspension).where(Suspension.account_id == account.id)
                                   .order_by(Suspension.id.desc())))


def apply_action(account: TradeAccount, action: AccountAction, reason: str, *, by: User,
                 corrective_action_plan: str = "", due_on: date | None = None) -> None:
    """Apply one lifecycle action.

    :raise DomainError: for a non-supervisor, a missing reason, a suspension without its plan or a
        future due date, or an action the account's status does not allow.
    """
    if by.staff_role not in {StaffRole.SUPERVISOR, StaffRole.ADMIN}:
        raise DomainError("Only a supervisor changes an account's status.")
    if action not in LIFECYCLE_ACTIONS:
        raise DomainError("Choose suspend, reinstate, remove or withdraw.", field="action")
    reason = reason.strip()
    if not reason:
        raise DomainError("Give the reason for this action.", field="reason")
    if len(reason) > TEXT_MAX:
        raise DomainError(f"The reason is longer than {TEXT_MAX:,} characters.", field="reason")
    plan = corrective_action_plan.strip()
    if action == AccountAction.SUSPEND:
        if not plan:
            raise DomainError("Describe the corrective action plan the partner must meet.",
                              field="corrective_action_plan")
        if len(plan) > TEXT_MAX:
            raise DomainError(f"The plan is longer than {TEXT_MAX:,} characters.", field="corrective_action_plan")
        if due_on is None or due_on <= clock.utcnow().date():
            raise DomainError("Give a due date in the future for the corrective action plan.", field="due_on")
    try:
        change_status(account, action, by=by, reason=reason)
    except InvalidTransition as error:
        raise DomainError(str(error), field="action") from None
    now = clock.utcnow()
    if action == AccountAction.SUSPEND:
        assert due_on is not None
        db_session.add(Suspension(account_id=account.id, reason=reason, corrective_action_plan=plan, due_on=due_on,
                                  suspended_at=now, suspended_by_id=by.id))
        audit.record("account.suspension_plan", actor=by, company_id=account.company_id, obj=account,
                     summary=f"Corrective action plan due {due_on:%Y-%m-%d}")
    else:
        current = open_suspension(account)
        if current is not None:
            current.lifted_at = now
            current.lifted_by_id = by.id
    db_session.flush()
    words = {AccountAction.SUSPEND: "suspended", AccountAction.REINSTATE: "reinstated",
             AccountAction.REMOVE: "removed from CTPAT", AccountAction.WITHDRAW: "withdrawn from CTPAT"}[action]
    body = f"CBP {words} account {account.account_number} ({account.title}). Reason: {reason}"
    if action == AccountAction.SUSPEND and due_on is not None:
        body += f"\n\nCorrective action plan, due {due_on:%B %d, %Y}:\n{plan}"
    notify_company(account, f"Your CTPAT account was {words}", body,
                   portal_link("validations.lifecycle", account_id=account.id), roles=(CompanyRole.OFFICER,))

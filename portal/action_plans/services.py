"""Action-plan verbs: create, update (optimistic locking), status, milestones, delete.

Services check the rules, change rows, write the audit event and flush; the view commits once
(DESIGN.md §3). Every change needs an editable profile and a user who may edit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal import audit
from portal.action_plans.models import ActionPlan, Milestone
from portal.auth.models import Membership, User
from portal.auth.permissions import can_edit_profile
from portal.catalog.schema import Criterion
from portal.clock import today, utcnow
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.profiles.models import SecurityProfile
from portal.profiles.services import applicable_criterion
from portal.profiles.workflow import ActionPlanStatus

GAP_MAX = 4_000
CORRECTIVE_ACTION_MAX = 4_000
OWNER_NAME_MAX = 200
MILESTONE_TEXT_MAX = 500
MILESTONES_MAX = 50
TARGET_YEARS_AHEAD = 5

# The partner moves a plan between these; "verified" is CBP's word, set during a review or validation.
PARTNER_STATUSES: tuple[ActionPlanStatus, ...] = (
    ActionPlanStatus.OPEN, ActionPlanStatus.IN_PROGRESS, ActionPlanStatus.COMPLETED,
)


class CriterionNotFound(LookupError):
    """The criterion does not exist in the profile's catalog or does not apply to its business type
    (a crafted ID). Views answer 404."""


class InvalidPlan(DomainError):
    """One or more fields of a plan are refused; ``problems`` holds every (field, message) pair."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems[0][1], field=problems[0][0])
        self.problems = problems


class PlanConflict(StaleEdit):
    """A stale plan edit (409); ``by`` names who saved the version that won, when known."""

    def __init__(self, message: str, *, mine: str, theirs: str, by: str | None) -> None:
        super().__init__(message, mine=mine, theirs=theirs)
        self.by = by


@dataclass(frozen=True)
class PlanInput:
    """What the partner typed for a plan. The owner is a company user *or* a named person."""

    gap: str
    corrective_action: str
    owner_user_id: int | None
    owner_name: str | None
    target_date: date | None
    status: ActionPlanStatus | None = None  # None keeps the current status (and means "open" on create)


# --- checks --------------------------------------------------------------------------------------


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def target_date_bounds(profile: SecurityProfile) -> tuple[date, date]:
    """The accepted range for target and milestone dates: from 1 January of the year the profile was
    created up to five years from today. Past dates inside the range are allowed (the plan then
    shows as overdue)."""
    return date(profile.created_at.year, 1, 1), _add_years(today(), TARGET_YEARS_AHEAD)


def _date_problem(profile: SecurityProfile, value: date, what: str) -> str | None:
    earliest, latest = target_date_bounds(profile)
    if value < earliest:
        return f"Enter a {what} on or after {earliest:%B} {earliest.day}, {earliest.year}."
    if value > latest:
        return (f"Enter a {what} no more than {TARGET_YEARS_AHEAD} years ahead "
                f"(by {latest:%B} {latest.day}, {latest.year}).")
    return None


def _length_problem(text: str, limit: int, what: str) -> str | None:
    if len(text) > limit:
        return (f"The {what} is {len(text):,} characters long; the limit is {limit:,}. "
                f"Shorten it by {len(text) - limit:,} characters.")
    return None


def is_company_member(company_id: int, user_id: int) -> bool:
    """Whether the user belongs to the company (any role) and is active."""
    return db_session.scalar(
        select(Membership.id).join(User, User.id == Membership.user_id)
        .where(Membership.company_id == company_id, Membership.user_id == user_id, User.is_active.is_(True))
    ) is not None


def check_plan_input(profile: SecurityProfile, data: PlanInput) -> list[tuple[str, str]]:
    """Every reason the plan cannot be saved, as (field, message) pairs; empty when it can."""
    problems: list[tuple[str, str]] = []
    for field_name, text, limit, what, missing in (
        ("gap", data.gap, GAP_MAX, "gap", "Describe the gap: what is not yet in place."),
        ("corrective_action", data.corrective_action, CORRECTIVE_ACTION_MAX, "corrective action",
         "Describe the corrective action that will close the gap."),
    ):
        if not text.strip():
            problems.append((field_name, missing))
        elif message := _length_problem(text, limit, what):
            problems.append((field_name, message))
    if data.owner_user_id is not None and data.owner_name:
        problems.append(("owner", "Choose a company user or type a name, not both."))
    elif data.owner_user_id is not None:
        if not is_company_member(profile.account.company_id, data.owner_user_id):
            problems.append(("owner", "Choose an owner from the company's users, or type the name of another person."))
    elif not (data.owner_name or "").strip():
        problems.append(("owner", "Choose who owns the plan: a company user or another named person."))
    elif message := _length_problem(data.owner_name or "", OWNER_NAME_MAX, "owner's name"):
        problems.append(("owner_name", message))
    if data.target_date is None:
        problems.append(("target_date", "Enter the target date by which the gap will be closed."))
    elif message := _date_problem(profile, data.target_date, "target date"):
        problems.append(("target_date", message))
    if data.status is not None and data.status not in PARTNER_STATUSES:
        problems.append(("status", f"Only CBP marks a plan as {data.status.label.lower()}."))
    return problems


def _ensure_editable(profile: SecurityProfile, by: User) -> None:
    if not profile.status.editable:
        raise DomainError(f"The profile is {profile.status.label.lower()}; its action plans cannot be changed now.")
    if not can_edit_profile(by, profile):
        raise DomainError("You cannot change the action plans of this profile.")


def _profile_of(plan: ActionPlan) -> SecurityProfile:
    profile = db_session.get(SecurityProfile, plan.profile_id)
    assert profile is not None  # noqa: S101 - the foreign key guarantees it
    return profile


def plan_text(plan_or_input: ActionPlan | PlanInput, owner: str | None = None) -> str:
    """A plain-text rendering of a plan's content, for the conflict page (both sides in one format)."""
    status = plan_or_input.status.label if plan_or_input.status is not None else "(unchanged)"
    if owner is None:
        owner = (plan_or_input.owner_display if isinstance(plan_or_input, ActionPlan)
                 else plan_or_input.owner_name or "")
    target = plan_or_input.target_date.isoformat() if plan_or_input.target_date else "(none)"
    return (f"Gap:\n{plan_or_input.gap}\n\nCorrective action:\n{plan_or_input.corrective_action}\n\n"
            f"Owner: {owner}\nTarget date: {target}\nStatus: {status}")


def _company_id(profile: SecurityProfile) -> int:
    return profile.account.company_id


# --- plans ---------------------------------------------------------------------------------------


def create_plan(profile: SecurityProfile, criterion_id: str, data: PlanInput, *, by: User) -> ActionPlan:
    """Add an action plan for one applicable criterion of the profile.

    :raise CriterionNotFound: the criterion is unknown or does not apply to the profile (404).
    :raise DomainError: the profile is not editable or the user may not edit it.
    :raise InvalidPlan: a field is missing or refused (all problems are listed).
    """
    criterion: Criterion | None = applicable_criterion(profile, criterion_id)
    if criterion is None:
        raise CriterionNotFound(criterion_id)
    _ensure_editable(profile, by)
    problems = check_plan_input(profile, data)
    if problems:
        raise InvalidPlan(problems)
    assert data.target_date is not None  # noqa: S101 - checked above
    now = utcnow()
    plan = ActionPlan(
        profile_id=profile.id, criterion_id=criterion.id, gap=data.gap, corrective_action=data.corrective_action,
        owner_user_id=data.owner_user_id, owner_name=None if data.owner_user_id is not None else data.owner_name,
        target_date=data.target_date, status=data.status or ActionPlanStatus.OPEN,
        created_at=now, updated_at=now, updated_by_id=by.id,
    )
    db_session.add(plan)
    db_session.flush()
    audit.record("action_plan.created", actor=by, company_id=_company_id(profile), obj=plan,
                 summary=f"{criterion.id}: target {data.target_date.isoformat()}")
    return plan


def update_plan(plan: ActionPlan, data: PlanInput, expected_version: int | None, *, by: User) -> ActionPlan:
    """Save an edited plan if nobody saved it since the form was loaded.

    :raise StaleEdit: ``expected_version`` is not the plan's current version; ``mine`` and ``theirs``
        hold both texts and nothing is changed.
    :raise DomainError: the profile is not editable, the user may not edit it, or CBP verified the plan.
    :raise InvalidPlan: a field is missing or refused.
    """
    profile = _profile_of(plan)
    _ensure_editable(profile, by)
    if expected_version is None or expected_version != plan.version:
        updated_by = db_session.get(User, plan.updated_by_id) if plan.updated_by_id else None
        owner = None
        if data.owner_user_id is not None:
            owner_user = db_session.get(User, data.owner_user_id)
            owner = owner_user.full_name if owner_user is not None else ""
        raise PlanConflict(
            f"Someone else saved the action plan for criterion {plan.criterion_id} after you opened it.",
            mine=plan_text(data, owner=owner), theirs=plan_text(plan),
            by=updated_by.full_name if updated_by is not None else None,
        )
    if plan.status == ActionPlanStatus.VERIFIED:
        raise DomainError("CBP has verified this action plan; it can no longer be changed.")
    problems = check_plan_input(profile, data)
    if problems:
        raise InvalidPlan(problems)
    assert data.target_date is not None  # noqa: S101 - checked above
    owner_name = None if data.owner_user_id is not None else data.owner_name
    new_status = data.status or plan.status
    changes = [name for name, old, new in (
        ("gap", plan.gap, data.gap), ("corrective action", plan.corrective_action, data.corrective_action),
        ("owner", (plan.owner_user_id, plan.owner_name), (data.owner_user_id, owner_name)),
        ("target date", plan.target_date, data.target_date), ("status", plan.status, new_status),
    ) if old != new]
    if not changes:
        return plan
    plan.gap = data.gap
    plan.corrective_action = data.corrective_action
    plan.owner_user_id = data.owner_user_id
    plan.owner_name = owner_name
    plan.target_date = data.target_date
    summary = f"{plan.criterion_id}: changed {', '.join(changes)}"
    if plan.status != new_status:
        summary += f" ({plan.status.value} -> {new_status.value})"
        plan.status = new_status
    plan.updated_at = utcnow()
    plan.updated_by_id = by.id
    db_session.flush()
    audit.record("action_plan.updated", actor=by, company_id=_company_id(profile), obj=plan, summary=summary)
    return plan


def set_status(plan: ActionPlan, status: ActionPlanStatus, *, by: User,
               expected_version: int | None = None) -> ActionPlan:
    """Move a plan to open, in progress or completed (overdue is derived, verified is CBP's).

    :raise StaleEdit: ``expected_version`` is given and the plan changed since.
    :raise DomainError: not editable, not allowed, or CBP verified the plan.
    """
    profile = _profile_of(plan)
    _ensure_editable(profile, by)
    if expected_version is not None and expected_version != plan.version:
        updated_by = db_session.get(User, plan.updated_by_id) if plan.updated_by_id else None
        raise PlanConflict(
            f"Someone else changed the action plan for criterion {plan.criterion_id} after you opened it.",
            mine=f"Status: {status.label}", theirs=plan_text(plan),
            by=updated_by.full_name if updated_by is not None else None,
        )
    if status not in PARTNER_STATUSES:
        raise DomainError(f"Only CBP marks a plan as {status.label.lower()}.", field="status")
    if plan.status == ActionPlanStatus.VERIFIED:
        raise DomainError("CBP has verified this action plan; it can no longer be changed.", field="status")
    if plan.status == status:
        return plan
    old = plan.status
    plan.status = status
    plan.updated_at = utcnow()
    plan.updated_by_id = by.id
    db_session.flush()
    audit.record("action_plan.updated", actor=by, company_id=_company_id(profile), obj=plan,
                 summary=f"{plan.criterion_id}: status {old.value} -> {status.value}")
    return plan


def delete_plan(plan: ActionPlan, *, by: User) -> None:
    """Remove a plan and its milestones.

    :raise DomainError: not editable, not allowed, or CBP verified the plan.
    """
    profile = _profile_of(plan)
    _ensure_editable(profile, by)
    if plan.status == ActionPlanStatus.VERIFIED:
        raise DomainError("CBP has verified this action plan; it cannot be deleted.")
    audit.record("action_plan.deleted", actor=by, company_id=_company_id(profile), obj=plan,
                 summary=f"{plan.criterion_id}: {plan.gap[:200]}")
    db_session.delete(plan)
    db_session.flush()


# --- milestones ----------------------------------------------------------------------------------


def check_milestone_input(profile: SecurityProfile, text: str, due_date: date | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not text.strip():
        problems.append(("text", "Describe the milestone."))
    elif message := _length_problem(text, MILESTONE_TEXT_MAX, "milestone"):
        problems.append(("text", message))
    if due_date is not None and (message := _date_problem(profile, due_date, "due date")):
        problems.append(("due_date", message))
    return problems


def add_milestone(plan: ActionPlan, text: str, due_date: date | None, *, by: User) -> Milestone:
    """Add a dated step to a plan.

    :raise DomainError: not editable or not allowed; :raise InvalidPlan: a field is refused.
    """
    profile = _profile_of(plan)
    _ensure_editable(profile, by)
    problems = check_milestone_input(profile, text, due_date)
    if len(plan.milestones) >= MILESTONES_MAX:
        problems.append(("text", f"A plan has at most {MILESTONES_MAX} milestones."))
    if problems:
        raise InvalidPlan(problems)
    milestone = Milestone(plan_id=plan.id, text=text, due_date=due_date, done=False)
    plan.milestones.append(milestone)
    db_session.flush()
    audit.record("milestone.added", actor=by, company_id=_company_id(profile), obj=milestone,
                 summary=f"{plan.criterion_id} plan {plan.id}: {text[:200]}")
    return milestone


def toggle_milestone(milestone: Milestone, *, by: User) -> Milestone:
    """Mark a milestone done, or not done again.

    :raise DomainError: not editable or not allowed.
    """
    plan = milestone.plan
    profile = _profile_of(plan)
    _ensure_editable(profile, by)
    milestone.done = not milestone.done
    db_session.flush()
    audit.record("milestone.completed" if milestone.done else "milestone.reopened", actor=by,
                 company_id=_company_id(profile), obj=milestone,
                 summary=f"{plan.criterion_id} plan {plan.id}: {milestone.text[:200]}")
    return milestone


def delete_milestone(milestone: Milestone, *, by: User) -> None:
    """Remove a milestone from its plan.

    :raise DomainError: not editable or not allowed.
    """
    plan = milestone.plan
    profile = _profile_of(plan)
    _ensure_editable(profile, by)
    audit.record("milestone.deleted", actor=by, company_id=_company_id(profile), obj=milestone,
                 summary=f"{plan.criterion_id} plan {plan.id}: {milestone.text[:200]}")
    plan.milestones.remove(milestone)
    db_session.flush()

"""Reads for action plans: the filtered, sorted list of a profile and the per-criterion grouping used
by the questionnaire. Owners and milestones come in a constant number of queries (selectinload)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from portal.action_plans.models import ActionPlan, Milestone
from portal.auth.models import Membership, User
from portal.clock import today
from portal.db import db_session
from portal.profiles.models import Answer, SecurityProfile
from portal.profiles.services import catalog_of
from portal.profiles.workflow import ActionPlanStatus, ImplementationStatus

SortKey = Literal["target_date", "criterion", "status", "updated"]
SORT_KEYS: tuple[SortKey, ...] = ("target_date", "criterion", "status", "updated")
CLOSED_STATUSES = (ActionPlanStatus.COMPLETED, ActionPlanStatus.VERIFIED)
_STATUS_ORDER = {status: position for position, status in enumerate(ActionPlanStatus)}


def overdue_clause() -> ColumnElement[bool]:
    """SQL for the derived "overdue": past its target date and neither completed nor verified."""
    return and_(ActionPlan.target_date < today(), ActionPlan.status.not_in(CLOSED_STATUSES))


def _criterion_order(profile: SecurityProfile) -> Any:
    """A CASE that ranks criterion IDs in catalog (numeric) order, so 5.8 sorts before 5.14."""
    catalog = catalog_of(profile)
    return case({criterion.id: position for position, criterion in enumerate(catalog.criteria)},
                value=ActionPlan.criterion_id, else_=len(catalog.criteria))


def _with_relations(query: Any) -> Any:
    return query.options(selectinload(ActionPlan.owner_user), selectinload(ActionPlan.milestones))


def plans_for_profile(
    profile: SecurityProfile,
    *,
    status: ActionPlanStatus | None = None,
    overdue: bool | None = None,
    category: int | None = None,
    sort: SortKey = "target_date",
) -> list[ActionPlan]:
    """The profile's plans, filtered and sorted in SQL, with owners and milestones loaded.

    ``overdue`` True keeps only overdue plans, False only the others; ``category`` keeps the plans of
    criteria in that catalog category. Unknown ``sort`` keys fall back to the target date.
    """
    query = select(ActionPlan).where(ActionPlan.profile_id == profile.id)
    if status is not None:
        query = query.where(ActionPlan.status == status)
    if overdue is True:
        query = query.where(overdue_clause())
    elif overdue is False:
        query = query.where(not_(overdue_clause()))
    if category is not None:
        ids = [criterion.id for criterion in catalog_of(profile).criteria if criterion.category == category]
        query = query.where(ActionPlan.criterion_id.in_(ids))
    if sort == "criterion":
        query = query.order_by(_criterion_order(profile), ActionPlan.target_date, ActionPlan.id)
    elif sort == "status":
        query = query.order_by(case(_STATUS_ORDER, value=ActionPlan.status), ActionPlan.target_date, ActionPlan.id)
    elif sort == "updated":
        query = query.order_by(ActionPlan.updated_at.desc(), ActionPlan.id.desc())
    else:
        query = query.order_by(ActionPlan.target_date, ActionPlan.id)
    return list(db_session.scalars(_with_relations(query)))


def plans_by_criterion(profile: SecurityProfile) -> dict[str, list[ActionPlan]]:
    """Every plan of the profile grouped by criterion ID (each list by target date); criteria
    without plans are absent, so use ``.get(criterion.id, [])``."""
    query = select(ActionPlan).where(ActionPlan.profile_id == profile.id).order_by(ActionPlan.target_date,
                                                                                   ActionPlan.id)
    grouped: dict[str, list[ActionPlan]] = defaultdict(list)
    for plan in db_session.scalars(_with_relations(query)):
        grouped[plan.criterion_id].append(plan)
    return dict(grouped)


def count_plans(profile: SecurityProfile) -> int:
    return db_session.scalar(select(func.count(ActionPlan.id)).where(ActionPlan.profile_id == profile.id)) or 0


def plan_in_profile(profile: SecurityProfile, plan_id: int) -> ActionPlan | None:
    """The plan if it belongs to this profile (another profile's plan id gives None, so 404)."""
    return db_session.scalar(_with_relations(
        select(ActionPlan).where(ActionPlan.id == plan_id, ActionPlan.profile_id == profile.id)
    ))


def milestone_in_plan(plan: ActionPlan, milestone_id: int) -> Milestone | None:
    return db_session.scalar(select(Milestone).where(Milestone.id == milestone_id, Milestone.plan_id == plan.id))


def company_users(company_id: int) -> list[User]:
    """Active users of the company (any role), by name: the possible owners of a plan."""
    return list(db_session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == company_id, User.is_active.is_(True))
        .order_by(User.full_name, User.id)
    ))


def gaps_without_plan(profile: SecurityProfile) -> list[tuple[str, ImplementationStatus]]:
    """Applicable criteria answered partially or not implemented that have no plan yet, as
    (criterion ID, answer status) pairs in catalog order."""
    has_plan = select(ActionPlan.id).where(ActionPlan.profile_id == profile.id,
                                           ActionPlan.criterion_id == Answer.criterion_id).exists()
    rows = db_session.execute(
        select(Answer.criterion_id, Answer.status).where(
            Answer.profile_id == profile.id,
            or_(Answer.status == ImplementationStatus.PARTIALLY_IMPLEMENTED,
                Answer.status == ImplementationStatus.NOT_IMPLEMENTED),
            ~has_plan,
        )
    ).all()
    catalog = catalog_of(profile)
    business_type = profile.account.business_type
    found = {criterion_id: status for criterion_id, status in rows
             if catalog.has_criterion(criterion_id) and catalog.criterion(criterion_id).applies(business_type)}
    return [(criterion.id, found[criterion.id]) for criterion in catalog.criteria if criterion.id in found]

"""Reads for security profiles: loaders that 404, and the per-category page data in a fixed
number of queries whatever the number of criteria."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal.action_plans.models import ActionPlan
from portal.catalog.schema import Catalog, Category, Criterion
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.profiles.models import Answer, EvidenceFile, EvidenceLink, ProfileVersion, SecurityProfile
from portal.profiles.services import catalog_of


def get_profile_or_404(profile_id: int) -> SecurityProfile:
    profile = db_session.scalar(
        select(SecurityProfile).where(SecurityProfile.id == profile_id)
        .options(joinedload(SecurityProfile.account).joinedload(TradeAccount.company))
    )
    if profile is None:
        abort(404)
    return profile


def get_version_or_404(profile: SecurityProfile, number: int) -> ProfileVersion:
    version = db_session.scalar(
        select(ProfileVersion).where(ProfileVersion.profile_id == profile.id, ProfileVersion.number == number)
        .options(joinedload(ProfileVersion.submitted_by))
    )
    if version is None:
        abort(404)
    return version


def get_category_or_404(catalog: Catalog, profile: SecurityProfile, number: int) -> Category:
    categories = {c.number: c for c in catalog.categories_for(profile.account.business_type)}
    if number not in categories:
        abort(404)
    return categories[number]


def answers_of(profile: SecurityProfile) -> dict[str, Answer]:
    return {a.criterion_id: a for a in db_session.scalars(select(Answer).where(Answer.profile_id == profile.id))}


@dataclass
class CategoryPage:
    """Everything the category page shows, loaded in a constant number of queries."""

    category: Category
    criteria: tuple[Criterion, ...]
    answers: dict[str, Answer]
    links: dict[str, list[EvidenceLink]]
    plans: dict[str, list[ActionPlan]]
    library: list[EvidenceFile]


def category_page(profile: SecurityProfile, category: Category) -> CategoryPage:
    catalog = catalog_of(profile)
    criteria = tuple(catalog.criteria_in(category, profile.account.business_type))
    ids = [c.id for c in criteria]
    answers = {a.criterion_id: a for a in db_session.scalars(
        select(Answer).where(Answer.profile_id == profile.id, Answer.criterion_id.in_(ids))
        .options(selectinload(Answer.updated_by)))}
    links: dict[str, list[EvidenceLink]] = {}
    for link in db_session.scalars(select(EvidenceLink).where(EvidenceLink.profile_id == profile.id,
                                                              EvidenceLink.criterion_id.in_(ids))
                                   .options(joinedload(EvidenceLink.evidence)).order_by(EvidenceLink.id)):
        links.setdefault(link.criterion_id, []).append(link)
    plans: dict[str, list[ActionPlan]] = {}
    for plan in db_session.scalars(select(ActionPlan).where(ActionPlan.profile_id == profile.id,
                                                            ActionPlan.criterion_id.in_(ids))
                                   .options(selectinload(ActionPlan.milestones),
                                            selectinload(ActionPlan.owner_user)).order_by(ActionPlan.id)):
        plans.setdefault(plan.criterion_id, []).append(plan)
    library = list(db_session.scalars(select(EvidenceFile).where(EvidenceFile.company_id ==
                                                                 profile.account.company_id)
                                      .order_by(EvidenceFile.original_name)))
    return CategoryPage(category=category, criteria=criteria, answers=answers, links=links, plans=plans,
                        library=library)


def versions_of(profile: SecurityProfile) -> list[ProfileVersion]:
    return list(db_session.scalars(select(ProfileVersion).where(ProfileVersion.profile_id == profile.id)
                                   .options(joinedload(ProfileVersion.submitted_by))
                                   .order_by(ProfileVersion.number.desc())))

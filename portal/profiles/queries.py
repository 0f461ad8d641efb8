"""Reads for security profiles: loaders that 404, and the per-category page data in a fixed
number of queries whatever the number of criteria."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import abort
from sqlalchemy import String, bindparam, cast, literal, null, select, text, union_all
from sqlalchemy.orm import joinedload, selectinload

from portal.action_plans.models import ActionPlan
from portal.auth.models import User
from portal.catalog.schema import Catalog, Category, Criterion
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.profiles.models import Answer, EvidenceFile, EvidenceLink, ProfileVersion, SecurityProfile
from portal.profiles.services import catalog_of


@lru_cache(maxsize=1)
def _profile_statement() -> Any:
    """Built once: every profile page runs it."""
    return (select(SecurityProfile).where(SecurityProfile.id == bindparam("profile_id"))
            .options(joinedload(SecurityProfile.account).joinedload(TradeAccount.company)))


def get_profile_or_404(profile_id: int) -> SecurityProfile:
    profile = db_session.scalar(_profile_statement(), {"profile_id": profile_id})
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


def criteria_of(profile: SecurityProfile, category: Category) -> tuple[Criterion, ...]:
    """The criteria of one category that apply to the profile's business type."""
    return tuple(catalog_of(profile).criteria_in(category, profile.account.business_type))


def category_page(profile: SecurityProfile, category: Category) -> CategoryPage:
    criteria = criteria_of(profile, category)
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
                                   .options(selectinload(ActionPlan.owner_user)).order_by(ActionPlan.id)):
        plans.setdefault(plan.criterion_id, []).append(plan)
    library = list(db_session.scalars(select(EvidenceFile).where(EvidenceFile.company_id ==
                                                                 profile.account.company_id)
                                      .order_by(EvidenceFile.original_name)))
    return CategoryPage(category=category, criteria=criteria, answers=answers, links=links, plans=plans,
                        library=library)


def _text(column: Any) -> Any:
    return cast(column, String)


@lru_cache(maxsize=1)
def _fingerprint_statement() -> Any:
    """Built once: constructing a four-part UNION costs more than running it."""
    ids = bindparam("criterion_ids", expanding=True)
    profile_id = bindparam("profile_id")
    editor = User.__table__.alias("editor")
    owner = User.__table__.alias("owner")
    blank = cast(null(), String)
    answers = (select(literal("a"), Answer.criterion_id, _text(Answer.version), editor.c.full_name, blank, blank)
               .outerjoin(editor, editor.c.id == Answer.updated_by_id)
               .where(Answer.profile_id == profile_id, Answer.criterion_id.in_(ids)))
    links = (select(literal("l"), EvidenceLink.criterion_id, _text(EvidenceLink.id), _text(EvidenceLink.evidence_id),
                    blank, blank)
             .where(EvidenceLink.profile_id == profile_id, EvidenceLink.criterion_id.in_(ids)))
    # Linked documents belong to the company's library, so the library rows cover their fields.
    library = (select(literal("f"), _text(EvidenceFile.id), EvidenceFile.original_name, EvidenceFile.title,
                      _text(EvidenceFile.size), _text(EvidenceFile.effective_date))
               .where(EvidenceFile.company_id == bindparam("company_id")))
    plans = (select(literal("p"), ActionPlan.criterion_id, _text(ActionPlan.id), _text(ActionPlan.version),
                    owner.c.full_name, blank)
             .outerjoin(owner, owner.c.id == ActionPlan.owner_user_id)
             .where(ActionPlan.profile_id == profile_id, ActionPlan.criterion_id.in_(ids)))
    return union_all(answers, links, library, plans).order_by(text("1"), text("2"), text("3"))


def category_fingerprint(profile: SecurityProfile, criteria: tuple[Criterion, ...]) -> tuple[tuple[Any, ...], ...]:
    """The rows behind everything the category page shows per criterion, in one statement.

    Each answer, evidence link, library document and action plan gives one row of the values its
    rendering depends on: an answer's and a plan's optimistic-locking version (every change of their
    text, status or dates moves it on), the names of the users shown beside them, and the document
    fields shown in lists and choices. Rows added or removed change the tuple too. Used as a fragment
    cache key (portal/fragment_cache.py), so it must cover every value the fragment renders.
    """
    rows = db_session.execute(_fingerprint_statement(), {
        "profile_id": profile.id, "company_id": profile.account.company_id,
        "criterion_ids": [c.id for c in criteria]})
    return tuple(tuple(row) for row in rows)


def versions_of(profile: SecurityProfile) -> list[ProfileVersion]:
    return list(db_session.scalars(select(ProfileVersion).where(ProfileVersion.profile_id == profile.id)
                                   .options(joinedload(ProfileVersion.submitted_by))
                                   .order_by(ProfileVersion.number.desc())))

"""Reads for reviews: loaders that 404, the per-category review page data, and the outcome a
partner sees."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal.catalog import get_catalog
from portal.catalog.schema import Catalog, Category, Criterion
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.profiles.models import EvidenceFile, ProfileVersion, SecurityProfile
from portal.reviews.models import CriterionRating, InfoRequest, Review
from portal.reviews.workflow import ReviewStatus


def get_review_or_404(review_id: int) -> Review:
    review = db_session.scalar(
        select(Review).where(Review.id == review_id)
        .options(joinedload(Review.profile).joinedload(SecurityProfile.account).joinedload(TradeAccount.company),
                 joinedload(Review.reviewer))
    )
    if review is None:
        abort(404)
    return review


def reviews_by_ids(review_ids: Iterable[int]) -> list[Review]:
    """The reviews with these ids (those that exist), each with its profile, account, company and reviewer."""
    ids = sorted(set(review_ids))
    if not ids:
        return []
    return list(db_session.scalars(
        select(Review).where(Review.id.in_(ids)).order_by(Review.id)
        .options(joinedload(Review.profile).joinedload(SecurityProfile.account).joinedload(TradeAccount.company),
                 joinedload(Review.reviewer))
    ).unique())


def version_for(review: Review) -> ProfileVersion:
    version = db_session.scalar(select(ProfileVersion).where(ProfileVersion.profile_id == review.profile_id,
                                                             ProfileVersion.number == review.version_number))
    if version is None:
        abort(404)
    return version


@dataclass
class ReviewPage:
    """One category of a reviewed version, with its ratings and questions."""

    catalog: Catalog
    version: ProfileVersion
    category: Category
    categories: list[Category]
    rows: list[tuple[Criterion, dict[str, Any]]]
    ratings: dict[str, CriterionRating]
    questions: dict[str, list[InfoRequest]]
    evidence_by_hash: dict[str, EvidenceFile]


def review_categories(catalog: Catalog, version: ProfileVersion) -> list[Category]:
    numbers = {catalog.criterion(row["id"]).category for row in version.content["criteria"]
               if catalog.has_criterion(row["id"])}
    return [c for c in catalog.categories if c.number in numbers]


def review_page(review: Review, number: int) -> ReviewPage:
    version = version_for(review)
    catalog = get_catalog(version.catalog_id)
    categories = review_categories(catalog, version)
    category = next((c for c in categories if c.number == number), None)
    if category is None:
        abort(404)
    rows = [(catalog.criterion(row["id"]), row) for row in version.content["criteria"]
            if catalog.has_criterion(row["id"]) and catalog.criterion(row["id"]).category == number]
    ids = [criterion.id for criterion, _ in rows]
    ratings = {r.criterion_id: r for r in db_session.scalars(
        select(CriterionRating).where(CriterionRating.review_id == review.id, CriterionRating.criterion_id.in_(ids))
        .options(selectinload(CriterionRating.updated_by)))}
    questions: dict[str, list[InfoRequest]] = {}
    for question in db_session.scalars(select(InfoRequest).where(InfoRequest.review_id == review.id,
                                                                 InfoRequest.criterion_id.in_(ids))
                                       .order_by(InfoRequest.id)):
        questions.setdefault(question.criterion_id, []).append(question)
    hashes = {e["sha256"] for _, row in rows for e in row.get("evidence", [])}
    evidence = {e.sha256: e for e in db_session.scalars(
        select(EvidenceFile).where(EvidenceFile.company_id == review.profile.account.company_id,
                                   EvidenceFile.sha256.in_(hashes)))} if hashes else {}
    return ReviewPage(catalog=catalog, version=version, category=category, categories=categories, rows=rows,
                      ratings=ratings, questions=questions, evidence_by_hash=evidence)


def latest_decided_review(profile: SecurityProfile) -> Review | None:
    return db_session.scalar(select(Review).where(Review.profile_id == profile.id,
                                                  Review.status == ReviewStatus.DECIDED)
                             .options(selectinload(Review.ratings), selectinload(Review.info_requests))
                             .order_by(Review.version_number.desc()).limit(1))


def current_review(profile: SecurityProfile) -> Review | None:
    return db_session.scalar(select(Review).where(Review.profile_id == profile.id)
                             .order_by(Review.version_number.desc()).limit(1))

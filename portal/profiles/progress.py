"""Questionnaire progress, computed from the catalog and the answers (pure: no database access)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from portal.catalog.schema import Catalog, Category, Criterion
from portal.companies.business_types import BusinessType
from portal.profiles.workflow import ImplementationStatus


class AnswerLike:  # pragma: no cover - documentation of the duck type used below
    criterion_id: str
    status: ImplementationStatus | None
    is_complete: bool


@dataclass(frozen=True)
class CategoryProgress:
    """Progress of one category: answered / total, and the Musts still open."""

    category: Category
    criteria: tuple[Criterion, ...]
    answered: int
    open_musts: int

    @property
    def total(self) -> int:
        return len(self.criteria)

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 100

    @property
    def complete(self) -> bool:
        return self.answered == self.total


@dataclass(frozen=True)
class ProfileProgress:
    """Progress of a whole profile, category by category."""

    categories: tuple[CategoryProgress, ...]

    @property
    def answered(self) -> int:
        return sum(c.answered for c in self.categories)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.categories)

    @property
    def open_musts(self) -> int:
        return sum(c.open_musts for c in self.categories)

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 100

    def first_incomplete(self) -> Category | None:
        return next((c.category for c in self.categories if not c.complete), None)


def is_open_must(criterion: Criterion, answer: AnswerLike | None) -> bool:
    """A Must is open until it is answered as implemented (or justified as not applicable)."""
    if not criterion.is_must:
        return False
    if answer is None or not answer.is_complete:
        return True
    return answer.status in {ImplementationStatus.PARTIALLY_IMPLEMENTED, ImplementationStatus.NOT_IMPLEMENTED}


def compute_progress(catalog: Catalog, business_type: BusinessType,
                     answers: Mapping[str, AnswerLike] | Iterable[AnswerLike]) -> ProfileProgress:
    """Progress per category for the criteria that apply to the business type."""
    by_id = answers if isinstance(answers, Mapping) else {a.criterion_id: a for a in answers}
    rows = []
    for category in catalog.categories_for(business_type):
        criteria = tuple(catalog.criteria_in(category, business_type))
        answered = sum(1 for c in criteria if by_id.get(c.id) is not None and by_id[c.id].is_complete)
        open_musts = sum(1 for c in criteria if is_open_must(c, by_id.get(c.id)))
        rows.append(CategoryProgress(category=category, criteria=criteria, answered=answered, open_musts=open_musts))
    return ProfileProgress(categories=tuple(rows))

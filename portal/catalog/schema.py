"""Typed, immutable model of a CTPAT Minimum Security Criteria (MSC) catalog.

A catalog is read-only reference data (DESIGN.md §6): three focus areas, twelve categories and the
criteria, each tagged Must/Should, weighted and limited to the business types it applies to. The
loader builds these objects once from a TOML file; everything else (profiles, reviews, scoring,
exports, forms) reads them. Stdlib only, so `forms/` and the pure scoring module may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from portal.companies.business_types import BusinessType

__all__ = [
    "DEFAULT_WEIGHTS",
    "Catalog",
    "Category",
    "Criterion",
    "FocusArea",
    "Level",
    "criterion_sort_key",
]


class Level(StrEnum):
    """How binding a criterion is: a Must is needed for certification, a Should is recommended."""

    MUST = "must"
    SHOULD = "should"


# Scoring weights used when a catalog entry gives none (DESIGN.md §8).
DEFAULT_WEIGHTS: Mapping[Level, float] = MappingProxyType({Level.MUST: 3.0, Level.SHOULD: 1.0})


def criterion_sort_key(criterion_id: str) -> tuple[int, ...]:
    """Return a key that orders criterion IDs numerically, so "5.14" comes after "5.8".

    :raise ValueError: the ID is not dot-separated integers.
    """
    return tuple(int(part) for part in criterion_id.split("."))


@dataclass(frozen=True)
class FocusArea:
    """One of the three MSC focus areas (1 corporate, 2 transportation, 3 people and physical)."""

    number: int
    title: str


@dataclass(frozen=True)
class Category:
    """One of the twelve MSC categories; `focus_area` is the number of its focus area."""

    number: int
    title: str
    focus_area: int


@dataclass(frozen=True)
class Criterion:
    """One minimum security criterion, identified by its CBP ID (e.g. "3.4").

    The same ID means the same criterion in every business type's profile; `applies_to` says
    which types are asked it. `checklist` lists sub-elements a reviewer ticks one by one.
    """

    id: str
    category: int
    level: Level
    weight: float
    title: str
    requirement: str
    guidance: str
    evidence: str
    applies_to: frozenset[BusinessType]
    checklist: tuple[str, ...] = ()

    @property
    def is_must(self) -> bool:
        """True for a Must (required for certification), False for a Should."""
        return self.level is Level.MUST

    @property
    def sort_key(self) -> tuple[int, ...]:
        """Numeric sort key of the ID; see `criterion_sort_key`."""
        return criterion_sort_key(self.id)

    def applies(self, business_type: BusinessType) -> bool:
        """Tell whether this business type's profile includes the criterion."""
        return business_type in self.applies_to


@dataclass(frozen=True)
class Catalog:
    """One version of the MSC (e.g. "msc-2023"); `criteria` are in catalog (numeric ID) order.

    Profiles pin the catalog id, and answers, ratings and findings refer to criteria by ID, so
    a catalog never changes once published: a new version is a new object from a new file.
    """

    id: str
    title: str
    effective_date: date
    answer_scale: tuple[str, ...]
    focus_areas: tuple[FocusArea, ...]
    categories: tuple[Category, ...]
    criteria: tuple[Criterion, ...]
    # Lookup indexes, built once; excluded from equality so two loads of one file compare equal.
    _criteria_by_id: Mapping[str, Criterion] = field(init=False, repr=False, compare=False)
    _categories_by_number: Mapping[int, Category] = field(init=False, repr=False, compare=False)
    _focus_areas_by_number: Mapping[int, FocusArea] = field(init=False, repr=False, compare=False)
    # The selections by business type, filled on first use: every page of a profile asks for its type's
    # criteria and categories, and filtering 100 criteria each time showed in the page's cost.
    _selections: dict[tuple[str, object, object], tuple[Any, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        """Build the lookup indexes.

        :raise ValueError: duplicate criterion IDs or a criterion in an unknown category; the
            loader reports these as problems first, this only guards hand-built catalogs.
        """
        by_id: dict[str, Criterion] = {}
        for criterion in self.criteria:
            if criterion.id in by_id:
                raise ValueError(f"duplicate criterion id {criterion.id!r}")
            by_id[criterion.id] = criterion
        categories = {category.number: category for category in self.categories}
        unknown = sorted({c.category for c in self.criteria} - categories.keys())
        if unknown:
            raise ValueError(f"criteria refer to unknown categories {unknown}")
        # Frozen dataclass: object.__setattr__ is the documented way to set derived fields.
        object.__setattr__(self, "_criteria_by_id", MappingProxyType(by_id))
        object.__setattr__(self, "_categories_by_number", MappingProxyType(categories))
        object.__setattr__(
            self,
            "_focus_areas_by_number",
            MappingProxyType({area.number: area for area in self.focus_areas}),
        )

    def criterion(self, criterion_id: str) -> Criterion:
        """Return the criterion with this ID.

        :raise KeyError: no such criterion in this catalog version.
        """
        try:
            return self._criteria_by_id[criterion_id]
        except KeyError:
            raise KeyError(f"no criterion {criterion_id!r} in catalog {self.id!r}") from None

    def has_criterion(self, criterion_id: str) -> bool:
        """Tell whether this catalog version defines the ID (e.g. to check stored answers)."""
        return criterion_id in self._criteria_by_id

    def category(self, number: int) -> Category:
        """Return category `number` (1-12).

        :raise KeyError: no such category.
        """
        try:
            return self._categories_by_number[number]
        except KeyError:
            raise KeyError(f"no category {number!r} in catalog {self.id!r}") from None

    def focus_area(self, number: int) -> FocusArea:
        """Return focus area `number` (1-3).

        :raise KeyError: no such focus area.
        """
        try:
            return self._focus_areas_by_number[number]
        except KeyError:
            raise KeyError(f"no focus area {number!r} in catalog {self.id!r}") from None

    def focus_area_of(self, category: Category | int) -> FocusArea:
        """Return the focus area a category (object or number) belongs to.

        :raise KeyError: unknown category.
        """
        number = category.number if isinstance(category, Category) else category
        return self.focus_area(self.category(number).focus_area)

    def categories_in(self, focus_area: FocusArea | int) -> tuple[Category, ...]:
        """Return the categories of one focus area (object or number), in order."""
        number = focus_area.number if isinstance(focus_area, FocusArea) else focus_area
        return tuple(c for c in self.categories if c.focus_area == number)

    def criteria_in(
        self, category: Category | int, business_type: BusinessType | None = None
    ) -> tuple[Criterion, ...]:
        """Return the criteria of one category, optionally only those for one business type."""
        number = category.number if isinstance(category, Category) else category
        key = ("criteria_in", number, business_type)
        found = self._selections.get(key)
        if found is None:
            found = self._selections[key] = tuple(
                c
                for c in self.criteria
                if c.category == number and (business_type is None or c.applies(business_type))
            )
        return found

    def criteria_for(self, business_type: BusinessType) -> tuple[Criterion, ...]:
        """Return the criteria a business type answers (its profile), in catalog order."""
        key = ("criteria_for", business_type, None)
        found = self._selections.get(key)
        if found is None:
            found = self._selections[key] = tuple(c for c in self.criteria if c.applies(business_type))
        return found

    def categories_for(self, business_type: BusinessType) -> tuple[Category, ...]:
        """Return the categories holding at least one criterion for this business type."""
        key = ("categories_for", business_type, None)
        found = self._selections.get(key)
        if found is None:
            used = {c.category for c in self.criteria_for(business_type)}
            found = self._selections[key] = tuple(c for c in self.categories if c.number in used)
        return found

    def search(
        self,
        text: str,
        business_type: BusinessType | None = None,
        category: Category | int | None = None,
    ) -> tuple[Criterion, ...]:
        """Return criteria whose ID, title, requirement or guidance contain `text`.

        Matching ignores case; blank text matches everything. The optional filters narrow the
        result to one business type's profile and/or one category.
        """
        needle = " ".join(text.split()).casefold()
        number = category.number if isinstance(category, Category) else category
        return tuple(
            c
            for c in self.criteria
            if (business_type is None or c.applies(business_type))
            and (number is None or c.category == number)
            and any(
                needle in part.casefold() for part in (c.id, c.title, c.requirement, c.guidance)
            )
        )

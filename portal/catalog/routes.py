"""The public Criteria library: browse the MSC catalog by business type and category, with search.

No sign-in is needed: the criteria are public reference data (DESIGN.md §6, issue 3 item 1). The
library is a plain GET form, so it works without JavaScript and every filtered view has a URL.
A filter value that does not exist (an unknown business type or catalog version, category 99) is
reported in an error alert and ignored; the page never fails because of what is in the query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from flask import Blueprint, abort, render_template, request

from portal.catalog.loader import CURRENT_CATALOG_ID, available_catalogs, get_catalog
from portal.catalog.schema import Catalog, Category, Criterion, FocusArea
from portal.companies.business_types import BusinessType

bp = Blueprint("catalog", __name__)

# Longer search text is cut to this many characters (and the user is told so).
MAX_QUERY_LENGTH: Final = 100
# How much of a rejected filter value the error message repeats back.
_ECHO_LENGTH: Final = 40
ALL_BUSINESS_TYPES: Final = frozenset(BusinessType)


@dataclass(frozen=True)
class LibraryFilters:
    """The library's filters after validation; `errors` explains every value that was ignored."""

    catalog: Catalog
    business_type: BusinessType | None = None
    category: Category | None = None
    query: str = ""
    errors: tuple[str, ...] = field(default=())

    @property
    def is_filtered(self) -> bool:
        return self.business_type is not None or self.category is not None or bool(self.query)


@dataclass(frozen=True)
class CategoryGroup:
    category: Category
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class FocusAreaGroup:
    focus_area: FocusArea
    categories: tuple[CategoryGroup, ...]


def _echo(value: str) -> str:
    """A rejected value, shortened for the message (Jinja escapes it when rendered)."""
    return value if len(value) <= _ECHO_LENGTH else value[:_ECHO_LENGTH] + "…"


def parse_filters(args: Mapping[str, str]) -> LibraryFilters:
    """Validate the query-string filters; a bad value is dropped and explained, never an error page."""
    errors: list[str] = []

    catalog_id = args.get("catalog", "").strip()
    if catalog_id and catalog_id not in available_catalogs():
        errors.append(
            f"There is no catalog version “{_echo(catalog_id)}”. "
            f"Showing the current version, {CURRENT_CATALOG_ID}."
        )
        catalog_id = ""
    catalog = get_catalog(catalog_id or None)

    business_type: BusinessType | None = None
    raw_type = args.get("business_type", "").strip()
    if raw_type:
        try:
            business_type = BusinessType(raw_type)
        except ValueError:
            errors.append(
                f"There is no business type “{_echo(raw_type)}”. Showing all business types."
            )

    category: Category | None = None
    raw_category = args.get("category", "").strip()
    if raw_category:
        number = int(raw_category) if raw_category.isdecimal() and len(raw_category) <= 3 else None
        try:
            if number is None:
                raise KeyError(raw_category)
            category = catalog.category(number)
        except KeyError:
            last = catalog.categories[-1].number
            errors.append(
                f"There is no category “{_echo(raw_category)}” (categories are numbered 1 to {last}). "
                "Showing all categories."
            )

    query = " ".join(args.get("q", "").split())
    if len(query) > MAX_QUERY_LENGTH:
        query = query[:MAX_QUERY_LENGTH].rstrip()
        errors.append(f"The search text was shortened to {MAX_QUERY_LENGTH} characters.")

    return LibraryFilters(
        catalog=catalog,
        business_type=business_type,
        category=category,
        query=query,
        errors=tuple(errors),
    )


def group_criteria(catalog: Catalog, criteria: tuple[Criterion, ...]) -> tuple[FocusAreaGroup, ...]:
    """Group criteria by focus area and category, in catalog order, leaving out empty groups."""
    by_category: dict[int, list[Criterion]] = {}
    for criterion in criteria:
        by_category.setdefault(criterion.category, []).append(criterion)
    groups: list[FocusAreaGroup] = []
    for area in catalog.focus_areas:
        categories = tuple(
            CategoryGroup(category=category, criteria=tuple(by_category[category.number]))
            for category in catalog.categories_in(area)
            if category.number in by_category
        )
        if categories:
            groups.append(FocusAreaGroup(focus_area=area, categories=categories))
    return tuple(groups)


def applies_to_labels(criterion: Criterion) -> list[str]:
    """Business type labels in their usual order, or just "All business types" for CORE criteria."""
    if criterion.applies_to >= ALL_BUSINESS_TYPES:
        return ["All business types"]
    return [bt.label for bt in BusinessType if bt in criterion.applies_to]


def count_text(criteria: tuple[Criterion, ...]) -> str:
    """E.g. "95 criteria, 61 Musts" or "1 criterion, 0 Musts"."""
    total = len(criteria)
    musts = sum(1 for c in criteria if c.is_must)
    return (
        f"{total} {'criterion' if total == 1 else 'criteria'}, "
        f"{musts} {'Must' if musts == 1 else 'Musts'}"
    )


def _catalog_choices() -> list[Catalog]:
    """Every shipped catalog version, newest first."""
    return sorted((get_catalog(cid) for cid in available_catalogs()),
                  key=lambda c: c.effective_date, reverse=True)


@bp.route("/criteria")
def library():
    """The Criteria library: every criterion of a catalog version, filtered and searched."""
    filters = parse_filters(request.args)
    catalog = filters.catalog
    results = catalog.search(filters.query, business_type=filters.business_type,
                             category=filters.category)
    exact = catalog.criterion(filters.query) if catalog.has_criterion(filters.query) else None
    return render_template(
        "catalog/library.html",
        filters=filters,
        catalog=catalog,
        catalogs=_catalog_choices(),
        current_catalog_id=CURRENT_CATALOG_ID,
        business_types=list(BusinessType),
        results=results,
        groups=group_criteria(catalog, results),
        count_text=count_text(results),
        exact_match=exact,
        applies_to_labels=applies_to_labels,
        max_query_length=MAX_QUERY_LENGTH,
    )


@bp.route("/criteria/<catalog_id>/<criterion_id>")
def criterion(catalog_id: str, criterion_id: str):
    """One criterion of one catalog version, with how it reads in the other versions."""
    if catalog_id not in available_catalogs():
        abort(404)
    catalog = get_catalog(catalog_id)
    if not catalog.has_criterion(criterion_id):
        abort(404)
    item = catalog.criterion(criterion_id)
    other_versions = [
        (other, other.criterion(criterion_id))
        for other in _catalog_choices()
        if other.id != catalog.id and other.has_criterion(criterion_id)
    ]
    return render_template(
        "catalog/criterion.html",
        catalog=catalog,
        criterion=item,
        category=catalog.category(item.category),
        focus_area=catalog.focus_area_of(item.category),
        other_versions=other_versions,
        current_catalog_id=CURRENT_CATALOG_ID,
        applies_to_labels=applies_to_labels,
    )

"""Turn a catalog file's parsed TOML into a `Catalog`, collecting every problem instead of stopping
at the first (used by `portal/catalog/loader.py`, which reads the files; DESIGN.md §6)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Final

from portal.catalog.schema import (
    DEFAULT_WEIGHTS,
    Catalog,
    Category,
    Criterion,
    FocusArea,
    Level,
)
from portal.companies.business_types import BusinessType

# CBP's tag for criteria that apply to every entity type.
CORE: Final = "CORE"

FOCUS_AREA_NUMBERS: Final = range(1, 4)
CATEGORY_NUMBERS: Final = range(1, 13)

_HEADER_KEYS: Final = frozenset({"id", "title", "effective_date", "answer_scale"})
_TABLE_KEYS: Final = frozenset({"focus_areas", "categories", "criteria"})
_FOCUS_AREA_KEYS: Final = frozenset({"number", "title"})
_CATEGORY_KEYS: Final = frozenset({"number", "title", "focus_area"})
_CRITERION_REQUIRED: Final = frozenset(
    {"id", "category", "level", "title", "requirement", "guidance", "evidence", "applies_to"}
)
_CRITERION_OPTIONAL: Final = frozenset({"weight", "checklist"})
_ID_PATTERN: Final = re.compile(r"(\d{1,2})\.(\d{1,3})")
_TYPE_VALUES: Final = frozenset(bt.value for bt in BusinessType)
_KNOWN_TYPES: Final = ", ".join(bt.value for bt in BusinessType)


def parse_catalog(data: dict[str, Any]) -> tuple[Catalog | None, list[str]]:
    """The catalog described by ``data`` (a TOML document), or None, and every problem found in it."""
    return _Parser().parse(data)


def _text(value: str) -> str:
    return " ".join(value.split())


def _is_int(value: object) -> bool:
    # bool is a subclass of int; `number = true` is a typo, not the number 1.
    return isinstance(value, int) and not isinstance(value, bool)


class _Parser:
    """Turns parsed TOML into a Catalog, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.defined_areas: set[int] = set()
        self.used_areas: set[int] = set()
        self.defined_categories: set[int] = set()
        self.used_categories: set[int] = set()

    def parse(self, data: dict[str, Any]) -> tuple[Catalog | None, list[str]]:
        self._check_keys(data, "catalog", _HEADER_KEYS | _TABLE_KEYS, frozenset())
        catalog_id = self._string(data, "id", "catalog")
        title = self._string(data, "title", "catalog")
        effective = self._effective_date(data)
        scale = self._answer_scale(data)
        focus_areas = self._focus_areas(data)
        categories = self._categories(data)
        criteria = self._criteria(data)
        criteria_ok = len(criteria) == len(self._tables(data, "criteria", check=False))

        for category in categories:
            if category.number not in self.used_categories:
                self.problems.append(
                    f"category {category.number} ({category.title}) has no criteria"
                )
        for area in focus_areas:
            if area.number not in self.used_areas:
                self.problems.append(f"focus area {area.number} ({area.title}) has no categories")
        # Only meaningful when every criterion parsed; otherwise it would echo earlier problems.
        if criteria_ok and criteria:
            for business_type in BusinessType:
                if not any(business_type in c.applies_to for c in criteria):
                    self.problems.append(
                        f"business type {business_type.value!r} has no applicable criteria"
                    )

        if self.problems or catalog_id is None or title is None or effective is None:
            return None, self.problems
        catalog = Catalog(
            id=catalog_id,
            title=title,
            effective_date=effective,
            answer_scale=scale,
            focus_areas=tuple(sorted(focus_areas, key=lambda a: a.number)),
            categories=tuple(sorted(categories, key=lambda c: c.number)),
            criteria=tuple(sorted(criteria, key=lambda c: c.sort_key)),
        )
        return catalog, []

    # -- generic helpers ---------------------------------------------------------------

    def _check_keys(
        self,
        table: dict[str, Any],
        where: str,
        required: frozenset[str],
        optional: frozenset[str],
    ) -> None:
        for key in sorted(required - table.keys()):
            self.problems.append(f"{where}: missing key {key!r}")
        for key in sorted(table.keys() - required - optional):
            self.problems.append(f"{where}: unknown key {key!r}")

    def _string(self, table: dict[str, Any], key: str, where: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None  # already reported as a missing key
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"{where}: {key!r} must be a non-empty string")
            return None
        return _text(value)

    def _number(self, table: dict[str, Any], key: str, where: str, allowed: range) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if not _is_int(value) or value not in allowed:
            self.problems.append(
                f"{where}: {key!r} must be an integer from {allowed.start} to {allowed.stop - 1},"
                f" not {value!r}"
            )
            return None
        return int(value)

    def _tables(
        self, data: dict[str, Any], key: str, *, check: bool = True
    ) -> list[dict[str, Any]]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            if check:
                self.problems.append(f"catalog: {key!r} must be an array of tables ([[{key}]])")
            return []
        return value

    # -- header ------------------------------------------------------------------------

    def _effective_date(self, data: dict[str, Any]) -> date | None:
        value = data.get("effective_date")
        if value is None:
            return None
        # datetime is a date subclass; a catalog takes effect on a day, not at an instant.
        if not isinstance(value, date) or isinstance(value, datetime):
            self.problems.append(
                f"catalog: 'effective_date' must be a TOML date like 2023-01-01, not {value!r}"
            )
            return None
        return value

    def _answer_scale(self, data: dict[str, Any]) -> tuple[str, ...]:
        value = data.get("answer_scale")
        if value is None:
            return ()
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(item, str) and item.strip() for item in value)
        ):
            self.problems.append("catalog: 'answer_scale' must be a non-empty list of strings")
            return ()
        if len(set(value)) != len(value):
            self.problems.append("catalog: 'answer_scale' has duplicate values")
        return tuple(value)

    # -- focus areas and categories ------------------------------------------------------
    # An entry with a problem is left out of the catalog but its number still counts as
    # "defined", so one typo does not also produce "missing" and "not defined" problems.

    def _numbered(self, data: dict[str, Any], key: str, noun: str, numbers: range, keys: frozenset[str],
                  defined: set[int]) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """The entries of the table ``key`` whose number is valid and not taken yet, with the name to
        report their problems under; each number is added to ``defined``. Afterwards, every number of
        ``numbers`` that no entry defined is reported missing."""
        for index, table in enumerate(self._tables(data, key), start=1):
            number = self._number(table, "number", f"{noun} #{index}", numbers)
            where = f"{noun} #{index}" if number is None else f"{noun} {number}"
            self._check_keys(table, where, keys, frozenset())
            if number is None:
                continue
            if number in defined:
                self.problems.append(f"{where}: defined more than once")
                continue
            defined.add(number)
            yield number, where, table
        for number in numbers:
            if number not in defined:
                self.problems.append(f"{noun} {number} is missing")

    def _focus_areas(self, data: dict[str, Any]) -> list[FocusArea]:
        areas: dict[int, FocusArea] = {}
        for number, where, table in self._numbered(data, "focus_areas", "focus area", FOCUS_AREA_NUMBERS,
                                                   _FOCUS_AREA_KEYS, self.defined_areas):
            title = self._string(table, "title", where)
            if title is not None:
                areas[number] = FocusArea(number=number, title=title)
        return list(areas.values())

    def _categories(self, data: dict[str, Any]) -> list[Category]:
        categories: dict[int, Category] = {}
        for number, where, table in self._numbered(data, "categories", "category", CATEGORY_NUMBERS,
                                                   _CATEGORY_KEYS, self.defined_categories):
            title = self._string(table, "title", where)
            area = self._number(table, "focus_area", where, FOCUS_AREA_NUMBERS)
            if area is not None:
                self.used_areas.add(area)
                if area not in self.defined_areas:
                    self.problems.append(f"{where}: focus area {area} is not defined")
                    continue
            if title is not None and area is not None:
                categories[number] = Category(number=number, title=title, focus_area=area)
        return list(categories.values())

    # -- criteria --------------------------------------------------------------------------

    def _criteria(self, data: dict[str, Any]) -> list[Criterion]:
        """Parse every criterion and note which categories the entries use.

        `used_categories` counts entries that failed for other reasons too, so one bad
        criterion does not also produce an "empty category" problem.
        """
        criteria: list[Criterion] = []
        first_seen: dict[str, int] = {}
        for index, table in enumerate(self._tables(data, "criteria"), start=1):
            raw_id = table.get("id")
            where = f"criterion {raw_id!r}" if isinstance(raw_id, str) else f"criterion #{index}"
            before = len(self.problems)
            self._check_keys(table, where, _CRITERION_REQUIRED, _CRITERION_OPTIONAL)

            criterion_id = self._string(table, "id", where)
            if criterion_id is not None:
                match = _ID_PATTERN.fullmatch(criterion_id)
                if match is None:
                    self.problems.append(f"{where}: id must look like '3.4' (category.number)")
                elif criterion_id in first_seen:
                    first = first_seen[criterion_id]
                    self.problems.append(
                        f"{where}: duplicate id (first defined in criterion #{first})"
                    )
                else:
                    first_seen[criterion_id] = index

            category = self._number(table, "category", where, CATEGORY_NUMBERS)
            if category is not None:
                self.used_categories.add(category)
                if category not in self.defined_categories:
                    self.problems.append(f"{where}: category {category} is not defined")
                if criterion_id is not None and _ID_PATTERN.fullmatch(criterion_id):
                    prefix = int(criterion_id.split(".")[0])
                    if prefix != category:
                        self.problems.append(
                            f"{where}: id prefix {prefix} does not match its category {category}"
                        )

            level = self._level(table, where)
            weight = self._weight(table, where, level)
            title = self._string(table, "title", where)
            requirement = self._string(table, "requirement", where)
            guidance = self._string(table, "guidance", where)
            evidence = self._string(table, "evidence", where)
            applies_to = self._applies_to(table, where)
            checklist = self._checklist(table, where)

            # A None without a recorded problem cannot happen (a missing key is a problem);
            # the explicit test keeps the types narrow without asserts.
            if (
                len(self.problems) > before
                or criterion_id is None
                or category is None
                or level is None
                or weight is None
                or title is None
                or requirement is None
                or guidance is None
                or evidence is None
                or applies_to is None
            ):
                continue
            criteria.append(
                Criterion(
                    id=criterion_id,
                    category=category,
                    level=level,
                    weight=weight,
                    title=title,
                    requirement=requirement,
                    guidance=guidance,
                    evidence=evidence,
                    applies_to=applies_to,
                    checklist=checklist,
                )
            )
        return criteria

    def _level(self, table: dict[str, Any], where: str) -> Level | None:
        value = table.get("level")
        if value is None:
            return None
        try:
            return Level(value)
        except ValueError:
            self.problems.append(f"{where}: level must be 'must' or 'should', not {value!r}")
            return None

    def _weight(self, table: dict[str, Any], where: str, level: Level | None) -> float | None:
        if "weight" not in table:
            return DEFAULT_WEIGHTS[level] if level is not None else None
        value = table["weight"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            self.problems.append(f"{where}: weight must be a positive number, not {value!r}")
            return None
        return float(value)

    def _applies_to(self, table: dict[str, Any], where: str) -> frozenset[BusinessType] | None:
        value = table.get("applies_to")
        if value is None:
            return None
        if value == CORE:
            return frozenset(BusinessType)
        if not isinstance(value, list) or not value:
            self.problems.append(
                f"{where}: applies_to must be {CORE!r} or a non-empty list of business types"
            )
            return None
        types: set[BusinessType] = set()
        ok = True
        for item in value:
            if item == CORE:
                self.problems.append(f"{where}: {CORE!r} must stand alone, not inside a list")
                ok = False
            elif isinstance(item, str) and item in _TYPE_VALUES:
                types.add(BusinessType(item))
            else:
                self.problems.append(
                    f"{where}: unknown business type {item!r} (known: {_KNOWN_TYPES})"
                )
                ok = False
        if ok and len(types) != len(value):
            self.problems.append(f"{where}: applies_to lists a business type twice")
        return frozenset(types) if ok else None

    def _checklist(self, table: dict[str, Any], where: str) -> tuple[str, ...]:
        value = table.get("checklist", [])
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            self.problems.append(f"{where}: checklist must be a list of non-empty strings")
            return ()
        items = tuple(_text(item) for item in value)
        if len(set(items)) != len(items):
            self.problems.append(f"{where}: checklist has duplicate items")
        return items

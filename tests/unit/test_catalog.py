"""Unit tests for the MSC catalog: the shipped TOML files, the schema and the validation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from portal.catalog.loader import (
    CURRENT_CATALOG_ID,
    CatalogError,
    available_catalogs,
    get_catalog,
    load_catalog,
    validate_catalog_file,
)
from portal.catalog.schema import Catalog, Level, criterion_sort_key
from portal.companies.business_types import BusinessType

CATALOG_IDS = ("msc-2019", "msc-2023")

# The U.S. importer criteria table of the domain reference (§2.4), ID -> level, as of 2019.
IMPORTER_TABLE_2019: dict[str, str] = {
    "1.1": "should", "1.2": "should", "1.3": "must", "1.4": "must",
    "2.1": "must", "2.2": "should", "2.3": "must", "2.4": "should",
    "3.1": "must", "3.4": "must", "3.5": "must", "3.6": "must", "3.7": "should",
    "3.9": "should",
    "4.1": "must", "4.2": "must", "4.3": "must", "4.4": "should", "4.5": "must",
    "4.6": "must", "4.7": "must", "4.8": "must", "4.9": "must", "4.10": "must",
    "4.11": "should", "4.12": "should", "4.13": "must",
    "5.1": "must", "5.2": "must", "5.3": "must", "5.4": "must", "5.5": "should",
    "5.6": "should", "5.7": "must", "5.8": "should", "5.14": "should", "5.15": "should",
    "5.24": "should", "5.29": "must",
    "6.1": "must", "6.2": "must", "6.5": "must", "6.6": "must", "6.7": "must",
    "7.1": "must", "7.2": "must", "7.4": "should", "7.5": "should", "7.6": "must",
    "7.7": "should", "7.8": "must", "7.10": "must", "7.23": "must", "7.24": "must",
    "7.25": "should", "7.27": "must", "7.28": "should", "7.29": "should", "7.30": "should",
    "7.37": "must",
    "8.1": "must",
    "9.1": "must", "9.2": "should", "9.4": "must", "9.5": "should", "9.6": "must",
    "9.7": "should", "9.8": "must", "9.9": "should", "9.10": "must", "9.11": "should",
    "9.12": "should", "9.13": "must", "9.14": "should", "9.15": "must", "9.16": "should",
    "10.1": "must", "10.2": "must", "10.3": "must", "10.4": "must", "10.7": "should",
    "10.8": "should", "10.9": "should", "10.10": "must",
    "11.1": "must", "11.2": "should", "11.5": "must",
    "12.1": "must", "12.2": "must", "12.4": "should", "12.6": "should", "12.7": "must",
    "12.8": "must", "12.9": "must", "12.10": "must",
}  # fmt: skip
# From 1 January 2023 social compliance (3.9) is a Must; nothing else changed.
IMPORTER_TABLE_2023: dict[str, str] = {**IMPORTER_TABLE_2019, "3.9": "must"}
# Rows of the reference table that other business types answer, not importers.
NON_IMPORTER_TABLE: dict[str, str] = {"3.8": "must", "5.16": "should", "6.3": "must", "6.4": "must"}
EXPECTED_LEVELS = {
    "msc-2019": IMPORTER_TABLE_2019 | NON_IMPORTER_TABLE,
    "msc-2023": IMPORTER_TABLE_2023 | NON_IMPORTER_TABLE,
}
IMPORTER_TABLES = {"msc-2019": IMPORTER_TABLE_2019, "msc-2023": IMPORTER_TABLE_2023}


def _profile_ids(catalog: Catalog, business_type: BusinessType) -> set[str]:
    return {c.id for c in catalog.criteria_for(business_type)}


def _types_of(catalog: Catalog, criterion_id: str) -> set[BusinessType]:
    return set(catalog.criterion(criterion_id).applies_to)


# -- the shipped catalogs ------------------------------------------------------------------


def test_both_versions_are_shipped_and_valid() -> None:
    catalogs = available_catalogs()
    assert set(CATALOG_IDS) <= catalogs.keys()
    for catalog_id in CATALOG_IDS:
        assert validate_catalog_file(catalogs[catalog_id]) == []


def test_get_catalog_returns_the_current_version_once() -> None:
    catalog = get_catalog()
    assert catalog.id == CURRENT_CATALOG_ID == "msc-2023"
    assert get_catalog(CURRENT_CATALOG_ID) is catalog
    assert get_catalog("msc-2019").id == "msc-2019"
    with pytest.raises(KeyError):
        get_catalog("msc-1999")


def test_headers() -> None:
    old, new = get_catalog("msc-2019"), get_catalog("msc-2023")
    assert (old.effective_date.isoformat(), new.effective_date.isoformat()) == (
        "2020-01-01",
        "2023-01-01",
    )
    scale = ("implemented", "partially_implemented", "not_implemented", "not_applicable")
    assert old.answer_scale == new.answer_scale == scale


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_ids_are_unique_in_the_file(catalog_id: str) -> None:
    # Read the raw TOML: the loader would refuse duplicates before a Catalog exists.
    data = tomllib.loads(available_catalogs()[catalog_id].read_text(encoding="utf-8"))
    ids = [entry["id"] for entry in data["criteria"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_twelve_categories_in_three_focus_areas_none_empty(catalog_id: str) -> None:
    catalog = get_catalog(catalog_id)
    assert [area.number for area in catalog.focus_areas] == [1, 2, 3]
    assert [category.number for category in catalog.categories] == list(range(1, 13))
    for category in catalog.categories:
        assert catalog.criteria_in(category), category
    assert catalog.category(9).title == "Physical Security"
    assert catalog.category(10).title == "Physical Access Controls"
    assert [c.number for c in catalog.categories_in(1)] == [1, 2, 3, 4]
    assert catalog.focus_area_of(9).number == 3
    assert catalog.focus_area_of(catalog.category(6)).title == "Transportation Security"


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_id_prefix_matches_category(catalog_id: str) -> None:
    for criterion in get_catalog(catalog_id).criteria:
        assert criterion.id.split(".")[0] == str(criterion.category), criterion.id


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_levels_match_the_reference_table(catalog_id: str) -> None:
    catalog = get_catalog(catalog_id)
    actual = {c.id: c.level.value for c in catalog.criteria}
    assert actual == EXPECTED_LEVELS[catalog_id]


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_importer_profile_holds_the_importer_table(catalog_id: str) -> None:
    catalog = get_catalog(catalog_id)
    profile = {c.id: c.level.value for c in catalog.criteria_for(BusinessType.IMPORTER)}
    assert profile == IMPORTER_TABLES[catalog_id]


def test_versions_differ_only_in_social_compliance() -> None:
    old, new = get_catalog("msc-2019"), get_catalog("msc-2023")
    changed = {a.id for a, b in zip(old.criteria, new.criteria, strict=True) if a != b}
    assert changed == {"3.9"}
    assert (old.criterion("3.9").level, new.criterion("3.9").level) == (Level.SHOULD, Level.MUST)
    assert (old.criterion("3.9").weight, new.criterion("3.9").weight) == (1.0, 3.0)
    assert (old.focus_areas, old.categories) == (new.focus_areas, new.categories)


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_every_business_type_has_a_profile_in_every_category(catalog_id: str) -> None:
    catalog = get_catalog(catalog_id)
    for business_type in BusinessType:
        assert catalog.criteria_for(business_type), business_type
        assert len(catalog.categories_for(business_type)) == 12, business_type


def test_type_specific_applicability() -> None:
    catalog = get_catalog()
    assert "3.8" not in _profile_ids(catalog, BusinessType.IMPORTER)
    assert "3.8" in _profile_ids(catalog, BusinessType.HIGHWAY_CARRIER)
    assert _types_of(catalog, "3.9") == {BusinessType.IMPORTER}
    assert _types_of(catalog, "6.4") == {BusinessType.AIR_CARRIER}
    assert _types_of(catalog, "6.3") == {
        BusinessType.HIGHWAY_CARRIER,
        BusinessType.MEXICAN_LONG_HAUL,
        BusinessType.THIRD_PARTY_LOGISTICS,
    }
    assert _types_of(catalog, "5.16") == {
        BusinessType.HIGHWAY_CARRIER,
        BusinessType.MEXICAN_LONG_HAUL,
        BusinessType.RAIL_CARRIER,
        BusinessType.FOREIGN_MANUFACTURER,
    }
    assert catalog.criterion("1.1").applies_to == frozenset(BusinessType)  # CORE


def test_criteria_for_keeps_catalog_order() -> None:
    catalog = get_catalog()
    profile = catalog.criteria_for(BusinessType.HIGHWAY_CARRIER)
    assert list(profile) == sorted(profile, key=lambda c: c.sort_key)
    assert [c.id for c in catalog.criteria] == sorted(
        (c.id for c in catalog.criteria), key=criterion_sort_key
    )


@pytest.mark.parametrize(
    ("criterion_id", "expected_items"),
    [
        ("5.3", ["front wall", "fan housing", "tractor: battery box", "trailer: fifth-wheel"]),
        ("6.7", ["view", "verify", "tug", "twist"]),
        ("10.2", ["date", "name", "photo id", "arrival", "point of contact", "departure"]),
        (
            "10.4",
            ["driver", "date", "arrival", "employer", "truck", "trailer", "departure", "seal"],
        ),
    ],
)
def test_checklists_name_every_element(criterion_id: str, expected_items: list[str]) -> None:
    checklist = get_catalog().criterion(criterion_id).checklist
    lowered = [item.casefold() for item in checklist]
    for expected in expected_items:
        assert any(expected in item for item in lowered), (criterion_id, expected)


def test_vvtt_and_inspection_point_counts() -> None:
    catalog = get_catalog()
    assert len(catalog.criterion("6.7").checklist) == 4
    points = catalog.criterion("5.3").checklist
    assert sum(item.startswith("Container/ULD:") for item in points) == 7
    assert sum(item.startswith("Tractor:") for item in points) == 7
    assert sum(item.startswith("Trailer:") for item in points) == 10
    assert len(catalog.criterion("10.2").checklist) == 6
    assert len(catalog.criterion("10.4").checklist) == 8


def test_default_weights_follow_the_level() -> None:
    for criterion in get_catalog().criteria:
        assert criterion.weight == (3.0 if criterion.is_must else 1.0), criterion.id


def test_texts_are_filled_and_whitespace_collapsed() -> None:
    for criterion in get_catalog().criteria:
        texts = (criterion.title, criterion.requirement, criterion.guidance, criterion.evidence)
        for text in texts:
            assert text, criterion.id
            assert "\n" not in text, criterion.id
            assert "  " not in text, criterion.id


def test_unknown_criterion_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        get_catalog().criterion("3.2")
    with pytest.raises(KeyError):
        get_catalog().category(13)


# -- schema helpers ------------------------------------------------------------------------


def test_ids_sort_numerically() -> None:
    ids = ["5.14", "12.1", "5.8", "10.10", "5.29", "10.2", "1.1"]
    assert sorted(ids, key=criterion_sort_key) == [
        "1.1", "5.8", "5.14", "5.29", "10.2", "10.10", "12.1"
    ]  # fmt: skip
    catalog = get_catalog()
    assert catalog.criterion("5.8").sort_key < catalog.criterion("5.14").sort_key


def test_search_by_word() -> None:
    catalog = get_catalog()
    ids = {c.id for c in catalog.search("VVTT")}
    assert "6.7" in ids
    assert {c.id for c in catalog.search("vvtt")} == ids  # case-insensitive
    assert "5.3" in {c.id for c in catalog.search("pests")}
    assert [c.id for c in catalog.search("6.4")] == ["6.4"]  # by ID
    assert catalog.search("no such phrase anywhere") == ()


def test_search_filters() -> None:
    catalog = get_catalog()
    assert {c.id for c in catalog.search("seal", category=6)} <= {
        c.id for c in catalog.criteria_in(6)
    }
    assert "6.4" not in {
        c.id for c in catalog.search("air cargo", business_type=BusinessType.IMPORTER)
    }
    assert "6.4" in {
        c.id for c in catalog.search("air cargo", business_type=BusinessType.AIR_CARRIER)
    }
    assert len(catalog.search("", business_type=BusinessType.RAIL_CARRIER)) == len(
        catalog.criteria_for(BusinessType.RAIL_CARRIER)
    )


# -- validation of broken files ------------------------------------------------------------

CATEGORY_TITLES = [
    "Security Vision and Responsibility", "Risk Assessment", "Business Partners",
    "Cybersecurity", "Conveyance and IIT Security", "Seal Security", "Procedural Security",
    "Agricultural Security", "Physical Security", "Physical Access Controls",
    "Personnel Security", "Education, Training and Awareness",
]  # fmt: skip


def _criterion(
    criterion_id: str,
    category: int,
    level: str = "must",
    applies_to: str = '"CORE"',
    extra: str = "",
) -> str:
    return f"""
[[criteria]]
id = "{criterion_id}"
category = {category}
level = "{level}"
title = "Title {criterion_id}"
requirement = "Requirement {criterion_id}."
guidance = "Guidance {criterion_id}."
evidence = "Evidence {criterion_id}."
applies_to = {applies_to}
{extra}
"""


def _catalog_toml(criteria: list[str], *, category_extra: dict[int, str] | None = None) -> str:
    """Build a small catalog: valid header, 3 focus areas, 12 categories and the criteria."""
    header = (
        'id = "test"\ntitle = "Test catalog"\neffective_date = 2024-01-01\n'
        'answer_scale = ["implemented", "not_implemented"]\n'
    )
    parts = [header]
    parts += [f'\n[[focus_areas]]\nnumber = {n}\ntitle = "Area {n}"\n' for n in (1, 2, 3)]
    for number, title in enumerate(CATEGORY_TITLES, start=1):
        area = 1 if number <= 4 else 2 if number <= 8 else 3
        extra = (category_extra or {}).get(number, f"focus_area = {area}")
        parts.append(f'\n[[categories]]\nnumber = {number}\ntitle = "{title}"\n{extra}\n')
    parts += criteria
    return "".join(parts)


def _one_per_category() -> list[str]:
    return [_criterion(f"{n}.1", n) for n in range(1, 13)]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _has(problems: list[str], *fragments: str) -> bool:
    return any(all(fragment in problem for fragment in fragments) for problem in problems)


def test_minimal_catalog_is_valid(tmp_path: Path) -> None:
    path = _write(tmp_path, _catalog_toml(_one_per_category()))
    assert validate_catalog_file(path) == []
    catalog = load_catalog(path)
    assert len(catalog.criteria) == 12
    assert catalog.criterion("4.1").weight == 3.0


def test_validation_reports_every_problem_at_once(tmp_path: Path) -> None:
    criteria = [c for c in _one_per_category() if 'id = "2.1"' not in c]  # category 2 empty
    criteria += [
        _criterion("1.1", 1),  # duplicate id
        _criterion("1.2", 1, applies_to='["importer", "spaceship"]'),
        _criterion("3.2", 3, level="could"),
    ]
    path = _write(tmp_path, _catalog_toml(criteria))

    problems = validate_catalog_file(path)

    assert _has(problems, "'1.1'", "duplicate id")
    assert _has(problems, "'1.2'", "unknown business type 'spaceship'")
    assert _has(problems, "category 2 (Risk Assessment) has no criteria")
    assert _has(problems, "'3.2'", "level must be 'must' or 'should'", "'could'")
    assert len(problems) == 4, problems
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(path)
    assert excinfo.value.problems == problems
    assert "4 problems" in str(excinfo.value)


def test_validation_reports_structural_problems(tmp_path: Path) -> None:
    criteria = [*_one_per_category()]
    criteria += [
        _criterion("3.2", 4),  # prefix does not match the category
        _criterion("1.2", 1, extra="colour = 'red'"),
        _criterion("1.3", 1, extra="weight = 0"),
        _criterion("1.4", 1, extra="checklist = 'not a list'"),
        '\n[[criteria]]\nid = "1.5"\ncategory = 1\nlevel = "must"\n',  # texts missing
        _criterion("1.6", 1, applies_to="[]"),
        _criterion("7.1.2", 7),
    ]
    text = _catalog_toml(criteria, category_extra={5: "focus_area = 4", 6: ""})
    problems = validate_catalog_file(_write(tmp_path, text))

    assert _has(problems, "'3.2'", "id prefix 3 does not match its category 4")
    assert _has(problems, "'1.2'", "unknown key 'colour'")
    assert _has(problems, "'1.3'", "weight must be a positive number")
    assert _has(problems, "'1.4'", "checklist must be a list")
    for key in ("title", "requirement", "guidance", "evidence", "applies_to"):
        assert _has(problems, "'1.5'", f"missing key '{key}'")
    assert _has(problems, "'1.6'", "applies_to must be 'CORE' or a non-empty list")
    assert _has(problems, "'7.1.2'", "id must look like")
    assert _has(problems, "category 5: 'focus_area' must be an integer from 1 to 3, not 4")
    assert _has(problems, "category 6: missing key 'focus_area'")
    # A faulty entry still counts as defined: no echoes of the problems above.
    assert not _has(problems, "category 5 is missing")
    assert not _has(problems, "'5.1'")


def test_missing_categories_and_uncovered_business_types(tmp_path: Path) -> None:
    text = _catalog_toml([_criterion("1.1", 1, applies_to='["importer"]')])
    text = text.replace("number = 12", "number = 1")
    text = text.replace('[[focus_areas]]\nnumber = 3\ntitle = "Area 3"\n', "")
    problems = validate_catalog_file(_write(tmp_path, text))
    assert _has(problems, "category 1: defined more than once")
    assert _has(problems, "category 12 is missing")
    assert _has(problems, "focus area 3 is missing")
    assert _has(problems, "category 9: focus area 3 is not defined")
    assert _has(problems, "category 2 (Risk Assessment) has no criteria")
    assert _has(problems, "business type 'air_carrier' has no applicable criteria")
    assert not _has(problems, "business type 'importer'")


def test_toml_syntax_error_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, 'id = "broken\n')
    problems = validate_catalog_file(path)
    assert len(problems) == 1
    assert "TOML syntax error" in problems[0]
    with pytest.raises(CatalogError):
        load_catalog(path)


def test_explicit_weight_overrides_the_default(tmp_path: Path) -> None:
    criteria = [*_one_per_category(), _criterion("1.2", 1, level="should", extra="weight = 2.5")]
    catalog = load_catalog(_write(tmp_path, _catalog_toml(criteria)))
    assert catalog.criterion("1.2").weight == 2.5
    assert catalog.criterion("1.1").weight == 3.0

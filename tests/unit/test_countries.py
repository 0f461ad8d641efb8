"""Country reference data: ISO codes, names and default time zones."""

from __future__ import annotations

import re
import unicodedata
from zoneinfo import ZoneInfo

import pytest

from portal.companies.countries import (
    COUNTRIES,
    COUNTRY_CHOICES,
    DEFAULT_TIMEZONES,
    country_name,
    default_timezone,
    is_country,
)

EU_MEMBERS = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
]
REQUIRED_TIMEZONES = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "MX": "America/Mexico_City",
    "GT": "America/Guatemala",
    "CO": "America/Bogota",
    "UY": "America/Montevideo",
}


@pytest.mark.parametrize(
    ("code", "name"),
    [("US", "United States"), ("MX", "Mexico"), ("GT", "Guatemala"), ("CO", "Colombia"),
     ("UY", "Uruguay"), ("CA", "Canada"), ("TW", "Taiwan")],
)
def test_key_countries_are_present(code: str, name: str) -> None:
    assert country_name(code) == name
    assert is_country(code)


def test_list_is_complete_and_well_formed() -> None:
    assert len(COUNTRIES) >= 240
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in COUNTRIES)
    assert len(set(COUNTRIES.values())) == len(COUNTRIES)
    assert COUNTRY_CHOICES == list(COUNTRIES.items())


def test_list_is_ordered_by_name_ignoring_accents() -> None:
    def key(name: str) -> str:
        return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()

    names = list(COUNTRIES.values())
    assert names == sorted(names, key=key)


def test_lookups_ignore_case_and_blanks() -> None:
    assert is_country(" mx ")
    assert country_name("gt") == "Guatemala"
    assert not is_country("XX")
    assert not is_country("")
    with pytest.raises(KeyError):
        country_name("XX")


def test_default_timezones_for_key_countries() -> None:
    for code, zone in REQUIRED_TIMEZONES.items():
        assert default_timezone(code) == zone
    for code in [*EU_MEMBERS, "GT", "CO", "UY", "BR", "CN", "IN", "JP", "KR", "DE", "GB", "NL",
                 "SG", "VN", "TW", "IL", "JO", "NZ", "DO", "PE"]:
        assert default_timezone(code), code
    assert default_timezone("aq") is None
    assert default_timezone("XX") is None


@pytest.mark.parametrize(("code", "zone"), sorted(DEFAULT_TIMEZONES.items()))
def test_default_timezone_is_a_valid_iana_zone_of_a_known_country(code: str, zone: str) -> None:
    assert code in COUNTRIES
    ZoneInfo(zone)

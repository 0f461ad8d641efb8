"""Business entity identifiers: format checks, normalization and the sets each business type needs."""

from __future__ import annotations

import pytest

from portal.companies.business_types import BusinessType
from portal.companies.identifiers import (
    OPTIONAL_IDENTIFIERS,
    REQUIRED_IDENTIFIERS,
    IdentifierFormatError,
    IdentifierKind,
    identifiers_for,
    missing_identifiers,
    normalize_identifier,
    validate_identifier,
)

K = IdentifierKind
B = BusinessType

# (kind, raw input, normalized value)
VALID = [
    (K.IOR, "12-3456789", "12-3456789"),
    (K.IOR, " 123456789 ", "12-3456789"),
    (K.IOR, "12-345678900", "12-345678900"),
    (K.IOR, "12345678900", "12-345678900"),
    (K.IOR, "12-3456789-00", "12-345678900"),
    (K.IOR, "123-45-6789", "123-45-6789"),
    (K.IOR, "981231-12345", "981231-12345"),
    (K.BOND, "abc123456", "ABC123456"),
    (K.BOND, "1234 56789 0", "1234567890"),
    (K.MID, "mxfabacm123tij", "MXFABACM123TIJ"),
    (K.MID, "XOAMAPLA24TOR", "XOAMAPLA24TOR"),
    (K.MID, "PTAMAPLALIS", "PTAMAPLALIS"),
    (K.SCAC, " abcd ", "ABCD"),
    (K.SCAC, "AB CD", "ABCD"),
    (K.DOT, "123456", "123456"),
    (K.DOT, "1234567", "1234567"),
    (K.DOT, "12345678", "12345678"),
    (K.DOT, "7", "7"),
    (K.DOT, "USDOT 2233445", "2233445"),
    (K.DOT, "0123456", "123456"),
    (K.IATA, "aa", "AA"),
    (K.IATA, "9W", "9W"),
    (K.IATA, "001", "001"),
    (K.IATA, "0112345", "0112345"),
    (K.IATA, "01-1 2345 6", "01123456"),
    (K.IATA, "01123456789", "01123456789"),
    (K.FMC_ORG, "012345", "012345"),
    (K.FMC_MTO, "654321", "654321"),
    (K.BROKER_LICENSE, "12345", "12345"),
    (K.FILER_CODE, "a1b", "A1B"),
    (K.FILER_CODE, "123", "123"),
    (K.SCT, "abc123", "ABC123"),
    (K.SCT, "0912-ABC-3456", "0912ABC3456"),
    (K.RFC, "abc680524p76", "ABC680524P76"),
    (K.RFC, "ABC-680524-P76", "ABC680524P76"),
    (K.RFC, "ñ&a000229ab1", "Ñ&A000229AB1"),
    (K.RFC, "GODE561231GR8", "GODE561231GR8"),
    (K.RFC, "N\u0303AB680524P76", "ÑAB680524P76"),
    (K.EIN, "123456789", "12-3456789"),
    (K.EIN, "12-3456789", "12-3456789"),
    (K.EIN, "１２３４５６７８９", "12-3456789"),
    (K.DUNS, "123456789", "123456789"),
    (K.DUNS, "12-345-6789", "123456789"),
]

# (kind, raw input, a word the error message must contain)
INVALID = [
    (K.IOR, "", "Enter an Importer of Record"),
    (K.IOR, "12345678", "EIN"),
    (K.IOR, "1234-56789", "EIN"),
    (K.IOR, "12-34567890", "EIN"),
    (K.IOR, "ABC456789", "EIN"),
    (K.IOR, "123456-1234", "YYDDPP-NNNNN"),
    (K.BOND, "12345678", "9 or 10"),
    (K.BOND, "12345678901", "9 or 10"),
    (K.BOND, "1234567#9", "9 or 10"),
    (K.MID, "CAFABACM123TOR", "province code"),
    (K.MID, "ZZFABACM123TIJ", "ZZ"),
    (K.MID, "MXFABACM1234TIJX", "15"),
    (K.MID, "MXFABACM123", "15"),
    (K.MID, "12FABTIJ", "15"),
    (K.MID, "MXA", "15"),
    (K.SCAC, "ABC", "exactly 4 letters"),
    (K.SCAC, "ABCDE", "exactly 4 letters"),
    (K.SCAC, "AB1D", "exactly 4 letters"),
    (K.SCAC, "   ", "Enter a Standard Carrier Alpha Code"),
    (K.DOT, "123456789", "1 to 8 digits"),
    (K.DOT, "12A456", "1 to 8 digits"),
    (K.DOT, "0", "1 to 8 digits"),
    (K.DOT, "USDOT", "Enter a U.S. DOT number"),
    (K.IATA, "99", "airline designator"),
    (K.IATA, "A", "airline designator"),
    (K.IATA, "ABC", "airline designator"),
    (K.IATA, "1234", "airline designator"),
    (K.FMC_ORG, "12345", "exactly 6 digits"),
    (K.FMC_ORG, "1234567", "exactly 6 digits"),
    (K.FMC_ORG, "01234N", "exactly 6 digits"),
    (K.FMC_MTO, "12345", "exactly 6 digits"),
    (K.BROKER_LICENSE, "1234", "exactly 5 digits"),
    (K.BROKER_LICENSE, "123456", "exactly 5 digits"),
    (K.BROKER_LICENSE, "1234A", "exactly 5 digits"),
    (K.FILER_CODE, "AB", "exactly 3"),
    (K.FILER_CODE, "ABCD", "exactly 3"),
    (K.FILER_CODE, "A.B", "exactly 3"),
    (K.SCT, "ABC12", "6 to 12"),
    (K.SCT, "ABCDEF1234567", "6 to 12"),
    (K.RFC, "AB680524P76", "12 characters"),
    (K.RFC, "ABCDE680524P76", "12 characters"),
    (K.RFC, "ABC68052P76", "12 characters"),
    (K.RFC, "ABC681324P76", "not a real date"),
    (K.RFC, "ABC680230P76", "not a real date"),
    (K.RFC, "ABC010229P76", "not a real date"),
    (K.RFC, "XAXX010101000", "generic RFC"),
    (K.RFC, "XEXX010101000", "generic RFC"),
    (K.EIN, "12345678", "9 digits"),
    (K.EIN, "1234567890", "9 digits"),
    (K.EIN, "12-345678A", "9 digits"),
    (K.DUNS, "12345678", "9 digits"),
    (K.DUNS, "1234567890", "9 digits"),
    (K.DUNS, "", "Enter a D-U-N-S number"),
]


@pytest.mark.parametrize(("kind", "raw", "expected"), VALID)
def test_valid_identifier_is_normalized(kind: IdentifierKind, raw: str, expected: str) -> None:
    assert validate_identifier(kind, raw) == expected
    # Normalizing is idempotent and agrees with validation, so stored values compare equal.
    assert normalize_identifier(kind, raw) == expected
    assert validate_identifier(kind, expected) == expected


@pytest.mark.parametrize(("kind", "raw", "fragment"), INVALID)
def test_invalid_identifier_is_rejected_with_a_clear_message(
    kind: IdentifierKind, raw: str, fragment: str
) -> None:
    with pytest.raises(IdentifierFormatError) as excinfo:
        validate_identifier(kind, raw)
    assert fragment in excinfo.value.message
    assert excinfo.value.kind is kind
    assert str(excinfo.value) == excinfo.value.message


def test_every_kind_has_valid_and_invalid_examples() -> None:
    assert {kind for kind, _, _ in VALID} == set(IdentifierKind)
    assert {kind for kind, _, _ in INVALID} == set(IdentifierKind)


@pytest.mark.parametrize("kind", list(IdentifierKind))
def test_every_kind_has_a_label_hint_and_phrase(kind: IdentifierKind) -> None:
    assert kind.label
    assert kind.hint
    assert kind.phrase.split(" ", 1)[0] in {"a", "an"}


def test_kind_can_be_given_as_its_string_value() -> None:
    assert validate_identifier("scac", "abcd") == "ABCD"
    with pytest.raises(ValueError):
        validate_identifier("passport", "X")


def test_normalize_never_raises_on_garbage() -> None:
    assert normalize_identifier(K.IOR, " 12 -- 34 ") == "12--34"
    assert normalize_identifier(K.EIN, "12a") == "12A"


EXPECTED_REQUIRED = {
    B.AIR_CARRIER: ((K.IATA,), (K.BOND,)),
    B.FOREIGN_MANUFACTURER: ((K.MID,),),
    B.IMPORTER: ((K.IOR,), (K.BOND,)),
    B.CUSTOMS_BROKER: ((K.BROKER_LICENSE,), (K.FILER_CODE,)),
    B.RAIL_CARRIER: ((K.SCAC,), (K.BOND,)),
    B.SEA_CARRIER: ((K.SCAC,), (K.BOND,)),
    B.CONSOLIDATOR: ((K.FMC_ORG, K.IATA), (K.BOND,)),
    B.MEXICAN_LONG_HAUL: ((K.SCT,),),
    B.THIRD_PARTY_LOGISTICS: (tuple(IdentifierKind),),
    B.EXPORTER: ((K.DUNS, K.EIN),),
    B.HIGHWAY_CARRIER: ((K.SCAC,), (K.DOT,)),
    B.US_MPTO: ((K.FMC_MTO,),),
    B.FOREIGN_MPTO: ((K.FMC_MTO,),),
}


def test_required_identifiers_cover_every_business_type() -> None:
    assert set(REQUIRED_IDENTIFIERS) == set(BusinessType)
    assert len(EXPECTED_REQUIRED) == 13


@pytest.mark.parametrize("business_type", list(BusinessType))
def test_required_identifiers_match_the_portal_rules(business_type: BusinessType) -> None:
    assert REQUIRED_IDENTIFIERS[business_type] == EXPECTED_REQUIRED[business_type]


@pytest.mark.parametrize("business_type", list(BusinessType))
def test_one_kind_from_each_group_satisfies_the_requirement(business_type: BusinessType) -> None:
    groups = REQUIRED_IDENTIFIERS[business_type]
    assert missing_identifiers(business_type, [group[-1] for group in groups]) == []
    assert len(missing_identifiers(business_type, [])) == len(groups)


@pytest.mark.parametrize("business_type", list(BusinessType))
def test_form_offers_required_kinds_first_then_optional_ones(business_type: BusinessType) -> None:
    offered = identifiers_for(business_type)
    required = [kind for group in REQUIRED_IDENTIFIERS[business_type] for kind in group]
    assert list(offered[: len(required)]) == required
    assert set(offered) == set(required) | set(OPTIONAL_IDENTIFIERS.get(business_type, ()))
    assert len(offered) == len(set(offered))


def test_mexican_carriers_and_manufacturers_are_offered_an_rfc() -> None:
    for business_type in (B.HIGHWAY_CARRIER, B.MEXICAN_LONG_HAUL, B.FOREIGN_MANUFACTURER):
        assert K.RFC in identifiers_for(business_type)
    assert K.RFC not in identifiers_for(B.IMPORTER)


@pytest.mark.parametrize(
    ("business_type", "present", "expected"),
    [
        (B.IMPORTER, [], [
            "An Importer account needs an Importer of Record (IOR) number.",
            "An Importer account needs a CBP continuous bond number.",
        ]),
        (B.IMPORTER, [K.IOR], ["An Importer account needs a CBP continuous bond number."]),
        (B.IMPORTER, [K.IOR, K.BOND, K.EIN], []),
        (B.CONSOLIDATOR, [K.BOND], [
            "A Consolidator account needs an FMC organization number or an IATA number.",
        ]),
        (B.CONSOLIDATOR, [K.IATA, K.BOND], []),
        (B.EXPORTER, [K.SCAC], [
            ("An Exporter account needs a D-U-N-S number or an IRS Employer Identification "
             "Number (EIN)."),
        ]),
        (B.EXPORTER, [K.EIN], []),
        (B.CUSTOMS_BROKER, [K.BROKER_LICENSE], [
            "A Licensed U.S. Customs Broker account needs a filer code.",
        ]),
        (B.HIGHWAY_CARRIER, [K.SCAC], ["A Highway Carrier account needs a U.S. DOT number."]),
        (B.AIR_CARRIER, [K.BOND], ["An Air Carrier account needs an IATA number."]),
        (B.MEXICAN_LONG_HAUL, [K.RFC], [
            "A Mexican Long Haul Highway Carrier account needs an SCT permit number.",
        ]),
        (B.US_MPTO, [], [
            ("A U.S. Marine Port Authority or Terminal Operator account needs an FMC Marine "
             "Terminal Operator (MTO) number."),
        ]),
        (B.FOREIGN_MANUFACTURER, [K.RFC], [
            "A Foreign Manufacturer account needs a Manufacturer Identification Code (MID).",
        ]),
        (B.THIRD_PARTY_LOGISTICS, [], [
            ("A Third Party Logistics Provider account needs at least one business entity "
             "identifier."),
        ]),
        (B.THIRD_PARTY_LOGISTICS, [K.DUNS], []),
    ],
)
def test_missing_identifier_messages(
    business_type: BusinessType, present: list[IdentifierKind], expected: list[str]
) -> None:
    assert missing_identifiers(business_type, present) == expected


def test_missing_identifiers_accepts_kind_values_as_strings() -> None:
    assert missing_identifiers(B.RAIL_CARRIER, ["scac", "bond"]) == []

"""Business entity identifiers (BEIs): kinds, format checks and the sets each business type needs.

Domain reference §1.3 ("Portal-side identifier rules") and §10 item 3. Format checks here are about
shape only (length, character set, embedded dates); whether a number is really active is decided
by CBP vetting, not by the portal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from portal.companies.business_types import BusinessType
from portal.companies.countries import COUNTRIES

__all__ = [
    "CANADIAN_MID_PROVINCE_CODES",
    "OPTIONAL_IDENTIFIERS",
    "REQUIRED_IDENTIFIERS",
    "IdentifierFormatError",
    "IdentifierKind",
    "RequirementGroup",
    "identifiers_for",
    "missing_identifiers",
    "normalize_identifier",
    "validate_identifier",
]


class IdentifierKind(StrEnum):
    """A type of business entity identifier a CTPAT account can hold."""

    IOR = "ior"
    BOND = "bond"
    MID = "mid"
    SCAC = "scac"
    DOT = "dot"
    IATA = "iata"
    FMC_ORG = "fmc_org"
    FMC_MTO = "fmc_mto"
    BROKER_LICENSE = "broker_license"
    FILER_CODE = "filer_code"
    SCT = "sct"
    RFC = "rfc"
    EIN = "ein"
    DUNS = "duns"

    @property
    def label(self) -> str:
        """Form label, e.g. "Importer of Record (IOR) number"."""
        return _INFO[self].label

    @property
    def hint(self) -> str:
        """Format description shown under the input."""
        return _INFO[self].hint

    @property
    def phrase(self) -> str:
        """The label with its article, for use inside a sentence ("an FMC organization number")."""
        return _INFO[self].phrase


@dataclass(frozen=True)
class _KindInfo:
    label: str
    hint: str
    # Stored, not derived: "an FMC", "an SCT", "a U.S. DOT" follow pronunciation, not spelling.
    phrase: str


_INFO: dict[IdentifierKind, _KindInfo] = {
    IdentifierKind.IOR: _KindInfo(
        "Importer of Record (IOR) number",
        "An IRS EIN (12-3456789), optionally with its 2-digit suffix (12-345678900), an SSN "
        "written with dashes (123-45-6789) or a CBP-assigned number (YYDDPP-NNNNN).",
        "an Importer of Record (IOR) number",
    ),
    IdentifierKind.BOND: _KindInfo(
        "CBP continuous bond number",
        "9 or 10 letters and digits.",
        "a CBP continuous bond number",
    ),
    IdentifierKind.MID: _KindInfo(
        "Manufacturer Identification Code (MID)",
        "Up to 15 letters and digits, starting with the country code (for Canada the province "
        "code, e.g. XO for Ontario), e.g. MXFABACM123TIJ.",
        "a Manufacturer Identification Code (MID)",
    ),
    IdentifierKind.SCAC: _KindInfo(
        "Standard Carrier Alpha Code (SCAC)",
        "4 letters, e.g. ABCD.",
        "a Standard Carrier Alpha Code (SCAC)",
    ),
    IdentifierKind.DOT: _KindInfo(
        "U.S. DOT number", "1 to 8 digits, e.g. 1234567.", "a U.S. DOT number"
    ),
    IdentifierKind.IATA: _KindInfo(
        "IATA number",
        "Airline designator (2 characters, e.g. AA), 3-digit airline prefix (e.g. 001) or "
        "IATA agent code (7, 8 or 11 digits).",
        "an IATA number",
    ),
    IdentifierKind.FMC_ORG: _KindInfo(
        "FMC organization number", "6 digits, e.g. 012345.", "an FMC organization number"
    ),
    IdentifierKind.FMC_MTO: _KindInfo(
        "FMC Marine Terminal Operator (MTO) number",
        "6 digits, e.g. 012345.",
        "an FMC Marine Terminal Operator (MTO) number",
    ),
    IdentifierKind.BROKER_LICENSE: _KindInfo(
        "Customs broker license number", "5 digits, e.g. 12345.", "a customs broker license number"
    ),
    IdentifierKind.FILER_CODE: _KindInfo(
        "Filer code", "3 letters or digits, e.g. A1B.", "a filer code"
    ),
    IdentifierKind.SCT: _KindInfo(
        "SCT permit number", "6 to 12 letters and digits.", "an SCT permit number"
    ),
    IdentifierKind.RFC: _KindInfo(
        "RFC (Mexican taxpayer registry number)",
        "12 characters for a company (e.g. ABC680524P76), 13 for an individual.",
        "an RFC (Mexican taxpayer registry number)",
    ),
    IdentifierKind.EIN: _KindInfo(
        "IRS Employer Identification Number (EIN)",
        "9 digits, e.g. 12-3456789.",
        "an IRS Employer Identification Number (EIN)",
    ),
    IdentifierKind.DUNS: _KindInfo(
        "D-U-N-S number", "9 digits, e.g. 123456789.", "a D-U-N-S number"
    ),
}


class IdentifierFormatError(ValueError):
    """An identifier value has the wrong shape; ``message`` is fit to show next to the field."""

    def __init__(self, message: str, kind: IdentifierKind | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


# First two characters of a Canadian MID: CBP uses these province codes instead of "CA"
# (CATAIR, manufacturer ID appendix; Nunavut has no code in that list).
CANADIAN_MID_PROVINCE_CODES: frozenset[str] = frozenset(
    {"XA", "XB", "XC", "XM", "XN", "XO", "XP", "XQ", "XS", "XT", "XW", "XY"}
)

# Placeholder RFCs the SAT issues for the general public and for foreign taxpayers; they pass the
# format check but never identify the applicant.
_GENERIC_RFCS = frozenset({"XAXX010101000", "XEXX010101000"})

_SEPARATORS = re.compile(r"[\s\-]+")
_DIGITS_AND_DASHES = re.compile(r"^[\d-]+$")


def _clean(raw: str) -> str:
    # NFKC turns full-width digits and letters (common when pasting from Asian-locale documents)
    # into ASCII and composes "N" + combining tilde into the single "Ñ" the RFC pattern expects.
    # Every identifier here is case-insensitive and written upper-case by its issuer.
    return unicodedata.normalize("NFKC", raw).strip().upper()


def _compact(raw: str) -> str:
    # Spaces and dashes are only grouping aids in these formats, never part of the value.
    return _SEPARATORS.sub("", _clean(raw))


def _canonical_ior(cleaned: str) -> str | None:
    """Return the canonical IOR form, or None when the digits/dashes fit no known layout.

    Dashes matter here: nine digits are an EIN unless written 123-45-6789 (an SSN), and eleven
    digits are an EIN with suffix unless written YYDDPP-NNNNN (a CBP-assigned number). A bare
    number is read as an EIN because that is by far the most common importer number.
    """
    text = re.sub(r"\s+", "", cleaned)
    if not _DIGITS_AND_DASHES.match(text) or "--" in text:
        return None
    digits = text.replace("-", "")
    dashes: list[int] = []
    for part in text.split("-")[:-1]:
        dashes.append((dashes[-1] if dashes else 0) + len(part))
    if len(digits) == 9:
        if dashes == [3, 5]:
            return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
        if dashes in ([], [2]):
            return f"{digits[:2]}-{digits[2:]}"
    elif len(digits) == 11:
        if dashes == [6]:
            return f"{digits[:6]}-{digits[6:]}"
        if dashes in ([], [2], [2, 9], [9]):
            return f"{digits[:2]}-{digits[2:]}"
    return None


def _normalize_dot(raw: str) -> str:
    value = _compact(raw).replace("#", "")
    # People often copy the number together with its "USDOT" prefix from a truck door or FMCSA page.
    value = re.sub(r"^(US)?DOT(NO\.?|NUMBER)?:?", "", value)
    # DOT numbers are plain integers; dropping leading zeros keeps duplicate checks meaningful.
    stripped = value.lstrip("0")
    return stripped if stripped and value.isdigit() else value


def normalize_identifier(kind: IdentifierKind | str, raw: str) -> str:
    """Return ``raw`` in canonical form for ``kind`` without checking it; never raises on bad input.

    Strips blanks, upper-cases, drops spaces and dashes where the format has none, and re-inserts
    the standard dashes for EINs and IOR numbers when the digits allow it.
    """
    kind = IdentifierKind(kind)
    if kind is IdentifierKind.IOR:
        cleaned = _clean(raw)
        return _canonical_ior(cleaned) or re.sub(r"\s+", "", cleaned)
    if kind is IdentifierKind.DOT:
        return _normalize_dot(raw)
    value = _compact(raw)
    if kind is IdentifierKind.EIN and len(value) == 9 and value.isdigit():
        return f"{value[:2]}-{value[2:]}"
    return value


def _fail(kind: IdentifierKind, message: str) -> IdentifierFormatError:
    return IdentifierFormatError(message, kind)


def _check_rfc(value: str) -> None:
    match = re.fullmatch(r"([A-ZÑ&]{3,4})(\d{2})(\d{2})(\d{2})([A-Z0-9]{3})", value)
    if match is None:
        raise _fail(
            IdentifierKind.RFC,
            "An RFC is 12 characters for a company (3 letters, the date of incorporation as "
            "YYMMDD and 3 letters or digits, e.g. ABC680524P76) or 13 for an individual "
            "(4 letters, the date of birth and 3 letters or digits).",
        )
    if value in _GENERIC_RFCS:
        raise _fail(
            IdentifierKind.RFC,
            f"{value} is a generic RFC used for the general public or foreign taxpayers; enter "
            "the company's own RFC.",
        )
    yy, mm, dd = (int(group) for group in match.group(2, 3, 4))
    try:
        # The century is not encoded; 20YY is a leap year whenever 19YY is, so checking against
        # 20YY never rejects a real 29 February.
        date(2000 + yy, mm, dd)
    except ValueError:
        raise _fail(
            IdentifierKind.RFC,
            f"The date in this RFC ({''.join(match.group(2, 3, 4))}, as YYMMDD) is not a real "
            "date; check the characters after the letters.",
        ) from None


def _check_mid(value: str) -> None:
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3,13}", value) or not value[-1].isalpha():
        raise _fail(
            IdentifierKind.MID,
            "A MID is 5 to 15 letters and digits: the country code, letters from the "
            "manufacturer's name, the street number and the first letters of the city, "
            "e.g. MXFABACM123TIJ.",
        )
    prefix = value[:2]
    if prefix == "CA" or not (prefix in COUNTRIES or prefix in CANADIAN_MID_PROVINCE_CODES):
        raise _fail(
            IdentifierKind.MID,
            f'A MID starts with the manufacturer\'s ISO country code, and "{prefix}" is not one. '
            "For Canada use the province code (e.g. XO for Ontario, XQ for Quebec) instead of CA.",
        )


def _pattern_check(pattern: str, message: str) -> Callable[[IdentifierKind, str], None]:
    compiled = re.compile(pattern)

    def check(kind: IdentifierKind, value: str) -> None:
        if not compiled.fullmatch(value):
            raise _fail(kind, message)

    return check


_IOR_MESSAGE = (
    "Enter the IOR number as an EIN (12-3456789), an EIN with its 2-digit suffix (12-345678900), "
    "an SSN (123-45-6789) or a CBP-assigned number (YYDDPP-NNNNN)."
)

_CHECKS: dict[IdentifierKind, Callable[[IdentifierKind, str], None]] = {
    # normalize_identifier has already put the digits into one of these canonical layouts.
    IdentifierKind.IOR: _pattern_check(
        r"\d{2}-\d{7}(\d{2})?|\d{3}-\d{2}-\d{4}|\d{6}-\d{5}", _IOR_MESSAGE
    ),
    IdentifierKind.BOND: _pattern_check(
        r"[A-Z0-9]{9,10}", "A CBP continuous bond number is 9 or 10 letters and digits."
    ),
    IdentifierKind.MID: lambda _kind, value: _check_mid(value),
    # The general SCAC standard allows 2 to 4 letters; CBP requires exactly 4 for carriers.
    IdentifierKind.SCAC: _pattern_check(
        r"[A-Z]{4}", "A SCAC is exactly 4 letters (A-Z), e.g. ABCD."
    ),
    # The reference says "6 digits", but FMCSA has issued 7-digit numbers for years and the field
    # holds up to 8; rejecting valid current numbers would lock carriers out, so accept 1 to 8.
    IdentifierKind.DOT: _pattern_check(
        r"[1-9]\d{0,7}", "A U.S. DOT number is 1 to 8 digits, e.g. 1234567."
    ),
    # Carriers hold a 2-character designator (never two digits) or a 3-digit airline prefix;
    # air freight consolidators are known by their IATA agent code (7 digits, 8 with the check
    # digit, 11 with the CASS branch), so those are accepted too.
    IdentifierKind.IATA: _pattern_check(
        r"(?=[A-Z0-9]*[A-Z])[A-Z0-9]{2}|\d{3}|\d{7}|\d{8}|\d{11}",
        "An IATA number is a 2-character airline designator (e.g. AA), a 3-digit airline "
        "prefix (e.g. 001) or a 7-, 8- or 11-digit IATA agent code.",
    ),
    IdentifierKind.FMC_ORG: _pattern_check(
        r"\d{6}", "An FMC organization number is exactly 6 digits, e.g. 012345."
    ),
    IdentifierKind.FMC_MTO: _pattern_check(
        r"\d{6}", "An FMC Marine Terminal Operator (MTO) number is exactly 6 digits, e.g. 012345."
    ),
    IdentifierKind.BROKER_LICENSE: _pattern_check(
        r"\d{5}", "A customs broker license number is exactly 5 digits, e.g. 12345."
    ),
    IdentifierKind.FILER_CODE: _pattern_check(
        r"[A-Z0-9]{3}", "A filer code is exactly 3 letters or digits, e.g. A1B."
    ),
    # Approximation: SCT federal permits have no published fixed layout; this range covers the
    # numbers seen on permits while still catching obvious typos.
    IdentifierKind.SCT: _pattern_check(
        r"[A-Z0-9]{6,12}", "An SCT permit number is 6 to 12 letters and digits."
    ),
    IdentifierKind.RFC: lambda _kind, value: _check_rfc(value),
    # Only the shape is checked; IRS campus prefixes change and are not a reliable filter.
    IdentifierKind.EIN: _pattern_check(r"\d{2}-\d{7}", "An EIN is 9 digits, e.g. 12-3456789."),
    IdentifierKind.DUNS: _pattern_check(r"\d{9}", "A D-U-N-S number is 9 digits, e.g. 123456789."),
}


def validate_identifier(kind: IdentifierKind | str, raw: str) -> str:
    """Return the normalized value of ``raw`` as an identifier of ``kind``.

    :raise IdentifierFormatError: if the value is empty or does not have the kind's format.
    :raise ValueError: if ``kind`` is not an identifier kind.
    """
    kind = IdentifierKind(kind)
    value = normalize_identifier(kind, raw)
    if not value:
        raise _fail(kind, f"Enter {kind.phrase}.")
    _CHECKS[kind](kind, value)
    return value


RequirementGroup = tuple[IdentifierKind, ...]
"""Kinds of which at least one must be present; the order is the order used in messages."""

_K = IdentifierKind

# From the portal's BEI messages (reference §1.3). A 3PL needs "at least one BEI": any kind will do.
REQUIRED_IDENTIFIERS: Mapping[BusinessType, tuple[RequirementGroup, ...]] = MappingProxyType({
    BusinessType.IMPORTER: ((_K.IOR,), (_K.BOND,)),
    BusinessType.EXPORTER: ((_K.DUNS, _K.EIN),),
    BusinessType.CUSTOMS_BROKER: ((_K.BROKER_LICENSE,), (_K.FILER_CODE,)),
    BusinessType.CONSOLIDATOR: ((_K.FMC_ORG, _K.IATA), (_K.BOND,)),
    BusinessType.HIGHWAY_CARRIER: ((_K.SCAC,), (_K.DOT,)),
    BusinessType.MEXICAN_LONG_HAUL: ((_K.SCT,),),
    BusinessType.RAIL_CARRIER: ((_K.SCAC,), (_K.BOND,)),
    BusinessType.SEA_CARRIER: ((_K.SCAC,), (_K.BOND,)),
    BusinessType.AIR_CARRIER: ((_K.IATA,), (_K.BOND,)),
    BusinessType.US_MPTO: ((_K.FMC_MTO,),),
    BusinessType.FOREIGN_MPTO: ((_K.FMC_MTO,),),
    BusinessType.FOREIGN_MANUFACTURER: ((_K.MID,),),
    BusinessType.THIRD_PARTY_LOGISTICS: (tuple(IdentifierKind),),
})

# Identifiers worth offering beyond the required ones. A UI choice, not a CBP rule: Mexican
# carriers and manufacturers supply an RFC (§1.3), CBP vets sea carriers against FMC records, and
# NVOCCs usually hold a SCAC.
OPTIONAL_IDENTIFIERS: Mapping[BusinessType, tuple[IdentifierKind, ...]] = MappingProxyType({
    BusinessType.CONSOLIDATOR: (_K.SCAC,),
    BusinessType.HIGHWAY_CARRIER: (_K.RFC,),
    BusinessType.MEXICAN_LONG_HAUL: (_K.RFC,),
    BusinessType.SEA_CARRIER: (_K.FMC_ORG,),
    BusinessType.FOREIGN_MANUFACTURER: (_K.RFC,),
})


def identifiers_for(business_type: BusinessType) -> tuple[IdentifierKind, ...]:
    """Return the identifier kinds to offer on the form: required ones first, then optional ones."""
    kinds = [kind for group in REQUIRED_IDENTIFIERS[business_type] for kind in group]
    kinds.extend(OPTIONAL_IDENTIFIERS.get(business_type, ()))
    return tuple(dict.fromkeys(kinds))  # keeps first occurrence, drops repeats


def _account_phrase(business_type: BusinessType) -> str:
    # "Consolidator (air freight, OTI, NVOCC)" reads badly inside a sentence; drop the aside.
    name = re.sub(r"\s*\(.*\)$", "", business_type.label)
    article = "An" if name[0] in "AEIO" else "A"
    return f"{article} {name} account"


def missing_identifiers(
    business_type: BusinessType, present_kinds: Iterable[IdentifierKind | str]
) -> list[str]:
    """Return one user-facing message per requirement group that ``present_kinds`` leaves unmet.

    An empty list means the account has every identifier its business type requires.
    """
    present = {IdentifierKind(kind) for kind in present_kinds}
    messages: list[str] = []
    for group in REQUIRED_IDENTIFIERS[business_type]:
        if present.intersection(group):
            continue
        if len(group) == len(IdentifierKind):
            needed = "at least one business entity identifier"
        else:
            needed = " or ".join(kind.phrase for kind in group)
        messages.append(f"{_account_phrase(business_type)} needs {needed}.")
    return messages

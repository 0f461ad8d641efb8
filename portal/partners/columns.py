"""The columns of the partner list, shared by the import template, the importer and the export, so a
downloaded register can be filled in and uploaded again (DESIGN.md §9: exports neutralise formulas).

Each column names the ``PartnerInput`` field it fills and how a cell is written; the importer reads the
same headers (case and a trailing "*" ignored) and accepts either the written form or the label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portal.partners.enums import (
    AssessmentResult,
    AssessmentType,
    CertificationKind,
    CtpatStatus,
    PartnerRole,
    RiskRating,
)


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    required: bool = False
    help: str = ""


def _choices(enum_cls: Any) -> str:
    return "; ".join(member.label for member in enum_cls)


COLUMNS: tuple[Column, ...] = (
    Column("Name", "name", True, "The partner's legal or trading name."),
    Column("Role", "role", True, _choices(PartnerRole)),
    Column("Country", "country", True, "ISO code (e.g. MX) or English name (e.g. Mexico)."),
    Column("Address", "address", False, "Street address."),
    Column("City", "city"),
    Column("CTPAT eligible", "ctpat_eligible", False,
           "yes or no; blank means yes for carriers, brokers, consolidators and 3PLs, no otherwise."),
    Column("Certification", "certification", False, "none, CTPAT or AEO (blank: taken from the columns filled in)."),
    Column("CTPAT account number", "ctpat_account_number", False, "For CTPAT partners: their account (SVI) number."),
    Column("CTPAT status", "ctpat_status", False, "certified or validated."),
    Column("AEO program", "mra_program_id", False,
           "For AEO partners: the program's code or country from the MRA list (e.g. MX, Guatemala, EU)."),
    Column("AEO certificate number", "certificate_number"),
    Column("AEO certificate expiry", "certificate_expires_on", False, "Date as YYYY-MM-DD."),
    Column("Last assessment date", "last_assessed_on", False, "Date as YYYY-MM-DD."),
    Column("Last assessment type", "last_assessment_type", False, "questionnaire, visit or audit."),
    Column("Last assessment result", "last_assessment_result", False, _choices(AssessmentResult)),
    Column("Risk rating", "risk_rating", False, "high, medium or low."),
    Column("Risk reason", "risk_reason", False, "Required with a risk rating."),
    Column("Next review override", "next_review_override", False,
           "Date as YYYY-MM-DD; blank derives it from risk (high 1 year, medium 2, low 3 after the last assessment)."),
    Column("Notes", "notes"),
)

# Written by the export after the importable columns; the importer ignores them.
EXPORT_ONLY_HEADERS: tuple[str, ...] = ("Country name", "Next review due", "Screening status", "Screening reasons")

ENUM_FIELDS: dict[str, Any] = {
    "role": PartnerRole,
    "certification": CertificationKind,
    "ctpat_status": CtpatStatus,
    "last_assessment_type": AssessmentType,
    "last_assessment_result": AssessmentResult,
    "risk_rating": RiskRating,
}
DATE_FIELDS = frozenset({"certificate_expires_on", "last_assessed_on", "next_review_override"})

# Cells that spreadsheet programs would read as a formula (or as a command in CSV): OWASP / ASVS 1.2.10.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: Any) -> Any:
    """Make a cell inert: a string starting with = + - @ tab CR or NUL gets a leading apostrophe, which
    spreadsheet programs show as text (and the importer strips again)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    """Undo ``neutralise`` on a cell read back from one of our own files."""
    if value.startswith("'") and value[1:2] and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


Getter = Callable[[Any], Any]

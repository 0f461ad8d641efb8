"""Verbs on the business-partner register: add, change, remove a partner, and stage, confirm or discard
an import. The input checks are one pure function shared by the form and the importer, so a row of a
spreadsheet is refused for exactly the reasons the form would refuse it.

Services flush and write audit events; the view commits once (DESIGN.md §3).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select

from portal import audit
from portal.clock import today, utcnow
from portal.companies.countries import is_country
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.partners.enums import (
    AssessmentResult,
    AssessmentType,
    CertificationKind,
    CtpatStatus,
    PartnerRole,
    RiskRating,
)
from portal.partners.models import BusinessPartner, MraProgram, PartnerImport
from portal.profiles.models import EvidenceFile

NAME_MAX = 200
ADDRESS_MAX = 300
CITY_MAX = 100
ACCOUNT_NUMBER_MAX = 20
CERTIFICATE_MAX = 60
REASON_MAX = 2_000
NOTES_MAX = 4_000
IMPORT_TTL = timedelta(hours=24)  # a staged import older than this is discarded rather than confirmed


class InvalidPartner(DomainError):
    """Every reason a partner cannot be saved, as (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems[0][1], field=problems[0][0])
        self.problems = problems


def name_key(name: str) -> str:
    """The form of a name used to spot duplicates: case, accents' composition and spacing ignored."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name)).strip().casefold()


@dataclass(frozen=True)
class PartnerInput:
    """What the user entered for a partner (from the form or one import row)."""

    name: str
    role: PartnerRole
    country: str
    address: str = ""
    city: str = ""
    ctpat_eligible: bool = False
    certification: CertificationKind = CertificationKind.NONE
    ctpat_account_number: str | None = None
    ctpat_status: CtpatStatus | None = None
    mra_program_id: int | None = None
    certificate_number: str | None = None
    certificate_expires_on: date | None = None
    last_assessed_on: date | None = None
    last_assessment_type: AssessmentType | None = None
    last_assessment_result: AssessmentResult | None = None
    risk_rating: RiskRating | None = None
    risk_reason: str = ""
    next_review_override: date | None = None
    notes: str = ""
    evidence_ids: tuple[int, ...] = field(default=())

    def cleaned(self) -> PartnerInput:
        """Drop the fields of the certification kinds not chosen, so a switch leaves no stale number."""
        data = replace(self, country=self.country.strip().upper())
        if data.certification != CertificationKind.CTPAT:
            data = replace(data, ctpat_account_number=None, ctpat_status=None)
        if data.certification != CertificationKind.AEO:
            data = replace(data, mra_program_id=None, certificate_number=None, certificate_expires_on=None)
        return data

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (dates as ISO strings) for a staged import."""
        return {key: value.isoformat() if isinstance(value, date) else list(value) if isinstance(value, tuple)
                else value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartnerInput:
        converters: dict[str, Any] = {
            "role": PartnerRole, "certification": CertificationKind, "ctpat_status": CtpatStatus,
            "last_assessment_type": AssessmentType, "last_assessment_result": AssessmentResult,
            "risk_rating": RiskRating, "certificate_expires_on": date.fromisoformat,
            "last_assessed_on": date.fromisoformat, "next_review_override": date.fromisoformat,
            "evidence_ids": tuple,
        }
        kwargs = {}
        for spec in fields(cls):
            value = data.get(spec.name)
            convert = converters.get(spec.name)
            kwargs[spec.name] = convert(value) if convert is not None and value is not None else value
        return cls(**kwargs)


def _too_long(text: str | None, limit: int, what: str) -> str | None:
    if text and len(text) > limit:
        return f"The {what} is {len(text):,} characters long; the limit is {limit:,}."
    return None


def check_partner_input(data: PartnerInput, program_ids: Collection[int], on: date) -> list[tuple[str, str]]:
    """Every reason ``data`` cannot be saved on ``on``, as (field, message); empty when it can.

    Pure: the caller passes the ids of the MRA programs. Duplicates are checked by the caller, which
    knows the register.
    """
    problems: list[tuple[str, str]] = []
    if not data.name.strip():
        problems.append(("name", "Enter the partner's name."))
    for name, text, limit, what in (("name", data.name, NAME_MAX, "name"),
                                    ("address", data.address, ADDRESS_MAX, "address"),
                                    ("city", data.city, CITY_MAX, "city"),
                                    ("risk_reason", data.risk_reason, REASON_MAX, "reason"),
                                    ("notes", data.notes, NOTES_MAX, "notes")):
        if message := _too_long(text, limit, what):
            problems.append((name, message))
    if not is_country(data.country or ""):
        problems.append(("country", f"Unknown country “{data.country}”: choose a country from the list "
                                    "(or give its ISO code, e.g. MX)."))
    if data.certification == CertificationKind.CTPAT:
        if not (data.ctpat_account_number or "").strip():
            problems.append(("ctpat_account_number", "Enter the partner's CTPAT account number (SVI number)."))
        elif message := _too_long(data.ctpat_account_number, ACCOUNT_NUMBER_MAX, "account number"):
            problems.append(("ctpat_account_number", message))
        if data.ctpat_status is None:
            problems.append(("ctpat_status", "Say whether the partner is CTPAT certified or also validated."))
    elif data.certification == CertificationKind.AEO:
        if data.mra_program_id is None or data.mra_program_id not in program_ids:
            problems.append(("mra_program_id", "Choose the partner's AEO program from the MRA list."))
        if not (data.certificate_number or "").strip():
            problems.append(("certificate_number", "Enter the AEO certificate number."))
        elif message := _too_long(data.certificate_number, CERTIFICATE_MAX, "certificate number"):
            problems.append(("certificate_number", message))
        if data.certificate_expires_on is None:
            problems.append(("certificate_expires_on", "Enter the date the AEO certificate expires."))
    if (data.last_assessment_type or data.last_assessment_result) and data.last_assessed_on is None:
        problems.append(("last_assessed_on", "Enter the date of the last assessment."))
    if data.last_assessed_on is not None and data.last_assessed_on > on:
        problems.append(("last_assessed_on", "The last assessment cannot be in the future."))
    if data.last_assessed_on is not None and data.last_assessment_type is None:
        problems.append(("last_assessment_type", "Say how the partner was assessed: questionnaire, visit or audit."))
    if data.risk_rating is not None and not data.risk_reason.strip():
        problems.append(("risk_reason", "Give the reason for the risk rating (e.g. the threat at origin, "
                                        "the partner's role)."))
    return problems


# --- partners ----------------------------------------------------------------------------------------


def _program_ids() -> set[int]:
    return set(db_session.scalars(select(MraProgram.id)))


def _duplicate(account_id: int, data: PartnerInput, exclude_id: int | None = None) -> BusinessPartner | None:
    query = select(BusinessPartner).where(BusinessPartner.account_id == account_id,
                                          BusinessPartner.name_key == name_key(data.name),
                                          BusinessPartner.country == data.country)
    if exclude_id is not None:
        query = query.where(BusinessPartner.id != exclude_id)
    return db_session.scalar(query)


def _evidence(company_id: int, ids: tuple[int, ...]) -> list[EvidenceFile]:
    if not ids:
        return []
    rows = list(db_session.scalars(select(EvidenceFile).where(EvidenceFile.id.in_(ids),
                                                              EvidenceFile.company_id == company_id)))
    if len(rows) != len(set(ids)):
        raise InvalidPartner([("evidence_ids", "Choose documents from the company's evidence library.")])
    return rows


def _validate(account: Any, data: PartnerInput, exclude_id: int | None = None) -> PartnerInput:
    data = data.cleaned()
    problems = check_partner_input(data, _program_ids(), today())
    if not problems and _duplicate(account.id, data, exclude_id) is not None:
        problems.append(("name", "This partner is already in the register (same name and country)."))
    if problems:
        raise InvalidPartner(problems)
    return data


def _apply(partner: BusinessPartner, data: PartnerInput) -> None:
    for spec in fields(PartnerInput):
        if spec.name != "evidence_ids":
            setattr(partner, spec.name, getattr(data, spec.name))
    partner.name = data.name.strip()
    partner.name_key = name_key(data.name)


def create_partner(account: Any, data: PartnerInput, *, by: Any) -> BusinessPartner:
    """Add a partner to the account's register.

    :raise InvalidPartner: a field is missing or refused, or the partner is already registered.
    """
    data = _validate(account, data)
    partner = BusinessPartner(account_id=account.id, updated_by_id=getattr(by, "id", None))
    _apply(partner, data)
    partner.evidence = _evidence(account.company_id, data.evidence_ids)
    db_session.add(partner)
    db_session.flush()
    audit.record("partner.created", actor=by, company_id=account.company_id, obj=partner,
                 summary=f"{partner.name} ({partner.country}, {partner.role.label})")
    return partner


def partner_text(partner: BusinessPartner | PartnerInput) -> str:
    """A plain-text rendering for the edit-conflict page (both sides in one format)."""
    lines = []
    for spec in fields(PartnerInput):
        value = getattr(partner, spec.name, None)
        if spec.name == "evidence_ids":
            continue
        label = getattr(value, "label", None)
        lines.append(f"{spec.name.replace('_', ' ').capitalize()}: {label if label else value if value else ''}")
    return "\n".join(lines)


def update_partner(partner: BusinessPartner, data: PartnerInput, *, expected_version: int | None, by: Any) -> None:
    """Save changes to a partner.

    :raise StaleEdit: someone saved the partner since the form was loaded.
    :raise InvalidPartner: a field is missing or refused, or the change makes it a duplicate.
    """
    if expected_version is not None and expected_version != partner.version:
        raise StaleEdit("Someone else changed this partner since you opened the form.",
                        mine=partner_text(data), theirs=partner_text(partner))
    account = partner_account(partner)
    data = _validate(account, data, exclude_id=partner.id)
    _apply(partner, data)
    partner.evidence = _evidence(account.company_id, data.evidence_ids)
    partner.updated_at = utcnow()
    partner.updated_by_id = getattr(by, "id", None)
    db_session.flush()
    audit.record("partner.updated", actor=by, company_id=account.company_id, obj=partner, summary=partner.name)


def partner_account(partner: BusinessPartner) -> Any:
    from portal.companies.models import TradeAccount

    account = db_session.get(TradeAccount, partner.account_id)
    assert account is not None  # noqa: S101 - the foreign key guarantees it
    return account


def delete_partner(partner: BusinessPartner, *, by: Any) -> None:
    """Remove a partner from the register (its evidence stays in the library)."""
    account = partner_account(partner)
    audit.record("partner.deleted", actor=by, company_id=account.company_id, obj=partner,
                 summary=f"{partner.name} ({partner.country})")
    db_session.delete(partner)
    db_session.flush()


# --- imports -----------------------------------------------------------------------------------------


def existing_keys(account_id: int) -> set[tuple[str, str]]:
    """(name key, country) of every partner already in the register, for duplicate checks."""
    return {(key, country) for key, country in db_session.execute(
        select(BusinessPartner.name_key, BusinessPartner.country).where(BusinessPartner.account_id == account_id))}


def stage_import(account: Any, filename: str, rows: list[dict[str, Any]], *, by: Any) -> PartnerImport:
    """Keep a checked upload until the user confirms it; earlier unconfirmed uploads of the same
    account by the same user are dropped (one pending import per person and register)."""
    db_session.execute(delete(PartnerImport).where(PartnerImport.account_id == account.id,
                                                   PartnerImport.created_by_id == getattr(by, "id", None)))
    db_session.execute(delete(PartnerImport).where(PartnerImport.created_at < utcnow() - IMPORT_TTL))
    staged = PartnerImport(account_id=account.id, created_by_id=getattr(by, "id", None), filename=filename[:255],
                           rows=rows)
    db_session.add(staged)
    db_session.flush()
    valid = len(staged.valid_rows)
    audit.record("partner.import_staged", actor=by, company_id=account.company_id, obj=staged,
                 summary=f"{filename}: {valid} valid row(s), {len(rows) - valid} with errors")
    return staged


def import_expired(staged: PartnerImport) -> bool:
    return staged.created_at < utcnow() - IMPORT_TTL


@dataclass(frozen=True)
class ImportOutcome:
    created: int
    skipped: list[tuple[int, str]]  # (line, why) for rows that became invalid since the preview


def confirm_import(account: Any, staged: PartnerImport, *, by: Any) -> ImportOutcome:
    """Create the valid rows of a staged import, then forget it.

    Each row is checked again, because the register or the MRA list may have changed since the
    preview; a row that fails now is skipped and reported, never half-saved.

    :raise DomainError: the staged import has expired.
    """
    if import_expired(staged):
        raise DomainError("This upload is more than a day old. Upload the file again.")
    program_ids = _program_ids()
    keys = existing_keys(account.id)
    on = today()
    created = 0
    skipped: list[tuple[int, str]] = []
    for row in staged.valid_rows:
        data = PartnerInput.from_json(row["data"]).cleaned()
        problems = check_partner_input(data, program_ids, on)
        key = (name_key(data.name), data.country)
        if not problems and key in keys:
            problems = [("name", "already in the register")]
        if problems:
            skipped.append((row["line"], problems[0][1]))
            continue
        partner = BusinessPartner(account_id=account.id, updated_by_id=getattr(by, "id", None))
        _apply(partner, data)
        db_session.add(partner)
        keys.add(key)
        created += 1
    db_session.delete(staged)
    db_session.flush()
    audit.record("partner.import_confirmed", actor=by, company_id=account.company_id, object_type="PartnerImport",
                 object_id=staged.id, summary=f"{staged.filename}: {created} partner(s) added, "
                                              f"{len(skipped)} skipped")
    return ImportOutcome(created, skipped)


def discard_import(account: Any, staged: PartnerImport, *, by: Any) -> None:
    """Drop a staged import without adding anything."""
    audit.record("partner.import_discarded", actor=by, company_id=account.company_id, object_type="PartnerImport",
                 object_id=staged.id, summary=staged.filename)
    db_session.delete(staged)
    db_session.flush()

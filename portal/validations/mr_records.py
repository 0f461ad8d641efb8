"""MR records of a validation (issue 7 item 5): foreign business partners of the account validated by
their own customs under a program the U.S. recognises through an MRA ("MR Records" of CBP's validation
tab), recorded by the team from the partner register or by hand. A record needs the program's MRA in
force on the date of the foreign validation and on the planning date (``recognition.planning_date``);
services flush and record the timeline and audit trail, views commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal import clock
from portal.auth.models import User
from portal.companies.countries import country_name, is_country
from portal.db import db_session
from portal.errors import DomainError
from portal.partners import queries as partner_queries
from portal.partners.enums import CertificationKind
from portal.partners.models import BusinessPartner, MraProgram
from portal.partners.mra import countries_label
from portal.partners.screening import ScreeningResult, aeo_recognition, long_date
from portal.validations.models import Validation, ValidationMrRecord
from portal.validations.recognition import planning_date
from portal.validations.services import NOTE_MAX, record_event

NAME_MAX = 200
CERTIFICATE_MAX = 60


@dataclass(frozen=True)
class MrRecordInput:
    """What the team typed, or chose from the register (then blank fields come from the partner)."""

    validated_on: date | None
    business_partner_id: int | None = None
    partner_name: str = ""
    country: str = ""
    program_id: int | None = None
    certificate_number: str = ""
    notes: str = ""


def mr_record_choices(validation: Validation, on_date: date | None = None) -> list[tuple[BusinessPartner,
                                                                                          ScreeningResult]]:
    """Partners of the account's register whose screening shows a recognised AEO certification on the
    planning date and that are not recorded yet (two queries)."""
    day = on_date or planning_date(validation)
    recorded = {record.business_partner_id for record in validation.mr_records}
    return [(partner, result) for partner, result in partner_queries.screened(validation.account_id, day)
            if partner.certification == CertificationKind.AEO and result.certified and partner.id not in recorded]


def _from_register(validation: Validation, data: MrRecordInput) -> BusinessPartner | None:
    if data.business_partner_id is None:
        return None
    partner = db_session.get(BusinessPartner, data.business_partner_id)
    if partner is None or partner.account_id != validation.account_id:
        raise DomainError("Choose a partner of this account's register.", field="business_partner_id")
    return partner


def add_mr_record(validation: Validation, data: MrRecordInput, *, by: User,
                  on_date: date | None = None) -> ValidationMrRecord:
    """Record a foreign business partner validated under an MRA program.

    :raise DomainError: when the validation's findings can no longer change, a field is missing or too
        long, the country is not one the program certifies in, the foreign validation date is in the
        future, the program's MRA was not in force on that date or is not today, or the certificate is
        already recorded.
    """
    if not validation.status.findings_editable:
        raise DomainError("MR records can only be changed until the report goes to the supervisor.")
    day = on_date or planning_date(validation)
    partner = _from_register(validation, data)
    name = data.partner_name.strip() or (partner.name if partner else "")
    country = (data.country.strip() or (partner.country if partner else "")).upper()
    program_id = data.program_id if data.program_id is not None else (partner.mra_program_id if partner else None)
    certificate = data.certificate_number.strip() or ((partner.certificate_number or "") if partner else "")
    notes = data.notes.strip()
    if not name:
        raise DomainError("Enter the partner's name, or choose the partner from the register.", field="partner_name")
    if len(name) > NAME_MAX:
        raise DomainError(f"The name is longer than {NAME_MAX} characters.", field="partner_name")
    if not country or not is_country(country):
        raise DomainError("Choose the partner's country.", field="country")
    program = db_session.get(MraProgram, program_id) if program_id is not None else None
    if program is None:
        raise DomainError("Choose the AEO program from the MRA list.", field="program_id")
    if not certificate:
        raise DomainError("Enter the partner's AEO certificate number.", field="certificate_number")
    if len(certificate) > CERTIFICATE_MAX:
        raise DomainError(f"The certificate number is longer than {CERTIFICATE_MAX} characters.",
                          field="certificate_number")
    if len(notes) > NOTE_MAX:
        raise DomainError(f"The notes are longer than {NOTE_MAX:,} characters.", field="notes")
    if country not in program.country_codes:
        raise DomainError(f"{program.display_name} certifies companies in {countries_label(program)}, not in "
                          f"{country_name(country)}.", field="country")
    if data.validated_on is None:
        raise DomainError("Enter the date of the foreign validation.", field="validated_on")
    if data.validated_on > day:
        raise DomainError("The foreign validation date cannot be in the future.", field="validated_on")
    timeline = program.timeline()
    then = aeo_recognition(timeline, None, data.validated_on)
    if not then.recognised:
        raise DomainError(f"{program.display_name} was not recognised on {long_date(data.validated_on)}: "
                          f"{then.reason}", field="validated_on")
    now = aeo_recognition(timeline, None, day)
    if not now.recognised:
        raise DomainError(f"{program.display_name} is not recognised on {long_date(day)}: {now.reason}",
                          field="program_id")
    clash = db_session.scalar(select(ValidationMrRecord.id).where(
        ValidationMrRecord.validation_id == validation.id, ValidationMrRecord.program_id == program.id,
        ValidationMrRecord.certificate_number == certificate))
    if clash is not None:
        raise DomainError(f"Certificate {certificate} of {program.partner} is already recorded for this validation.",
                          field="certificate_number")
    record = ValidationMrRecord(validation_id=validation.id, business_partner_id=partner.id if partner else None,
                                partner_name=name, country=country, program_id=program.id,
                                certificate_number=certificate, validated_on=data.validated_on, notes=notes,
                                recorded_at=clock.utcnow(), recorded_by_id=getattr(by, "id", None))
    record.program = program
    validation.mr_records.append(record)
    db_session.flush()
    record_event(validation, "mr_record_added", by=by,
                 note=f"{name} ({country_name(country)}): {program.display_name}, certificate {certificate}, "
                      f"validated {long_date(data.validated_on)}")
    return record


def remove_mr_record(record: ValidationMrRecord, *, by: User) -> None:
    """:raise DomainError: when the validation's findings can no longer change."""
    validation = record.validation
    if not validation.status.findings_editable:
        raise DomainError("MR records can only be changed until the report goes to the supervisor.")
    record_event(validation, "mr_record_removed", by=by,
                 note=f"{record.partner_name}: certificate {record.certificate_number}")
    validation.mr_records.remove(record)
    db_session.delete(record)
    db_session.flush()


@dataclass(frozen=True)
class MrRecordStanding:
    """An MR record with whether its program is still recognised on the planning date."""

    record: ValidationMrRecord
    recognised: bool
    reason: str


def mr_record_standings(validation: Validation, on_date: date | None = None) -> list[MrRecordStanding]:
    """Each record and whether its program is still recognised (no query: programs come preloaded)."""
    day = on_date or planning_date(validation)
    standings = []
    for record in validation.mr_records:
        recognition = aeo_recognition(record.program.timeline(), None, day)
        standings.append(MrRecordStanding(record, recognition.recognised, recognition.reason))
    return standings

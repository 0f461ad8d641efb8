"""MRA programs: the seed list from the domain reference and the services that keep them.

The seed is ctpat-domain.md §7.2 (18 partners) with the dated steps of §7.3 (Uruguay: joint work plan
February 2016, MRA July 2022; Guatemala and Colombia: joint work plans July 2022, MRA 17 April 2023).
Where the reference gives only a month, the step is dated the 1st and marked month-precision, so the
pages say "June 2007" rather than inventing a day. Seeding only adds what is missing, so running it
again (or after an admin's changes) changes nothing.

Services flush; the caller commits (DESIGN.md §3). Every change writes an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit
from portal.clock import today
from portal.companies.countries import country_name, is_country
from portal.db import db_session
from portal.errors import DomainError
from portal.partners.enums import DatePrecision, MraStatus
from portal.partners.models import AccountMraCertification, MraProgram, MraStatusChange
from portal.partners.screening import add_years

M = DatePrecision.MONTH
D = DatePrecision.DAY
IN_FORCE = MraStatus.IN_FORCE
JWP = MraStatus.JOINT_WORK_PLAN

EU_MEMBERS = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
              "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")
EARLIEST_STEP = date(2000, 1, 1)  # the first MRA dates from 2007; anything before 2000 is a typing slip


@dataclass(frozen=True)
class SeedStep:
    status: MraStatus
    effective_on: date
    precision: DatePrecision
    note: str = ""


@dataclass(frozen=True)
class SeedProgram:
    code: str
    partner: str
    countries: tuple[str, ...]
    customs_administration: str
    program_name: str
    steps: tuple[SeedStep, ...]
    notes: str = ""


def _signed(year: int, month: int, day: int | None = None, note: str = "") -> tuple[SeedStep, ...]:
    precision = D if day else M
    return (SeedStep(IN_FORCE, date(year, month, day or 1), precision, note or "MRA signed."),)


SEED_PROGRAMS: tuple[SeedProgram, ...] = (
    SeedProgram("NZ", "New Zealand", ("NZ",), "New Zealand Customs Service", "Secure Export Scheme (SES)",
                _signed(2007, 6)),
    SeedProgram("CA", "Canada", ("CA",), "Canada Border Services Agency (CBSA)", "Partners in Protection (PIP)",
                _signed(2008, 6)),
    SeedProgram("JO", "Jordan", ("JO",), "Jordan Customs", "Golden List", _signed(2008, 6),
                notes="One 2010 source dates the signing June 2007."),
    SeedProgram("JP", "Japan", ("JP",), "Japan Customs and Tariff Bureau", "Authorized Economic Operator (AEO)",
                _signed(2009, 6)),
    SeedProgram("KR", "Korea", ("KR",), "Korea Customs Service", "Authorized Economic Operator (AEO)",
                _signed(2010, 6)),
    SeedProgram("EU", "European Union", EU_MEMBERS, "European Union customs (European Commission and the "
                "member states' customs administrations)", "EU Authorised Economic Operator (AEO)",
                _signed(2012, 5)),
    SeedProgram("TW", "Taiwan", ("TW",), "Taiwan customs administration", "Taiwan AEO", _signed(2012, 11)),
    SeedProgram("IL", "Israel", ("IL",), "Israel customs", "Israel AEO", _signed(2014, 6)),
    SeedProgram("MX", "Mexico", ("MX",), "Servicio de Administración Tributaria (SAT)",
                "New Certified Companies Scheme (NEEC / OEA)",
                _signed(2014, 10, 17, "MRA signed; announced on 17 October 2014.")),
    SeedProgram("SG", "Singapore", ("SG",), "Singapore Customs", "Secure Trade Partnership (STP)",
                _signed(2014, 12, 1)),
    SeedProgram("DO", "Dominican Republic", ("DO",), "Dirección General de Aduanas (DGA)",
                "Operador Económico Autorizado (OEA)", _signed(2015, 12)),
    SeedProgram("PE", "Peru", ("PE",), "SUNAT", "Operador Económico Autorizado (OEA)", _signed(2018, 9)),
    SeedProgram("GB", "United Kingdom", ("GB",), "HM Revenue and Customs (HMRC)",
                "Authorised Economic Operator (AEO)", _signed(2021, 1)),
    SeedProgram("IN", "India", ("IN",), "Central Board of Indirect Taxes and Customs (CBIC)", "AEO Programme",
                _signed(2021, 9)),
    SeedProgram("UY", "Uruguay", ("UY",), "National Customs Directorate (Dirección Nacional de Aduanas)",
                "Qualified Economic Operator (Operador Económico Calificado, OEC)",
                (SeedStep(JWP, date(2016, 2, 1), M, "Joint work plan signed."),
                 SeedStep(IN_FORCE, date(2022, 7, 1), M, "MRA signed at the Trade Facilitation and Cargo Security "
                                                         "Summit, Anaheim, California.")),
                notes="Not to be confused with the U.S.-Uruguay Customs Mutual Assistance Agreement of May 2014."),
    SeedProgram("BR", "Brazil", ("BR",), "Receita Federal do Brasil", "Operador Econômico Autorizado (OEA)",
                _signed(2022, 9)),
    SeedProgram("GT", "Guatemala", ("GT",), "Superintendencia de Administración Tributaria (SAT)",
                "Operador Económico Autorizado (OEA)",
                (SeedStep(JWP, date(2022, 7, 1), M, "Joint work plan signed at the Trade Facilitation and Cargo "
                                                    "Security Summit, Anaheim, California."),
                 SeedStep(IN_FORCE, date(2023, 4, 17), D, "MRA signed at the Trade Facilitation and Cargo Security "
                                                          "Summit, Boston."))),
    SeedProgram("CO", "Colombia", ("CO",), "Dirección de Impuestos y Aduanas Nacionales (DIAN)",
                "Operador Económico Autorizado (OEA)",
                (SeedStep(JWP, date(2022, 7, 1), M, "Joint work plan signed at the Trade Facilitation and Cargo "
                                                    "Security Summit, Anaheim, California."),
                 SeedStep(IN_FORCE, date(2023, 4, 17), D, "MRA signed at the Trade Facilitation and Cargo Security "
                                                          "Summit, Boston."))),
)


@dataclass(frozen=True)
class SeedResult:
    programs_added: int
    steps_added: int


def seed_mra_programs(by: Any = None) -> SeedResult:
    """Add the seed programs and history steps that are missing; never changes or removes a row.

    Programs are matched on ``code``, steps on (status, date), so an admin's later edits stay.
    """
    # populate_existing: histories already in the session may be stale (sessions keep objects after commit).
    existing = {program.code: program for program in db_session.scalars(
        select(MraProgram).options(selectinload(MraProgram.changes)).execution_options(populate_existing=True))}
    programs_added = steps_added = 0
    for seed in SEED_PROGRAMS:
        program = existing.get(seed.code)
        if program is None:
            program = MraProgram(code=seed.code, partner=seed.partner, countries=",".join(seed.countries),
                                 customs_administration=seed.customs_administration,
                                 program_name=seed.program_name, notes=seed.notes)
            db_session.add(program)
            programs_added += 1
        have = {(change.status, change.effective_on) for change in program.changes}
        for step in seed.steps:
            if (step.status, step.effective_on) not in have:
                program.changes.append(MraStatusChange(status=step.status, effective_on=step.effective_on,
                                                       precision=step.precision, note=step.note))
                steps_added += 1
    db_session.flush()
    if programs_added or steps_added:
        audit.record("mra.seeded", actor=by, object_type="MraProgram",
                     summary=f"{programs_added} program(s) and {steps_added} status step(s) added from the reference")
    return SeedResult(programs_added, steps_added)


# --- admin upkeep ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramInput:
    code: str
    partner: str
    countries: str
    customs_administration: str
    program_name: str
    notes: str = ""


def parse_country_list(text: str) -> tuple[list[str], list[str]]:
    """Split "MX, gt;CO" into known ISO codes and the unknown pieces (both in the order given)."""
    known: list[str] = []
    unknown: list[str] = []
    for piece in text.replace(";", ",").replace(" ", ",").split(","):
        code = piece.strip().upper()
        if not code:
            continue
        if is_country(code):
            if code not in known:
                known.append(code)
        else:
            unknown.append(piece.strip())
    return known, unknown


def _check_program(data: ProgramInput, program: MraProgram | None) -> list[str]:
    codes, unknown = parse_country_list(data.countries)
    if unknown:
        raise DomainError(f"Unknown country code(s): {', '.join(unknown)}. Use ISO codes such as MX or GT.",
                          field="countries")
    if not codes:
        raise DomainError("Enter at least one country code.", field="countries")
    for column, value, label in (("code", data.code.upper(), "code"), ("partner", data.partner, "partner")):
        clash = db_session.scalar(select(MraProgram).where(getattr(MraProgram, column) == value))
        if clash is not None and clash is not program:
            raise DomainError(f"Another program already uses this {label}.", field=column)
    return codes


def create_program(data: ProgramInput, *, by: Any) -> MraProgram:
    """Add a program (without history; the admin records its first step next).

    :raise DomainError: a country code is unknown, or the code or partner is taken.
    """
    codes = _check_program(data, None)
    program = MraProgram(code=data.code.upper(), partner=data.partner, countries=",".join(codes),
                         customs_administration=data.customs_administration, program_name=data.program_name,
                         notes=data.notes)
    db_session.add(program)
    db_session.flush()
    audit.record("mra.program_created", actor=by, obj=program, summary=program.display_name)
    return program


def update_program(program: MraProgram, data: ProgramInput, *, by: Any) -> None:
    """Correct a program's names, countries or notes (its history is changed only by adding steps)."""
    codes = _check_program(data, program)
    program.code = data.code.upper()
    program.partner = data.partner
    program.countries = ",".join(codes)
    program.customs_administration = data.customs_administration
    program.program_name = data.program_name
    program.notes = data.notes
    db_session.flush()
    audit.record("mra.program_updated", actor=by, obj=program, summary=program.display_name)


def record_status_change(program: MraProgram, status: MraStatus, effective_on: date, *, by: Any,
                         precision: DatePrecision = DatePrecision.DAY, note: str = "") -> MraStatusChange:
    """Add a dated step to a program's history (e.g. an MRA signed after a joint work plan, a suspension).

    The step may lie up to a year ahead (an MRA announced for a later date); screening counts it from
    that date only.

    :raise DomainError: the date is implausible, or the step repeats the status already in effect.
    """
    if precision == DatePrecision.MONTH:
        effective_on = effective_on.replace(day=1)
    latest = add_years(today(), 1)
    if effective_on < EARLIEST_STEP or effective_on > latest:
        raise DomainError(f"Enter a date between {EARLIEST_STEP:%B %Y} and {latest:%B %d, %Y}.", field="effective_on")
    timeline = program.timeline()
    if (effective_on, status) in timeline.changes:
        raise DomainError(f"The history already holds “{status.label}” on this date.", field="effective_on")
    before = timeline.status_on(effective_on)
    if before == status:
        raise DomainError(f"The program is already “{status.label}” on that date.", field="status")
    change = MraStatusChange(status=status, effective_on=effective_on, precision=precision, note=note,
                             recorded_by_id=getattr(by, "id", None))
    program.changes.append(change)
    db_session.flush()
    audit.record("mra.status_recorded", actor=by, obj=program,
                 summary=f"{program.partner}: {status.label} from {effective_on.isoformat()}")
    return change


# --- the applicant's own foreign certification -----------------------------------------------------


@dataclass(frozen=True)
class AccountCertificationInput:
    program_id: int
    certificate_number: str
    expires_on: date
    certified_on: date | None = None


def add_account_certification(account: Any, data: AccountCertificationInput, *, by: Any) -> AccountMraCertification:
    """Record that the account's company holds a foreign AEO certification.

    :raise DomainError: unknown program, one already recorded for that program, or dates out of order.
    """
    program = db_session.get(MraProgram, data.program_id)
    if program is None:
        raise DomainError("Choose a program from the MRA list.", field="program_id")
    if db_session.scalar(select(AccountMraCertification.id).where(
            AccountMraCertification.account_id == account.id,
            AccountMraCertification.program_id == program.id)) is not None:
        raise DomainError(f"A certification in {program.display_name} is already recorded; remove it first to "
                          "replace it.", field="program_id")
    if data.certified_on is not None and data.certified_on > data.expires_on:
        raise DomainError("The certificate cannot expire before it was issued.", field="expires_on")
    if data.certified_on is not None and data.certified_on > today():
        raise DomainError("The certification date cannot be in the future.", field="certified_on")
    row = AccountMraCertification(account_id=account.id, program_id=program.id,
                                  certificate_number=data.certificate_number, certified_on=data.certified_on,
                                  expires_on=data.expires_on, created_by_id=getattr(by, "id", None))
    db_session.add(row)
    db_session.flush()
    audit.record("account_mra.added", actor=by, company_id=account.company_id, obj=row,
                 summary=f"{program.display_name} certificate {data.certificate_number}, expires "
                         f"{data.expires_on.isoformat()}")
    return row


def remove_account_certification(row: AccountMraCertification, *, by: Any) -> None:
    """Delete a recorded foreign certification (e.g. entered by mistake or replaced by a renewal)."""
    company_id = row.account.company_id
    audit.record("account_mra.removed", actor=by, company_id=company_id, obj=row,
                 summary=f"certificate {row.certificate_number}")
    db_session.delete(row)
    db_session.flush()


def countries_label(program: MraProgram) -> str:
    """The program's countries by name, or their number when there are many (the EU's 27)."""
    codes = program.country_codes
    if len(codes) > 5:
        return f"{len(codes)} countries"
    return ", ".join(country_name(code) for code in codes)

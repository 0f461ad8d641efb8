"""Mutual recognition in validation planning (issue 7 item 5; ctpat-domain.md §4.1, §4.3, §7).

Two things a validation takes from the foreign AEO programs the U.S. recognises through an MRA:

- **Covered sites.** When the account itself holds a foreign certification (a Mexican manufacturer in
  Mexico's OEA), each company site in a country that program certifies in is covered by the foreign
  customs' validation on the planning date, if the MRA is in force then and the certificate is valid
  (``portal.partners.recognition.sites_covered_by_mra``). The team may mark such a site covered: it
  becomes a no-go zone with the reason ``MRA_VALIDATED`` that names the certification, and no CBP
  visit can be proposed or suggested there (``visits`` refuses it). If the certification later stops
  counting (MRA suspended, certificate expired or removed, program no longer certifying in that
  country) the pages flag the coverage as no longer valid, and the team withdraws it to plan a visit.

  Covered sites are **proposed, not added automatically**: MRAs are non-binding, and CBP accepts a
  partner's foreign validation in place of its own visit case by case (risk, findings of the last
  visit, China excluded from virtual work...). So the sites page lists every covered company site that
  is not yet marked covered, with its program, MRA date and certificate, and one button marks it (adding
  it to the plan when it is not there yet). Choosing "Validated under a Mutual Recognition Arrangement"
  as the no-go reason in the ordinary site form goes through the same check, so no site is marked
  covered without a recognised certification.

- **MR records.** Foreign business partners of the account validated by their own customs under a
  recognised program: ``portal.validations.mr_records``, judged on the same planning date.

The planning date is today while the validation is open and the day it closed afterwards, so a closed
validation keeps the picture it was closed with. Services flush, record the validation's timeline and
the audit trail (``services.record_event``); views commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from portal import clock
from portal.auth.models import User
from portal.companies.countries import country_name, is_country
from portal.companies.models import Address
from portal.db import db_session
from portal.errors import DomainError
from portal.partners import queries as partner_queries
from portal.partners.models import AccountMraCertification, MraProgram
from portal.partners.recognition import (
    CertificationStanding,
    MraSiteCoverage,
    certification_standing,
    covering_certification,
    sites_covered_by_mra,
)
from portal.partners.screening import long_date
from portal.validations.models import Validation, ValidationSite
from portal.validations.services import NOTE_MAX, SITE_KINDS, open_validation, record_event
from portal.validations.workflow import NoGoReason, SiteMode, ValidationStatus, VisitStatus


def planning_date(validation: Validation, today: date | None = None) -> date:
    """The date recognition is judged on: today for an open validation, its closing day once closed."""
    if validation.status == ValidationStatus.CLOSED and validation.closed_at is not None:
        return validation.closed_at.date()
    return today or clock.today()


def _site_name(address: Address) -> str:
    return address.name or address.kind.label


def coverage_label(program: MraProgram, in_force_since: date | None, certificate_number: str,
                   expires_on: date | None) -> str:
    """The sentence the pages show, e.g. 'Covered by Mexico: ... (NEEC / OEA) (MRA in force since October 17,
    2014, certificate OEA-MX-1 expires June 30, 2027)'."""
    since = f"MRA in force since {long_date(in_force_since)}, " if in_force_since else ""
    expiry = f" expires {long_date(expires_on)}" if expires_on else ""
    return f"Covered by {program.display_name} ({since}certificate {certificate_number}{expiry})"


# --- reading: what the pages show ------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageCheck:
    """A site marked covered, judged again on the planning date."""

    site: ValidationSite
    valid: bool
    label: str
    problem: str = ""  # why the coverage no longer counts ("" while valid)


@dataclass(frozen=True)
class CoverageOffer:
    """A company site covered on the planning date that the plan does not yet mark covered."""

    coverage: MraSiteCoverage
    site: ValidationSite | None  # the site already planned for a visit, or None when not in the plan
    label: str
    blocked: str = ""  # why it cannot be marked now (a visit is planned there)

    @property
    def address(self) -> Address:
        return self.coverage.address


@dataclass
class PlanningRecognition:
    """Everything the sites and validation pages show about mutual recognition on ``on_date``."""

    on_date: date
    standings: list[CertificationStanding] = field(default_factory=list)
    covered: dict[int, CoverageCheck] = field(default_factory=dict)  # by ValidationSite id
    offers: list[CoverageOffer] = field(default_factory=list)

    @property
    def lapsed(self) -> list[CoverageCheck]:
        return [check for check in self.covered.values() if not check.valid]


def check_coverage(site: ValidationSite, on_date: date) -> CoverageCheck:
    """Whether a site marked covered is still covered on ``on_date``, with the sentence saying why not."""
    certification = site.mra_certification
    program = certification.program if certification is not None else site.mra_program
    number = site.mra_certificate_number or (certification.certificate_number if certification else "")
    if program is None:  # not covered at all (the CHECK constraint keeps covered rows named)
        return CoverageCheck(site, False, "Not covered", "No foreign program is recorded for this site.")
    if certification is None:
        return CoverageCheck(site, False, coverage_label(program, None, number, None),
                             "The foreign certification relied on is no longer recorded on the account.")
    standing = certification_standing(certification, on_date)
    label = coverage_label(program, standing.recognition.in_force_since, number, certification.expires_on)
    if not standing.recognised:
        return CoverageCheck(site, False, label, standing.reason)
    if site.address.country not in program.country_codes:
        return CoverageCheck(site, False, label, f"{program.display_name} does not certify sites in "
                                                 f"{country_name(site.address.country)}.")
    return CoverageCheck(site, True, label)


def planning_recognition(validation: Validation, on_date: date | None = None) -> PlanningRecognition:
    """``recognition_on`` the planning date, after loading the account's certifications with their
    programs and histories (a constant number of queries)."""
    rows = partner_queries.account_certifications(validation.account_id)
    # Hand the loaded rows to the account's collection: a discarded result would be garbage-collected
    # and the collection would load them (and their programs) again.
    set_committed_value(validation.account, "mra_certifications", rows)
    return recognition_on(validation, on_date or planning_date(validation))


def recognition_on(validation: Validation, day: date) -> PlanningRecognition:
    """The account's certifications on ``day``, the sites marked covered judged again, and the covered
    company sites the team may still mark (one click each). Reads only the objects given (no query
    once ``account.mra_certifications``, the company's addresses, sites and visits are loaded)."""
    certifications: list[AccountMraCertification] = list(validation.account.mra_certifications)
    result = PlanningRecognition(day, [certification_standing(c, day) for c in certifications])
    sites = {site.address_id: site for site in validation.sites}
    for site in validation.sites:
        if site.mra_covered:
            result.covered[site.id] = check_coverage(site, day)
    for coverage in sites_covered_by_mra(validation.account, day):
        site = sites.get(coverage.address.id)
        if site is not None and site.mra_covered:
            continue
        blocked = ""
        statuses = {v.status for v in validation.visits if site is not None and v.site_id == site.id}
        if VisitStatus.DONE in statuses:
            blocked = "The team has already visited this site for this validation."
        elif any(status.active for status in statuses):
            blocked = "A visit is planned there; cancel it first to rely on the foreign validation instead."
        label = coverage_label(coverage.program, coverage.in_force_since, coverage.certification.certificate_number,
                               coverage.certification.expires_on)
        result.offers.append(CoverageOffer(coverage, site, label, blocked))
    return result


# --- covered sites -----------------------------------------------------------------------------------


def _not_covered_message(validation: Validation, address: Address, on_date: date) -> str:
    """Why no certification of the account covers the address on the date (for the refusal)."""
    country = address.country
    where = country_name(country) if is_country(country) else country
    head = (f"No recognised foreign AEO certification of the account covers {_site_name(address)} in {where} on "
            f"{long_date(on_date)}, so a CBP visit is still needed there.")
    certifications = list(validation.account.mra_certifications)
    if not certifications:
        return f"{head} The account has no foreign AEO certification on record."
    here = [c for c in certifications if country in c.program.country_codes]
    if not here:
        names = ", ".join(c.program.display_name for c in certifications)
        return f"{head} Its certification ({names}) does not certify sites in {where}."
    reasons = " ".join(f"{c.program.display_name}: {certification_standing(c, on_date).reason}" for c in here)
    return f"{head} {reasons}"


def mark_covered(validation: Validation, address: Address, *, by: User, note: str = "",
                 on_date: date | None = None) -> ValidationSite:
    """Mark a company site as covered by the foreign program's validation: no CBP visit is planned there.

    Adds the site to the plan when it is not there yet; a site already planned for a visit is converted.
    The timeline records the program, MRA date and certificate relied on, and the team's reason.

    :raise DomainError: when planning is closed, the address is not one of the company's sites, it is
        already marked covered, a visit is planned there, or no recognised certification of the account
        covers its country on the planning date.
    """
    open_validation(validation)
    day = on_date or planning_date(validation)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise DomainError(f"The reason is longer than {NOTE_MAX:,} characters.", field="note")
    if address.company_id != validation.account.company_id or address.kind not in SITE_KINDS:
        raise DomainError("Choose one of the company's facilities.", field="address_id")
    site = next((s for s in validation.sites if s.address_id == address.id), None)
    if site is not None and site.mra_covered:
        raise DomainError(f"{_site_name(address)} is already marked covered by the foreign validation.",
                          field="address_id")
    if site is not None and any(v.site_id == site.id and v.status == VisitStatus.DONE for v in validation.visits):
        raise DomainError(f"The team has already visited {_site_name(address)} for this validation.",
                          field="address_id")
    if site is not None and any(v.site_id == site.id and v.status.active for v in validation.visits):
        raise DomainError(f"A visit to {_site_name(address)} is planned; cancel it before relying on the foreign "
                          "validation instead.", field="address_id")
    certification = covering_certification(validation.account, address.country, day)
    if certification is None:
        raise DomainError(_not_covered_message(validation, address, day), field="address_id")
    standing = certification_standing(certification, day)
    if site is None:
        site = ValidationSite(validation_id=validation.id, address_id=address.id, mode=SiteMode.ONSITE)
        site.address = address
        validation.sites.append(site)
    site.no_go, site.no_go_reason, site.no_go_note = True, NoGoReason.MRA_VALIDATED, note
    site.mra_certification_id, site.mra_certification = certification.id, certification
    site.mra_program_id, site.mra_program = certification.program_id, certification.program
    site.mra_certificate_number, site.mra_checked_on = certification.certificate_number, day
    try:
        db_session.flush()
    except IntegrityError:  # someone else added the same site in between (the plan's unique constraint)
        raise DomainError(f"{_site_name(address)} was added to the validation's visit plan by someone else at the "
                          "same time; reload the sites page and mark it covered there.", field="address_id") from None
    label = coverage_label(certification.program, standing.recognition.in_force_since,
                           certification.certificate_number, certification.expires_on)
    record_event(validation, "site_mra_covered", by=by,
                 note=f"{_site_name(address)}, {address.one_line}: {label}; no CBP visit planned there."
                      + (f" Reason: {note}" if note else ""))
    return site


def withdraw_coverage(site: ValidationSite, *, by: User, note: str = "", on_date: date | None = None) -> None:
    """Stop relying on the foreign validation at a site, so the team can plan a CBP visit there.

    :raise DomainError: when planning is closed or the site is not marked covered.
    """
    validation = site.validation
    open_validation(validation)
    if not site.mra_covered:
        raise DomainError("This site is not marked covered by a foreign validation.")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise DomainError(f"The reason is longer than {NOTE_MAX:,} characters.", field="note")
    check = check_coverage(site, on_date or planning_date(validation))
    why = note or check.problem or "The team plans a CBP visit instead."
    site.no_go, site.no_go_reason, site.no_go_note = False, None, ""
    site.mra_certification_id, site.mra_certification = None, None
    site.mra_program_id, site.mra_program = None, None
    site.mra_certificate_number = site.mra_checked_on = None
    db_session.flush()
    record_event(validation, "site_mra_coverage_withdrawn", by=by,
                 note=f"{_site_name(site.address)}, {site.address.one_line}: a CBP visit may be planned. Reason: {why}")


def visit_refusal(site: ValidationSite) -> str:
    """The message ``visits`` gives when a visit is asked for at a covered site ("" for other sites)."""
    if not site.mra_covered:
        return ""
    program = site.mra_program.display_name if site.mra_program is not None else "a foreign AEO program"
    return (f"{_site_name(site.address)} is covered by the validation of {program} under an MRA, so no CBP visit is "
            "planned there. Withdraw the coverage on the sites page first if the team needs to visit.")

"""Recognition in validation planning, as a table (issue 7 item 5): which company sites the account's own
foreign AEO certification covers on the planning date, how a site marked covered is judged again later,
and the refusal of a visit there. Built from unsaved model objects: no database, no clock."""

from __future__ import annotations

from datetime import date

import pytest

from portal.companies.models import Address, Company, TradeAccount
from portal.companies.workflow import AddressKind
from portal.partners.enums import MraStatus
from portal.partners.models import AccountMraCertification, MraProgram, MraStatusChange
from portal.validations.models import Validation, ValidationSite
from portal.validations.recognition import check_coverage, coverage_label, recognition_on, visit_refusal
from portal.validations.workflow import NoGoReason, SiteMode, ValidationStatus

ON = date(2026, 3, 1)
IN_FORCE, JWP, SUSPENDED = MraStatus.IN_FORCE, MraStatus.JOINT_WORK_PLAN, MraStatus.SUSPENDED

MX_MRA = ((date(2014, 10, 17), IN_FORCE),)
GT_HISTORY = ((date(2022, 7, 1), JWP), (date(2023, 4, 17), IN_FORCE))


def program(code: str, countries: str, steps: tuple[tuple[date, MraStatus], ...]) -> MraProgram:
    return MraProgram(code=code, partner=code, countries=countries, customs_administration="Customs",
                      program_name=f"{code} OEA",
                      changes=[MraStatusChange(status=status, effective_on=day) for day, status in steps])


def world(steps: tuple[tuple[date, MraStatus], ...], expires_on: date, site_country: str = "MX",
          program_countries: str = "MX") -> tuple[Validation, Address]:
    """An account holding one certification, a company with one facility and a mailing address."""
    facility = Address(id=1, kind=AddressKind.FACILITY, name="Planta", line1="1 Calle", city="X",
                       country=site_country)
    mailing = Address(id=2, kind=AddressKind.MAILING, name="Apartado", line1="2 Calle", city="X",
                      country=site_country)
    company = Company(id=1, legal_name="Bravo", addresses=[facility, mailing])
    for address in (facility, mailing):
        address.company_id = 1
    account = TradeAccount(id=1, company_id=1, company=company)
    certification = AccountMraCertification(id=7, program=program("P", program_countries, steps),
                                            certificate_number="OEA-1", expires_on=expires_on)
    account.mra_certifications = [certification]
    validation = Validation(id=1, account=account, account_id=1, status=ValidationStatus.PLANNED, sites=[], visits=[])
    return validation, facility


CASES = [
    # (case, MRA history, certificate expiry, site country, program countries, covered?)
    ("MRA in force, certificate valid", MX_MRA, date(2027, 6, 30), "MX", "MX", True),
    ("only a joint work plan", ((date(2022, 7, 1), JWP),), date(2027, 6, 30), "MX", "MX", False),
    ("MRA suspended", MX_MRA + ((date(2025, 6, 1), SUSPENDED),), date(2027, 6, 30), "MX", "MX", False),
    ("certificate expired", MX_MRA, date(2026, 2, 1), "MX", "MX", False),
    ("certificate expired before the MRA took effect", GT_HISTORY, date(2023, 1, 31), "GT", "GT", False),
    ("site in a country the program does not cover", MX_MRA, date(2027, 6, 30), "GT", "MX", False),
    ("an EU member state under the EU program", ((date(2012, 5, 1), IN_FORCE),), date(2027, 6, 30), "DE",
     "AT,DE,FR", True),
    ("MRA announced for a later date", ((date(2026, 6, 1), IN_FORCE),), date(2027, 6, 30), "MX", "MX", False),
]


@pytest.mark.parametrize(("case", "steps", "expires", "country", "countries", "covered"), CASES,
                         ids=[case[0] for case in CASES])
def test_recognition_in_validation_planning(case, steps, expires, country, countries, covered):
    validation, facility = world(steps, expires, country, countries)
    planning = recognition_on(validation, ON)
    offered = [offer.address for offer in planning.offers]
    assert offered == ([facility] if covered else [])   # never the mailing address
    assert planning.standings[0].recognised == (covered or country not in countries.split(","))


def test_a_covered_offer_says_program_mra_date_and_certificate():
    validation, _facility = world(MX_MRA, date(2027, 6, 30))
    [offer] = recognition_on(validation, ON).offers
    assert offer.label == ("Covered by P: P OEA (MRA in force since October 17, 2014, certificate OEA-1 expires "
                           "June 30, 2027)")
    assert offer.site is None and not offer.blocked


def covered_site(validation: Validation, facility: Address) -> ValidationSite:
    certification = validation.account.mra_certifications[0]
    site = ValidationSite(id=11, address=facility, address_id=facility.id, mode=SiteMode.ONSITE, no_go=True,
                          no_go_reason=NoGoReason.MRA_VALIDATED, mra_certification=certification,
                          mra_program=certification.program, mra_certificate_number="OEA-1", no_go_note="")
    validation.sites.append(site)
    return site


def test_a_site_marked_covered_is_no_longer_offered_and_stays_valid_while_recognised():
    validation, facility = world(MX_MRA, date(2027, 6, 30))
    site = covered_site(validation, facility)
    planning = recognition_on(validation, ON)
    assert planning.offers == [] and planning.covered[site.id].valid and planning.lapsed == []


@pytest.mark.parametrize(("case", "steps", "expires", "day", "problem"), [
    ("suspended later", MX_MRA + ((date(2026, 5, 1), SUSPENDED),), date(2027, 6, 30), date(2026, 5, 2),
     "The MRA is suspended since May 1, 2026"),
    ("certificate expired later", MX_MRA, date(2026, 4, 30), date(2026, 5, 2), "The certificate expired on April 30"),
])
def test_coverage_is_flagged_once_the_certification_stops_counting(case, steps, expires, day, problem):
    validation, facility = world(steps, expires)
    site = covered_site(validation, facility)
    assert check_coverage(site, ON).valid
    later = recognition_on(validation, day)
    [check] = later.lapsed
    assert check.site is site and problem in check.problem


def test_coverage_is_flagged_when_the_certification_is_removed():
    validation, facility = world(MX_MRA, date(2027, 6, 30))
    site = covered_site(validation, facility)
    site.mra_certification = None
    check = check_coverage(site, ON)
    assert not check.valid and "no longer recorded" in check.problem
    assert check.label.startswith("Covered by P: P OEA (certificate OEA-1")


def test_a_site_planned_for_a_visit_is_offered_but_blocked_while_the_visit_is_active():
    from portal.validations.models import Visit
    from portal.validations.workflow import VisitStatus

    validation, facility = world(MX_MRA, date(2027, 6, 30))
    site = ValidationSite(id=12, address=facility, address_id=facility.id, mode=SiteMode.ONSITE, no_go=False)
    validation.sites.append(site)
    validation.visits.append(Visit(id=3, site_id=12, status=VisitStatus.PROPOSED))
    [offer] = recognition_on(validation, ON).offers
    assert offer.site is site and "cancel it first" in offer.blocked
    validation.visits[0].status = VisitStatus.CANCELLED
    [offer] = recognition_on(validation, ON).offers
    assert offer.blocked == ""
    validation.visits[0].status = VisitStatus.DONE
    [offer] = recognition_on(validation, ON).offers
    assert "already visited" in offer.blocked


def test_visit_refusal_names_the_program():
    validation, facility = world(MX_MRA, date(2027, 6, 30))
    site = covered_site(validation, facility)
    assert "covered by the validation of P: P OEA under an MRA" in visit_refusal(site)
    site.no_go_reason = NoGoReason.BUDGET
    assert visit_refusal(site) == ""


def test_coverage_label_without_dates():
    assert coverage_label(program("P", "MX", ()), None, "X-1", None) == "Covered by P: P OEA (certificate X-1)"

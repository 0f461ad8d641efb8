"""Validation demo data (issue 5, item 9), loaded after the profile demo:

- Swift Haul (certified by the profile demo) gets a foreign yard in Monterrey and a scheduled initial
  validation with a domestic visit in Laredo and a foreign visit in Monterrey.
- Pacific Rim Importers (a new importer) is certified, validated with an answered and accepted
  required action and a recommendation, and is now ``validated`` at Tier 2.
- Ensambles del Golfo (a new Mexican foreign manufacturer, certified in Mexico's OEA) has a planned
  initial validation (issue 7 item 5): its Reynosa plant is covered by the OEA validation under the
  MRA (no CBP visit), its Matamoros plant is offered for the same with one click, its McAllen cross-dock
  gets a CBP visit, and two MR records name foreign partners validated under the Guatemalan and
  Colombian programs (one taken from its partner register).

Call ``load_validation_demo(users, accounts)`` from ``portal.demo.load_demo_data``; it does nothing
when a validation exists already. Returns the extra demo sign-ins it created.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select

from portal import clock
from portal.auth.models import User
from portal.auth.passwords import hash_password
from portal.companies import applications, eligibility
from portal.companies import services as company_services
from portal.companies.business_types import BusinessType
from portal.companies.identifiers import IdentifierKind
from portal.companies.models import TradeAccount
from portal.companies.workflow import AddressKind, OwnershipType
from portal.db import db_session
from portal.validations import findings, services, visits
from portal.validations.models import Validation
from portal.validations.workflow import FindingKind, SiteMode

PACIFIC_OFFICER = ("officer@pacific-rim.example", "Priya Patel", "officer, Pacific Rim Importers")
ENSAMBLES_OFFICER = ("officer@ensambles-golfo.example", "Lucía Garza", "officer, Ensambles del Golfo")


def _weekday_after(days: int) -> date:
    day = clock.today() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _window(day: date, zone: str, days: int = 1) -> visits.LocalWindow:
    return visits.LocalWindow(day, time(9), day + timedelta(days=days - 1), time(17), zone)


def _scheduled_validation(swift: TradeAccount, users: dict[str, User]) -> None:
    lead, member = users["reviewer@cbp.example"], users["reviewer2@cbp.example"]
    officer = users["officer@swift-haul.example"]
    yard = company_services.add_address(swift.company, company_services.AddressData(
        kind=AddressKind.FOREIGN_SITE, name="Monterrey cross-dock yard", line1="Carretera a Laredo km 12",
        city="Escobedo", region="Nuevo Leon", postal_code="66050", country="MX", timezone="America/Monterrey",
        visitable=True), by=officer)
    validation = services.create_validation(swift, lead, by=lead)
    services.set_team(validation, lead, [member], by=lead)
    hq = services.add_site(validation, swift.company.headquarters, SiteMode.ONSITE, by=lead)
    foreign = services.add_site(validation, yard, SiteMode.ONSITE, by=lead)
    domestic_day = _weekday_after(45)
    visits.schedule_visit(validation, hq, _window(domestic_day, "America/Chicago"), by=lead)
    # A travel day between the countries, as the conflict rules require.
    foreign_visit = visits.schedule_visit(validation, foreign,
                                          _window(_weekday_after(48), "America/Monterrey", days=2), by=lead)
    visits.confirm_visit(foreign_visit, by=officer)


def _demo_officer(person: tuple[str, str, str]) -> User:
    email, name, _role = person
    officer = db_session.scalar(select(User).where(User.email == email))
    if officer is None:
        from portal.demo import DEMO_PASSWORD

        officer = User(email=email, full_name=name, password_hash=hash_password(DEMO_PASSWORD),
                       password_changed_at=clock.utcnow())
        db_session.add(officer)
        db_session.flush()
    return officer


def _certified(users: dict[str, User], officer: User, data: company_services.CompanyData,
               addresses: list[company_services.AddressData], business_type: BusinessType,
               identifiers: tuple[tuple[IdentifierKind, str], ...]) -> TradeAccount:
    """A new company (first address = headquarters) whose account is certified the real way: a complete
    profile, rated and recommended by ``reviewer2``, approved by the supervisor."""
    from portal.demo_profiles import submitted_profile  # the profile demo's helper: a complete, submitted profile
    from portal.reviews import decisions
    from portal.reviews import services as review_services
    from portal.reviews.scoring import Rating
    from portal.reviews.workflow import Recommendation

    company = company_services.create_company(data, addresses[0], by=officer)
    for address in addresses[1:]:
        company_services.add_address(company, address, by=officer)
    account = applications.open_account(company, business_type, by=officer)
    applications.save_eligibility(account, {q.key: not q.knock_out_answer
                                            for q in eligibility.questions_for(business_type)}, by=officer)
    for kind, value in identifiers:
        applications.add_identifier(account, kind, value, by=officer)
    applications.finish_identifiers(account, by=officer)
    applications.sign_agreement(account, officer.full_name, by=officer, ip_address="127.0.0.1")
    review = submitted_profile(account, officer)
    reviewer = users["reviewer2@cbp.example"]
    review_services.assign(review, reviewer, by=reviewer)
    review_services.start(review, by=reviewer)
    for criterion in review_services.criteria_in_version(review).values():
        review_services.save_rating(review, criterion, review_services.RatingInput(
            Rating.MEETS, "", tuple(criterion.checklist), None), by=reviewer)
    decisions.recommend(review, Recommendation.CERTIFY, "Meets every Must.", by=reviewer)
    decisions.decide(review, by=users["supervisor@cbp.example"])
    db_session.flush()
    return account


def _pacific_rim(users: dict[str, User]) -> TradeAccount:
    return _certified(
        users, _demo_officer(PACIFIC_OFFICER),
        company_services.CompanyData(legal_name="Pacific Rim Importers Corp.", dba="Pacific Rim",
                                     ownership_type=OwnershipType.CORPORATION, phone="+1 562 555 0500",
                                     business_start_date=date(2003, 3, 3), employee_count=310,
                                     history="Imports consumer electronics from Vietnam through Long Beach."),
        [company_services.AddressData(kind=AddressKind.HEADQUARTERS, line1="400 Ocean Blvd", city="Long Beach",
                                      region="CA", postal_code="90802", country="US",
                                      timezone="America/Los_Angeles", visitable=True),
         company_services.AddressData(kind=AddressKind.FOREIGN_SITE, name="Binh Duong supplier plant",
                                      line1="VSIP II, Lot C3", city="Thu Dau Mot", country="VN",
                                      timezone="Asia/Ho_Chi_Minh", visitable=True)],
        BusinessType.IMPORTER, ((IdentifierKind.IOR, "95-3123456"), (IdentifierKind.BOND, "123450987")))


def _validated(account: TradeAccount, users: dict[str, User]) -> None:
    lead, supervisor = users["reviewer2@cbp.example"], users["supervisor@cbp.example"]
    officer = next(m.user for m in account.company.memberships if m.role.value == "officer")
    validation = services.create_validation(account, lead, by=lead)
    for address in services.offered_addresses(account):
        services.add_site(validation, address, SiteMode.VIRTUAL, by=lead)
    action = findings.add_finding(validation, "5.1", FindingKind.REQUIRED_ACTION,
                                  "Container inspections at the Long Beach transload are not documented with the "
                                  "seven-point checklist.", by=lead, due_on=services.default_finding_due())
    findings.add_finding(validation, "1.1", FindingKind.RECOMMENDATION,
                         "Share the supply chain security statement with the Vietnamese supplier.", by=lead)
    findings.save_report(validation, "Virtual validation of the Long Beach headquarters and the Binh Duong "
                                     "supplier. Security measures are implemented as described; one required "
                                     "action on container inspection records.", by=lead)
    findings.submit_report(validation, by=lead)
    findings.approve_report(validation, by=supervisor)
    findings.send_report(validation, by=lead)
    findings.answer_finding(action, "Seven-point inspection checklist introduced at the transload on 2 March; "
                                    "the shift lead signs each form and the security manager audits them weekly.",
                            [], by=officer)
    findings.review_answer(action, True, "Checklist and audit log seen.", by=lead)
    findings.close_validation(validation, by=lead)


def _ensambles(users: dict[str, User]) -> TradeAccount:
    """A Mexican foreign manufacturer with two plants in Tamaulipas and a cross-dock in McAllen."""
    return _certified(
        users, _demo_officer(ENSAMBLES_OFFICER),
        company_services.CompanyData(legal_name="Ensambles del Golfo, S.A. de C.V.", dba="Ensambles del Golfo",
                                     ownership_type=OwnershipType.CORPORATION, phone="+52 899 555 0700",
                                     business_start_date=date(1998, 3, 12), employee_count=1150,
                                     history="Assembles wire harnesses and small motors for U.S. importers; "
                                             "certified in Mexico's OEA since 2021."),
        [company_services.AddressData(kind=AddressKind.HEADQUARTERS, name="Planta Reynosa",
                                      line1="Parque Industrial Colonial, Calle 3 No. 120", city="Reynosa",
                                      region="Tamaulipas", postal_code="88787", country="MX",
                                      timezone="America/Matamoros", visitable=True),
         company_services.AddressData(kind=AddressKind.FACILITY, name="Planta Matamoros",
                                      line1="Parque Industrial del Norte, Av. Uniones 45", city="Matamoros",
                                      region="Tamaulipas", postal_code="87316", country="MX",
                                      timezone="America/Matamoros", visitable=True),
         company_services.AddressData(kind=AddressKind.FACILITY, name="McAllen cross-dock",
                                      line1="3900 N 10th St", city="McAllen", region="TX", postal_code="78501",
                                      country="US", timezone="America/Chicago", visitable=True)],
        BusinessType.FOREIGN_MANUFACTURER, ((IdentifierKind.MID, "MXENSDEL120REY"),
                                            (IdentifierKind.RFC, "EGO980312KT5")))


def _mutual_recognition(account: TradeAccount, users: dict[str, User]) -> None:
    """The account's own OEA certification, a planned validation whose Reynosa plant is covered by the
    OEA validation (the Matamoros plant is left for the team to mark with one click), a CBP visit to the
    McAllen cross-dock, and two MR records (one from the partner register, one typed in)."""
    from portal.partners import mra
    from portal.partners import services as partner_services
    from portal.partners.enums import AssessmentResult, AssessmentType, CertificationKind, PartnerRole, RiskRating
    from portal.partners.models import MraProgram
    from portal.validations import mr_records, recognition

    lead, member = users["reviewer2@cbp.example"], users["reviewer@cbp.example"]
    officer = next(m.user for m in account.company.memberships if m.role.value == "officer")
    mra.seed_mra_programs(by=officer)
    programs = {code: pid for pid, code in db_session.execute(select(MraProgram.id, MraProgram.code))}
    today = clock.today()
    mra.add_account_certification(account, mra.AccountCertificationInput(
        program_id=programs["MX"], certificate_number="OEA-MX-2021-00874", certified_on=today - timedelta(days=800),
        expires_on=today + timedelta(days=500)), by=officer)
    supplier = partner_services.create_partner(account, partner_services.PartnerInput(
        name="Hilos y Cables de Centroamérica S.A.", role=PartnerRole.MANUFACTURER, country="GT",
        city="Villa Nueva", certification=CertificationKind.AEO, mra_program_id=programs["GT"],
        certificate_number="OEA-GT-0141", certificate_expires_on=today + timedelta(days=600),
        last_assessed_on=today - timedelta(days=150), last_assessment_type=AssessmentType.QUESTIONNAIRE,
        last_assessment_result=AssessmentResult.MEETS, risk_rating=RiskRating.LOW,
        risk_reason="Copper wire supplier; OEA certified under the 2023 MRA."), by=officer)
    db_session.flush()
    db_session.expire(account, ["mra_certifications"])

    validation = services.create_validation(account, lead, by=lead)
    services.set_team(validation, lead, [member], by=lead)
    addresses = {a.name: a for a in account.company.addresses}
    cross_dock = services.add_site(validation, addresses["McAllen cross-dock"], SiteMode.ONSITE, by=lead)
    recognition.mark_covered(validation, addresses["Planta Reynosa"], by=lead,
                             note="SAT validated the plant for the OEA renewal with no findings; accepted as "
                                  "validation of the plant under the MRA.")
    visits.schedule_visit(validation, cross_dock, _window(_weekday_after(60), "America/Chicago"), by=lead)
    mr_records.add_mr_record(validation, mr_records.MrRecordInput(
        validated_on=today - timedelta(days=210), business_partner_id=supplier.id,
        notes="SAT Guatemala validation report seen."), by=lead)
    mr_records.add_mr_record(validation, mr_records.MrRecordInput(
        validated_on=today - timedelta(days=95), partner_name="Resinas Andinas S.A.S.", country="CO",
        program_id=programs["CO"], certificate_number="OEA-CO-2024-0588",
        notes="Resin supplier shipping through Cartagena; DIAN validation in the OEA renewal."), by=lead)


def load_validation_demo(users: dict[str, User], accounts: dict[str, TradeAccount]) -> list[tuple[str, str, str]]:
    """Create the validation demo unless a validation exists; returns the extra (e-mail, name, role) sign-ins."""
    if db_session.scalar(select(Validation.id).limit(1)) is not None:
        return []
    _scheduled_validation(accounts["swift"], users)
    _validated(_pacific_rim(users), users)
    _mutual_recognition(_ensambles(users), users)
    db_session.flush()
    return [PACIFIC_OFFICER, ENSAMBLES_OFFICER]

"""Mutual recognition in validations (issue 7 item 5): sites covered by the account's own foreign AEO
certification (offered with one click, refused without recognition, never visited, flagged when the
recognition lapses, withdrawn to plan a visit) and MR records (checked, listed, one click from the
partner register), through the services and the pages, with the SQL statement count of the page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.clock import today
from portal.companies.models import Address, TradeAccount
from portal.db import db_session
from portal.errors import DomainError
from portal.partners import mra
from portal.partners import services as partner_services
from portal.partners.enums import AssessmentResult, AssessmentType, CertificationKind, MraStatus, PartnerRole
from portal.partners.models import AccountMraCertification, MraProgram
from portal.validations import mr_records, recognition, services, visits
from portal.validations.models import Validation, ValidationMrRecord, ValidationSite, Visit
from portal.validations.workflow import NoGoReason, SiteMode
from tests.functional.test_validations import next_weekday, planned, user, visit_form, window

MX_NAME = "Mexico: New Certified Companies Scheme (NEEC / OEA)"


def program_id(code: str) -> int:
    return db_session.scalar(select(MraProgram.id).where(MraProgram.code == code))


def certify_abroad(account_id: int, cast: Any, code: str = "MX", *, expires: date | None = None,
                   number: str = "OEA-MX-2022-00317") -> AccountMraCertification:
    """Record the account's own foreign certification (programs seeded), in the current app context."""
    mra.seed_mra_programs()
    account = db_session.get(TradeAccount, account_id)
    row = mra.add_account_certification(account, mra.AccountCertificationInput(
        program_id=program_id(code), certificate_number=number,
        expires_on=expires or today() + timedelta(days=400)), by=user("officer_b", cast))
    db_session.expire(account, ["mra_certifications"])
    return row


@pytest.fixture
def bravo(app: Any, cast: Any) -> dict[str, int]:
    """Company B (a Mexican manufacturer, headquarters in MX) certified, with a planned validation led by
    ``reviewer`` alone (``reviewer2`` is not on the team): a Chicago site and a Monterrey site, on site."""
    return planned(app, cast, account="account_b", members=())


def _validation() -> Validation:
    return db_session.scalar(select(Validation))


def _site(site_id: int) -> ValidationSite:
    return db_session.get(ValidationSite, site_id)


def _page(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


# -- covered sites: the rules ----------------------------------------------------------------------


def test_marking_a_site_covered_is_refused_without_a_recognised_certification(app, cast, bravo):
    with app.app_context():
        validation, lead = _validation(), user("reviewer", cast)
        monterrey = _site(bravo["mx_site"]).address
        with pytest.raises(DomainError, match="has no foreign AEO certification on record") as caught:
            recognition.mark_covered(validation, monterrey, by=lead)
        assert "a CBP visit is still needed there" in caught.value.message
        # The ordinary site form's "validated under an MRA" goes through the same check.
        other = monterrey.company.addresses[0]
        with pytest.raises(DomainError, match="no foreign AEO certification"):
            services.add_site(validation, other, SiteMode.ONSITE, by=lead, no_go=True,
                              no_go_reason=NoGoReason.MRA_VALIDATED)
        certify_abroad(bravo["account"], cast, "GT", number="OEA-GT-1")
        with pytest.raises(DomainError, match="does not certify sites in Mexico"):
            recognition.mark_covered(validation, monterrey, by=lead)
        certify_abroad(bravo["account"], cast, "MX", expires=today() - timedelta(days=1))
        with pytest.raises(DomainError, match="The certificate expired on"):
            recognition.mark_covered(validation, monterrey, by=lead)
        chicago = _site(bravo["us_site"]).address
        with pytest.raises(DomainError, match="covers Chicago DC in United States"):
            recognition.mark_covered(validation, chicago, by=lead)
        assert not _site(bravo["mx_site"]).no_go


def test_a_covered_site_is_marked_with_its_certification_and_recorded_in_the_history(app, cast, bravo):
    with app.app_context():
        certification = certify_abroad(bravo["account"], cast)
        validation, lead = _validation(), user("reviewer", cast)
        planning = recognition.planning_recognition(validation)
        offered = {offer.address.name or offer.address.kind.value: offer for offer in planning.offers}
        assert set(offered) == {"headquarters", "Monterrey plant"}      # never Chicago
        assert offered["Monterrey plant"].site.id == bravo["mx_site"]
        assert offered["headquarters"].site is None                     # not in the plan yet: offered, not added
        assert len(validation.sites) == 2
        site = recognition.mark_covered(validation, offered["Monterrey plant"].address, by=lead,
                                        note="SAT validated the plant in 2025.")
        assert site.id == bravo["mx_site"] and site.mra_covered
        assert (site.mra_certification_id, site.mra_program.code, site.mra_certificate_number) == (
            certification.id, "MX", "OEA-MX-2022-00317")
        [event_] = [e for e in validation.events if e.kind == "site_mra_covered"]
        assert f"Covered by {MX_NAME} (MRA in force since October 17, 2014" in event_.note
        assert "Reason: SAT validated the plant in 2025." in event_.note
        assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "validation.site_mra_covered")) == 1
        with pytest.raises(DomainError, match="already marked covered"):
            recognition.mark_covered(validation, site.address, by=lead)
        hq = recognition.mark_covered(validation, offered["headquarters"].address, by=lead)
        assert hq in validation.sites and hq.mra_covered
        assert recognition.planning_recognition(validation).offers == []


def test_no_visit_is_planned_at_a_covered_site_and_the_suggestion_skips_it(app, client, login, cast, bravo):
    day = next_weekday(today() + timedelta(days=45))
    with app.app_context():
        certify_abroad(bravo["account"], cast)
        validation, lead = _validation(), user("reviewer", cast)
        site = _site(bravo["mx_site"])
        recognition.mark_covered(validation, site.address, by=lead)
        with pytest.raises(DomainError, match="no CBP visit is planned there"):
            visits.schedule_visit(validation, site, window(day, tz="America/Monterrey"), by=lead)
        with pytest.raises(DomainError, match="no CBP visit is planned there"):
            visits.suggest(validation, site, day, day + timedelta(days=30), 1, "America/Monterrey")
        db_session.commit()
    login(cast.email("reviewer"))
    suggest_page = _page(client, f"/validations/{bravo['validation']}/suggest")
    assert f'<option selected value="{bravo["us_site"]}"' in suggest_page
    assert f'<option value="{bravo["mx_site"]}"' not in suggest_page
    searched = client.get(f"/validations/{bravo['validation']}/suggest", query_string={
        "site_id": bravo["mx_site"], "from_day": day.isoformat(), "to_day": (day + timedelta(days=30)).isoformat(),
        "days": 1, "timezone": "America/Monterrey"}).get_data(as_text=True)
    assert "Not a valid choice" in searched and "Earliest window" not in searched
    new_visit = _page(client, f"/validations/{bravo['validation']}/visits/new")
    assert f'value="{bravo["us_site"]}">' in new_visit and f'value="{bravo["mx_site"]}">' not in new_visit
    refused = client.post(f"/validations/{bravo['validation']}/visits/new",
                          data=visit_form(bravo["mx_site"], day, tz="America/Monterrey"))
    assert refused.status_code == 200
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(Visit)) == 0


def test_a_site_with_a_planned_visit_is_not_marked_covered_until_the_visit_is_cancelled(app, cast, bravo):
    day = next_weekday(today() + timedelta(days=45))
    with app.app_context():
        certify_abroad(bravo["account"], cast)
        validation, lead = _validation(), user("reviewer", cast)
        site = _site(bravo["mx_site"])
        visit = visits.schedule_visit(validation, site, window(day, tz="America/Monterrey"), by=lead)
        [offer] = [o for o in recognition.planning_recognition(validation).offers if o.site is site]
        assert "cancel it first" in offer.blocked
        with pytest.raises(DomainError, match="cancel it before relying on the foreign validation"):
            recognition.mark_covered(validation, site.address, by=lead)
        visits.cancel_visit(visit, "The OEA validation is relied on instead.", by=lead)
        assert recognition.mark_covered(validation, site.address, by=lead).mra_covered


def test_coverage_is_flagged_when_the_mra_is_later_suspended_and_withdrawn_to_plan_a_visit(app, client, login, cast,
                                                                                          bravo):
    with app.app_context():
        certify_abroad(bravo["account"], cast)
        recognition.mark_covered(_validation(), _site(bravo["mx_site"]).address, by=user("reviewer", cast))
        db_session.commit()
    login(cast.email("reviewer"))
    show = f"/validations/{bravo['validation']}"
    page = _page(client, show)
    assert "No CBP visit" in page
    assert f"Covered by {MX_NAME} (MRA in force since October 17, 2014, certificate OEA-MX-2022-00317" in page
    assert "Coverage no longer valid" not in page
    with app.app_context():
        program = db_session.get(MraProgram, program_id("MX"))
        mra.record_status_change(program, MraStatus.SUSPENDED, today(), by=user("admin", cast))
        db_session.commit()
    page = _page(client, show)
    assert "Coverage no longer valid" in page and "The MRA is suspended since" in page and "Plan a visit" in page
    sites_page = _page(client, f"{show}/sites")
    assert "Coverage no longer valid" in sites_page and "Withdraw the coverage and plan a visit" in sites_page
    response = client.post(f"{show}/sites/{bravo['mx_site']}/coverage/withdraw", data={"note": ""})
    assert response.status_code == 302
    with app.app_context():
        site = _site(bravo["mx_site"])
        assert not site.no_go and site.mra_program_id is None and site.mode == SiteMode.ONSITE
        [event_] = [e for e in _validation().events if e.kind == "site_mra_coverage_withdrawn"]
        assert "The MRA is suspended since" in event_.note
    day = next_weekday(today() + timedelta(days=45))
    scheduled = client.post(f"{show}/visits/new", data=visit_form(bravo["mx_site"], day, tz="America/Monterrey"))
    assert scheduled.status_code == 302


def test_coverage_is_flagged_when_the_certification_is_removed(app, client, login, cast, bravo):
    with app.app_context():
        certification = certify_abroad(bravo["account"], cast)
        recognition.mark_covered(_validation(), _site(bravo["mx_site"]).address, by=user("reviewer", cast))
        db_session.commit()
        mra.remove_account_certification(db_session.get(AccountMraCertification, certification.id),
                                         by=user("officer_b", cast))
        db_session.commit()
        db_session.expire_all()
        site = _site(bravo["mx_site"])
        assert site.mra_certification_id is None and site.mra_covered
    login(cast.email("reviewer"))
    page = _page(client, f"/validations/{bravo['validation']}")
    assert "Coverage no longer valid" in page and "no longer recorded on the account" in page


def test_the_sites_page_offers_covered_sites_with_one_click(app, client, login, cast, bravo):
    with app.app_context():
        certify_abroad(bravo["account"], cast)
        db_session.commit()
        hq_id = db_session.scalar(select(Address.id).where(Address.company_id == cast.company_b.id,
                                                          Address.name.is_(None)))
    login(cast.email("reviewer"))
    url = f"/validations/{bravo['validation']}/sites"
    page = _page(client, url)
    assert "Foreign AEO certification (mutual recognition)" in page and "Recognised" in page
    assert page.count(f"Covered by {MX_NAME} (MRA in force since October 17, 2014") == 2   # HQ and Monterrey
    assert "(not in the plan yet)" in page and "(in the plan: on site)" in page
    assert "covered by a foreign validation under an MRA" in page                           # the add-site choices
    response = client.post(f"/validations/{bravo['validation']}/coverage", data={"address_id": hq_id, "note": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sites#recognition")
    page = _page(client, url)
    assert page.count("Mark covered: no CBP visit") == 1 and "No CBP visit" in page
    show = _page(client, f"/validations/{bravo['validation']}")
    assert "Also covered by the account's foreign AEO certification" in show and "Monterrey plant" in show
    # The ordinary form with the MRA no-go reason marks the site covered through the same rules.
    response = client.post(url, data={"address_id": _monterrey_id(app, bravo), "mode": "onsite", "no_go": "y",
                                      "no_go_reason": "mra_validated", "no_go_note": "OEA accepted"})
    assert response.status_code == 302
    with app.app_context():
        assert _site(bravo["mx_site"]).mra_covered and _site(bravo["mx_site"]).no_go_note == "OEA accepted"


def _monterrey_id(app: Any, ids: dict[str, int]) -> int:
    with app.app_context():
        return _site(ids["mx_site"]).address_id


def test_cover_site_refuses_bad_input_without_changing_anything(app, client, login, cast, bravo):
    with app.app_context():
        certify_abroad(bravo["account"], cast)
        db_session.commit()
        other_company_address = db_session.scalar(select(Address.id).where(Address.company_id == cast.company_a.id))
    login(cast.email("reviewer"))
    url = f"/validations/{bravo['validation']}/coverage"
    for data in ({}, {"address_id": "x"}, {"address_id": "99999999999999"}, {"address_id": other_company_address},
                 {"address_id": _monterrey_id(app, bravo), "note": "x" * 2001},
                 {"address_id": "-1", "note": "<script>"}):
        response = client.post(url, data=data)
        assert response.status_code == 302, data
    with app.app_context():
        assert not any(site.no_go for site in _validation().sites)
    withdraw = client.post(f"/validations/{bravo['validation']}/sites/{bravo['us_site']}/coverage/withdraw",
                           data={"note": "not covered"})
    assert withdraw.status_code == 302
    assert "not marked covered" in client.get(f"/validations/{bravo['validation']}/sites").get_data(as_text=True)
    client.post("/auth/logout")
    login(cast.email("reviewer2"))
    assert client.post(url, data={"address_id": _monterrey_id(app, bravo)}).status_code == 403
    client.post("/auth/logout")
    login(cast.email("officer_b"))
    assert client.post(url, data={"address_id": _monterrey_id(app, bravo)}).status_code == 404


# -- MR records ----------------------------------------------------------------------------------------


def register_partner(account_id: int, cast: Any, name: str, country: str, code: str | None, *,
                     expires: date | None = None) -> int:
    account = db_session.get(TradeAccount, account_id)
    fields: dict[str, Any] = {"name": name, "role": PartnerRole.MANUFACTURER, "country": country}
    if code is not None:
        fields.update(certification=CertificationKind.AEO, mra_program_id=program_id(code),
                      certificate_number=f"{code}-{name[:3].upper()}",
                      certificate_expires_on=expires or today() + timedelta(days=300),
                      last_assessed_on=today() - timedelta(days=30), last_assessment_type=AssessmentType.QUESTIONNAIRE,
                      last_assessment_result=AssessmentResult.MEETS)
    return partner_services.create_partner(account, partner_services.PartnerInput(**fields),
                                           by=user("officer_b", cast)).id


def record_input(**changes: Any) -> mr_records.MrRecordInput:
    values: dict[str, Any] = {"validated_on": today() - timedelta(days=100), "partner_name": "Resinas Andinas S.A.S.",
                              "country": "CO", "program_id": program_id("CO"), "certificate_number": "OEA-CO-1"}
    values.update(changes)
    return mr_records.MrRecordInput(**values)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"validated_on": None}, "validated_on", "Enter the date of the foreign validation"),
    # A function, called when the test runs: a date taken when the tests are collected is today's
    # after midnight.
    ({"validated_on": lambda: today() + timedelta(days=1)}, "validated_on", "cannot be in the future"),
    ({"validated_on": date(2023, 1, 15)}, "validated_on", "Only a joint work plan since July 1, 2022"),
    ({"validated_on": date(2019, 1, 15)}, "validated_on", "No arrangement was in place"),
    ({"country": "GT"}, "country", "certifies companies in Colombia, not in Guatemala"),
    ({"country": "ZZ"}, "country", "Choose the partner's country"),
    ({"partner_name": " "}, "partner_name", "Enter the partner's name"),
    ({"partner_name": "x" * 201}, "partner_name", "longer than 200"),
    ({"certificate_number": ""}, "certificate_number", "Enter the partner's AEO certificate number"),
    ({"certificate_number": "x" * 61}, "certificate_number", "longer than 60"),
    ({"program_id": None}, "program_id", "Choose the AEO program"),
    ({"program_id": 99_999}, "program_id", "Choose the AEO program"),
    ({"notes": "x" * 2001}, "notes", "longer than 2,000"),
    ({"business_partner_id": 99_999}, "business_partner_id", "Choose a partner of this account's register"),
])
def test_mr_records_are_checked(app, cast, bravo, changes, field, message):
    changes = {name: value() if callable(value) else value for name, value in changes.items()}
    with app.app_context():
        mra.seed_mra_programs()
        with pytest.raises(DomainError, match=message) as caught:
            mr_records.add_mr_record(_validation(), record_input(**changes), by=user("reviewer", cast))
        assert caught.value.field == field
        assert db_session.scalar(select(func.count()).select_from(ValidationMrRecord)) == 0


def test_an_mr_record_needs_the_mra_in_force_now_and_is_recorded_once(app, cast, bravo):
    with app.app_context():
        mra.seed_mra_programs()
        validation, lead = _validation(), user("reviewer", cast)
        record = mr_records.add_mr_record(validation, record_input(notes="DIAN report seen."), by=lead)
        assert (record.partner_name, record.country, record.program.code, record.notes) == (
            "Resinas Andinas S.A.S.", "CO", "CO", "DIAN report seen.")
        with pytest.raises(DomainError, match="already recorded") as caught:
            mr_records.add_mr_record(validation, record_input(partner_name="Other"), by=lead)
        assert caught.value.field == "certificate_number"
        mra.record_status_change(db_session.get(MraProgram, program_id("CO")), MraStatus.SUSPENDED,
                                 today() - timedelta(days=10), by=user("admin", cast))
        with pytest.raises(DomainError, match="is not recognised on .*The MRA is suspended since"):
            mr_records.add_mr_record(validation, record_input(certificate_number="OEA-CO-2",
                                                               validated_on=today() - timedelta(days=300)), by=lead)
        [standing] = mr_records.mr_record_standings(validation)
        assert not standing.recognised and "suspended" in standing.reason
        [event_] = [e for e in validation.events if e.kind == "mr_record_added"]
        assert "Resinas Andinas S.A.S. (Colombia)" in event_.note
        mr_records.remove_mr_record(record, by=lead)
        assert validation.mr_records == [] and validation.events[-1].kind == "mr_record_removed"


def test_register_partners_with_a_recognised_certification_are_offered_and_fill_the_record(app, cast, bravo):
    with app.app_context():
        mra.seed_mra_programs()
        account_id = bravo["account"]
        maya = register_partner(account_id, cast, "Confecciones Maya S.A.", "GT", "GT")
        register_partner(account_id, cast, "Café Caducado S.A.", "GT", "GT", expires=today() - timedelta(days=1))
        register_partner(account_id, cast, "Sin Certificado S.A.", "MX", None)
        validation = _validation()
        assert [p.name for p, _r in mr_records.mr_record_choices(validation)] == ["Confecciones Maya S.A."]
        record = mr_records.add_mr_record(validation, mr_records.MrRecordInput(
            validated_on=today() - timedelta(days=40), business_partner_id=maya), by=user("reviewer", cast))
        assert (record.business_partner_id, record.partner_name, record.country, record.program.code,
                record.certificate_number) == (maya, "Confecciones Maya S.A.", "GT", "GT", "GT-CON")
        assert mr_records.mr_record_choices(validation) == []          # recorded: no longer offered
        # Another company's partner is refused.
        alpha_partner = register_partner(cast.account_a.id, cast, "Alpha Supplier", "GT", "GT")
        with pytest.raises(DomainError, match="Choose a partner of this account's register"):
            mr_records.add_mr_record(validation, mr_records.MrRecordInput(
                validated_on=today() - timedelta(days=40), business_partner_id=alpha_partner),
                by=user("reviewer", cast))


def test_mr_records_page_one_click_listing_and_company_view(app, client, login, cast, bravo):
    with app.app_context():
        mra.seed_mra_programs()
        maya = register_partner(bravo["account"], cast, "Confecciones Maya S.A.", "GT", "GT")
        db_session.commit()
        co = program_id("CO")
    login(cast.email("reviewer"))
    url = f"/validations/{bravo['validation']}/mr-records"
    page = _page(client, url)
    assert "Confecciones Maya S.A." in page and "Add as an MR record" in page
    one_click = client.post(url, data={"business_partner_id": str(maya),
                                       "validated_on": (today() - timedelta(days=20)).isoformat()})
    assert one_click.status_code == 302
    typed = client.post(url, data={"partner_name": "Resinas Andinas S.A.S.", "country": "CO", "program_id": str(co),
                                   "certificate_number": "OEA-CO-9", "validated_on": (today() - timedelta(
                                       days=90)).isoformat(), "notes": "Internal CBP note"})
    assert typed.status_code == 302
    bad = client.post(url, data={"partner_name": "Late S.A.", "country": "CO", "program_id": str(co),
                                 "certificate_number": "OEA-CO-10", "validated_on": "2099-01-01"})
    assert bad.status_code == 200 and "cannot be in the future" in bad.get_data(as_text=True)
    show = _page(client, f"/validations/{bravo['validation']}")
    assert "MR records" in show and "Confecciones Maya S.A." in show and "Resinas Andinas S.A.S." in show
    assert "OEA-CO-9" in show and "Internal CBP note" in show and "Add or remove MR records" in show
    client.post("/auth/logout")
    login(cast.email("officer_b"))
    company_view = _page(client, f"/validations/{bravo['validation']}")
    assert "Confecciones Maya S.A." in company_view and "OEA-CO-9" in company_view
    assert "Internal CBP note" not in company_view and "Add or remove MR records" not in company_view
    assert client.get(url).status_code == 404
    client.post("/auth/logout")
    login(cast.email("reviewer2"))                      # not on the team: sees, may not change
    assert client.get(url).status_code == 403
    with app.app_context():
        record_id = db_session.scalar(select(ValidationMrRecord.id).where(ValidationMrRecord.business_partner_id
                                                                          == maya))
    assert client.post(f"{url}/{record_id}/delete").status_code == 403
    client.post("/auth/logout")
    login(cast.email("reviewer"))
    assert client.post(f"{url}/{record_id}/delete").status_code == 302
    assert client.post(f"{url}/999999/delete").status_code == 404
    with app.app_context():
        assert [r.partner_name for r in db_session.scalars(select(ValidationMrRecord))] == ["Resinas Andinas S.A.S."]


def test_the_mr_record_form_refuses_bad_input_without_changing_anything(app, client, login, cast, bravo):
    with app.app_context():
        mra.seed_mra_programs()
        db_session.commit()
    login(cast.email("reviewer"))
    url = f"/validations/{bravo['validation']}/mr-records"
    for data in ({}, {"validated_on": "2026-02-30"}, {"validated_on": "yesterday", "partner_name": "X"},
                 {"business_partner_id": "12345", "validated_on": "2025-01-01"},
                 {"program_id": "9" * 40, "validated_on": "2025-01-01", "partner_name": "X", "country": "CO",
                  "certificate_number": "1"},
                 {"partner_name": "x" * 201, "validated_on": "2025-01-01"},
                 {"country": "<script>", "validated_on": "2025-01-01", "partner_name": "X"}):
        response = client.post(url, data=data)
        assert response.status_code == 200, data
        assert "There is a problem" in response.get_data(as_text=True)
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(ValidationMrRecord)) == 0


# -- the page's SQL statements --------------------------------------------------------------------


def _statements(app: Any, client: Any, url: str) -> int:
    engine = app.extensions["db_engine"]
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return len(seen)


def _records(app: Any, cast: Any, start: int, count: int) -> None:
    codes = ("CO", "GT", "MX", "CA")
    with app.app_context():
        validation, lead = _validation(), user("reviewer", cast)
        for n in range(start, start + count):
            code = codes[n % len(codes)]
            mr_records.add_mr_record(validation, record_input(
                partner_name=f"Partner {n}", country=code, program_id=program_id(code),
                certificate_number=f"C-{n}"), by=lead)
        db_session.commit()


def test_the_validation_page_costs_the_same_statements_for_2_and_12_mr_records(app, client, login, cast, bravo):
    with app.app_context():
        certify_abroad(bravo["account"], cast)
        recognition.mark_covered(_validation(), _site(bravo["mx_site"]).address, by=user("reviewer", cast))
        db_session.commit()
    url = f"/validations/{bravo['validation']}"
    counts: dict[str, list[int]] = {"reviewer": [], "officer_b": []}
    for start, count in ((0, 2), (2, 10)):
        _records(app, cast, start, count)
        for actor in counts:
            login(cast.email(actor))
            counts[actor].append(_statements(app, client, url))
            assert len(re.findall(r"Partner \d+<", client.get(url).get_data(as_text=True))) == start + count
            client.post("/auth/logout")
    assert counts["reviewer"][0] == counts["reviewer"][1], counts
    assert counts["officer_b"][0] == counts["officer_b"][1], counts


def test_the_demo_covers_a_mexican_plant_and_records_two_mr_records(app):
    from portal.demo import load_demo_data

    with app.app_context():
        load_demo_data()
        db_session.commit()
        validation = db_session.scalar(select(Validation).join(TradeAccount).where(
            TradeAccount.company.has(dba="Ensambles del Golfo")))
        covered = [site for site in validation.sites if site.mra_covered]
        assert [site.address.name for site in covered] == ["Planta Reynosa"]
        assert covered[0].mra_program.code == "MX" and recognition.check_coverage(covered[0], today()).valid
        assert [record.program.code for record in validation.mr_records] == ["GT", "CO"]
        assert validation.mr_records[0].business_partner_id is not None
        planning = recognition.planning_recognition(validation)
        assert [offer.address.name for offer in planning.offers] == ["Planta Matamoros"]
        assert {visit.site.address.name for visit in validation.visits} == {"McAllen cross-dock"}
        assert db_session.scalar(select(User.id).where(User.email == "officer@ensambles-golfo.example"))


def test_a_no_go_site_is_not_offered_as_on_site(app, client, login, cast, bravo):
    """A site in the plan as a no-go zone (here for the security situation) says so in the recognition
    box, not the visit mode it was added with."""
    with app.app_context():
        certify_abroad(bravo["account"], cast)
        site = _site(bravo["mx_site"])
        site.no_go, site.no_go_reason = True, NoGoReason.SECURITY
        db_session.commit()
    login(cast.email("reviewer"))
    page = _page(client, f"/validations/{bravo['validation']}/sites")
    assert "(in the plan: no-go zone, security situation)" in page
    assert "(in the plan: on site)" not in page.split("Monterrey", 1)[1].split("<br>", 1)[0]

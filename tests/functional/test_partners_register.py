"""The business-partner register through the browser: add, edit, remove, the rules on certification,
risk and duplicates, next review dates, evidence links, edit conflicts and the summary page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.clock import today
from portal.db import db_session
from portal.partners import mra
from portal.partners.models import BusinessPartner, MraProgram
from portal.profiles.models import EvidenceFile


def program_id(app: Any, code: str) -> int:
    with app.app_context():
        mra.seed_mra_programs()
        db_session.commit()
        return db_session.scalar(select(MraProgram.id).where(MraProgram.code == code))


def form(**overrides: Any) -> dict[str, Any]:
    data = {"name": "Transportes Quetzal S.A.", "role": "highway_carrier", "country": "GT", "address": "Km 12",
            "city": "Guatemala City", "certification": "none", "ctpat_account_number": "", "ctpat_status": "",
            "mra_program_id": "", "certificate_number": "", "certificate_expires_on": "", "last_assessed_on": "",
            "last_assessment_type": "", "last_assessment_result": "", "risk_rating": "", "risk_reason": "",
            "next_review_override": "", "notes": ""}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def partners(app: Any) -> list[BusinessPartner]:
    with app.app_context():
        return list(db_session.scalars(select(BusinessPartner).order_by(BusinessPartner.id)))


def new_url(cast: Any) -> str:
    return f"/accounts/{cast.account_a.id}/partners/new"


def test_editor_adds_a_partner_certified_in_guatemala(app, client, cast, login):
    gt = program_id(app, "GT")
    login(cast.email("consultant_a"))
    expiry = (today() + timedelta(days=400)).isoformat()
    response = client.post(new_url(cast), data=form(
        certification="aeo", mra_program_id=str(gt), certificate_number="OEA-GT-0093", certificate_expires_on=expiry,
        last_assessed_on=(today() - timedelta(days=30)).isoformat(), last_assessment_type="questionnaire",
        last_assessment_result="meets", risk_rating="medium", risk_reason="Inland leg."))
    assert response.status_code == 302
    [partner] = partners(app)
    assert (partner.name, partner.country, partner.mra_program_id) == ("Transportes Quetzal S.A.", "GT", gt)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No assessment needed: monitor status" in page
    assert "recognised by an MRA in force since April 17, 2023" in page
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "partner.created")) == 1


@pytest.mark.parametrize(("overrides", "messages"), [
    ({"certification": "ctpat"}, ["CTPAT account number", "certified or also validated"]),
    ({"certification": "aeo"}, ["AEO program from the MRA list", "certificate number", "date the AEO certificate"]),
    ({"risk_rating": "high"}, ["reason for the risk rating"]),
    ({"last_assessment_type": "visit"}, ["date of the last assessment"]),
    ({"last_assessed_on": "2099-01-01", "last_assessment_type": "visit"}, ["cannot be in the future"]),
    ({"name": ""}, ["Enter the partner"]),
    ({"country": "XX"}, ["Not a valid choice"]),
])
def test_refused_partner_shows_every_problem_and_saves_nothing(app, client, cast, login, overrides, messages):
    program_id(app, "MX")
    login(cast.email("officer_a"))
    response = client.post(new_url(cast), data=form(**overrides))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    for message in messages:
        assert message in page
    assert partners(app) == []


def test_choosing_not_certified_clears_the_certificate_fields(app, client, cast, login):
    mx = program_id(app, "MX")
    login(cast.email("officer_a"))
    client.post(new_url(cast), data=form(certification="none", mra_program_id=str(mx), certificate_number="X",
                                         ctpat_account_number="Y", ctpat_status="validated"))
    [partner] = partners(app)
    assert partner.mra_program_id is None and partner.certificate_number is None
    assert partner.ctpat_account_number is None and partner.ctpat_status is None


def test_duplicate_partner_is_refused_but_the_same_name_elsewhere_is_not(app, client, cast, login):
    login(cast.email("officer_a"))
    assert client.post(new_url(cast), data=form()).status_code == 302
    again = client.post(new_url(cast), data=form(name="  transportes   QUETZAL s.a. "))
    assert "already in the register" in again.get_data(as_text=True)
    assert client.post(new_url(cast), data=form(country="HN")).status_code == 302
    assert len(partners(app)) == 2


def test_next_review_is_derived_from_risk_and_can_be_overridden(app, client, cast, login):
    login(cast.email("officer_a"))
    assessed = date(today().year - 1, 3, 10)
    client.post(new_url(cast), data=form(last_assessed_on=assessed.isoformat(), last_assessment_type="visit",
                                         last_assessment_result="gaps", risk_rating="low", risk_reason="Low value."))
    [partner] = partners(app)
    show = f"/accounts/{cast.account_a.id}/partners/{partner.id}"
    page = client.get(show).get_data(as_text=True)
    assert f"Mar 10, {assessed.year + 3}" in page and "every 3 years" in page
    edit = client.get(show + "/edit").get_data(as_text=True)
    version = (re.search(r'name="version"[^>]*value="(\d+)"', edit)
               or re.search(r'value="(\d+)"[^>]*name="version"', edit))
    assert version is not None
    override = (today() - timedelta(days=1)).isoformat()
    response = client.post(show + "/edit", data=form(
        last_assessed_on=assessed.isoformat(), last_assessment_type="visit", last_assessment_result="gaps",
        risk_rating="low", risk_reason="Low value.", next_review_override=override, version=version.group(1)))
    assert response.status_code == 302
    page = client.get(show).get_data(as_text=True)
    assert "Overdue" in page and "Set by hand" in page and "Flagged" in page


def test_a_stale_edit_gets_409_and_keeps_the_other_save(app, client, cast, login):
    login(cast.email("officer_a"))
    client.post(new_url(cast), data=form())
    [partner] = partners(app)
    url = f"/accounts/{cast.account_a.id}/partners/{partner.id}/edit"
    assert client.post(url, data=form(city="Escuintla", version="1")).status_code == 302
    stale = client.post(url, data=form(city="Mixco", version="1"))
    assert stale.status_code == 409
    assert "Mixco" in stale.get_data(as_text=True)
    assert partners(app)[0].city == "Escuintla"


def test_evidence_from_the_library_only(app, client, cast, login):
    with app.app_context():
        own = EvidenceFile(company_id=cast.company_a.id, sha256="1" * 64, storage_key="k-own", original_name="cert.pdf",
                           content_type="application/pdf", size=10, title="OEA certificate")
        other = EvidenceFile(company_id=cast.company_b.id, sha256="2" * 64, storage_key="k-other",
                             original_name="b.pdf", content_type="application/pdf", size=10)
        db_session.add_all([own, other])
        db_session.commit()
        own_id, other_id = own.id, other.id
    login(cast.email("officer_a"))
    refused = client.post(new_url(cast), data={**form(), "evidence_ids": [str(other_id)]})
    assert refused.status_code == 200 and partners(app) == []
    response = client.post(new_url(cast), data={**form(), "evidence_ids": [str(own_id)]})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "OEA certificate" in page and f"/evidence/{own_id}/download" in page


def test_remove_a_partner(app, client, cast, login):
    login(cast.email("employee_a"))
    client.post(new_url(cast), data=form())
    [partner] = partners(app)
    response = client.post(f"/accounts/{cast.account_a.id}/partners/{partner.id}/delete")
    assert response.status_code == 302
    assert partners(app) == []


def test_register_filters_and_summary(app, client, cast, login):
    mx = program_id(app, "MX")
    login(cast.email("officer_a"))
    client.post(new_url(cast), data=form(name="Validated Carrier", country="US", certification="ctpat",
                                         ctpat_account_number="US9", ctpat_status="validated"))
    client.post(new_url(cast), data=form(name="Mexican Supplier", role="manufacturer", country="MX",
                                         certification="aeo", mra_program_id=str(mx), certificate_number="M1",
                                         certificate_expires_on=(today() - timedelta(days=2)).isoformat()))
    client.post(new_url(cast), data=form(name="Chinese Supplier", role="manufacturer", country="CN"),
                follow_redirects=True)  # collect the flash message before the filtered pages
    register = f"/accounts/{cast.account_a.id}/partners"
    flagged = client.get(register + "?status=flagged").get_data(as_text=True)
    assert "Mexican Supplier" in flagged and "Chinese Supplier" not in flagged
    china = client.get(register + "?country=CN").get_data(as_text=True)
    assert "Chinese Supplier" in china and "Validated Carrier" not in china
    assert "Validated Carrier" in client.get(register + "?q=valid").get_data(as_text=True)
    assert client.get(register + "?status=bogus&page=x").status_code == 200
    summary = client.get(register + "/summary").get_data(as_text=True)
    assert "1 of 3 (33.3%)" in summary           # only the CTPAT carrier counts as certified
    assert "<svg" in summary and 'id="partners-by-country-table"' in summary
    assert "Expired AEO certificates</dt><dd>1" in summary.replace("\n", "")


def test_empty_register_invites_the_editor(app, client, cast, login):
    login(cast.email("officer_a"))
    page = client.get(f"/accounts/{cast.account_a.id}/partners").get_data(as_text=True)
    assert "No partners yet" in page and "Add the first partner" in page
    assert "The register is empty" in client.get(f"/accounts/{cast.account_a.id}/partners/summary").get_data(
        as_text=True)

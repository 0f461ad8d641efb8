"""An applicant's own foreign AEO certification: recorded on its account, shown to reviewers, and used
to tell which sites a validation need not visit (issue 7 item 5, "recognition in validation planning")."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from portal.auth.models import User
from portal.companies import services as company_services
from portal.companies.models import TradeAccount
from portal.companies.workflow import AddressKind
from portal.db import db_session
from portal.errors import DomainError
from portal.partners import mra
from portal.partners.models import MraProgram
from portal.partners.recognition import certification_standing, covering_certification, sites_covered_by_mra

ON = date(2026, 3, 1)


def program_id(code: str) -> int:
    return db_session.scalar(select(MraProgram.id).where(MraProgram.code == code))


def certify(account: TradeAccount, code: str, expires: date, by: User) -> Any:
    return mra.add_account_certification(account, mra.AccountCertificationInput(
        program_id=program_id(code), certificate_number=f"{code}-001", expires_on=expires), by=by)


@pytest.fixture
def bravo(app: Any, cast: Any) -> Any:
    """Company B (HQ in Mexico) with a Mexican facility, a Mexican mailing address, a Guatemalan facility
    and a German foreign site; MRA programs seeded. Yields (account, officer) inside an app context."""
    with app.app_context():
        mra.seed_mra_programs()
        officer = db_session.get(User, cast.users["officer_b"].id)
        account = db_session.get(TradeAccount, cast.account_b.id)
        company = account.company
        for kind, name, country in ((AddressKind.FACILITY, "Planta Juárez", "MX"),
                                    (AddressKind.MAILING, "Apartado", "MX"),
                                    (AddressKind.FACILITY, "Planta Villa Nueva", "GT"),
                                    (AddressKind.FOREIGN_SITE, "Lager Köln", "DE")):
            company_services.add_address(company, company_services.AddressData(
                kind=kind, name=name, line1="1 Calle", city="X", country=country), by=officer)
        db_session.commit()
        db_session.expire_all()  # reload the address collection as a new request would
        yield account, officer
        db_session.rollback()


def covered_names(account: TradeAccount, on: date) -> list[str]:
    return [coverage.address.name or coverage.address.kind.value for coverage in sites_covered_by_mra(account, on)]


def test_a_mexican_certification_covers_the_mexican_sites_but_not_the_mailing_address(bravo):
    account, officer = bravo
    certify(account, "MX", date(2027, 6, 30), officer)
    assert covered_names(account, ON) == ["headquarters", "Planta Juárez"]
    [first, _second] = sites_covered_by_mra(account, ON)
    assert first.program.code == "MX" and first.in_force_since == date(2014, 10, 17)


def test_guatemala_counts_only_once_the_mra_is_in_force(bravo):
    account, officer = bravo
    certify(account, "GT", date(2027, 6, 30), officer)
    assert covered_names(account, date(2023, 1, 15)) == []          # only the joint work plan then
    assert covered_names(account, date(2023, 4, 17)) == ["Planta Villa Nueva"]


def test_expired_certificates_cover_nothing(bravo):
    account, officer = bravo
    certify(account, "MX", date(2026, 2, 1), officer)
    certify(account, "GT", date(2023, 1, 31), officer)                 # lapsed before the MRA
    assert covered_names(account, ON) == []
    assert covered_names(account, date(2026, 1, 31)) == ["headquarters", "Planta Juárez"]
    gt = next(c for c in account.mra_certifications if c.program.code == "GT")
    standing = certification_standing(gt, date(2022, 12, 1))
    assert not standing.recognised and "joint work plan" in standing.reason


def test_an_eu_certification_covers_a_site_in_a_member_state(bravo):
    account, officer = bravo
    eu = certify(account, "EU", date(2028, 1, 1), officer)
    assert covered_names(account, ON) == ["Lager Köln"]
    assert covering_certification(account, "de", ON) is eu
    assert covering_certification(account, "MX", ON) is None


def test_one_certification_per_program(bravo):
    account, officer = bravo
    certify(account, "MX", date(2027, 6, 30), officer)
    with pytest.raises(DomainError) as caught:
        certify(account, "MX", date(2028, 6, 30), officer)
    assert caught.value.field == "program_id"


def test_officer_records_it_and_the_reviewer_sees_it_with_the_covered_sites(app, client, cast, login, bravo):
    account, _officer = bravo
    login(cast.email("officer_b"))
    url = f"/accounts/{account.id}/mra-certifications"
    response = client.post(url, data={"program_id": str(program_id("MX")), "certificate_number": "OEA-MX-2022-00317",
                                      "certified_on": "2024-01-10", "expires_on": "2099-01-01"})
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "OEA-MX-2022-00317" in page and "Recognised" in page
    refused = client.post(url, data={"program_id": str(program_id("MX")), "certificate_number": "X",
                                     "expires_on": "2099-01-01"})
    assert "already recorded" in refused.get_data(as_text=True)
    client.post("/auth/logout")
    login(cast.email("reviewer"))
    page = client.get(f"/accounts/{account.id}/partners/supply-chain").get_data(as_text=True)
    assert "Foreign AEO certification (mutual recognition)" in page
    assert "Sites covered by the foreign program" in page and "Planta Juárez" in page
    assert "Apartado" not in page


def test_trade_users_do_not_see_the_site_list(app, client, cast, login, bravo):
    account, officer = bravo
    certify(account, "MX", date(2099, 1, 1), officer)
    db_session.commit()
    login(cast.email("officer_b"))
    page = client.get(f"/accounts/{account.id}/mra-certifications").get_data(as_text=True)
    assert "MX-001" in page and "Sites covered" not in page


def test_remove_a_certification(app, client, cast, login, bravo):
    account, officer = bravo
    row = certify(account, "MX", date(2099, 1, 1), officer)
    db_session.commit()
    login(cast.email("officer_b"))
    assert client.post(f"/accounts/{account.id}/mra-certifications/{row.id}/delete").status_code == 302
    assert "No foreign AEO certification is recorded" in client.get(
        f"/accounts/{account.id}/mra-certifications").get_data(as_text=True)

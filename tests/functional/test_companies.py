"""The company profile through its pages: create (the creator becomes officer), bad input kept at the
field, edit, addresses (one headquarters, never removed), and who may do what (issue 2, item 8)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import Membership
from portal.auth.roles import CompanyRole
from portal.companies.countries import default_timezone
from portal.companies.models import Address, Company
from portal.companies.workflow import AddressKind, OwnershipType
from portal.db import db_session

VALID_COMPANY: dict[str, str] = {
    "legal_name": "Zephyr Trading Company",
    "dba": "Zephyr Goods",
    "ownership_type": "llc",
    "business_start_date": "2010-05-17",
    "phone": "+1 312 555 0188",
    "website": "https://zephyr-trading.example",
    "employee_count": "240",
    "history": "Imports kitchen appliances from Vietnam since 2010.",
    "name": "Head office",
    "line1": "900 Lakeshore Drive",
    "line2": "Suite 12",
    "city": "Chicago",
    "region": "IL",
    "postal_code": "60611",
    "country": "US",
}


@contextmanager
def database(app: Any) -> Iterator[Any]:
    """A short-lived session for checking what the requests stored (never held across a request)."""
    with app.app_context():
        yield db_session


def count(app: Any, model: Any, *where: Any) -> int:
    with database(app) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def audit_rows(app: Any, action: str, company_id: int | None = None) -> list[AuditEvent]:
    with database(app) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        if company_id is not None:
            query = query.where(AuditEvent.company_id == company_id)
        return list(session.scalars(query))


def field_error(html: str, field: str) -> bool:
    """Whether the page shows an error message attached to the field (USWDS error markup)."""
    return f'id="{field}-error"' in html


def company_form(**changes: str) -> dict[str, str]:
    return {**VALID_COMPANY, **changes}


def address_form(**changes: str) -> dict[str, str]:
    data = {"kind": "facility", "name": "Laredo warehouse", "line1": "1 Bridge Road", "line2": "",
            "city": "Laredo", "region": "TX", "postal_code": "78040", "country": "US",
            "timezone": "America/Chicago", "visitable": "y"}
    data.update(changes)
    return data


# --- create ------------------------------------------------------------------------------------------


def test_creating_a_company_makes_the_creator_its_officer_and_stores_the_headquarters(app, client, cast, login):
    login(cast.email("officer_b"))  # any trade user may add a (further) company
    response = client.post("/companies/new", data=VALID_COMPANY)

    assert response.status_code == 302
    with database(app) as session:
        company = session.scalar(select(Company).where(Company.legal_name == "Zephyr Trading Company"))
        assert company is not None
        assert response.headers["Location"] == f"/companies/{company.id}/accounts/new"
        assert company.dba == "Zephyr Goods"
        assert company.ownership_type == OwnershipType.LLC
        assert company.business_start_date == date(2010, 5, 17)
        assert company.phone == "+1 312 555 0188"
        assert company.website == "https://zephyr-trading.example"
        assert company.employee_count == 240
        assert company.history.startswith("Imports kitchen appliances")
        membership = session.scalar(select(Membership).where(Membership.company_id == company.id))
        assert membership.user_id == cast.users["officer_b"].id
        assert membership.role == CompanyRole.OFFICER
        [hq] = company.addresses
        assert hq.kind == AddressKind.HEADQUARTERS
        assert (hq.name, hq.line1, hq.line2, hq.city, hq.region, hq.postal_code, hq.country) == (
            "Head office", "900 Lakeshore Drive", "Suite 12", "Chicago", "IL", "60611", "US")
        assert hq.timezone == default_timezone("US")  # the form has no time zone: the country's default
        company_id = company.id
    [event] = audit_rows(app, "company.created", company_id)
    assert event.actor_id == cast.users["officer_b"].id
    assert event.summary == "Zephyr Trading Company"
    assert event.object_type == "Company" and event.object_id == str(company_id)

    page = client.get(f"/companies/{company_id}")
    assert page.status_code == 200
    assert "Zephyr Trading Company (DBA Zephyr Goods)" in page.text
    assert "900 Lakeshore Drive" in page.text


def test_a_new_trade_user_without_a_company_can_create_one(app, client, cast):
    client.post("/auth/register", data={"full_name": "Nina New", "email": "nina@new.example",
                                        "password": "a long enough passphrase 7",
                                        "confirm_password": "a long enough passphrase 7"})
    response = client.post("/companies/new", data=company_form(legal_name="Nina Imports"))
    assert response.status_code == 302
    with database(app) as session:
        company = session.scalar(select(Company).where(Company.legal_name == "Nina Imports"))
        [membership] = company.memberships
        assert membership.user.email == "nina@new.example"
        assert membership.role == CompanyRole.OFFICER


BAD_COMPANY_INPUT = [
    pytest.param("legal_name", "", "Enter the company&#39;s legal name.", id="missing-legal-name"),
    pytest.param("phone", "call me", "Enter a phone number", id="bad-phone"),
    pytest.param("website", "not a website", "Enter a full web address", id="bad-website"),
    pytest.param("website", "javascript://example.com/%0Aalert(1)", "Enter a full web address",
                 id="website-not-http"),
    pytest.param("phone", "--- (()) ---", "Enter a phone number", id="phone-without-digits"),
    pytest.param("legal_name", "   ", "Enter the company&#39;s legal name.", id="blank-legal-name"),
    pytest.param("business_start_date", "FUTURE", "cannot be in the future", id="future-start-date"),
    pytest.param("business_start_date", "2010-13-45", "Not a valid date value", id="impossible-date"),
    pytest.param("country", "ZZ", "Not a valid choice", id="unknown-country"),
    pytest.param("employee_count", "0", "Enter a number between 1 and 5,000,000.", id="zero-employees"),
    pytest.param("ownership_type", "pirate_ship", "Not a valid choice", id="unknown-ownership"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_COMPANY_INPUT)
def test_bad_company_input_is_shown_at_the_field_keeps_valid_values_and_stores_nothing(
        app, client, cast, login, field, value, message):
    if value == "FUTURE":
        value = (date.today() + timedelta(days=30)).isoformat()
    login(cast.email("officer_a"))
    companies_before = count(app, Company)
    addresses_before = count(app, Address)
    memberships_before = count(app, Membership)

    response = client.post("/companies/new", data=company_form(**{field: value}))

    assert response.status_code == 200
    html = response.text
    assert field_error(html, field), f"no error shown at {field}"
    assert message in html
    assert "There is a problem" in html  # the error summary at the top
    assert f'href="#{field}"' in html    # ... links to the field
    # Only the bad field has an error.
    others = [name for name in VALID_COMPANY if name != field and field_error(html, name)]
    assert others == []
    # What was valid is kept in the re-rendered form.
    for name in ("legal_name", "dba", "phone", "website", "line1", "city", "postal_code", "employee_count"):
        if name != field:
            assert f'value="{VALID_COMPANY[name]}"' in html, f"{name} was not kept"
    if field != "country":
        assert '<option selected value="US">' in html
    if field != "ownership_type":
        assert '<option selected value="llc">' in html
    assert "Imports kitchen appliances from Vietnam since 2010." in html
    # Nothing stored.
    assert count(app, Company) == companies_before
    assert count(app, Address) == addresses_before
    assert count(app, Membership) == memberships_before
    assert len(audit_rows(app, "company.created")) == 2  # only the cast's two companies


def test_the_service_refuses_an_unknown_country_even_when_the_form_is_bypassed(app, cast):
    from portal.companies import services
    from portal.errors import DomainError

    with database(app) as session:
        officer = session.get(type(cast.users["officer_a"]), cast.users["officer_a"].id)
        with pytest.raises(DomainError) as error:
            services.create_company(
                services.CompanyData(legal_name="Ghost Ltd", ownership_type=OwnershipType.OTHER, phone="5550100"),
                services.AddressData(kind=AddressKind.HEADQUARTERS, line1="1 Nowhere", city="Atlantis", country="ZZ"),
                by=officer,
            )
        assert error.value.field == "country"
        session.rollback()
    assert count(app, Company, Company.legal_name == "Ghost Ltd") == 0


def test_cbp_staff_cannot_create_companies(app, client, cast, login):
    login(cast.email("reviewer"))
    assert client.get("/companies/new").status_code == 404
    before = count(app, Company)
    assert client.post("/companies/new", data=VALID_COMPANY).status_code == 404
    assert count(app, Company) == before


def test_anonymous_visitors_are_sent_to_sign_in(app, client, cast):
    response = client.post("/companies/new", data=VALID_COMPANY)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert count(app, Company, Company.legal_name == VALID_COMPANY["legal_name"]) == 0


# --- edit --------------------------------------------------------------------------------------------


def _current_company_form(company_id: int, app: Any, **changes: str) -> dict[str, str]:
    with database(app) as session:
        company = session.get(Company, company_id)
        data = {
            "legal_name": company.legal_name, "dba": company.dba or "", "ownership_type": company.ownership_type.value,
            "business_start_date": company.business_start_date.isoformat() if company.business_start_date else "",
            "phone": company.phone, "website": company.website or "",
            "employee_count": str(company.employee_count or ""), "history": company.history or "",
        }
    data.update(changes)
    return data


def test_an_editor_edits_the_company_profile_and_the_change_is_audited(app, client, cast, login):
    login(cast.email("employee_a"))
    company_id = cast.company_a.id
    page = client.get(f"/companies/{company_id}/edit")
    assert page.status_code == 200
    assert 'value="Alpha Imports Inc."' in page.text  # the form starts from the stored values

    response = client.post(f"/companies/{company_id}/edit", data=_current_company_form(
        company_id, app, dba="Alpha Home", website="https://alpha.example", employee_count="75",
        history="Family business."))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/companies/{company_id}"
    with database(app) as session:
        company = session.get(Company, company_id)
        assert (company.dba, company.website, company.employee_count, company.history) == (
            "Alpha Home", "https://alpha.example", 75, "Family business.")
        assert company.legal_name == "Alpha Imports Inc."  # unchanged fields stay
    [event] = audit_rows(app, "company.updated", company_id)
    assert event.actor_id == cast.users["employee_a"].id
    assert event.summary == "Changed dba, website, employee_count, history"


def test_editing_with_bad_input_keeps_the_stored_profile(app, client, cast, login):
    login(cast.email("officer_a"))
    company_id = cast.company_a.id
    future = (date.today() + timedelta(days=400)).isoformat()
    response = client.post(f"/companies/{company_id}/edit", data=_current_company_form(
        company_id, app, legal_name="Renamed Inc.", business_start_date=future))
    assert response.status_code == 200
    assert field_error(response.text, "business_start_date")
    assert 'value="Renamed Inc."' in response.text  # the valid new value is kept on the form ...
    with database(app) as session:
        company = session.get(Company, company_id)
        assert company.legal_name == "Alpha Imports Inc."  # ... but nothing is stored
        assert company.business_start_date == date(2001, 1, 1)
    assert audit_rows(app, "company.updated", company_id) == []


def test_saving_an_unchanged_profile_writes_no_audit_event(app, client, cast, login):
    login(cast.email("officer_a"))
    company_id = cast.company_a.id
    response = client.post(f"/companies/{company_id}/edit", data=_current_company_form(company_id, app))
    assert response.status_code == 302
    assert audit_rows(app, "company.updated", company_id) == []


def test_a_read_only_user_cannot_edit_the_company(app, client, cast, login):
    login(cast.email("readonly_a"))
    company_id = cast.company_a.id
    page = client.get(f"/companies/{company_id}")
    assert page.status_code == 200
    assert "Edit company profile" not in page.text  # the action is hidden ...
    assert client.get(f"/companies/{company_id}/edit").status_code == 403  # ... and refused
    response = client.post(f"/companies/{company_id}/edit",
                           data=_current_company_form(company_id, app, legal_name="Hijacked Inc."))
    assert response.status_code == 403
    with database(app) as session:
        assert session.get(Company, company_id).legal_name == "Alpha Imports Inc."
    assert audit_rows(app, "company.updated") == []


def test_a_user_of_another_company_gets_404_on_the_company(app, client, cast, login):
    login(cast.email("officer_b"))
    company_id = cast.company_a.id
    assert client.get(f"/companies/{company_id}").status_code == 404
    assert client.get(f"/companies/{company_id}/edit").status_code == 404
    assert client.post(f"/companies/{company_id}/edit",
                       data=_current_company_form(company_id, app, legal_name="Hijacked Inc.")).status_code == 404
    with database(app) as session:
        assert session.get(Company, company_id).legal_name == "Alpha Imports Inc."


def test_staff_see_a_company_but_cannot_edit_it(app, client, cast, login):
    login(cast.email("reviewer"))
    company_id = cast.company_a.id
    page = client.get(f"/companies/{company_id}")
    assert page.status_code == 200
    assert "Edit company profile" not in page.text
    assert client.post(f"/companies/{company_id}/edit",
                       data=_current_company_form(company_id, app, legal_name="Hijacked Inc.")).status_code == 403


# --- addresses ---------------------------------------------------------------------------------------


def _addresses(app: Any, company_id: int) -> list[Address]:
    with database(app) as session:
        return list(session.scalars(select(Address).where(Address.company_id == company_id).order_by(Address.id)))


def test_add_edit_and_remove_a_facility_address(app, client, cast, login):
    login(cast.email("consultant_a"))
    company_id = cast.company_a.id

    response = client.post(f"/companies/{company_id}/addresses/new", data=address_form())
    assert response.status_code == 302
    hq, facility = _addresses(app, company_id)
    assert hq.kind == AddressKind.HEADQUARTERS
    assert facility.kind == AddressKind.FACILITY
    assert (facility.name, facility.line1, facility.city, facility.country) == (
        "Laredo warehouse", "1 Bridge Road", "Laredo", "US")
    assert facility.timezone == "America/Chicago"
    assert facility.visitable is True
    [added] = audit_rows(app, "address.added", company_id)
    assert added.object_id == str(facility.id) and added.actor_id == cast.users["consultant_a"].id

    page = client.get(f"/companies/{company_id}")
    assert "Laredo warehouse" in page.text and "Visitable" in page.text

    response = client.post(f"/companies/{company_id}/addresses/{facility.id}/edit",
                           data=address_form(kind="foreign_site", city="Nuevo Laredo", country="MX",
                                             timezone="America/Monterrey", visitable=""))
    assert response.status_code == 302
    edited = _addresses(app, company_id)[1]
    assert (edited.kind, edited.city, edited.country, edited.timezone, edited.visitable) == (
        AddressKind.FOREIGN_SITE, "Nuevo Laredo", "MX", "America/Monterrey", False)
    assert len(audit_rows(app, "address.updated", company_id)) == 1

    response = client.post(f"/companies/{company_id}/addresses/{facility.id}/delete")
    assert response.status_code == 302
    assert [a.id for a in _addresses(app, company_id)] == [hq.id]
    [removed] = audit_rows(app, "address.removed", company_id)
    assert removed.object_id == str(facility.id)


def test_bad_address_input_is_shown_at_the_field_and_nothing_is_stored(app, client, cast, login):
    login(cast.email("officer_a"))
    company_id = cast.company_a.id
    response = client.post(f"/companies/{company_id}/addresses/new",
                           data=address_form(country="ZZ", city=""))
    assert response.status_code == 200
    assert field_error(response.text, "country") and field_error(response.text, "city")
    assert 'value="1 Bridge Road"' in response.text and 'value="Laredo warehouse"' in response.text

    response = client.post(f"/companies/{company_id}/addresses/new", data=address_form(timezone="Mars/Olympus"))
    assert response.status_code == 200
    assert field_error(response.text, "timezone")
    assert "Choose a time zone from the list." in response.text
    assert len(_addresses(app, company_id)) == 1
    assert audit_rows(app, "address.added", company_id) == []


def test_the_headquarters_cannot_be_removed(app, client, cast, login):
    login(cast.email("officer_a"))
    company_id = cast.company_a.id
    [hq] = _addresses(app, company_id)
    response = client.post(f"/companies/{company_id}/addresses/{hq.id}/delete", follow_redirects=True)
    assert response.status_code == 200
    assert "The headquarters address cannot be removed" in response.text
    assert [a.id for a in _addresses(app, company_id)] == [hq.id]
    assert audit_rows(app, "address.removed") == []


def test_a_second_headquarters_is_refused(app, client, cast, login):
    login(cast.email("officer_a"))
    company_id = cast.company_a.id
    response = client.post(f"/companies/{company_id}/addresses/new", data=address_form(kind="headquarters"))
    assert response.status_code == 200
    assert field_error(response.text, "kind")
    assert "already has a headquarters address" in response.text
    assert len(_addresses(app, company_id)) == 1

    # Nor can another address be turned into a second headquarters.
    client.post(f"/companies/{company_id}/addresses/new", data=address_form(kind="mailing"))
    hq, mailing = _addresses(app, company_id)
    response = client.post(f"/companies/{company_id}/addresses/{mailing.id}/edit",
                           data=address_form(kind="headquarters"))
    assert response.status_code == 200
    assert field_error(response.text, "kind")
    kinds = [a.kind for a in _addresses(app, company_id)]
    assert kinds == [AddressKind.HEADQUARTERS, AddressKind.MAILING]


def test_the_headquarters_cannot_be_turned_into_another_kind_of_address(app, client, cast, login):
    """Changing the headquarters' type would remove the company's only headquarters by the back door."""
    login(cast.email("officer_a"))
    company_id = cast.company_a.id
    [hq] = _addresses(app, company_id)
    response = client.post(f"/companies/{company_id}/addresses/{hq.id}/edit",
                           data=address_form(kind="mailing", city="Springfield"))
    assert response.status_code == 200
    assert field_error(response.text, "kind")
    [after] = _addresses(app, company_id)
    assert after.kind == AddressKind.HEADQUARTERS and after.city == "Washington"

    # Editing the headquarters in place stays possible.
    response = client.post(f"/companies/{company_id}/addresses/{hq.id}/edit",
                           data=address_form(kind="headquarters", city="Springfield", visitable=""))
    assert response.status_code == 302
    [after] = _addresses(app, company_id)
    assert after.kind == AddressKind.HEADQUARTERS and after.city == "Springfield"


def test_read_only_users_and_other_companies_cannot_touch_addresses(app, client, cast, login):
    company_id = cast.company_a.id
    [hq] = _addresses(app, company_id)
    login(cast.email("readonly_a"))
    assert client.get(f"/companies/{company_id}/addresses/new").status_code == 403
    assert client.post(f"/companies/{company_id}/addresses/new", data=address_form()).status_code == 403
    assert client.post(f"/companies/{company_id}/addresses/{hq.id}/edit",
                       data=address_form(kind="headquarters", city="Elsewhere")).status_code == 403
    client.post("/auth/logout")
    login(cast.email("officer_b"))
    assert client.post(f"/companies/{company_id}/addresses/new", data=address_form()).status_code == 404
    assert client.post(f"/companies/{company_id}/addresses/{hq.id}/edit",
                       data=address_form(kind="headquarters", city="Elsewhere")).status_code == 404
    # An address of company A reached through company B's URL is not found either.
    company_b = cast.company_b.id
    assert client.post(f"/companies/{company_b}/addresses/{hq.id}/edit",
                       data=address_form(kind="headquarters", city="Elsewhere")).status_code == 404
    assert client.post(f"/companies/{company_b}/addresses/{hq.id}/delete").status_code == 404
    [after] = _addresses(app, company_id)
    assert after.city == "Washington"
    assert len(_addresses(app, company_id)) == 1

"""Authorization sweep over every route of the partners blueprint (MRA programs, the register, imports,
exports, the reviewer view, the account's foreign certification).

EXPECTED holds, per (endpoint, method), what each actor gets; a partners route without an entry fails
``test_every_partners_route_has_an_entry``. POSTs send an empty form (TestConfig disables CSRF).
Company A's objects are used; company B's officer must get 404 everywhere in A's register.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from portal.auth.models import User
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.partners import mra, services
from portal.partners.enums import CertificationKind, CtpatStatus, PartnerRole
from portal.partners.models import MraProgram

ACTORS = ("anonymous", "officer_a", "employee_a", "consultant_a", "readonly_a", "officer_b", "reviewer", "admin")
LOGIN = "login"


def row(*statuses: Any) -> dict[str, Any]:
    return dict(zip(ACTORS, statuses, strict=True))


def everyone(status: int) -> dict[str, Any]:
    return row(*[status] * len(ACTORS))


def viewer(status: int) -> dict[str, Any]:
    """Members of company A and CBP staff; company B's user gets 404."""
    return row(LOGIN, status, status, status, status, 404, status, status)


def editor(status: int) -> dict[str, Any]:
    """Officer, employee, consultant of company A; read-only users and staff see but may not change."""
    return row(LOGIN, status, status, status, 403, 404, 403, 403)


def admin_only(status: int) -> dict[str, Any]:
    return row(LOGIN, 404, 404, 404, 404, 404, 404, status)


def staff_only(status: int) -> dict[str, Any]:
    return row(LOGIN, 404, 404, 404, 404, 404, status, status)


# Insertion order is the request order; the POSTs that remove objects come last.
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("partners.mra_programs", "GET"): everyone(200),
    ("partners.mra_program", "GET"): everyone(200),
    ("partners.new_mra_program", "GET"): admin_only(200),
    ("partners.new_mra_program", "POST"): admin_only(200),
    ("partners.edit_mra_program", "GET"): admin_only(200),
    # An empty POST re-saves the stored values (WTForms falls back to the object), so the admin is redirected.
    ("partners.edit_mra_program", "POST"): admin_only(302),
    ("partners.add_mra_status", "GET"): admin_only(200),
    ("partners.add_mra_status", "POST"): admin_only(200),
    ("partners.register", "GET"): viewer(200),
    ("partners.summary", "GET"): viewer(200),
    ("partners.supply_chain", "GET"): staff_only(200),
    ("partners.show_partner", "GET"): viewer(200),
    ("partners.export_register", "GET"): viewer(200),
    ("partners.import_template", "GET"): viewer(200),
    ("partners.account_mra", "GET"): viewer(200),
    ("partners.new_partner", "GET"): editor(200),
    ("partners.new_partner", "POST"): editor(200),
    ("partners.edit_partner", "GET"): editor(200),
    ("partners.edit_partner", "POST"): editor(200),
    ("partners.import_partners", "GET"): editor(200),
    ("partners.import_partners", "POST"): editor(200),
    ("partners.import_preview", "GET"): editor(200),
    ("partners.account_mra", "POST"): editor(200),
    ("partners.confirm_import", "POST"): editor(302),
    ("partners.discard_import", "POST"): editor(302),
    ("partners.delete_account_mra", "POST"): editor(302),
    ("partners.delete_partner", "POST"): editor(302),
}


def _routes(app: Any) -> dict[tuple[str, str], Any]:
    return {(rule.endpoint, method): rule for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("partners.") for method in rule.methods - {"HEAD", "OPTIONS"}}


def _objects(app: Any, cast: Any) -> dict[str, Any]:
    """Company A's partner, two staged imports (one to confirm, one to discard) and a certification."""
    with app.app_context():
        officer = db_session.get(User, cast.users["officer_a"].id)
        account = db_session.get(TradeAccount, cast.account_a.id)
        mra.seed_mra_programs()
        program_id = db_session.scalar(select(MraProgram.id).where(MraProgram.code == "MX"))
        partner = services.create_partner(account, services.PartnerInput(
            name="Great Lakes Freight", role=PartnerRole.HIGHWAY_CARRIER, country="US",
            certification=CertificationKind.CTPAT, ctpat_account_number="US1", ctpat_status=CtpatStatus.VALIDATED),
            by=officer)
        rows = [{"line": 2, "values": {"name": "Imported Co"}, "errors": [],
                 "data": services.PartnerInput(name="Imported Co", role=PartnerRole.OTHER, country="CA").to_json()}]
        first = services.stage_import(account, "a.csv", rows, by=officer)
        other_user = db_session.get(User, cast.users["employee_a"].id)
        second = services.stage_import(account, "b.csv", rows, by=other_user)
        certification = mra.add_account_certification(account, mra.AccountCertificationInput(
            program_id=program_id, certificate_number="OEA-1", expires_on=date(2030, 1, 1)), by=officer)
        db_session.commit()
        return {"account_id": account.id, "partner_id": partner.id, "import_id": first.id,
                "second_import_id": second.id, "program_id": program_id, "certification_id": certification.id,
                "fmt": "csv"}


def test_every_partners_route_has_an_entry(app):
    routes = set(_routes(app))
    assert sorted(routes - set(EXPECTED)) == [], "add the new partners routes to EXPECTED"
    assert sorted(set(EXPECTED) - routes) == []


@pytest.mark.parametrize("actor", ACTORS)
def test_partners_access(app, client, cast, login, actor):
    params = _objects(app, cast)
    if actor != "anonymous":
        login(cast.email(actor))
    routes = _routes(app)
    mismatches = []
    for (endpoint, method), expected_row in EXPECTED.items():
        rule = routes[(endpoint, method)]
        values = {name: params[name] for name in rule.arguments}
        if endpoint == "partners.discard_import":
            values["import_id"] = params["second_import_id"]
        with app.test_request_context():
            url = url_for(endpoint, **values)
        response = client.open(url, method=method, data={} if method == "POST" else None)
        expected = expected_row[actor]
        ok = (response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/auth/login"
              if expected == LOGIN else response.status_code == expected)
        if not ok:
            mismatches.append(f"{method} {url}: expected {expected}, got {response.status_code}")
    assert not mismatches, f"{actor}:\n" + "\n".join(mismatches)


def test_other_company_objects_answer_404_even_for_their_own_editors(app, client, cast, login):
    """Company B's officer uses B's account id with A's partner id: still 404 (the partner is A's)."""
    params = _objects(app, cast)
    login(cast.email("officer_b"))
    b = cast.account_b.id
    for url in (f"/accounts/{b}/partners/{params['partner_id']}", f"/accounts/{b}/partners/{params['partner_id']}/edit",
                f"/accounts/{b}/partners/import/{params['import_id']}"):
        assert client.get(url).status_code == 404, url
    for url in (f"/accounts/{b}/partners/{params['partner_id']}/delete",
                f"/accounts/{b}/partners/import/{params['import_id']}/confirm",
                f"/accounts/{b}/mra-certifications/{params['certification_id']}/delete"):
        assert client.post(url).status_code == 404, url
    assert client.get(f"/accounts/{b}/partners").status_code == 200


def test_links_follow_the_same_rules(app, client, cast, login):
    params = _objects(app, cast)
    register = f"/accounts/{params['account_id']}/partners"
    login(cast.email("readonly_a"))
    page = client.get(register).get_data(as_text=True)
    assert "Add a partner" not in page and "Import a list" not in page and "Supply chain" not in page
    client.post("/auth/logout")
    login(cast.email("employee_a"))
    page = client.get(register).get_data(as_text=True)
    assert "Add a partner" in page and "Supply chain" not in page
    client.post("/auth/logout")
    login(cast.email("reviewer"))
    page = client.get(register).get_data(as_text=True)
    assert "Add a partner" not in page and "Supply chain (reviewer view)" in page
    assert "Add a program" not in client.get("/mra-programs").get_data(as_text=True)
    client.post("/auth/logout")
    login(cast.email("admin"))
    assert "Add a program" in client.get("/mra-programs").get_data(as_text=True)

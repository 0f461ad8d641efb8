"""Authorization sweep over every route of ``app.url_map`` (issue 2, "Tests").

EXPECTED holds, for each (endpoint, method), the status each actor gets. A route without an entry makes
``test_every_route_has_an_entry`` fail, so a new page cannot skip the sweep: add a row for it (and, if
its URL has a new parameter, a value in ``url_parameters``).

Legend: ``LOGIN`` = 302 to /auth/login; other values are exact status codes. URL parameters point at
company A's objects; POSTs send an empty form (no CSRF token is needed: TestConfig disables CSRF, which
the CSRF sweep covers separately). Unauthorized actors must get exactly 403 or 404, nobody ever a 500.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import url_for

from portal.auth.models import User
from portal.auth.roles import CompanyRole
from portal.companies import applications, services
from portal.companies.business_types import BusinessType
from portal.companies.identifiers import IdentifierKind
from portal.companies.models import Company
from portal.companies.workflow import AddressKind
from portal.db import db_session
from tests import factories

ACTORS = ("anonymous", "officer_a", "employee_a", "consultant_a", "readonly_a", "officer_b", "reviewer", "admin")
LOGIN = "login"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
SKIPPED_ENDPOINTS = {"static"}


def row(anonymous: Any, officer_a: Any, employee_a: Any, consultant_a: Any, readonly_a: Any, officer_b: Any,
        reviewer: Any, admin: Any) -> dict[str, Any]:
    return dict(zip(ACTORS, (anonymous, officer_a, employee_a, consultant_a, readonly_a, officer_b, reviewer,
                             admin), strict=True))


def everyone(status: int) -> dict[str, Any]:
    return row(*[status] * len(ACTORS))


def signed_in(status: int) -> dict[str, Any]:
    """Any signed-in user; anonymous visitors are sent to sign in."""
    return row(LOGIN, *[status] * (len(ACTORS) - 1))


def signed_out_only(status: int) -> dict[str, Any]:
    """Pages for visitors (sign-in, registration): signed-in users are redirected away."""
    return row(status, *[302] * (len(ACTORS) - 1))


def company_viewer(status: int) -> dict[str, Any]:
    """Every member of company A and CBP staff see it; another company's user gets 404."""
    return row(LOGIN, status, status, status, status, 404, status, status)


def company_editor(status: int) -> dict[str, Any]:
    """Officer, employee and consultant of company A; read-only users and staff see but may not change."""
    return row(LOGIN, status, status, status, 403, 404, 403, 403)


def company_officer(status: int) -> dict[str, Any]:
    """Only company A's officer."""
    return row(LOGIN, status, 403, 403, 403, 404, 403, 403)


# Insertion order is the order of the requests (see RUN_LAST for the POSTs that change what follows).
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    # --- main
    ("main.home", "GET"): signed_out_only(200),
    ("main.dashboard", "GET"): signed_in(200),
    ("main.healthz", "GET"): everyone(200),
    # --- auth
    ("auth.login", "GET"): signed_out_only(200),
    ("auth.login", "POST"): signed_out_only(200),
    ("auth.register", "GET"): signed_out_only(200),
    ("auth.register", "POST"): signed_out_only(200),
    ("auth.forgot_password", "GET"): everyone(200),
    ("auth.forgot_password", "POST"): everyone(200),
    ("auth.reset_password", "GET"): everyone(404),   # dummy token
    ("auth.reset_password", "POST"): everyone(404),
    ("auth.change_password", "GET"): signed_in(200),
    ("auth.change_password", "POST"): signed_in(200),
    ("auth.logout", "POST"): everyone(LOGIN),
    # --- admin
    ("admin.users", "GET"): row(LOGIN, 404, 404, 404, 404, 404, 404, 200),
    ("admin.users", "POST"): row(LOGIN, 404, 404, 404, 404, 404, 404, 200),
    # --- companies
    ("companies.new_company", "GET"): row(LOGIN, 200, 200, 200, 200, 200, 404, 404),
    ("companies.new_company", "POST"): row(LOGIN, 200, 200, 200, 200, 200, 404, 404),
    ("companies.show_company", "GET"): company_viewer(200),
    ("companies.edit_company", "GET"): company_editor(200),
    # An empty POST of an edit form re-saves the stored values (WTForms falls back to the object when the
    # body is empty), so editors are redirected; a real browser always posts the fields and the CSRF token.
    ("companies.edit_company", "POST"): company_editor(302),
    ("companies.new_address", "GET"): company_editor(200),
    ("companies.new_address", "POST"): company_editor(200),
    ("companies.edit_address", "GET"): company_editor(200),
    ("companies.edit_address", "POST"): company_editor(302),
    ("companies.delete_address", "POST"): company_editor(302),
    ("companies.members", "GET"): company_officer(200),
    ("companies.members", "POST"): company_officer(200),
    ("companies.change_role", "POST"): company_officer(302),
    ("companies.remove_member", "POST"): company_officer(302),
    ("companies.revoke_invitation", "POST"): company_officer(302),
    # --- accounts (the account is company A's open application, at the identifiers step)
    ("accounts.new_account", "GET"): company_editor(200),
    ("accounts.new_account", "POST"): company_editor(200),
    ("accounts.show_account", "GET"): company_viewer(200),
    ("accounts.eligibility_step", "GET"): company_editor(200),
    ("accounts.eligibility_step", "POST"): company_editor(200),
    ("accounts.identifiers_step", "GET"): company_editor(200),
    ("accounts.identifiers_step", "POST"): company_editor(200),
    ("accounts.agreement_step", "GET"): company_editor(200),
    # Nobody may sign before the identifiers step is finished, not even the officer.
    ("accounts.agreement_step", "POST"): row(LOGIN, 403, 403, 403, 403, 404, 403, 403),
    ("accounts.finish_identifiers", "POST"): company_editor(302),
    ("accounts.delete_identifier", "POST"): company_editor(302),
    ("accounts.accept_invitation", "GET"): signed_in(404),   # dummy token
    ("accounts.accept_invitation", "POST"): signed_in(404),
}

# POSTs that remove or move the objects other routes use run last, in this order; logout ends the run.
RUN_LAST = [
    "accounts.finish_identifiers", "accounts.delete_identifier", "companies.delete_address",
    "companies.revoke_invitation", "companies.remove_member", "auth.logout",
]


def _request_order() -> list[tuple[str, str]]:
    def key(entry: tuple[str, str]) -> tuple[int, int]:
        endpoint, method = entry
        return (method == "POST", RUN_LAST.index(endpoint) if endpoint in RUN_LAST else -1)

    return sorted(EXPECTED, key=key)


def _routes(app: Any) -> dict[tuple[str, str], Any]:
    return {
        (rule.endpoint, method): rule
        for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED_ENDPOINTS
        for method in rule.methods - IGNORED_METHODS
    }


def url_parameters(app: Any, cast: factories.Cast) -> dict[str, Any]:
    """Company A's objects for every URL parameter: an extra facility address, a pending invitation, and an
    open application (exporter, at the identifiers step, with one identifier)."""
    with app.app_context():
        officer = db_session.get(User, cast.users["officer_a"].id)
        company = db_session.get(Company, cast.company_a.id)
        address = services.add_address(company, services.AddressData(
            kind=AddressKind.FACILITY, line1="1 Dock Road", city="Baltimore", country="US"), by=officer)
        invitation = services.invite_member(company, "invitee@a.example", CompanyRole.EMPLOYEE, by=officer,
                                            accept_url_for=lambda token: f"http://localhost/invitations/{token}")
        account = factories.account(company, officer, BusinessType.EXPORTER, complete=False)
        applications.save_eligibility(
            account, {q.key: not q.knock_out_answer for q in applications.eligibility.questions_for(
                BusinessType.EXPORTER)}, by=officer)
        identifier = applications.add_identifier(account, IdentifierKind.DUNS, "123456789", by=officer)
        readonly_membership = db_session.get(User, cast.users["readonly_a"].id).membership_for(company.id)
        db_session.commit()
        return {
            "company_id": company.id,
            "account_id": account.id,
            "address_id": address.id,
            "membership_id": readonly_membership.id,
            "invitation_id": invitation.id,
            "identifier_id": identifier.id,
            "token": "not-a-real-token",
        }


def _matches(expected: Any, response: Any) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and urlsplit(response.headers.get("Location", "")).path == "/auth/login"
    return response.status_code == expected


def test_every_expected_row_names_every_actor():
    wrong = [entry for entry, statuses in EXPECTED.items() if set(statuses) != set(ACTORS)]
    assert wrong == []


def test_every_route_has_an_entry(app):
    routes = set(_routes(app))
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    message = []
    if missing:
        message.append("Routes without an entry in EXPECTED of tests/functional/test_access_matrix.py "
                       "(add the status each actor should get):")
        message += [f"    ({endpoint!r}, {method!r}): row(LOGIN, ...),  # {_routes(app)[(endpoint, method)].rule}"
                    for endpoint, method in missing]
    if stale:
        message.append("Entries in EXPECTED for routes that no longer exist:")
        message += [f"    {entry!r}" for entry in stale]
    assert not missing and not stale, "\n".join(message)


@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(app, client, cast, login, actor):
    params = url_parameters(app, cast)
    if actor != "anonymous":
        login(cast.email(actor))
    routes = _routes(app)
    mismatches: list[str] = []
    for endpoint, method in _request_order():
        rule = routes.get((endpoint, method))
        if rule is None:
            continue  # reported by test_every_route_has_an_entry
        unknown = sorted(set(rule.arguments) - set(params))
        if unknown:
            mismatches.append(f"{method} {endpoint}: no value for URL parameter(s) {unknown} in url_parameters()")
            continue
        with app.test_request_context():
            url = url_for(endpoint, **{name: params[name] for name in rule.arguments})
        response = client.open(url, method=method, data={} if method == "POST" else None)
        expected = EXPECTED[(endpoint, method)][actor]
        if not _matches(expected, response):
            where = f" -> {response.headers.get('Location')}" if response.status_code in (301, 302, 303) else ""
            mismatches.append(f"{method} {url} [{endpoint}]: expected {expected}, got {response.status_code}{where}")
    assert not mismatches, f"{actor}: {len(mismatches)} route(s) answer unexpectedly:\n" + "\n".join(mismatches)

"""Authorization sweep over every route of the validations blueprint: anonymous users are sent to sign
in, another company's users get 404, trade users get 404 on staff pages, read-only users get 403 on
the partner's POSTs, and nobody ever gets a 500.

A route without an entry in EXPECTED fails ``test_every_validation_route_has_an_entry``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import url_for

from portal.companies.business_types import BusinessType
from portal.companies.models import Company
from portal.db import db_session
from portal.validations import visits
from portal.validations.workflow import FindingKind
from tests import factories
from tests.functional.test_validations import certify, planned, schedule, sent_with, user

ACTORS = ("anonymous", "officer_a", "readonly_a", "officer_b", "reviewer", "supervisor")
LOGIN = "login"
OK = "ok"  # any answer but 404, 500 or the sign-in page: the actor reaches the page (403 only by state)


def row(anonymous: Any, officer_a: Any, readonly_a: Any, officer_b: Any, reviewer: Any, supervisor: Any) -> dict:
    return dict(zip(ACTORS, (anonymous, officer_a, readonly_a, officer_b, reviewer, supervisor), strict=True))


STAFF = row(LOGIN, 404, 404, 404, OK, OK)
VIEW = row(LOGIN, 200, 200, 404, 200, 200)
PARTNER_POST = row(LOGIN, OK, 403, 404, 403, 403)

EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("validations.dashboard", "GET"): STAFF,
    ("validations.account_validations", "GET"): VIEW,
    ("validations.new_validation", "GET"): STAFF,
    ("validations.new_validation", "POST"): STAFF,
    ("validations.show", "GET"): VIEW,
    ("validations.team", "GET"): STAFF,
    ("validations.team", "POST"): STAFF,
    ("validations.sites", "GET"): STAFF,
    ("validations.sites", "POST"): STAFF,
    ("validations.delete_site", "POST"): STAFF,
    ("validations.new_visit", "GET"): STAFF,
    ("validations.new_visit", "POST"): STAFF,
    ("validations.suggest", "GET"): STAFF,
    ("validations.reschedule", "GET"): STAFF,
    ("validations.reschedule", "POST"): STAFF,
    ("validations.accept_proposal", "POST"): STAFF,
    ("validations.visit_done", "POST"): STAFF,
    ("validations.cancel_visit", "POST"): STAFF,
    ("validations.respond_visit", "GET"): VIEW,
    ("validations.respond_visit", "POST"): PARTNER_POST,
    ("validations.visit_ics", "GET"): VIEW,
    ("validations.blackouts", "GET"): VIEW,
    ("validations.blackouts", "POST"): PARTNER_POST,
    ("validations.delete_blackout", "POST"): PARTNER_POST,
    ("validations.new_finding", "GET"): STAFF,
    ("validations.new_finding", "POST"): STAFF,
    ("validations.delete_finding", "POST"): STAFF,
    ("validations.report", "GET"): STAFF,
    ("validations.report", "POST"): STAFF,
    ("validations.report_decision", "GET"): STAFF,
    ("validations.report_decision", "POST"): STAFF,
    ("validations.send_report", "POST"): STAFF,
    ("validations.close", "POST"): STAFF,
    ("validations.answer_finding", "GET"): VIEW,
    ("validations.answer_finding", "POST"): PARTNER_POST,
    ("validations.review_answer", "GET"): STAFF,
    ("validations.review_answer", "POST"): STAFF,
    ("validations.recognise", "GET"): STAFF,
    ("validations.recognise", "POST"): STAFF,
    ("validations.month", "GET"): STAFF,
    ("validations.feed_settings", "GET"): STAFF,
    ("validations.feed_settings", "POST"): STAFF,
    ("validations.feed", "GET"): row(404, 404, 404, 404, 404, 404),  # an unknown token
    ("validations.lifecycle", "GET"): VIEW,
    ("validations.lifecycle", "POST"): row(LOGIN, 403, 403, 404, 403, OK),
    ("validations.annual_review", "GET"): VIEW,
    ("validations.annual_confirm", "POST"): PARTNER_POST,
    ("validations.annual_submit", "POST"): PARTNER_POST,
    ("validations.cover_site", "POST"): STAFF,
    ("validations.withdraw_coverage", "POST"): STAFF,
    ("validations.mr_records", "GET"): STAFF,
    ("validations.mr_records", "POST"): STAFF,
    ("validations.delete_mr_record", "POST"): STAFF,
}


def _routes(app: Any) -> dict[tuple[str, str], Any]:
    return {(rule.endpoint, method): rule for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("validations.") for method in rule.methods - {"HEAD", "OPTIONS"}}


def _parameters(app: Any, cast: Any) -> dict[str, Any]:
    """Company A's objects: a scheduled validation with a visit (importer account) and, on a second
    (exporter) account, a validation whose report was sent with a required action and a best practice."""
    ids = planned(app, cast)
    visit_id = schedule(app, cast, ids, date.today() + timedelta(days=45))
    with app.app_context():
        company = db_session.get(Company, cast.company_a.id)
        exporter = factories.account(company, user("officer_a", cast), BusinessType.EXPORTER,
                                     identifiers=[(factories.IdentifierKind.DUNS, "123456789")])
        certify(exporter.id, cast)
        from portal.validations import services

        second = services.create_validation(exporter, user("reviewer", cast), by=user("reviewer", cast))
        blackout = visits.add_blackout(company, date.today() + timedelta(days=200),
                                       date.today() + timedelta(days=201), "Shutdown", by=user("officer_a", cast))
        record = _mr_record(ids["validation"], cast)
        db_session.commit()
        second_ids = {"validation": second.id}
        blackout_id, record_id = blackout.id, record.id
    required, _best = sent_with(app, cast, second_ids, (FindingKind.REQUIRED_ACTION, FindingKind.BEST_PRACTICE))
    return {"account_id": ids["account"], "validation_id": ids["validation"], "site_id": ids["us_site"],
            "visit_id": visit_id, "finding_id": required, "company_id": cast.company_a.id,
            "blackout_id": blackout_id, "record_id": record_id, "token": "not-a-real-token"}


def _mr_record(validation_id: int, cast: Any) -> Any:
    """An MR record of the first validation: a Colombian partner validated under the seeded program."""
    from sqlalchemy import select

    from portal.partners import mra
    from portal.partners.models import MraProgram
    from portal.validations import mr_records
    from portal.validations.models import Validation

    mra.seed_mra_programs()
    return mr_records.add_mr_record(db_session.get(Validation, validation_id), mr_records.MrRecordInput(
        validated_on=date.today() - timedelta(days=30), partner_name="Resinas Andinas", country="CO",
        program_id=db_session.scalar(select(MraProgram.id).where(MraProgram.code == "CO")),
        certificate_number="OEA-CO-1"), by=user("reviewer", cast))


def _matches(expected: Any, response: Any) -> bool:
    to_login = response.status_code == 302 and urlsplit(response.headers.get("Location", "")).path == "/auth/login"
    if expected == LOGIN:
        return to_login
    if expected == OK:
        return response.status_code not in (404, 500) and not to_login
    return response.status_code == expected


def test_every_validation_route_has_an_entry(app):
    routes = set(_routes(app))
    assert sorted(routes - set(EXPECTED)) == [] and sorted(set(EXPECTED) - routes) == []


# Requests that change or remove what later requests use run last, in this order.
RUN_LAST = ["validations.delete_blackout", "validations.delete_site", "validations.cancel_visit",
            "validations.delete_finding", "validations.delete_mr_record", "validations.close"]


def _order() -> list[tuple[str, str]]:
    return sorted(EXPECTED, key=lambda e: (e[1] == "POST", RUN_LAST.index(e[0]) if e[0] in RUN_LAST else -1))


@pytest.mark.parametrize("actor", ACTORS)
def test_validation_access_matrix(app, client, login, cast, actor):
    params = _parameters(app, cast)
    if actor != "anonymous":
        login(cast.email(actor))
    routes = _routes(app)
    mismatches = []
    for endpoint, method in _order():
        rule = routes[(endpoint, method)]
        with app.test_request_context():
            url = url_for(endpoint, **{name: params[name] for name in rule.arguments})
        response = client.open(url, method=method, data={} if method == "POST" else None)
        expected = EXPECTED[(endpoint, method)][actor]
        if not _matches(expected, response):
            mismatches.append(f"{method} {url} [{endpoint}]: expected {expected}, got {response.status_code}")
    assert not mismatches, f"{actor}:\n" + "\n".join(mismatches)

"""Authorization sweep over every route of ``app.url_map`` (issue 2, extended in issue 8 item 4).

EXPECTED holds, for each (endpoint, method), the status each actor gets. A route without an entry makes
``test_every_route_has_an_entry`` fail, naming it with a paste-able skeleton, so a new page cannot skip
the sweep: add a row for it (and, if its URL has a new parameter, a value in ``build_world``).
``test_the_coverage_check_reports_a_route_without_an_entry`` shows that the check does fail.

Actors: anonymous; each trade role of company A, which owns every object in the URLs (officer_a,
employee_a, consultant_a, readonly_a); the officer of company B (officer_b); the reviewer ASSIGNED to
company A's open review and lead of its validation (reviewer); a reviewer NOT assigned to either
(reviewer2); a supervisor; an admin.

Legend: ``LOGIN`` = 302 to /auth/login; other values are exact status codes. POSTs send an empty form
(no CSRF token is needed: TestConfig disables CSRF, which the CSRF sweep covers separately).
Unauthorized actors get exactly 403 (a page they can see but an action they may not take) or 404
(another tenant's object, or a CBP-only page asked for by a trade user); nobody ever gets a 500.
Every GET of one staff and one trade actor is also checked not to change the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Blueprint, url_for
from jinja2 import BytecodeCache
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from portal.auth.models import User
from portal.auth.roles import CompanyRole
from portal.companies import applications, services
from portal.companies.business_types import BusinessType
from portal.companies.identifiers import IdentifierKind
from portal.companies.models import Company, TradeAccount
from portal.companies.workflow import AddressKind
from portal.db import Base, db_session
from tests import factories

ACTORS = ("anonymous", "officer_a", "employee_a", "consultant_a", "readonly_a", "officer_b", "reviewer",
          "reviewer2", "supervisor", "admin")
# Actors whose every GET is checked not to change the database (one trade user, one CBP user).
READ_ONLY_CHECKED = ("officer_a", "supervisor")
LOGIN = "login"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
SKIPPED_ENDPOINTS = {"static"}


def row(anonymous: Any, officer_a: Any, employee_a: Any, consultant_a: Any, readonly_a: Any, officer_b: Any,
        reviewer: Any, reviewer2: Any, supervisor: Any, admin: Any) -> dict[str, Any]:
    return dict(zip(ACTORS, (anonymous, officer_a, employee_a, consultant_a, readonly_a, officer_b, reviewer,
                             reviewer2, supervisor, admin), strict=True))


def everyone(status: Any) -> dict[str, Any]:
    return row(*[status] * len(ACTORS))


def signed_in(status: Any) -> dict[str, Any]:
    """Any signed-in user; anonymous visitors are sent to sign in."""
    return row(LOGIN, *[status] * (len(ACTORS) - 1))


def signed_out_only(status: Any) -> dict[str, Any]:
    """Pages for visitors (sign-in, registration): signed-in users are redirected away."""
    return row(status, *[302] * (len(ACTORS) - 1))


def trade_only(status: Any, staff: Any = 404) -> dict[str, Any]:
    """Pages for trade users (any company); CBP staff get ``staff``."""
    return row(LOGIN, status, status, status, status, status, staff, staff, staff, staff)


def company_viewer(status: Any) -> dict[str, Any]:
    """Every member of company A and CBP staff see it; another company's user gets 404."""
    return row(LOGIN, status, status, status, status, 404, status, status, status, status)


def company_editor(status: Any, readonly: Any = 403, staff: Any = 403) -> dict[str, Any]:
    """Officer, employee and consultant of company A; read-only users and staff see but may not change."""
    return row(LOGIN, status, status, status, readonly, 404, staff, staff, staff, staff)


def company_officer(status: Any) -> dict[str, Any]:
    """Only company A's officer."""
    return row(LOGIN, status, 403, 403, 403, 404, 403, 403, 403, 403)


def company_members(status: Any, staff: Any = 403) -> dict[str, Any]:
    """Members of company A (any role); CBP staff get ``staff``; another company's user 404."""
    return row(LOGIN, status, status, status, status, 404, staff, staff, staff, staff)


def staff(status: Any, *, reviewer: Any = None, reviewer2: Any = None, supervisor: Any = None,
          admin: Any = None) -> dict[str, Any]:
    """CBP staff only (trade users get 404, as for another tenant's data); per-role overrides."""
    return row(LOGIN, 404, 404, 404, 404, 404, status if reviewer is None else reviewer,
               status if reviewer2 is None else reviewer2, status if supervisor is None else supervisor,
               status if admin is None else admin)


def admin_only(status: Any) -> dict[str, Any]:
    return staff(404, admin=status)


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
    # --- auth: two-step verification and re-authentication (every user manages their own)
    ("auth.security", "GET"): signed_in(200),
    ("auth.mfa_setup", "GET"): signed_in(200),
    ("auth.mfa_setup", "POST"): signed_in(200),
    ("auth.mfa_verify", "GET"): signed_in(302),     # nothing pending: back to the dashboard
    ("auth.mfa_verify", "POST"): signed_in(302),
    ("auth.reauth", "GET"): signed_in(200),
    ("auth.reauth", "POST"): signed_in(200),
    ("auth.regenerate_recovery_codes", "POST"): signed_in(302),   # not enrolled: refused with a message
    ("auth.disable_mfa", "POST"): signed_in(302),
    ("auth.reset_user_mfa", "POST"): admin_only(302),
    ("account_notifications.preferences_page", "GET"): signed_in(200),
    ("account_notifications.preferences_page", "POST"): signed_in(302),
    # --- admin
    ("admin.users", "GET"): admin_only(200),
    ("admin.users", "POST"): admin_only(200),
    # --- audit viewer: admins and supervisors; a company's officer sees its own history
    ("audit.index", "GET"): staff(200, reviewer=403, reviewer2=403),
    ("audit.company_history", "GET"): company_officer(200),
    # --- companies
    ("companies.new_company", "GET"): trade_only(200),
    ("companies.new_company", "POST"): trade_only(200),
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
    ("accounts.agreement_step", "POST"): row(LOGIN, 403, 403, 403, 403, 404, 403, 403, 403, 403),
    ("accounts.finish_identifiers", "POST"): company_editor(302),
    ("accounts.delete_identifier", "POST"): company_editor(302),
    ("accounts.accept_invitation", "GET"): signed_in(404),   # dummy token
    ("accounts.accept_invitation", "POST"): signed_in(404),
    # --- criteria library and MRA programs: public reference data
    ("catalog.library", "GET"): everyone(200),
    ("catalog.criterion", "GET"): everyone(200),
    ("partners.mra_programs", "GET"): everyone(200),
    ("partners.mra_program", "GET"): everyone(200),
    ("partners.new_mra_program", "GET"): admin_only(200),
    ("partners.new_mra_program", "POST"): admin_only(200),
    ("partners.edit_mra_program", "GET"): admin_only(200),
    ("partners.edit_mra_program", "POST"): admin_only(302),   # an empty edit re-saves the stored values
    ("partners.add_mra_status", "GET"): admin_only(200),
    ("partners.add_mra_status", "POST"): admin_only(200),
    # --- the questionnaire (profile of account A: approved, so its editors may change it again)
    ("profiles.overview", "GET"): company_viewer(200),
    ("profiles.dashboard", "GET"): company_viewer(200),
    ("profiles.category", "GET"): company_viewer(200),
    # An empty answer for 1.1 (which has an answer) carries no version: a conflict, shown with both values.
    ("profiles.category", "POST"): company_editor(409),
    ("profiles.autosave", "POST"): company_editor(409),
    # --- submission and versions
    ("submissions.submit", "GET"): company_viewer(200),
    ("submissions.submit", "POST"): company_officer(200),
    ("submissions.versions", "GET"): company_viewer(200),
    ("submissions.show_version", "GET"): company_viewer(200),
    ("submissions.diff", "GET"): company_viewer(200),
    # --- evidence
    ("evidence.library", "GET"): company_viewer(200),
    ("evidence.library", "POST"): company_editor(200),
    ("evidence.download", "GET"): company_viewer(200),
    ("evidence.criterion_evidence", "POST"): company_editor(200),
    ("evidence.delete_link", "POST"): company_editor(302),
    # --- action plans
    ("action_plans.list_plans", "GET"): company_viewer(200),
    ("action_plans.new_plan", "GET"): company_editor(200),
    ("action_plans.new_plan", "POST"): company_editor(200),
    ("action_plans.edit_plan", "GET"): company_editor(200),
    ("action_plans.edit_plan", "POST"): company_editor(200),
    ("action_plans.add_milestone", "POST"): company_editor(200),
    ("action_plans.toggle_milestone", "POST"): company_editor(302),
    ("action_plans.delete_milestone", "POST"): company_editor(302),
    ("action_plans.delete_plan", "POST"): company_editor(302),
    # --- Excel: downloads and the offline questionnaire (the pending import is the officer's own upload:
    # anyone else's upload answers 404; read-only users and staff may not import at all, 403)
    ("exports.profile_excel", "GET"): company_viewer(200),
    ("exports.partner_workbook", "GET"): company_members(200),
    ("exports.questionnaire", "GET"): company_members(200),
    ("exports.action_plans", "GET"): company_viewer(200),
    ("exports.visit_workbook", "GET"): staff(200),
    ("exports.queue_export", "GET"): staff(200),
    ("exports.audit_export", "GET"): admin_only(200),
    # The findings reach the company once the report is sent (here it is not): members 403.
    ("exports.validation_findings", "GET"): row(LOGIN, 403, 403, 403, 403, 404, 200, 200, 200, 200),
    ("exports.import_upload", "POST"): company_editor(200),
    ("exports.import_preview", "GET"): row(LOGIN, 200, 404, 404, 403, 404, 403, 403, 403, 403),
    ("exports.import_apply", "POST"): row(LOGIN, 400, 404, 404, 403, 404, 403, 403, 403, 403),
    ("exports.import_discard", "POST"): row(LOGIN, 302, 404, 404, 403, 404, 403, 403, 403, 403),
    # A validation's on-site verification: CBP staff see it and download its visit workbook; the team
    # (``reviewer``) and supervisors import. The pending visit-workbook upload is ``reviewer``'s own:
    # anyone else's upload answers 404.
    ("exports.verification", "GET"): staff(200),
    ("exports.validation_visit_workbook", "GET"): staff(200),
    ("exports.verification_upload", "POST"): staff(200, reviewer2=403),
    ("exports.verification_preview", "GET"): staff(404, reviewer=200, reviewer2=403),
    ("exports.verification_apply", "POST"): staff(404, reviewer=400, reviewer2=403),
    ("exports.verification_discard", "POST"): staff(404, reviewer=302, reviewer2=403),
    # --- business partners of account A, and its own foreign certifications
    ("partners.register", "GET"): company_viewer(200),
    ("partners.summary", "GET"): company_viewer(200),
    ("partners.supply_chain", "GET"): staff(200),
    ("partners.new_partner", "GET"): company_editor(200),
    ("partners.new_partner", "POST"): company_editor(200),
    ("partners.show_partner", "GET"): company_viewer(200),
    ("partners.edit_partner", "GET"): company_editor(200),
    ("partners.edit_partner", "POST"): company_editor(200),
    ("partners.delete_partner", "POST"): company_editor(302),
    ("partners.export_register", "GET"): company_viewer(200),
    ("partners.import_template", "GET"): company_viewer(200),
    ("partners.import_partners", "GET"): company_editor(200),
    ("partners.import_partners", "POST"): company_editor(200),
    ("partners.import_preview", "GET"): company_editor(200),
    ("partners.confirm_import", "POST"): company_editor(302),
    ("partners.discard_import", "POST"): company_editor(302),
    ("partners.account_mra", "GET"): company_viewer(200),
    ("partners.account_mra", "POST"): company_editor(200),
    ("partners.delete_account_mra", "POST"): company_editor(302),
    # --- the review of company A's carrier profile, assigned to ``reviewer``: every CBP user sees it,
    # only the assigned reviewer rates, asks and recommends, supervisors and admins assign.
    ("queue.index", "GET"): staff(200),
    ("queue.dashboard", "GET"): staff(200),
    ("reviews.review", "GET"): staff(302),            # to its first category
    ("reviews.category", "GET"): staff(200),
    ("reviews.category", "POST"): staff(403, reviewer=302),
    ("reviews.ask", "POST"): staff(403, reviewer=302),
    ("reviews.carry_over", "POST"): staff(403, reviewer=302),
    ("reviews.scores", "GET"): staff(200),
    ("reviews.preview", "GET"): staff(200),
    ("reviews.recommend", "GET"): staff(200),
    ("reviews.recommend", "POST"): staff(403, reviewer=200),
    ("reviews.decision", "GET"): staff(200),
    # Staff may post; the service refuses anyone but a supervisor outside the review (four-eyes rule)
    # and the page shows why (tests/functional/test_review.py::test_four_eyes_certification_end_to_end).
    ("reviews.decision", "POST"): staff(200),
    ("queue.assign_selected", "POST"): staff(403, supervisor=302, admin=302),
    ("reviews.take", "POST"): staff(403),              # already assigned
    ("reviews.outcome", "GET"): company_viewer(200),
    # --- notifications (the notification is company A's officer's own)
    ("queue.notifications", "GET"): signed_in(200),
    ("queue.mark_read", "POST"): row(LOGIN, 302, 404, 404, 404, 404, 404, 404, 404, 404),
    ("queue.mark_all_read", "POST"): signed_in(302),
    # --- validations: CBP staff see every validation; the team (``reviewer``) and supervisors change it;
    # the company sees its own, and its findings only once the report is sent.
    ("validations.dashboard", "GET"): staff(200),
    ("validations.account_validations", "GET"): company_viewer(200),
    ("validations.new_validation", "GET"): staff(200),
    ("validations.new_validation", "POST"): staff(200),
    ("validations.show", "GET"): company_viewer(200),
    ("validations.team", "GET"): staff(200, reviewer2=403),
    ("validations.team", "POST"): staff(200, reviewer2=403),
    ("validations.sites", "GET"): staff(200, reviewer2=403),
    ("validations.sites", "POST"): staff(200, reviewer2=403),
    ("validations.new_visit", "GET"): staff(200, reviewer2=403),
    ("validations.new_visit", "POST"): staff(200, reviewer2=403),
    ("validations.suggest", "GET"): staff(200, reviewer2=403),
    ("validations.reschedule", "GET"): staff(200, reviewer2=403),
    ("validations.reschedule", "POST"): staff(200, reviewer2=403),
    ("validations.respond_visit", "GET"): company_viewer(200),
    ("validations.respond_visit", "POST"): company_editor(200),
    ("validations.visit_ics", "GET"): company_viewer(200),
    ("validations.blackouts", "GET"): company_viewer(200),
    ("validations.blackouts", "POST"): company_editor(200),
    ("validations.new_finding", "GET"): staff(200, reviewer2=403),
    ("validations.new_finding", "POST"): staff(200, reviewer2=403),
    ("validations.answer_finding", "GET"): staff(200),           # the report is not sent yet
    ("validations.answer_finding", "POST"): staff(403),
    ("validations.review_answer", "GET"): staff(403),             # nothing answered yet
    ("validations.review_answer", "POST"): staff(403),
    ("validations.recognise", "GET"): staff(403, supervisor=200, admin=200),
    ("validations.recognise", "POST"): staff(403, supervisor=302, admin=302),
    ("validations.report", "GET"): staff(200, reviewer2=403),
    ("validations.report", "POST"): staff(200, reviewer2=403),
    ("validations.report_decision", "GET"): staff(403),           # no report awaits approval
    ("validations.report_decision", "POST"): staff(403),
    ("validations.lifecycle", "GET"): company_viewer(200),
    ("validations.lifecycle", "POST"): row(LOGIN, 403, 403, 403, 403, 404, 403, 403, 200, 200),
    ("validations.annual_review", "GET"): company_viewer(200),
    ("validations.annual_confirm", "POST"): company_editor(302),
    ("validations.annual_submit", "POST"): company_officer(200),
    ("validations.month", "GET"): staff(200),
    ("validations.feed_settings", "GET"): staff(200),
    ("validations.feed_settings", "POST"): staff(200),
    ("validations.feed", "GET"): everyone(200),    # a secret-token URL for calendar clients, which cannot sign in
    # The actions below are refused with a message (the visit is only proposed, the site has a visit, the
    # report is not written), except for the finding and the blackout, which are removed.
    ("validations.accept_proposal", "POST"): staff(302, reviewer2=403),
    ("validations.visit_done", "POST"): staff(302, reviewer2=403),
    ("validations.cancel_visit", "POST"): staff(302, reviewer2=403),
    ("validations.delete_site", "POST"): staff(302, reviewer2=403),
    ("validations.send_report", "POST"): staff(302, reviewer2=403),
    ("validations.close", "POST"): staff(302, reviewer2=403),
    ("validations.delete_finding", "POST"): staff(302, reviewer2=403),
    # Mutual recognition: an empty form marks nothing (refused with a message), the world's site is not
    # covered (refused with a message); the MR record is removed.
    ("validations.cover_site", "POST"): staff(302, reviewer2=403),
    ("validations.withdraw_coverage", "POST"): staff(302, reviewer2=403),
    ("validations.mr_records", "GET"): staff(200, reviewer2=403),
    ("validations.mr_records", "POST"): staff(200, reviewer2=403),
    ("validations.delete_mr_record", "POST"): staff(302, reviewer2=403),
    ("validations.delete_blackout", "POST"): company_editor(302),
}

# POSTs that remove or move the objects other routes use run last, in this order; logout ends the run.
RUN_LAST = [
    "accounts.finish_identifiers", "accounts.delete_identifier", "companies.delete_address",
    "companies.revoke_invitation", "companies.remove_member",
    "action_plans.toggle_milestone", "action_plans.delete_milestone", "action_plans.delete_plan",
    "evidence.delete_link", "exports.import_apply", "exports.import_discard",
    "partners.confirm_import", "partners.discard_import", "partners.delete_account_mra", "partners.delete_partner",
    "validations.accept_proposal", "validations.visit_done", "validations.cancel_visit", "validations.delete_site",
    "validations.send_report", "validations.close", "validations.delete_finding", "validations.delete_mr_record",
    "validations.delete_blackout",
    "auth.logout",
]


def _request_order(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """GETs first, then POSTs, then RUN_LAST in its order (a stable sort keeps EXPECTED's order)."""
    def key(entry: tuple[str, str]) -> tuple[int, int]:
        endpoint, method = entry
        return (method == "POST", RUN_LAST.index(endpoint) if endpoint in RUN_LAST else -1)

    return sorted(entries, key=key)


def _routes(app: Any) -> dict[tuple[str, str], Any]:
    return {
        (rule.endpoint, method): rule
        for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED_ENDPOINTS
        for method in rule.methods - IGNORED_METHODS
    }


def coverage_problems(app: Any, expected: dict[tuple[str, str], Any] | None = None) -> str:
    """The coverage report: routes without an entry (with a skeleton to paste) and stale entries;
    an empty string when every route has exactly one entry."""
    expected = EXPECTED if expected is None else expected
    routes = _routes(app)
    missing = sorted(set(routes) - set(expected))
    stale = sorted(set(expected) - set(routes))
    message = []
    if missing:
        message.append("Routes without an entry in EXPECTED of tests/functional/test_access_matrix.py "
                       "(add the status each actor should get):")
        message += [f"    ({endpoint!r}, {method!r}): row(LOGIN, ...),  # {routes[(endpoint, method)].rule}"
                    for endpoint, method in missing]
    if stale:
        message.append("Entries in EXPECTED for routes that no longer exist:")
        message += [f"    {entry!r}" for entry in stale]
    return "\n".join(message)


# --- the objects in the URLs ---------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


@dataclass
class World:
    """URL parameter values (company A's objects), per-endpoint overrides and query strings."""

    params: dict[str, Any]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def values_for(self, endpoint: str) -> dict[str, Any]:
        values = dict(self.params)
        blueprint = endpoint.split(".", 1)[0] + "."
        values.update(self.overrides.get(blueprint, {}))
        values.update(self.overrides.get(endpoint, {}))
        return values


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def build_world(app: Any, cast: factories.Cast) -> World:
    """Company A's objects for every URL parameter, built through the services (~0.2 s):

    - an extra facility address, a pending invitation, and an open application (exporter, at the
      identifiers step, with one identifier) for the company and application pages;
    - account A (importer), certified the real way: its profile answered, submitted, reviewed by the
      supervisor and approved by the admin, so it has version 1, an outcome, and an approved profile
      that partners may edit again (with an action plan, a milestone, a stored document linked to a
      criterion, and a pending offline-questionnaire import of the officer);
    - a second account of company A (highway carrier) whose submitted profile waits in review,
      ASSIGNED to ``reviewer`` (``reviewer2`` has nothing);
    - a validation of account A led by ``reviewer`` (alone on the team): a site, a proposed visit, a
      best-practice finding, a pending visit-workbook upload of ``reviewer``; a blackout period of
      company A; ``reviewer``'s calendar feed token;
    - an MRA program, a business partner, a staged partner import and a foreign certification of account A;
    - an MR record of the validation (a partner validated under that program);
    - the certification notification of company A's officer.
    """
    from portal.action_plans import services as plan_services
    from portal.demo_profiles import rate
    from portal.exports import services as export_services
    from portal.exports import visit_services
    from portal.exports.importer import ParsedQuestionnaire
    from portal.exports.visit_import import ParsedVisitWorkbook
    from portal.notifications.inbox import Notification
    from portal.partners import mra
    from portal.partners import services as partner_services
    from portal.partners.enums import MraStatus, PartnerRole
    from portal.profiles import evidence as evidence_services
    from portal.profiles.models import EvidenceLink
    from portal.profiles.services import profile_for_account
    from portal.profiles.submission import submit_profile
    from portal.reviews import decisions
    from portal.reviews import services as review_services
    from portal.reviews.models import Review
    from portal.reviews.workflow import Recommendation
    from portal.validations import calendar, findings, mr_records, visits
    from portal.validations import services as validation_services
    from portal.validations.workflow import FindingKind, SiteMode

    with app.app_context():
        def user(key: str) -> User:
            return db_session.get(User, cast.users[key].id)

        def submitted_profile(trade_account: TradeAccount) -> Review:
            factories.answer_all(profile_for_account(trade_account))
            submit_profile(profile_for_account(trade_account), officer.full_name, by=officer)
            return db_session.scalar(select(Review).where(Review.profile_id == profile_for_account(trade_account).id))

        officer, reviewer, supervisor, admin = user("officer_a"), user("reviewer"), user("supervisor"), user("admin")
        company = db_session.get(Company, cast.company_a.id)
        today = date.today()

        # Company and application pages.
        address = services.add_address(company, services.AddressData(
            kind=AddressKind.FACILITY, line1="1 Dock Road", city="Baltimore", country="US"), by=officer)
        invitation = services.invite_member(company, "invitee@a.example", CompanyRole.EMPLOYEE, by=officer,
                                            accept_url_for=lambda token: f"http://localhost/invitations/{token}")
        application = factories.account(company, officer, BusinessType.EXPORTER, complete=False)
        applications.save_eligibility(
            application, {q.key: not q.knock_out_answer for q in applications.eligibility.questions_for(
                BusinessType.EXPORTER)}, by=officer)
        identifier = applications.add_identifier(application, IdentifierKind.DUNS, "123456789", by=officer)
        readonly_membership = user("readonly_a").membership_for(company.id)

        # Account A: certified through a real review (supervisor reviews, admin decides).
        account = db_session.get(TradeAccount, cast.account_a.id)
        certified_review = submitted_profile(account)
        rate(certified_review, supervisor)
        decisions.recommend(certified_review, Recommendation.CERTIFY, "All Musts met.", by=supervisor)
        decisions.decide(certified_review, by=admin)
        profile = profile_for_account(account)
        factories.answer(profile, "1.1", "partially_implemented", "Policy signed; not yet posted.")
        plan = plan_services.create_plan(profile, "1.1", plan_services.PlanInput(
            gap="The policy is not posted.", corrective_action="Post it at every site.", owner_user_id=officer.id,
            owner_name=None, target_date=today + timedelta(days=60)), by=officer)
        milestone = plan_services.add_milestone(plan, "Print the posters", today + timedelta(days=30), by=officer)
        evidence, _ = evidence_services.upload_evidence(company, PDF, "security-policy.pdf", title="Security policy",
                                                        effective_date=today, by=officer)
        link, _ = evidence_services.link_evidence(profile, "1.1", evidence, officer)
        excel_import = export_services.store_import(profile, ParsedQuestionnaire(),
                                                    "questionnaire.xlsx", by=officer)

        # A second account of company A in review, assigned to ``reviewer``.
        carrier = factories.account(company, officer, BusinessType.HIGHWAY_CARRIER)
        open_review = submitted_profile(carrier)
        review_services.assign(open_review, reviewer, by=supervisor)

        # A validation of account A led by ``reviewer``.
        site_address = services.add_address(company, services.AddressData(
            kind=AddressKind.FACILITY, name="Chicago DC", line1="1 Lake Road", city="Chicago", country="US",
            timezone="America/Chicago", visitable=True), by=officer)
        validation = validation_services.create_validation(account, reviewer, by=reviewer)
        site = validation_services.add_site(validation, site_address, SiteMode.ONSITE, by=reviewer)
        day = _next_weekday(today + timedelta(days=45))
        visit = visits.schedule_visit(validation, site, visits.LocalWindow(day, time(9), day, time(17),
                                                                           "America/Chicago"), by=reviewer)
        finding = findings.add_finding(validation, "1.1", FindingKind.BEST_PRACTICE, "Posters in three languages.",
                                       by=reviewer)
        blackout = visits.add_blackout(company, today + timedelta(days=120), today + timedelta(days=122),
                                       "Annual inventory", by=officer)
        feed_token = calendar.new_token(reviewer, by=reviewer)
        visit_import = visit_services.store_visit_import(validation, profile, ParsedVisitWorkbook(), "visit.xlsx",
                                                         by=reviewer)

        # Business partners and MRA programs.
        program = mra.create_program(mra.ProgramInput(code="ZZ-AEO", partner="Zedland", countries="MX",
                                                      customs_administration="Zedland Customs",
                                                      program_name="Zedland AEO"), by=admin)
        mra.record_status_change(program, MraStatus.IN_FORCE, date(2020, 1, 1), by=admin)
        partner = partner_services.create_partner(account, partner_services.PartnerInput(
            name="Bravo Trucking", role=PartnerRole.HIGHWAY_CARRIER, country="MX"), by=officer)
        # Two staged imports (one pending upload per person): the officer's is confirmed, the employee's discarded.
        staged = partner_services.stage_import(account, "partners.csv", [], by=officer)
        staged_other = partner_services.stage_import(account, "more-partners.csv", [], by=user("employee_a"))
        certification = mra.add_account_certification(account, mra.AccountCertificationInput(
            program_id=program.id, certificate_number="ZZ-123", expires_on=today + timedelta(days=365)), by=officer)
        mr_record = mr_records.add_mr_record(validation, mr_records.MrRecordInput(
            validated_on=today - timedelta(days=30), partner_name="Bravo Trucking", country="MX",
            program_id=program.id, certificate_number="ZZ-MR-1"), by=reviewer)

        notification = db_session.scalar(select(Notification).where(Notification.user_id == officer.id))
        db_session.commit()
        assert db_session.get(EvidenceLink, link.id) is not None and notification is not None
        return World(
            params={
                "company_id": company.id,
                "account_id": account.id,
                "address_id": address.id,
                "membership_id": readonly_membership.id,
                "invitation_id": invitation.id,
                "identifier_id": identifier.id,
                "token": "not-a-real-token",
                "profile_id": profile.id,
                "number": 1,                       # category 1, version 1
                "criterion_id": "1.1",
                "catalog_id": profile.catalog_id,
                "plan_id": plan.id,
                "milestone_id": milestone.id,
                "evidence_id": evidence.id,
                "link_id": link.id,
                "import_id": excel_import.id,
                "review_id": open_review.id,
                "notification_id": notification.id,
                "validation_id": validation.id,
                "site_id": site.id,
                "visit_id": visit.id,
                "finding_id": finding.id,
                "blackout_id": blackout.id,
                "program_id": program.id,
                "partner_id": partner.id,
                "certification_id": certification.id,
                "record_id": mr_record.id,
                "fmt": "csv",
                "user_id": readonly_membership.user_id,
            },
            overrides={
                # The application pages work on the open application.
                "accounts.": {"account_id": application.id},
                "partners.import_preview": {"import_id": staged.id},
                "partners.confirm_import": {"import_id": staged.id},
                "partners.discard_import": {"import_id": staged_other.id},
                "validations.feed": {"token": feed_token},
                **{f"exports.verification_{name}": {"import_id": visit_import.id}
                   for name in ("preview", "apply", "discard")},
            },
            queries={"submissions.diff": {"from": 1, "to": 1}},
        )


# --- running the matrix ----------------------------------------------------------------------------

# Download audit rows are the one write a GET may make: reading an export is itself recorded (DESIGN.md §9).
AUDITED_READS = ("export.",)
# GETs known to write, with the reason; each is a deliberate exception to "no state change on GET".
GET_WRITES = {
    # The unconfirmed TOTP secret is kept on the user row so that the QR code shown and the code
    # confirmed next belong to the same secret; it is replaced on each visit and unused until confirmed.
    "auth.mfa_setup": "stores the pending (unconfirmed) TOTP secret",
}


def database_fingerprint() -> dict[str, str]:
    """Per table: its row count and a digest of its contents (audit rows of exports left out)."""
    fingerprint: dict[str, str] = {}
    for table in Base.metadata.sorted_tables:
        query = select(table)
        if table.name == "audit_events":
            query = query.where(~func.coalesce(table.c.action, "").startswith(AUDITED_READS[0]))
        rows = db_session.execute(query.order_by(*table.primary_key.columns)).all()
        digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()[:16]
        fingerprint[table.name] = f"{len(rows)} rows {digest}"
    db_session.rollback()
    return fingerprint


def _matches(expected: Any, response: Any) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and urlsplit(response.headers.get("Location", "")).path == "/auth/login"
    return response.status_code == expected


@dataclass
class Outcome:
    status: int
    location: str = ""
    error: str = ""


def _observe(app: Any, client: Any, endpoint: str, method: str, url: str) -> Outcome:
    try:
        response = client.open(url, method=method, data={} if method == "POST" else None)
    except Exception as error:  # noqa: BLE001 - TESTING re-raises what would be a 500 page
        return Outcome(500, error=f"{type(error).__name__}: {error}"[:300])
    location = urlsplit(response.headers.get("Location", "")).path if response.status_code in (301, 302, 303) else ""
    return Outcome(response.status_code, location)


def run_matrix(app: Any, client: Any, world: World, actor: str, *,
               check_reads: bool = False) -> tuple[list[str], dict[tuple[str, str], Outcome]]:
    """Request every route as ``actor``; the mismatches against EXPECTED and what each route answered."""
    routes = _routes(app)
    mismatches: list[str] = []
    observed: dict[tuple[str, str], Outcome] = {}
    order = _request_order(list(EXPECTED) + sorted(set(routes) - set(EXPECTED)))
    for endpoint, method in order:
        rule = routes.get((endpoint, method))
        if rule is None:
            continue  # reported by test_every_route_has_an_entry
        values = world.values_for(endpoint)
        unknown = sorted(set(rule.arguments) - set(values))
        if unknown:
            mismatches.append(f"{method} {endpoint}: no value for URL parameter(s) {unknown} in build_world()")
            continue
        with app.test_request_context():
            url = url_for(endpoint, **{name: values[name] for name in rule.arguments},
                          **world.queries.get(endpoint, {}))
        before = None
        if check_reads and method == "GET" and endpoint not in GET_WRITES:
            with app.app_context():
                before = database_fingerprint()
        outcome = _observe(app, client, endpoint, method, url)
        observed[(endpoint, method)] = outcome
        if before is not None:
            with app.app_context():
                after = database_fingerprint()
            changed = sorted(name for name in before if before[name] != after[name])
            if changed:
                mismatches.append(f"GET {url} [{endpoint}] changed the database: tables {changed}")
        if (endpoint, method) not in EXPECTED:
            continue
        expected = EXPECTED[(endpoint, method)][actor]
        if outcome.status == 500 or not _matches(expected, _Fake(outcome)):
            where = f" -> {outcome.location}" if outcome.location else ""
            mismatches.append(f"{method} {url} [{endpoint}]: expected {expected}, got {outcome.status}{where}"
                              f"{' ' + outcome.error if outcome.error else ''}")
    return mismatches, observed


@dataclass
class _Fake:
    outcome: Outcome

    @property
    def status_code(self) -> int:
        return self.outcome.status

    @property
    def headers(self) -> dict[str, str]:
        return {"Location": self.outcome.location}


# --- the tests -------------------------------------------------------------------------------------


class _SharedBytecode(BytecodeCache):
    """Compiled templates shared by the apps of this module's tests (each test builds a new app, whose
    Jinja environment would otherwise parse and compile every template again: ~1.5 s per actor)."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Any) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: Any) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


SHARED_BYTECODE = _SharedBytecode()


def test_every_expected_row_names_every_actor():
    wrong = [entry for entry, statuses in EXPECTED.items() if set(statuses) != set(ACTORS)]
    assert wrong == []


def test_every_route_has_an_entry(app):
    problems = coverage_problems(app)
    assert not problems, problems


def test_the_coverage_check_reports_a_route_without_an_entry(database_url, tmp_path):
    """The suite itself: a new route on a fresh app, without a row in EXPECTED, fails the coverage check
    (and names the route with a skeleton row); its removal from the app leaves the row stale."""
    from tests.conftest import make_test_app

    fresh = make_test_app(database_url, tmp_path)
    # The table as it would be with every current route covered, whatever this checkout lacks.
    complete = {entry: EXPECTED.get(entry, everyone(404)) for entry in _routes(fresh)}
    assert coverage_problems(fresh, complete) == ""
    extra = Blueprint("dummy_extra", __name__)

    @extra.route("/dummy/<int:thing_id>/secret", methods=["GET", "POST"])
    def secret(thing_id: int) -> str:
        return "nobody checked who may see this"

    fresh.register_blueprint(extra)
    report = coverage_problems(fresh, complete)
    assert "Routes without an entry in EXPECTED" in report
    assert "('dummy_extra.secret', 'GET'): row(LOGIN, ...),  # /dummy/<int:thing_id>/secret" in report
    assert "('dummy_extra.secret', 'POST')" in report
    with pytest.raises(AssertionError, match="dummy_extra.secret"):
        test_every_route_has_an_entry(fresh)
    stale = dict(complete)
    stale[("gone.page", "GET")] = everyone(404)
    assert "('gone.page', 'GET')" in coverage_problems(fresh, stale)


@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(app, client, cast, login, actor):
    app.jinja_env.bytecode_cache = SHARED_BYTECODE
    world = build_world(app, cast)
    if actor != "anonymous":
        login(cast.email(actor))
    mismatches, _ = run_matrix(app, client, world, actor, check_reads=actor in READ_ONLY_CHECKED)
    assert not mismatches, f"{actor}: {len(mismatches)} route(s) answer unexpectedly:\n" + "\n".join(mismatches)


def test_out_of_range_ids_are_404_on_every_route(app, client, cast, login):
    """Every ``<int:...>`` in every route: an id past the database's integer range (PostgreSQL ``integer``)
    is no page (404), for GET and POST alike, instead of a driver error (a 500)."""
    app.jinja_env.bytecode_cache = SHARED_BYTECODE
    login(cast.email("admin"))
    values = {"token": "x", "criterion_id": "1.1", "catalog_id": "msc-2023", "fmt": "csv", "filename": "x"}
    wrong = []
    for (endpoint, method), rule in sorted(_routes(app).items()):
        numbers = [name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]
        if not numbers:
            continue
        with app.test_request_context():
            url = url_for(endpoint, **{name: 2**31 if name in numbers else values.get(name, "x")
                                       for name in rule.arguments})
        outcome = _observe(app, client, endpoint, method, url)
        if outcome.status != 404:
            wrong.append(f"{method} {url}: {outcome.status} {outcome.error}")
    assert not wrong, "\n".join(wrong)

"""Excel downloads through the web and the CLI (issue 6, items 1, 3 and 5), and the authorization sweep
over every route of the exports blueprint (anonymous -> sign-in, another company -> 404, trade users on
CBP exports -> 404, read-only members -> 403 on the import)."""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from portal.action_plans.models import ActionPlan
from portal.audit import AuditEvent
from portal.catalog import get_catalog
from portal.db import db_session
from portal.exports import columns as cols
from portal.exports.models import ExcelImport, ImportKind
from portal.profiles.models import ProfileVersion
from portal.profiles.submission import submit_profile
from portal.reviews.models import Review
from portal.reviews.scoring import Rating
from portal.reviews.workflow import ReviewStatus
from tests import factories

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def assert_xlsx_download(response: Any, name_prefix: str) -> bytes:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == XLSX
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename={name_prefix}" in disposition
    assert disposition.split(";")[1].strip().removeprefix("filename=").endswith(".xlsx")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.get_data()


def rows_of(content: bytes, sheet: str) -> tuple[list[tuple[Any, ...]], list[list[Any]]]:
    """The sheet's rows through openpyxl and through python-calamine."""
    book = load_workbook(io.BytesIO(content), read_only=True)
    by_openpyxl = list(book[sheet].iter_rows(values_only=True))
    book.close()
    by_calamine = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name(sheet).to_python()
    return by_openpyxl, by_calamine


def submit_and_rate(app: Any, cast: Any, *, rating: Rating = Rating.MEETS) -> tuple[int, int]:
    """Answer and submit company A's profile, then let the reviewer rate every criterion."""
    from portal.reviews import services

    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        factories.answer(profile, "1.1", narrative='=HYPERLINK("http://evil.example","click")')
        submit_profile(profile, "Olivia Officer", by=cast.users["officer_a"])
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id))
        review.reviewer_id = cast.users["reviewer"].id
        services.start(review, by=cast.users["reviewer"])
        for criterion in services.criteria_in_version(review).values():
            services.save_rating(review, criterion, services.RatingInput(rating, "Checked.", (), None),
                                 by=cast.users["reviewer"])
        db_session.commit()
        return profile.id, review.id


# -- the profile workbook ------------------------------------------------------------------------------


def test_reviewer_downloads_the_visit_workbook_of_the_submitted_version(app, client, login, cast):
    profile_id, _review_id = submit_and_rate(app, cast)
    login(cast.email("reviewer"))
    content = assert_xlsx_download(client.get(f"/profiles/{profile_id}/visit-workbook.xlsx"),
                                   "ctpat-visit-workbook-")
    applicable = get_catalog("msc-2023").criteria_for(cast.account_a.business_type)
    by_openpyxl, by_calamine = rows_of(content, "Criteria")
    headers = [c.header for c in cols.CRITERIA]
    assert list(by_openpyxl[0]) == headers and by_calamine[0] == headers
    assert [row[0] for row in by_openpyxl[1:]] == [c.id for c in applicable]
    first = dict(zip(headers, by_openpyxl[1], strict=True))
    assert first["Narrative"] == "'" + '=HYPERLINK("http://evil.example","click")'
    assert first["Reviewer rating"] == "Meets" and first["Reviewer comment"] == "Checked."
    assert by_calamine[1][headers.index("Narrative")] == first["Narrative"]
    book = load_workbook(io.BytesIO(content))
    assert str(book["Criteria"].data_validations.dataValidation[0].sqref) == f"N2:N{len(applicable) + 1}"
    assert book["Criteria"].oddFooter.left.text.endswith("UTC, version 1")
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Company"] == "Alpha Imports Inc." and summary["Overall score"] == 100
    assert summary["Review status"] == "In review"
    meta = {row[0]: row[1] for row in book["_meta"].iter_rows(values_only=True)}
    with app.app_context():
        version = db_session.scalar(select(ProfileVersion).where(ProfileVersion.profile_id == profile_id))
        assert meta["content_sha256"] == version.sha256 and meta["profile_version"] == 1
        event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "export.visit_workbook"))
        assert event is not None and event.actor_email == cast.email("reviewer") and version.sha256 in event.summary
    assert client.get(f"/profiles/{profile_id}/visit-workbook.xlsx?version=1").status_code == 200
    assert client.get(f"/profiles/{profile_id}/visit-workbook.xlsx?version=7").status_code == 404


def test_partner_copy_leaves_out_ratings_and_scores(app, client, login, cast):
    profile_id, _ = submit_and_rate(app, cast, rating=Rating.PARTIALLY_MEETS)
    login(cast.email("employee_a"))
    content = assert_xlsx_download(client.get(f"/profiles/{profile_id}/profile-workbook.xlsx"), "ctpat-profile-")
    by_openpyxl, by_calamine = rows_of(content, "Criteria")
    assert list(by_openpyxl[0]) == [c.header for c in cols.CRITERIA if not c.cbp_only] == by_calamine[0]
    summary, _ = rows_of(content, "Summary")
    assert not any(str(row[0]).startswith(("Score", "Overall", "Review")) for row in summary)
    assert "Partially meets" not in str(by_calamine)


def test_a_never_submitted_profile_exports_its_draft(app, client, login, cast):
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer(profile, "1.2", narrative="Draft answer.")
        db_session.commit()
        profile_id = profile.id
    login(cast.email("officer_a"))
    content = assert_xlsx_download(client.get(f"/profiles/{profile_id}/profile-workbook.xlsx"), "ctpat-profile-")
    rows, _ = rows_of(content, "Criteria")
    assert rows[2][0] == "1.2" and rows[2][7] == "Draft answer."
    meta = dict(row[:2] for row in rows_of(content, "_meta")[0])
    assert meta["profile_version"] == 0 and len(meta["content_sha256"]) == 64


# -- list exports -------------------------------------------------------------------------------------------


def test_queue_export_carries_the_page_filters(app, client, login, cast):
    submit_and_rate(app, cast)
    with app.app_context():
        profile_b = factories.profile_of(cast.account_b)
        factories.answer_all(profile_b)
        submit_profile(profile_b, "Bruno Officer", by=cast.users["officer_b"])
        db_session.commit()
    login(cast.email("reviewer"))
    everything, calamine = rows_of(assert_xlsx_download(client.get("/reviews/queue.xlsx"), "ctpat-review-queue-"),
                                   "Review queue")
    assert list(everything[0]) == [c.header for c in cols.QUEUE] == calamine[0]
    assert sorted(row[1] for row in everything[1:]) == ["Alpha Imports Inc.", "Bravo Manufacturing S.A."]
    importers, _ = rows_of(client.get("/reviews/queue.xlsx?business_type=importer&assigned=me").get_data(),
                           "Review queue")
    assert [(row[1], row[11], row[12]) for row in importers[1:]] == [("Alpha Imports Inc.", "Riley Reviewer",
                                                                      ReviewStatus.IN_PROGRESS.label)]
    by_company, _ = rows_of(client.get("/reviews/queue.xlsx?sort=company&dir=desc").get_data(), "Review queue")
    assert [row[1] for row in by_company[1:]] == ["Bravo Manufacturing S.A.", "Alpha Imports Inc."]
    meta = dict(row[:2] for row in rows_of(client.get("/reviews/queue.xlsx?status=all&q=Bravo").get_data(),
                                           "_meta")[0])
    assert meta["rows"] == 1 and meta["filter.q"] == "Bravo" and meta["filter.status"] == "all"


def test_queue_page_links_to_the_export_with_its_filters(app, client, login, cast):
    login(cast.email("reviewer"))
    page = client.get("/reviews?business_type=importer&overdue=1&sort=company").get_data(as_text=True)
    (href,) = re.findall(r'href="(/reviews/queue\.xlsx[^"]*)"', page)
    query = parse_qs(urlsplit(html.unescape(href)).query)
    assert query == {"business_type": ["importer"], "overdue": ["1"], "sort": ["company"]}


def test_review_pages_link_to_the_visit_workbook_of_their_version(app, client, login, cast):
    profile_id, review_id = submit_and_rate(app, cast)
    login(cast.email("reviewer"))
    page = client.get(f"/reviews/{review_id}/scores").get_data(as_text=True)
    assert f'href="/profiles/{profile_id}/visit-workbook.xlsx?version=1"' in page


def test_action_plan_export(app, client, login, cast):
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer(profile, "1.1", status="partially_implemented", narrative="Half done.")
        for n in range(3):
            db_session.add(ActionPlan(profile_id=profile.id, criterion_id="1.1", gap=f"Gap {n}",
                                      corrective_action=f"@fix {n}", owner_name="Evan Employee",
                                      target_date=date.today() + timedelta(days=n - 1)))
        db_session.commit()
        profile_id = profile.id
    login(cast.email("readonly_a"))
    content = assert_xlsx_download(client.get(f"/profiles/{profile_id}/action-plans.xlsx"), "ctpat-action-plans-")
    rows, calamine = rows_of(content, "Action plans")
    assert list(rows[0]) == [c.header for c in cols.ACTION_PLAN_LIST] == calamine[0]
    assert [(r[1], r[3], r[4], r[8]) for r in rows[1:]] == [("1.1", "Gap 0", "'@fix 0", "Yes"),
                                                          ("1.1", "Gap 1", "'@fix 1", "No"),
                                                          ("1.1", "Gap 2", "'@fix 2", "No")]


def test_admin_exports_the_audit_trail(app, client, login, cast):
    login(cast.email("admin"))
    content = assert_xlsx_download(client.get("/admin/audit-events.xlsx"), "ctpat-audit-events-")
    rows, calamine = rows_of(content, "Audit events")
    assert list(rows[0]) == [c.header for c in cols.AUDIT_EVENTS] == calamine[0]
    with app.app_context():
        # The export itself is recorded after the rows were read.
        total = db_session.scalar(select(func.count()).select_from(AuditEvent))
        assert len(rows) - 1 == total - 1
    ids = [row[0] for row in rows[1:]]
    assert ids == sorted(ids, reverse=True)
    logins, _ = rows_of(client.get("/admin/audit-events.xlsx?action=auth.login").get_data(), "Audit events")
    assert logins[1:] and all(row[4] == "auth.login" for row in logins[1:])
    mine, _ = rows_of(client.get("/admin/audit-events.xlsx?actor=ADMIN@cbp&date_from=2000-01-01&date_to=2999-12-31"
                                 f"&company={cast.company_a.id}").get_data(), "Audit events")
    assert mine[1:] == []  # the admin did nothing in company A
    theirs, _ = rows_of(client.get(f"/admin/audit-events.xlsx?company_id={cast.company_a.id}&date_to=1999-01-01")
                        .get_data(), "Audit events")
    assert theirs[1:] == []
    officer, _ = rows_of(client.get(f"/admin/audit-events.xlsx?actor=officer@a&company={cast.company_a.id}")
                         .get_data(), "Audit events")
    assert officer[1:] and all(row[2] == "officer@a.example" for row in officer[1:])


# -- CLI ---------------------------------------------------------------------------------------------------------


def test_cli_exports_profile_and_queue(app, cast, tmp_path):
    submit_and_rate(app, cast)
    runner = app.test_cli_runner()
    target = tmp_path / "profile.xlsx"
    result = runner.invoke(args=["export", "profile", str(cast.account_a.id), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "cbp copy, version 1" in result.output
    criteria, _ = rows_of(target.read_bytes(), "Criteria")
    assert criteria[0][-1] == "Visit notes" and criteria[1][11] == "Meets"
    partner = tmp_path / "partner.xlsx"
    assert runner.invoke(args=["export", "profile", str(cast.account_a.id), "--out", str(partner),
                               "--partner"]).exit_code == 0
    assert rows_of(partner.read_bytes(), "Criteria")[0][0][-1] == "Action plans"
    missing = runner.invoke(args=["export", "profile", "999999", "--out", str(tmp_path / "x.xlsx")])
    assert missing.exit_code != 0 and "has no security profile" in missing.output
    queue_file = tmp_path / "queue.xlsx"
    result = runner.invoke(args=["export", "queue", "--out", str(queue_file), "--status", "all"])
    assert result.exit_code == 0, result.output
    assert "(1 reviews)" in result.output
    rows, calamine = rows_of(queue_file.read_bytes(), "Review queue")
    assert len(rows) == 2 and calamine[1][1] == "Alpha Imports Inc."
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action.in_(["export.queue", "export.visit_workbook"]))) == 2


# -- authorization sweep -------------------------------------------------------------------------------------

ACTORS = ("anonymous", "officer_a", "employee_a", "consultant_a", "readonly_a", "officer_b", "reviewer", "admin")
LOGIN = "login"


def _row(*statuses: Any) -> dict[str, Any]:
    return dict(zip(ACTORS, statuses, strict=True))


# (method, endpoint-url template, expected per actor). The pending import belongs to officer_a; the
# discard changes it, so it runs last.
SWEEP: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/profiles/{profile}/excel", _row(LOGIN, 200, 200, 200, 200, 404, 200, 200)),
    ("GET", "/profiles/{profile}/visit-workbook.xlsx", _row(LOGIN, 404, 404, 404, 404, 404, 200, 200)),
    ("GET", "/profiles/{profile}/profile-workbook.xlsx", _row(LOGIN, 200, 200, 200, 200, 404, 403, 403)),
    ("GET", "/profiles/{profile}/questionnaire.xlsx", _row(LOGIN, 200, 200, 200, 200, 404, 403, 403)),
    ("GET", "/profiles/{profile}/action-plans.xlsx", _row(LOGIN, 200, 200, 200, 200, 404, 200, 200)),
    ("GET", "/validations/{validation}/findings.xlsx", _row(LOGIN, 403, 403, 403, 403, 404, 200, 200)),
    ("GET", "/reviews/queue.xlsx", _row(LOGIN, 404, 404, 404, 404, 404, 200, 200)),
    ("GET", "/admin/audit-events.xlsx", _row(LOGIN, 404, 404, 404, 404, 404, 404, 200)),
    ("POST", "/profiles/{profile}/questionnaire/import", _row(LOGIN, 200, 200, 200, 403, 404, 403, 403)),
    ("GET", "/profiles/{profile}/imports/{upload}", _row(LOGIN, 200, 404, 404, 403, 404, 403, 403)),
    ("POST", "/profiles/{profile}/imports/{upload}/apply", _row(LOGIN, 400, 404, 404, 403, 404, 403, 403)),
    ("POST", "/profiles/{profile}/imports/{upload}/discard", _row(LOGIN, 302, 404, 404, 403, 404, 403, 403)),
    # A validation's on-site verification (CBP only); the pending visit-workbook upload is the reviewer's.
    ("GET", "/validations/{validation}/verification", _row(LOGIN, 404, 404, 404, 404, 404, 200, 200)),
    ("GET", "/validations/{validation}/visit-workbook.xlsx", _row(LOGIN, 404, 404, 404, 404, 404, 200, 200)),
    ("POST", "/validations/{validation}/verification/import", _row(LOGIN, 404, 404, 404, 404, 404, 200, 200)),
    ("GET", "/validations/{validation}/verification/imports/{visit_upload}",
     _row(LOGIN, 404, 404, 404, 404, 404, 200, 404)),
    ("POST", "/validations/{validation}/verification/imports/{visit_upload}/apply",
     _row(LOGIN, 404, 404, 404, 404, 404, 400, 404)),
    ("POST", "/validations/{validation}/verification/imports/{visit_upload}/discard",
     _row(LOGIN, 404, 404, 404, 404, 404, 302, 404)),
]


def test_the_sweep_covers_every_route_of_the_blueprint(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("exports.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    covered = {(method, url.replace("{profile}", "<int:profile_id>").replace("{upload}", "<int:import_id>")
                .replace("{visit_upload}", "<int:import_id>")
                .replace("{validation}", "<int:validation_id>")) for method, url, _ in SWEEP}
    assert routes == covered


@pytest.mark.parametrize("actor", ACTORS)
def test_authorization_sweep(app, client, login, cast, actor):
    from portal.validations.models import Validation
    from portal.validations.workflow import ValidationStatus

    _validation_with_findings(app, cast, ValidationStatus.SCHEDULED)
    with app.app_context():
        validation_id = db_session.scalar(select(Validation.id))
        profile = factories.profile_of(cast.account_a)
        upload = ExcelImport(profile_id=profile.id, user_id=cast.users["officer_a"].id,
                             payload={"file_name": "q.xlsx", "meta": {}, "downloaded": {}, "rows": []})
        visit_upload = ExcelImport(profile_id=profile.id, user_id=cast.users["reviewer"].id,
                                   kind=ImportKind.VISIT_WORKBOOK, validation_id=validation_id,
                                   payload={"file_name": "v.xlsx", "meta": {}, "downloaded": {}, "rows": []})
        db_session.add_all([upload, visit_upload])
        db_session.commit()
        params = {"profile": profile.id, "upload": upload.id, "validation": validation_id,
                  "visit_upload": visit_upload.id}
    if actor != "anonymous":
        login(cast.email(actor))
    wrong = []
    for method, template, expected in SWEEP:
        url = template.format(**params)
        response = client.open(url, method=method, data={} if method == "POST" else None)
        want = expected[actor]
        ok = (response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/auth/login"
              if want == LOGIN else response.status_code == want)
        if not ok:
            wrong.append(f"{method} {url}: expected {want}, got {response.status_code}")
    assert not wrong, "\n".join(wrong)


def _validation_with_findings(app: Any, cast: Any, status: Any) -> None:
    """A validation of company A with a facility site, a visit, two findings (one answered) and two
    business partners in the register."""
    from datetime import UTC, datetime

    from portal.companies.models import Address
    from portal.companies.workflow import AddressKind
    from portal.partners.enums import CertificationKind, PartnerRole, RiskRating
    from portal.partners.models import BusinessPartner
    from portal.validations.models import Finding, FindingResponse, Validation, ValidationSite, Visit
    from portal.validations.workflow import FindingKind, SiteMode, ValidationKind, VisitStatus

    with app.app_context():
        address = Address(company_id=cast.company_a.id, kind=AddressKind.FACILITY, name="Dock 4", line1="1 Dock Rd",
                          city="Laredo", region="TX", country="US", timezone="America/Chicago", visitable=True)
        db_session.add(address)
        db_session.flush()
        validation = Validation(account_id=cast.account_a.id, kind=ValidationKind.INITIAL, status=status,
                                due_on=date(2026, 12, 1), lead_id=cast.users["reviewer"].id)
        validation.members.append(db_session.get(type(cast.users["reviewer2"]), cast.users["reviewer2"].id))
        db_session.add(validation)
        db_session.flush()
        site = ValidationSite(validation_id=validation.id, address_id=address.id, mode=SiteMode.ONSITE)
        db_session.add(site)
        db_session.flush()
        db_session.add(Visit(validation_id=validation.id, site_id=site.id, timezone="America/Chicago",
                             starts_at=datetime(2026, 7, 1, 14, 0, tzinfo=UTC),
                             ends_at=datetime(2026, 7, 1, 22, 0, tzinfo=UTC), status=VisitStatus.CONFIRMED))
        required = Finding(validation_id=validation.id, criterion_id="1.1", kind=FindingKind.REQUIRED_ACTION,
                           text="-Seal log incomplete", due_on=date(2026, 10, 1))
        db_session.add_all([required, Finding(validation_id=validation.id, criterion_id="2.1",
                                              kind=FindingKind.RECOMMENDATION, text="Train the night shift.")])
        db_session.flush()
        db_session.add(FindingResponse(finding_id=required.id, action_plan="New log book.", accepted=None))
        db_session.add_all([
            BusinessPartner(account_id=cast.account_a.id, name="Carrier One", name_key="carrier one",
                            role=PartnerRole.HIGHWAY_CARRIER, country="MX", certification=CertificationKind.NONE,
                            risk_rating=RiskRating.HIGH, last_assessed_on=date(2026, 1, 5), notes="=1+1"),
            BusinessPartner(account_id=cast.account_a.id, name="Acme Widgets", name_key="acme widgets",
                            role=PartnerRole.MANUFACTURER, country="CN", certification=CertificationKind.NONE),
        ])
        db_session.commit()


def test_validation_sheets_are_filled_from_the_validation(app, client, login, cast):
    from portal.validations.workflow import ValidationStatus

    submit_and_rate(app, cast)
    _validation_with_findings(app, cast, ValidationStatus.SCHEDULED)
    with app.app_context():
        from portal.companies.models import Address
        from portal.companies.workflow import AddressKind
        from portal.validations.models import Validation, ValidationSite
        from portal.validations.workflow import NoGoReason, SiteMode

        yard = Address(company_id=cast.company_a.id, kind=AddressKind.FACILITY, name="North Yard", line1="9 Rail Rd",
                       city="Gary", country="US", timezone="America/Chicago")
        db_session.add(yard)
        db_session.flush()
        validation_id = db_session.scalar(select(Validation.id).where(Validation.account_id == cast.account_a.id))
        db_session.add(ValidationSite(validation_id=validation_id, address_id=yard.id, mode=SiteMode.ONSITE,
                                      no_go=True, no_go_reason=NoGoReason.SECURITY))
        db_session.commit()
    login(cast.email("reviewer"))
    content = client.get(f"/profiles/{factories_profile_id(app, cast)}/visit-workbook.xlsx").get_data()
    plan, _ = rows_of(content, "Visit plan")
    yard_row = next(row for row in plan if row[0] == "North Yard")
    assert yard_row[5] == f"{SiteMode.ONSITE.label}, no-go: {NoGoReason.SECURITY.label}"   # the reason, not just no-go
    partners, partners_calamine = rows_of(content, "Business partners")
    assert [row[0] for row in partners[1:]] == ["Acme Widgets", "Carrier One"]
    carrier = partners[2]
    assert carrier[1] == "Carrier: highway" and carrier[5] == datetime_of(date(2026, 1, 5)) and carrier[6] == "High"
    assert carrier[7].startswith("Screening: ") and carrier[7].endswith("\n=1+1")
    assert partners_calamine[2][0] == "Carrier One"
    findings, _ = rows_of(content, "Findings")
    from portal.validations.workflow import FindingKind, FindingStatus

    assert [(row[1], row[2], row[3]) for row in findings[1:]] == [
        ("1.1", FindingKind.REQUIRED_ACTION.label, FindingStatus.OPEN.label),
        ("2.1", FindingKind.RECOMMENDATION.label, FindingStatus.OPEN.label)]
    assert findings[1][4] == "'-Seal log incomplete" and findings[1][6] == "New log book. (waiting for CBP)"
    visits, visits_calamine = rows_of(content, "Visit plan")
    assert visits[1][0] == "Dock 4" and visits[1][2] == datetime_of(date(2026, 7, 1), hour=9)  # 14:00 UTC = 09:00 CDT
    assert visits[1][4] == "America/Chicago" and visits[1][6] == "Riley Reviewer"
    assert visits[1][7] == "Riley Reviewer, Robin Reviewer"
    assert visits_calamine[1][0] == "Dock 4"
    # The partner sees its register and the visit plan, but no findings before the report is sent.
    client.post("/auth/logout")
    login(cast.email("officer_a"))
    partner_copy = client.get(f"/profiles/{factories_profile_id(app, cast)}/profile-workbook.xlsx").get_data()
    assert len(rows_of(partner_copy, "Business partners")[0]) == 3
    assert rows_of(partner_copy, "Findings")[0][1:] == []
    assert len(rows_of(partner_copy, "Visit plan")[0]) == 3    # header, the visit, the no-go site


def test_the_partner_sees_findings_once_the_report_is_sent(app, client, login, cast):
    from portal.validations.workflow import ValidationStatus

    _validation_with_findings(app, cast, ValidationStatus.SENT_TO_PARTNER)
    login(cast.email("employee_a"))
    content = client.get(f"/profiles/{factories_profile_id(app, cast)}/profile-workbook.xlsx").get_data()
    assert [row[1] for row in rows_of(content, "Findings")[0][1:]] == ["1.1", "2.1"]


def factories_profile_id(app: Any, cast: Any) -> int:
    with app.app_context():
        return factories.profile_of(cast.account_a).id


def datetime_of(day: date, hour: int = 0) -> Any:
    from datetime import datetime

    return datetime(day.year, day.month, day.day, hour)


def test_findings_export_lists_a_validation_s_findings(app, client, login, cast):
    from portal.validations.models import Validation
    from portal.validations.workflow import ValidationStatus

    _validation_with_findings(app, cast, ValidationStatus.SENT_TO_PARTNER)
    with app.app_context():
        validation_id = db_session.scalar(select(Validation.id))
    login(cast.email("officer_a"))  # the report was sent, so the company sees its findings
    content = assert_xlsx_download(client.get(f"/validations/{validation_id}/findings.xlsx"), "ctpat-findings-")
    rows, calamine = rows_of(content, "Findings")
    assert list(rows[0]) == [c.header for c in cols.FINDING_LIST] == calamine[0]
    assert [(r[1], r[5], r[7], r[8]) for r in rows[1:]] == [
        ("1.1", "'-Seal log incomplete", "New log book.", "Waiting for CBP"), ("2.1", "Train the night shift.", None,
                                                                             None)]
    assert rows[1][2] == get_catalog("msc-2023").criterion("1.1").title
    assert calamine[1][5] == "'-Seal log incomplete"

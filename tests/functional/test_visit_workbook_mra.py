"""The visit plan of a validation's visit workbook names the foreign AEO certificate of every planned site
covered under a Mutual Recognition Arrangement (program, certificate number, expiry), read back with
openpyxl; the plan is this validation's; the added columns leave the import alone, for the new layout
and for workbooks downloaded before it; trade users still cannot download."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from portal.clock import today
from portal.db import db_session
from portal.exports.columns import MRA_COLUMNS, VISIT_PLAN
from portal.partners import mra
from portal.profiles.services import profile_for_account
from portal.validations import recognition, services
from portal.validations.models import Validation, ValidationSite
from portal.validations.workflow import NoGoReason, SiteMode, ValidationKind, ValidationStatus
from tests.functional.test_exports_import import kinds, preview_of
from tests.functional.test_validation_mra import MX_NAME, certify_abroad
from tests.functional.test_validations import planned, user
from tests.functional.test_visit_import import download, fill, upload

EXPIRES = today() + timedelta(days=400)
CERTIFICATE = "OEA-MX-2022-00317"


@pytest.fixture
def covered(app: Any, cast: Any) -> dict[str, int]:
    """Company B's validation: Chicago DC planned for a visit (no MRA), the Monterrey plant marked covered
    by the account's Mexican OEA certificate, and the Mexican headquarters planned for a CBP visit although
    the same certificate covers it."""
    ids = planned(app, cast, account="account_b", members=())
    with app.app_context():
        certification = certify_abroad(ids["account"], cast, expires=EXPIRES, number=CERTIFICATE)
        validation = db_session.get(Validation, ids["validation"])
        lead = user("reviewer", cast)
        recognition.mark_covered(validation, db_session.get(ValidationSite, ids["mx_site"]).address, by=lead)
        headquarters = next(a for a in services.unplanned_addresses(validation) if a.country == "MX")
        ids["hq_site"] = services.add_site(validation, headquarters, SiteMode.ONSITE, by=lead).id
        ids["hq_city"] = headquarters.city
        ids["certification"] = certification.id
        db_session.commit()
    return ids


def plan_rows(content: bytes) -> tuple[list[Any], dict[str, tuple[Any, ...]]]:
    """The Visit plan sheet, read back with openpyxl: its header and its rows by site name."""
    book = load_workbook(io.BytesIO(content))
    rows = list(book["Visit plan"].iter_rows(values_only=True))
    summary = [row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True) if row[0] == "Note"]
    book.close()
    return [*rows[0], summary], {row[0]: row for row in rows[1:]}


def test_covered_sites_carry_the_program_certificate_and_expiry(app, client, login, cast, covered):
    login(cast.email("reviewer"))
    header, rows = plan_rows(download(client, covered["validation"]))
    *columns, notes = header
    assert columns == [c.header for c in VISIT_PLAN]
    assert columns[-3:] == ["MRA program", "MRA certificate", "Certificate expires"] == [c.header for c in MRA_COLUMNS]
    program, certificate, expires = -3, -2, -1
    monterrey = rows["Monterrey plant"]
    assert (monterrey[program], monterrey[certificate]) == (MX_NAME, CERTIFICATE)
    assert monterrey[expires] == datetime(EXPIRES.year, EXPIRES.month, EXPIRES.day)   # a real date cell
    assert monterrey[5] == f"{SiteMode.ONSITE.label}, no-go: {NoGoReason.MRA_VALIDATED.label}"
    # Planned for a CBP visit, yet covered by the same certificate: the specialist has it on paper too.
    headquarters = rows[covered["hq_city"]]
    assert (headquarters[program], headquarters[certificate]) == (MX_NAME, CERTIFICATE)
    assert headquarters[5] == f"{SiteMode.ONSITE.label}, not scheduled yet"
    chicago = rows["Chicago DC"]
    assert chicago[program] is None and chicago[certificate] is None and chicago[expires] is None
    assert set(rows) == {"Monterrey plant", covered["hq_city"], "Chicago DC"}
    assert any("type CLEAR" in note for note in notes)


def test_the_profiles_own_visit_workbook_shows_the_certificates_too(app, client, login, cast, covered):
    """The visit workbook downloaded from the profile (the account's newest validation) has the same visit
    plan sheet, built by the same function."""
    with app.app_context():
        profile_id = profile_for_account(db_session.get(Validation, covered["validation"]).account).id
    login(cast.email("reviewer"))
    response = client.get(f"/profiles/{profile_id}/visit-workbook.xlsx")
    assert response.status_code == 200
    header, rows = plan_rows(response.get_data())
    assert header[:-1] == [c.header for c in VISIT_PLAN]
    assert (rows["Monterrey plant"][-3], rows["Monterrey plant"][-2]) == (MX_NAME, CERTIFICATE)
    assert rows[covered["hq_city"]][-2] == CERTIFICATE and rows["Chicago DC"][-2] is None


def test_a_removed_certification_keeps_what_was_relied_on_and_says_it_no_longer_counts(app, client, login, cast,
                                                                                       covered):
    with app.app_context():
        from portal.partners.models import AccountMraCertification

        mra.remove_account_certification(db_session.get(AccountMraCertification, covered["certification"]),
                                         by=user("officer_b", cast))
        db_session.commit()
    login(cast.email("reviewer"))
    _, rows = plan_rows(download(client, covered["validation"]))
    monterrey = rows["Monterrey plant"]
    assert (monterrey[-3], monterrey[-2], monterrey[-1]) == (MX_NAME, CERTIFICATE, None)
    assert "the coverage no longer counts: The foreign certification relied on is no longer recorded" in monterrey[5]
    assert rows[covered["hq_city"]][-3] is None   # nothing covers the headquarters any more


def test_the_plan_is_this_validations_not_the_newest_one(app, client, login, cast, covered):
    """The plan of the validation the workbook is downloaded for, even when the account has a newer one:
    its sites, each once, in the order they were added."""
    with app.app_context():
        current = db_session.get(Validation, covered["validation"])
        db_session.add(Validation(account_id=current.account_id, kind=ValidationKind.REVALIDATION,
                                  status=ValidationStatus.CLOSED, due_on=current.due_on, lead_id=current.lead_id))
        db_session.commit()
    login(cast.email("reviewer"))
    content = download(client, covered["validation"])
    book = load_workbook(io.BytesIO(content), read_only=True)
    names = [row[0] for row in book["Visit plan"].iter_rows(min_row=2, values_only=True)]
    book.close()
    assert names == ["Chicago DC", "Monterrey plant", covered["hq_city"]]


def test_the_import_reads_the_new_and_the_older_layout_alike(app, client, login, cast, covered):
    login(cast.email("reviewer"))
    new_layout = download(client, covered["validation"])
    # The workbook as downloaded before the visit plan had its MRA columns: the same without them.
    book = load_workbook(io.BytesIO(new_layout))
    book["Visit plan"].delete_cols(len(VISIT_PLAN) - len(MRA_COLUMNS) + 1, len(MRA_COLUMNS))
    out = io.BytesIO()
    book.save(out)
    older = out.getvalue()
    book = load_workbook(io.BytesIO(older), read_only=True)
    assert "MRA program" not in next(book["Visit plan"].iter_rows(max_row=1, values_only=True))
    book.close()
    for content in (new_layout, older):
        url, html, _ = preview_of(client, upload(client, covered["validation"], fill(content, {
            "1.1": {"Verified": "Y", "Notes": "Gate log seen."}})))
        assert kinds(html) == {"1.1": "new"}
        assert client.post(url + "/discard").status_code == 302


def test_an_edited_visit_plan_sheet_is_not_read(app, client, login, cast, covered):
    """The visit plan is for paper: a reviewer writing in its MRA columns does not stop the import."""
    login(cast.email("reviewer"))
    book = load_workbook(io.BytesIO(fill(download(client, covered["validation"]), {"1.1": {"Verified": "N"}})))
    book["Visit plan"].cell(2, len(VISIT_PLAN) - 1, "certificate seen at the gate")
    out = io.BytesIO()
    book.save(out)
    _, html, _ = preview_of(client, upload(client, covered["validation"], out.getvalue()))
    assert kinds(html) == {"1.1": "new"}


@pytest.mark.parametrize("actor", ["officer_b", "officer_a"])
def test_trade_users_still_cannot_download_the_visit_workbook(app, client, login, cast, covered, actor):
    login(cast.email(actor))
    assert client.get(f"/validations/{covered['validation']}/visit-workbook.xlsx").status_code == 404

"""The visit-workbook round trip of a validation through the web (issue 6): download the workbook from
the validation, fill "Verified on site" and "Visit notes" with openpyxl, upload, preview, confirm;
exactly the edited criteria change, in one transaction with a timeline and audit event, and the next
download shows them pre-filled (read back with openpyxl and python-calamine). Every bad file gets its
own clear error and changes nothing; checks stored by someone else since the download show up as
conflicts and are never overwritten silently; who may see, download and import."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.db import db_session
from portal.exports import columns as cols
from portal.exports.models import ExcelImport, ImportKind, ImportStatus
from portal.exports.profile_workbook import Audience, build_profile_workbook
from portal.exports.queries import profile_workbook_data, questionnaire_data
from portal.exports.questionnaire import build_questionnaire
from portal.profiles.submission import submit_profile
from portal.templating import format_datetime
from portal.validations import services
from portal.validations.models import Validation, ValidationEvent
from portal.validations.verification import NOTES_MAX, CheckInput, ValidationCheck, Verified, save_checks
from portal.validations.workflow import ValidationKind, ValidationStatus
from tests import factories
from tests.functional.test_exports_import import _rezip, kinds, preview_of
from tests.functional.test_validations import certify

VERIFIED, NOTES = cols.C_VERIFIED + 1, cols.C_NOTES + 1   # 1-based sheet columns N and O


def setup_validation(app: Flask, cast: Any, account: str = "account_a", *, members: tuple[str, ...] = ()) -> int:
    """A certified account with a submitted profile and a planned validation led by ``reviewer``."""
    with app.app_context():
        trade_account = certify(getattr(cast, account).id, cast)
        profile = factories.profile_of(trade_account)
        factories.answer_all(profile)
        officer = profile.account.company.memberships[0].user
        submit_profile(profile, officer.full_name, by=officer)
        lead = db_session.get(User, cast.users["reviewer"].id)
        validation = services.create_validation(trade_account, lead, by=lead)
        if members:
            services.set_team(validation, lead, [db_session.get(User, cast.users[m].id) for m in members], by=lead)
        db_session.commit()
        return validation.id


def stored(app: Flask, validation_id: int) -> dict[str, tuple[str | None, str, int]]:
    with app.app_context():
        return {c.criterion_id: (c.verified.value if c.verified else None, c.notes, c.version)
                for c in db_session.scalars(select(ValidationCheck).where(ValidationCheck.validation_id
                                                                          == validation_id))}


def download(client: Any, validation_id: int) -> bytes:
    response = client.get(f"/validations/{validation_id}/visit-workbook.xlsx")
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    assert "ctpat-visit-workbook-" in response.headers["Content-Disposition"]
    return response.get_data()


def save(book: Any) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def fill(content: bytes, entries: dict[str, dict[str, Any]]) -> bytes:
    """Type into the Criteria sheet by criterion ID: {"1.1": {"Verified": "y", "Notes": "..."}}."""
    book = load_workbook(io.BytesIO(content))
    ws = book["Criteria"]
    rows = {ws.cell(row, 1).value: row for row in range(2, ws.max_row + 1)}
    for cid, values in entries.items():
        for name, value in values.items():
            cell = ws.cell(rows[cid], {"Verified": VERIFIED, "Notes": NOTES}[name], value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # what Excel stores for text typed with a leading apostrophe
    return save(book)


def upload(client: Any, validation_id: int, content: bytes, name: str = "visit-workbook.xlsx") -> Any:
    return client.post(f"/validations/{validation_id}/verification/import",
                       data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def criteria_rows(content: bytes) -> tuple[dict[str, tuple[Any, ...]], dict[str, list[Any]]]:
    """The Criteria sheet by criterion ID, through openpyxl and through python-calamine."""
    book = load_workbook(io.BytesIO(content), read_only=True)
    by_openpyxl = {row[0]: row for row in book["Criteria"].iter_rows(min_row=2, values_only=True)}
    book.close()
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("Criteria").to_python()
    return by_openpyxl, {row[0]: row for row in sheet[1:]}


def meta_of(content: bytes) -> dict[str, Any]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    meta = {row[0]: row[1] for row in book["_meta"].iter_rows(values_only=True) if row and row[0]}
    book.close()
    return meta


# -- the round trip ---------------------------------------------------------------------------------------


def test_round_trip_stores_exactly_the_edits_and_the_next_download_shows_them(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    page = client.get(f"/validations/{validation_id}/verification")
    assert page.status_code == 200 and "Not recorded: " in page.get_data(as_text=True)
    original = download(client, validation_id)
    meta = meta_of(original)
    assert meta["kind"] == "ctpat-profile-workbook" and meta["audience"] == "cbp"
    assert meta["validation_id"] == validation_id
    first, _ = criteria_rows(original)
    assert all(row[cols.C_VERIFIED] is None and row[cols.C_NOTES] is None for row in first.values())

    workbook = fill(original, {
        "1.1": {"Verified": "y", "Notes": "Posters seen in the lobby.\nPolicy signed by the CEO."},
        "1.2": {"Verified": "PARTIAL"},
        "2.1": {"Notes": "=Ask for the contract"},   # stored as text, never a formula
    })
    url, html, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    assert kinds(html) == {"1.1": "new", "1.2": "new", "2.1": "new"}
    assert "Posters seen in the lobby." in html and "Verified: Partial" in html
    assert stored(app, validation_id) == {}  # the preview changes nothing

    applied = client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert applied.status_code == 302 and applied.headers["Location"].endswith(f"/validations/{validation_id}/"
                                                                               "verification")
    assert stored(app, validation_id) == {
        "1.1": ("yes", "Posters seen in the lobby.\nPolicy signed by the CEO.", 1),
        "1.2": ("partial", "", 1),
        "2.1": (None, "=Ask for the contract", 1),
    }
    with app.app_context():
        event = db_session.scalar(select(ValidationEvent).where(ValidationEvent.kind == "checks_imported"))
        assert event.validation_id == validation_id and event.actor_id == cast.users["reviewer"].id
        assert event.note == "3 criteria: 1.1, 1.2, 2.1"  # the company sees the timeline: no verdicts
        audit_event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "validation.checks_imported"))
        assert audit_event.actor_email == cast.email("reviewer")
        upload_row = db_session.scalar(select(ExcelImport))
        assert (upload_row.status, upload_row.kind, upload_row.validation_id) == (
            ImportStatus.APPLIED, ImportKind.VISIT_WORKBOOK, validation_id)
    page = client.get(f"/validations/{validation_id}/verification").get_data(as_text=True)
    assert 'id="check-1-1" data-verified="Y"' in page and "Partly verified" in page and "Riley Reviewer" in page
    # The same upload cannot be applied twice.
    again = client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert again.status_code == 302 and stored(app, validation_id)["1.1"][2] == 1

    # The second download shows the stored checks, for openpyxl and calamine alike.
    second = download(client, validation_id)
    by_openpyxl, by_calamine = criteria_rows(second)
    for rows in (by_openpyxl, by_calamine):
        assert (rows["1.1"][cols.C_VERIFIED], rows["1.1"][cols.C_NOTES]) == (
            "Y", "Posters seen in the lobby.\nPolicy signed by the CEO.")
        assert rows["1.2"][cols.C_VERIFIED] == "Partial" and rows["1.2"][cols.C_NOTES] in (None, "")
        assert rows["2.1"][cols.C_VERIFIED] in (None, "") and rows["2.1"][cols.C_NOTES] == "'=Ask for the contract"
        assert rows["1.3"][cols.C_VERIFIED] in (None, "")

    # Uploading it untouched imports nothing; editing one row changes just that one, old -> new.
    _, html, _ = preview_of(client, upload(client, validation_id, second))
    assert kinds(html) == {} and "nothing to import" in html
    url, html, fingerprint = preview_of(client, upload(client, validation_id, fill(second, {
        "1.1": {"Verified": "n", "Notes": "The posters were gone on day two."}})))
    assert kinds(html) == {"1.1": "changed"}
    assert "Verified: Y" in html and "Verified: N" in html and "The posters were gone on day two." in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert stored(app, validation_id)["1.1"] == ("no", "The posters were gone on day two.", 2)
    assert stored(app, validation_id)["1.2"] == ("partial", "", 1)
    # The company sees in its timeline that the verification was recorded, never what was found.
    client.post("/auth/logout")
    login(cast.email("officer_a"))
    timeline = client.get(f"/validations/{validation_id}").get_data(as_text=True)
    assert "On-site verification imported from the visit workbook" in timeline
    assert "posters" not in timeline.lower() and "Partial" not in timeline


def test_blank_cells_leave_the_stored_values(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    url, _, fingerprint = preview_of(client, upload(client, validation_id, fill(download(client, validation_id), {
        "1.1": {"Verified": "Y", "Notes": "Seen."}})))
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    # Clearing the pre-filled Verified cell and changing only the notes keeps "Y".
    workbook = fill(download(client, validation_id), {"1.1": {"Verified": None, "Notes": "Seen twice."}})
    url, html, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    assert kinds(html) == {"1.1": "changed"}
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert stored(app, validation_id)["1.1"] == ("yes", "Seen twice.", 2)


def test_the_preview_gives_the_upload_and_download_times_in_one_zone(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    content = fill(download(client, validation_id), {"1.1": {"Verified": "Y"}})
    _, html, _ = preview_of(client, upload(client, validation_id, content))
    exported = datetime.fromisoformat(meta_of(content)["exported_at"])
    sentence = re.search(r"uploaded ([^;<]+); downloaded from the portal ([^<]+)\.</p>", html)
    assert sentence, html[:3000]
    assert sentence.group(2) == format_datetime(exported)
    assert sentence.group(1)[-3:] == sentence.group(2)[-3:] in {"EST", "EDT"}
    assert "conflicts with checks stored after the download (online, or by an earlier import)" in html


def test_a_download_time_edited_in_the_workbook_is_left_out(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    book = load_workbook(io.BytesIO(fill(download(client, validation_id), {"1.1": {"Verified": "Y"}})))
    for row in book["_meta"].iter_rows():
        if row[0].value == "exported_at":
            row[1].value = "<b>last Tuesday</b>"
    _, html, _ = preview_of(client, upload(client, validation_id, save(book)))
    assert "downloaded from the portal" not in html and "last Tuesday" not in html
    assert "new check" in html  # the import itself goes on


def _store(app: Flask, cast: Any, validation_id: int, cid: str, verified: Verified | None, notes: str,
           actor: str = "supervisor") -> None:
    with app.app_context():
        validation = db_session.get(Validation, validation_id)
        version = db_session.scalar(select(ValidationCheck.version).where(
            ValidationCheck.validation_id == validation_id, ValidationCheck.criterion_id == cid)) or 0
        save_checks(validation, [CheckInput(cid, verified, notes, version)],
                    by=db_session.get(User, cast.users[actor].id))
        db_session.commit()


def test_checks_stored_since_the_download_are_conflicts_kept_unless_chosen(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    _store(app, cast, validation_id, "1.2", Verified.YES, "Seen by the lead.")
    login(cast.email("reviewer"))
    original = download(client, validation_id)
    # Meanwhile a supervisor stores 1.1 and changes 1.2.
    _store(app, cast, validation_id, "1.1", Verified.NO, "Not posted.")
    _store(app, cast, validation_id, "1.2", Verified.PARTIAL, "Only in one building.")
    workbook = fill(original, {"1.1": {"Verified": "Y", "Notes": "Posted."}, "1.4": {"Verified": "N"}})
    url, html, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    # 1.2 was pre-filled and left as it was: its stale value is no change at all.
    assert kinds(html) == {"1.1": "conflict", "1.4": "new"}
    assert "Not posted." in html and "Sam Supervisor" in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    after = stored(app, validation_id)
    assert after["1.1"][:2] == ("no", "Not posted.") and after["1.2"][:2] == ("partial", "Only in one building.")
    assert after["1.4"][:2] == ("no", "")
    with app.app_context():
        kept = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "validation.checks_kept"))
        assert "stored checks kept for 1.1" in kept.summary

    url, html, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    assert kinds(html) == {"1.1": "conflict"}
    client.post(url + "/apply", data={"fingerprint": fingerprint, "overwrite": ["1.1"]})
    assert stored(app, validation_id)["1.1"][:2] == ("yes", "Posted.")


def test_a_check_stored_after_the_preview_cancels_the_confirmation(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    url, _, fingerprint = preview_of(client, upload(client, validation_id, fill(download(client, validation_id), {
        "1.1": {"Verified": "Y"}, "1.3": {"Verified": "N"}})))
    _store(app, cast, validation_id, "1.1", Verified.PARTIAL, "In between.")
    before = stored(app, validation_id)
    response = client.post(url + "/apply", data={"fingerprint": fingerprint}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "after the preview was shown" in html and 'data-kind="conflict"' in html
    assert stored(app, validation_id) == before  # not even the non-conflicting 1.3


def test_a_failure_while_applying_rolls_everything_back(app, client, login, cast, monkeypatch):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    url, _, fingerprint = preview_of(client, upload(client, validation_id, fill(download(client, validation_id), {
        "1.1": {"Verified": "Y"}, "1.3": {"Verified": "N"}})))
    from portal.errors import StaleEdit
    from portal.validations import verification

    real = verification.save_check

    def save_then_fail(validation, data, *, by):  # noqa: ANN001, ANN202
        if data.criterion_id == "1.3":
            raise StaleEdit("Someone else stored the check of criterion 1.3 at the same time.")
        return real(validation, data, by=by)

    monkeypatch.setattr(verification, "save_check", save_then_fail)
    response = client.post(url + "/apply", data={"fingerprint": fingerprint}, follow_redirects=True)
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert stored(app, validation_id) == {}
    with app.app_context():
        assert db_session.scalar(select(ExcelImport.status)) == ImportStatus.PENDING
        assert db_session.scalar(select(func.count()).select_from(ValidationEvent)
                                 .where(ValidationEvent.kind == "checks_imported")) == 0


def test_discard_keeps_nothing(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    url, _, fingerprint = preview_of(client, upload(client, validation_id, fill(download(client, validation_id), {
        "1.1": {"Verified": "Y"}})))
    assert client.post(url + "/discard").status_code == 302
    response = client.post(url + "/apply", data={"fingerprint": fingerprint}, follow_redirects=True)
    assert "already discarded" in response.get_data(as_text=True) and stored(app, validation_id) == {}


# -- bad files --------------------------------------------------------------------------------------------------


def _questionnaire(app: Flask, cast: Any, validation_id: int, _content: bytes) -> bytes:
    with app.app_context():
        data = questionnaire_data(factories.profile_of(cast.account_a), exported_by="officer@a.example")
        out = io.BytesIO()
        build_questionnaire(data, app.config["SECRET_KEY"], out)
        return out.getvalue()


def _profile_workbook(app: Flask, cast: Any, audience: Audience) -> bytes:
    with app.app_context():
        data = profile_workbook_data(factories.profile_of(cast.account_a), audience)
        out = io.BytesIO()
        build_profile_workbook(data, audience, out)
        return out.getvalue()


def _other_account(app: Flask, cast: Any, _validation_id: int, _content: bytes) -> bytes:
    from portal.exports import visit_services

    other_id = setup_validation(app, cast, "account_b")
    with app.app_context():
        validation = db_session.get(Validation, other_id)
        data = visit_services.workbook_data(validation, factories.profile_of(cast.account_b))
        out = io.BytesIO()
        build_profile_workbook(data, Audience.CBP, out)
        return out.getvalue()


def _other_validation(app: Flask, cast: Any, validation_id: int, _content: bytes) -> bytes:
    """A workbook of an earlier, closed validation of the same account."""
    from portal.exports import visit_services

    with app.app_context():
        current = db_session.get(Validation, validation_id)
        earlier = Validation(account_id=current.account_id, kind=ValidationKind.INITIAL, status=ValidationStatus.CLOSED,
                             due_on=current.due_on, lead_id=current.lead_id)
        db_session.add(earlier)
        db_session.flush()
        data = visit_services.workbook_data(earlier, factories.profile_of(cast.account_a))
        db_session.commit()
        out = io.BytesIO()
        build_profile_workbook(data, Audience.CBP, out)
        return out.getvalue()


def _rename_id(content: bytes, old: str, new: str, verified: str = "Y") -> bytes:
    book = load_workbook(io.BytesIO(content))
    ws = book["Criteria"]
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, 1).value == old:
            ws.cell(row, 1, new)
            ws.cell(row, VERIFIED, verified)
    return save(book)


def _extra_sheet(content: bytes) -> bytes:
    book = load_workbook(io.BytesIO(content))
    book.create_sheet("My notes")["A1"] = "Gate 3 was unlocked"
    return save(book)


def _formula(content: bytes) -> bytes:
    book = load_workbook(io.BytesIO(content))
    book["Criteria"].cell(2, NOTES, "=A2&\" seen\"")
    return save(book)


BAD_FILES: dict[str, tuple[Callable[..., bytes], str, str]] = {
    "not a zip": (lambda app, cast, v, c: b"ID,Verified\n1.1,Y\n", "visit.xlsx",
                  "not an Excel workbook (.xlsx): it is not a zip package"),
    "truncated": (lambda app, cast, v, c: c[: len(c) // 3], "visit.xlsx", "damaged or incomplete"),
    "zip bomb": (lambda app, cast, v, c: _rezip(c, {"xl/media/pad.bin": b"\x00" * (30 * 1024 * 1024)}), "visit.xlsx",
                 "looks like a zip bomb"),
    "macro-enabled": (lambda app, cast, v, c: c, "visit.xlsm", "Macro-enabled workbooks (.xlsm) are not accepted"),
    "macros inside": (lambda app, cast, v, c: _rezip(c, {"xl/vbaProject.bin": b"\x00" * 64}), "visit.xlsx",
                      "The workbook contains macros"),
    "a questionnaire": (_questionnaire, "questionnaire.xlsx",
                        "This is the partner's offline questionnaire, not a visit workbook"),
    "the partner's copy": (lambda app, cast, v, c: _profile_workbook(app, cast, Audience.PARTNER), "profile.xlsx",
                           "This is the partner's copy of the profile workbook"),
    "downloaded from the review": (lambda app, cast, v, c: _profile_workbook(app, cast, Audience.CBP), "visit.xlsx",
                                   "was downloaded from the profile or the review, not for a validation"),
    "another account's validation": (_other_account, "visit.xlsx",
                                     "This visit workbook belongs to another account"),
    "another validation": (_other_validation, "visit.xlsx",
                           "This visit workbook was downloaded for another validation"),
    "unknown criterion ID": (lambda app, cast, v, c: _rename_id(c, "1.1", "42.1"), "visit.xlsx",
                             "“42.1” is not a criterion ID of catalog msc-2023"),
    "criterion that does not apply": (lambda app, cast, v, c: _rename_id(c, "1.1", "3.8"), "visit.xlsx",
                                      "Criterion 3.8 does not apply to this account's business type (Importer)"),
    "bad Verified value": (lambda app, cast, v, c: fill(c, {"1.2": {"Verified": "Maybe"}}), "visit.xlsx",
                           "“Maybe” is not a verification; enter Y, N or Partial, CLEAR to clear the stored one, "
                           "or leave it empty to keep it."),
    "notes over the limit": (lambda app, cast, v, c: fill(c, {"1.2": {"Notes": "n" * (NOTES_MAX + 1)}}), "visit.xlsx",
                             f"The visit notes are {NOTES_MAX + 1:,} characters long; the limit is {NOTES_MAX:,}"),
    "an added sheet": (lambda app, cast, v, c: _extra_sheet(c), "visit.xlsx",
                       "The sheet “My notes” is not part of the visit workbook"),
    "a formula": (lambda app, cast, v, c: _formula(c), "visit.xlsx", "Formulas are not accepted"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_each_bad_file_gets_its_own_error_and_changes_nothing(app, client, login, cast, case):
    validation_id = setup_validation(app, cast)
    _store(app, cast, validation_id, "1.3", Verified.NO, "Stored before.")
    login(cast.email("reviewer"))
    good = fill(download(client, validation_id), {"1.1": {"Verified": "Y", "Notes": "Must not be stored."}})
    make, filename, message = BAD_FILES[case]
    content = make(app, cast, validation_id, good)
    before = stored(app, validation_id)
    with app.app_context():
        events_before = db_session.scalar(select(func.count()).select_from(AuditEvent))
    response = upload(client, validation_id, content, filename)
    html = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 200
    assert "The workbook was not imported" in html and "Nothing in the validation was changed" in html
    assert message in html, html[html.find("import-problems"):][:3000]
    assert stored(app, validation_id) == before
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(ExcelImport)) == 0
        assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


def test_problems_are_listed_by_sheet_row_and_column(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    bad = fill(download(client, validation_id), {"1.2": {"Verified": "yes please"},
                                                 "1.3": {"Notes": "x" * (NOTES_MAX + 5)}})
    html = upload(client, validation_id, bad).get_data(as_text=True)
    cells = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td[ >]", html)
    assert cells == [("Criteria", "3", "N (Verified on site)"), ("Criteria", "4", "O (Visit notes)")]


def test_an_empty_upload_is_a_form_error(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    response = client.post(f"/validations/{validation_id}/verification/import", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Choose the filled visit workbook (.xlsx) to upload." in response.get_data(as_text=True)


# -- who may do what -------------------------------------------------------------------------------------------


def test_the_validation_page_links_to_the_verification_for_staff_only(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer2"))
    page = client.get(f"/validations/{validation_id}").get_data(as_text=True)
    assert f'href="/validations/{validation_id}/verification"' in page
    # Not on the team: sees the page and downloads, may not import.
    verification = client.get(f"/validations/{validation_id}/verification").get_data(as_text=True)
    assert "Only the validation team and supervisors import" in verification
    assert "verification/import" not in verification
    content = download(client, validation_id)
    assert upload(client, validation_id, fill(content, {"1.1": {"Verified": "Y"}})).status_code == 403
    client.post("/auth/logout")
    login(cast.email("officer_a"))
    page = client.get(f"/validations/{validation_id}").get_data(as_text=True)
    assert "/verification" not in page
    for url in (f"/validations/{validation_id}/verification", f"/validations/{validation_id}/visit-workbook.xlsx"):
        assert client.get(url).status_code == 404
    assert upload(client, validation_id, content).status_code == 404


def test_a_team_member_imports_and_someone_elses_upload_is_not_found(app, client, login, cast):
    validation_id = setup_validation(app, cast, members=("reviewer2",))
    login(cast.email("reviewer2"))
    url, _, _ = preview_of(client, upload(client, validation_id, fill(download(client, validation_id), {
        "1.1": {"Verified": "Y"}})))
    client.post("/auth/logout")
    login(cast.email("reviewer"))
    assert client.get(url).status_code == 404
    assert client.post(url + "/apply", data={"fingerprint": "x"}).status_code == 404
    assert client.post(url + "/discard").status_code == 404


def test_no_import_once_the_report_went_to_the_supervisor(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    content = fill(download(client, validation_id), {"1.1": {"Verified": "Y"}})
    url, _, fingerprint = preview_of(client, upload(client, validation_id, content))
    with app.app_context():
        db_session.get(Validation, validation_id).status = ValidationStatus.REPORT_SUBMITTED
        db_session.commit()
    assert upload(client, validation_id, content).status_code == 403
    assert client.post(url + "/apply", data={"fingerprint": fingerprint}).status_code == 403
    page = client.get(f"/validations/{validation_id}/verification").get_data(as_text=True)
    assert "can no longer be imported" in page
    assert stored(app, validation_id) == {}


def test_the_summary_counts_a_check_with_notes_only_as_not_recorded(app, client, login, cast):
    """The table shows a check with notes but no Y / Partial / N as "Not recorded"; the summary above
    it counts it there too, so the summary adds up to the rows of the table."""
    validation_id = setup_validation(app, cast)
    with app.app_context():
        validation = db_session.get(Validation, validation_id)
        lead = db_session.get(User, cast.users["reviewer"].id)
        save_checks(validation, [CheckInput("1.1", Verified.YES, ""), CheckInput("1.2", None, "Asked for the log")],
                    by=lead)
        db_session.commit()
    login(cast.email("reviewer"))
    html = client.get(f"/validations/{validation_id}/verification").get_data(as_text=True)
    summary = html[html.index('aria-label="Summary of the verification"'):]
    summary = summary[:summary.index("</ul>")]
    counted = sum(int(n) for n in re.findall(r":\s*(\d+)</li>", summary))
    rows = html.count("<tr", html.index('id="verification"')) - 1  # less the header row
    assert counted == rows and rows > 2

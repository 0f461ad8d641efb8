"""The offline round trip through the web (issue 6, item 4): download the questionnaire, edit it with
openpyxl, upload, preview, confirm; exactly the edited answers change, in one transaction with an audit
event. Every malformed file gets its own clear error and changes nothing; edits made online since the
download show up as conflicts and are never overwritten silently."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.db import db_session
from portal.exports.models import ExcelImport, ImportStatus
from portal.exports.queries import questionnaire_data
from portal.exports.questionnaire import build_questionnaire
from portal.profiles.models import Answer
from portal.profiles.submission import submit_profile
from tests import factories


def setup_answers(app: Flask, cast: Any) -> int:
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer(profile, "1.1", narrative="Our security vision is posted.\r\nSecond line.")
        factories.answer(profile, "1.2", status="partially_implemented", narrative="- bullet one\n- bullet two")
        factories.answer(profile, "2.1", status="not_applicable", narrative="", justification="We own no trucks.")
        db_session.commit()
        return profile.id


def snapshot(app: Flask, profile_id: int) -> dict[str, tuple[Any, ...]]:
    with app.app_context():
        return {a.criterion_id: (a.status.value if a.status else None, a.narrative, a.justification, a.version)
                for a in db_session.scalars(select(Answer).where(Answer.profile_id == profile_id))}


def download(client: Any, profile_id: int) -> bytes:
    response = client.get(f"/profiles/{profile_id}/questionnaire.xlsx")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.get_data()


def edit(content: bytes, changes: dict[str, dict[str, Any]]) -> bytes:
    """Change cells by criterion ID and column name (Status, Narrative, Justification) with openpyxl."""
    book = load_workbook(io.BytesIO(content))
    ws = book["Questionnaire"]
    columns = {"Status": 6, "Narrative": 7, "Justification": 8}
    rows = {ws.cell(row, 1).value: row for row in range(2, ws.max_row + 1)}
    for cid, values in changes.items():
        for name, value in values.items():
            cell = ws.cell(rows[cid], columns[name], value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # what Excel stores for text typed with a leading apostrophe
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: Any, profile_id: int, content: bytes, name: str = "questionnaire.xlsx") -> Any:
    return client.post(f"/profiles/{profile_id}/questionnaire/import",
                       data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def preview_of(client: Any, response: Any) -> tuple[str, str, str]:
    """Follow the upload's redirect; return the preview URL, its HTML and the confirmation fingerprint."""
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    url = response.headers["Location"]
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    fingerprint = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', html) or re.search(
        r'id="fingerprint" name="fingerprint" type="hidden" value="([0-9a-f]+)"', html)
    assert fingerprint, html
    return url, html, fingerprint.group(1)


def kinds(html: str) -> dict[str, str]:
    return {cid.replace("-", "."): kind for cid, kind in re.findall(r'id="change-([0-9-]+)" data-kind="(\w+)"', html)}


# -- the round trip -----------------------------------------------------------------------------------------


def test_round_trip_changes_exactly_the_edited_answers(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    before = snapshot(app, profile_id)
    login(cast.email("consultant_a"))
    original = download(client, profile_id)
    workbook = edit(original, {
        "1.1": {"Narrative": "Our vision is posted in every warehouse."},
        "1.3": {"Status": "Not implemented", "Narrative": "=Planned for Q3"},  # stored as text, never a formula
        "2.2": {"Status": "Implemented", "Narrative": "'@ We check seals at the gate."},  # as exported
    })
    url, html, fingerprint = preview_of(client, upload(client, profile_id, workbook))
    assert kinds(html) == {"1.1": "changed", "1.3": "new", "2.2": "new"}
    assert "Our security vision is posted." in html and "Our vision is posted in every warehouse." in html
    assert snapshot(app, profile_id) == before  # the preview changes nothing
    applied = client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert applied.status_code == 302 and applied.headers["Location"].endswith(f"/profiles/{profile_id}")
    after = snapshot(app, profile_id)
    changed = {cid for cid in set(before) | set(after) if before.get(cid) != after.get(cid)}
    assert changed == {"1.1", "1.3", "2.2"}
    assert after["1.1"][1:] == ("Our vision is posted in every warehouse.", "", 2)
    assert after["1.3"] == ("not_implemented", "=Planned for Q3", "", 1)
    assert after["2.2"][:2] == ("implemented", "@ We check seals at the gate.")
    with app.app_context():
        event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "questionnaire.imported"))
        assert event.actor_email == cast.email("consultant_a") and "3 answer(s)" in event.summary
        assert "1.1, 1.3, 2.2" in event.summary
        assert db_session.scalar(select(ExcelImport.status)) == ImportStatus.APPLIED
    # A second confirmation of the same upload changes nothing more.
    again = client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert again.status_code == 302 and snapshot(app, profile_id) == after


def test_an_untouched_workbook_imports_nothing(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    before = snapshot(app, profile_id)
    login(cast.email("officer_a"))
    url, html, fingerprint = preview_of(client, upload(client, profile_id, download(client, profile_id)))
    assert kinds(html) == {} and "nothing to import" in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert snapshot(app, profile_id) == before


def test_conflicts_keep_the_online_answer_unless_chosen(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("employee_a"))
    original = download(client, profile_id)
    with app.app_context():  # meanwhile, the officer edits two answers online
        profile = factories.profile_of(cast.account_a)
        factories.answer(profile, "1.1", narrative="Edited online by the officer.")
        factories.answer(profile, "1.2", status="implemented", narrative="Also edited online.")
        db_session.commit()
    workbook = edit(original, {"1.1": {"Narrative": "Edited offline."}, "1.4": {"Status": "Implemented",
                                                                                "Narrative": "New offline."}})
    url, html, fingerprint = preview_of(client, upload(client, profile_id, workbook))
    # 1.2 was edited online but not in the workbook: its stale text is not a change at all.
    assert kinds(html) == {"1.1": "conflict", "1.4": "new"}
    assert "Edited online by the officer." in html and "Olivia Officer" in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    after = snapshot(app, profile_id)
    assert after["1.1"][1] == "Edited online by the officer."
    assert after["1.2"][1] == "Also edited online."
    assert after["1.4"][:2] == ("implemented", "New offline.")
    with app.app_context():
        event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "questionnaire.imported"))
        assert "online answers kept for 1.1" in event.summary


def test_a_conflict_can_be_overwritten_deliberately(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("employee_a"))
    original = download(client, profile_id)
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative="Edited online.")
        db_session.commit()
    url, _, fingerprint = preview_of(client, upload(client, profile_id, edit(original, {
        "1.1": {"Narrative": "Edited offline."}})))
    client.post(url + "/apply", data={"fingerprint": fingerprint, "overwrite": ["1.1"]})
    assert snapshot(app, profile_id)["1.1"][1:] == ("Edited offline.", "", 3)


def test_an_online_save_after_the_preview_cancels_the_confirmation(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    url, _, fingerprint = preview_of(client, upload(client, profile_id, edit(download(client, profile_id), {
        "1.1": {"Narrative": "Offline."}, "1.3": {"Status": "Implemented", "Narrative": "Offline too."}})))
    with app.app_context():
        factories.answer(factories.profile_of(cast.account_a), "1.1", narrative="Saved online in between.")
        db_session.commit()
    before = snapshot(app, profile_id)
    response = client.post(url + "/apply", data={"fingerprint": fingerprint}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "after the preview was shown" in html and 'data-kind="conflict"' in html
    assert snapshot(app, profile_id) == before  # not even the non-conflicting 1.3
    with app.app_context():
        assert db_session.scalar(select(ExcelImport.status)) == ImportStatus.PENDING


def test_a_failure_while_applying_rolls_everything_back(app, client, login, cast, monkeypatch):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    url, _, fingerprint = preview_of(client, upload(client, profile_id, edit(download(client, profile_id), {
        "1.1": {"Narrative": "First."}, "1.3": {"Status": "Implemented", "Narrative": "Second."}})))
    before = snapshot(app, profile_id)
    from portal.errors import StaleEdit
    from portal.exports import services
    from portal.profiles import services as profile_services

    real = profile_services.save_answer

    def save_then_fail(profile, criterion, data, *, by):  # noqa: ANN001, ANN202
        if criterion.id == "1.3":
            raise StaleEdit("Someone else saved criterion 1.3 after you opened it.")
        return real(profile, criterion, data, by=by)

    monkeypatch.setattr(services, "save_answer", save_then_fail)
    response = client.post(url + "/apply", data={"fingerprint": fingerprint}, follow_redirects=True)
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert snapshot(app, profile_id) == before
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action.in_(["answer.saved", "questionnaire.imported"]))) == 3


def _age_uploads(app: Flask, hours: int) -> None:
    with app.app_context():
        for row in db_session.scalars(select(ExcelImport)):
            row.created_at -= timedelta(hours=hours)
        db_session.commit()


def test_an_expired_or_discarded_upload_is_not_applied(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    url, _, fingerprint = preview_of(client, upload(client, profile_id, edit(download(client, profile_id), {
        "1.1": {"Narrative": "Late."}})))
    before = snapshot(app, profile_id)
    _age_uploads(app, 25)
    response = client.post(url + "/apply", data={"fingerprint": fingerprint}, follow_redirects=True)
    assert "older than 24 hours" in response.get_data(as_text=True) and snapshot(app, profile_id) == before
    _age_uploads(app, -25)
    assert client.post(url + "/discard").status_code == 302
    response = client.post(url + "/apply", data={"fingerprint": fingerprint}, follow_redirects=True)
    assert "already discarded" in response.get_data(as_text=True) and snapshot(app, profile_id) == before


def test_import_needs_an_editable_profile(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    content = download(client, profile_id)
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        submit_profile(profile, "Olivia Officer", by=cast.users["officer_a"])
        db_session.commit()
    assert upload(client, profile_id, content).status_code == 403
    page = client.get(f"/profiles/{profile_id}/excel").get_data(as_text=True)
    assert "cannot be imported now" in page


# -- malformed files -----------------------------------------------------------------------------------------


def _rezip(content: bytes, extra: dict[str, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        for name, data in extra.items():
            target.writestr(name, data)
    return out.getvalue()


def _other_profile(app: Flask, cast: Any, _content: bytes) -> bytes:
    with app.app_context():
        data = questionnaire_data(factories.profile_of(cast.account_b), exported_by="officer@b.example")
        out = io.BytesIO()
        build_questionnaire(data, app.config["SECRET_KEY"], out)
        return out.getvalue()


def _other_catalog(app: Flask, cast: Any, _content: bytes) -> bytes:
    from dataclasses import replace

    with app.app_context():
        data = questionnaire_data(factories.profile_of(cast.account_a), exported_by="officer@a.example")
        out = io.BytesIO()
        build_questionnaire(replace(data, catalog_id="msc-2019"), app.config["SECRET_KEY"], out)
        return out.getvalue()


def _extra_sheet(content: bytes) -> bytes:
    book = load_workbook(io.BytesIO(content))
    book.create_sheet("Notes")["A1"] = "my notes"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _extra_column(content: bytes) -> bytes:
    book = load_workbook(io.BytesIO(content))
    book["Questionnaire"]["I1"] = "Owner"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


MALFORMED: dict[str, tuple[Callable[..., bytes], str, str]] = {
    "not a zip": (lambda app, cast, c: b"ID,Status\n1.1,Implemented\n", "questionnaire.xlsx",
                  "not an Excel workbook (.xlsx): it is not a zip package"),
    "truncated": (lambda app, cast, c: c[: len(c) // 3], "questionnaire.xlsx", "damaged or incomplete"),
    "zip bomb": (lambda app, cast, c: _rezip(c, {"xl/media/pad.bin": b"\x00" * (30 * 1024 * 1024)}),
                 "questionnaire.xlsx", "looks like a zip bomb"),
    "another profile": (_other_profile, "questionnaire.xlsx", "questionnaire of another security profile"),
    "another catalog version": (_other_catalog, "questionnaire.xlsx",
                                "made for criteria catalog msc-2019, but the profile now uses msc-2023"),
    "unknown ID": (lambda app, cast, c: edit_id(c, "1.1", "42.1"), "questionnaire.xlsx",
                   "“42.1” is not a criterion ID of catalog msc-2023"),
    "not applicable ID": (lambda app, cast, c: edit_id(c, "1.1", "3.8"), "questionnaire.xlsx",
                          "Criterion 3.8 does not apply to this profile's business type (Importer)"),
    "bad status": (lambda app, cast, c: edit(c, {"1.4": {"Status": "Mostly"}}), "questionnaire.xlsx",
                   "“Mostly” is not a status"),
    "text over the limit": (lambda app, cast, c: edit(c, {"1.4": {"Narrative": "n" * 10_001}}), "questionnaire.xlsx",
                            "The narrative is 10,001 characters long; the limit is 10,000"),
    "extra sheet": (lambda app, cast, c: _extra_sheet(c), "questionnaire.xlsx",
                    "The sheet “Notes” is not part of the questionnaire"),
    "extra column": (lambda app, cast, c: _extra_column(c), "questionnaire.xlsx",
                     "This column is not part of the questionnaire"),
    "macro-enabled": (lambda app, cast, c: c, "questionnaire.xlsm", "Macro-enabled workbooks (.xlsm) are not accepted"),
}


def edit_id(content: bytes, old: str, new: str) -> bytes:
    book = load_workbook(io.BytesIO(content))
    ws = book["Questionnaire"]
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, 1).value == old:
            ws.cell(row, 1, new)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("case", list(MALFORMED))
def test_each_malformed_file_gets_its_own_error_and_changes_nothing(app, client, login, cast, case):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    good = edit(download(client, profile_id), {"1.1": {"Narrative": "A real change that must not be applied."}})
    make, filename, message = MALFORMED[case]
    before = snapshot(app, profile_id)
    with app.app_context():
        events_before = db_session.scalar(select(func.count()).select_from(AuditEvent))
    response = upload(client, profile_id, make(app, cast, good), filename)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The workbook was not imported" in html and "Nothing in the profile was changed" in html
    assert message in html.replace("&#39;", "'"), html[html.find("import-problems"):][:3000]
    assert snapshot(app, profile_id) == before
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(ExcelImport)) == 0
        assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


def test_problems_are_listed_by_sheet_row_and_column(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    bad = edit(download(client, profile_id), {"1.2": {"Status": "Done"}, "1.3": {"Justification": "j" * 2_001}})
    html = upload(client, profile_id, bad).get_data(as_text=True)
    cells = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td[ >]", html)
    assert cells == [("Questionnaire", "3", "F (Status)"), ("Questionnaire", "4", "H (Not-applicable justification)")]


def test_an_empty_upload_is_a_form_error(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    response = client.post(f"/profiles/{profile_id}/questionnaire/import", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Choose the completed questionnaire workbook (.xlsx) to upload." in response.get_data(as_text=True)


def test_someone_elses_upload_is_not_found(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("officer_a"))
    url, _, _ = preview_of(client, upload(client, profile_id, edit(download(client, profile_id), {
        "1.1": {"Narrative": "Mine."}})))
    client.post("/auth/logout")
    login(cast.email("employee_a"))
    assert client.get(url).status_code == 404
    assert client.post(url + "/apply", data={"fingerprint": "x"}).status_code == 404


def test_the_overview_links_to_the_excel_page(app, client, login, cast):
    profile_id = setup_answers(app, cast)
    login(cast.email("readonly_a"))
    page = client.get(f"/profiles/{profile_id}").get_data(as_text=True)
    assert f'href="/profiles/{profile_id}/excel">Work offline in Excel</a>' in page
    excel = client.get(f"/profiles/{profile_id}/excel").get_data(as_text=True)
    assert "Download the questionnaire" in excel and "read-only" in excel
    assert "questionnaire/import" not in excel


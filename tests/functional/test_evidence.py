"""Evidence through its pages (issue 3, item 4): the library upload, upload-and-link per criterion,
one document for several criteria, stored once per content, refused uploads store nothing and keep
the form, downloads as attachments for the company and CBP staff only, and 404 for crafted IDs."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.db import db_session
from portal.profiles.models import EvidenceFile, EvidenceLink, SecurityProfile
from portal.profiles.sniffing import MAX_EVIDENCE_BYTES
from portal.profiles.workflow import ProfileStatus

PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
OTHER_PDF = b"%PDF-1.7\n% another document\n%%EOF\n"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


@contextmanager
def database(app: Any) -> Iterator[Any]:
    """A short-lived session for checking what the requests stored (never held across a request)."""
    with app.app_context():
        yield db_session


def count(app: Any, model: Any, *where: Any) -> int:
    with database(app) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def evidence_rows(app: Any) -> list[EvidenceFile]:
    with database(app) as session:
        return list(session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)))


def stored_files(app: Any) -> list[Path]:
    root = Path(app.config["EVIDENCE_DIR"])
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def audit_actions(app: Any, prefix: str = "evidence.") -> list[str]:
    with database(app) as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith(prefix))
                                    .order_by(AuditEvent.id)))


@pytest.fixture
def profile_id(app: Any, cast: Any) -> int:
    with database(app) as session:
        return session.scalar(select(SecurityProfile.id).where(SecurityProfile.account_id == cast.account_a.id))


@pytest.fixture
def profile_b_id(app: Any, cast: Any) -> int:
    with database(app) as session:
        return session.scalar(select(SecurityProfile.id).where(SecurityProfile.account_id == cast.account_b.id))


def upload(client: Any, url: str, data: bytes, name: str, **fields: str) -> Any:
    return client.post(url, data={"file": (io.BytesIO(data), name), **fields}, content_type="multipart/form-data")


def library_url(company_id: int) -> str:
    return f"/companies/{company_id}/evidence"


def criterion_url(profile_id: int, criterion_id: str) -> str:
    return f"/profiles/{profile_id}/criteria/{criterion_id}/evidence"


def other_client(app: Any, login: Any, email: str) -> Any:
    test_client = app.test_client()
    login(email, test_client=test_client)
    return test_client


# --- upload ----------------------------------------------------------------------------------------

def test_library_upload_stores_the_file_under_a_server_chosen_name_with_its_hash(app, client, login, cast):
    login(cast.email("employee_a"))
    response = upload(client, library_url(cast.company_a.id), PDF, "seal-policy.pdf",
                      title="Seal control procedure", effective_date="2024-03-15")
    assert response.status_code == 302

    [row] = evidence_rows(app)
    assert row.company_id == cast.company_a.id
    assert row.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (row.original_name, row.content_type, row.size) == ("seal-policy.pdf", "application/pdf", len(PDF))
    assert (row.title, row.effective_date) == ("Seal control procedure", date(2024, 3, 15))
    assert row.uploaded_by_id == cast.users["employee_a"].id

    [path] = stored_files(app)
    assert path == Path(app.config["EVIDENCE_DIR"]).resolve() / row.storage_key
    assert path.read_bytes() == PDF
    assert "seal" not in row.storage_key and "policy" not in row.storage_key and not path.suffix
    assert audit_actions(app) == ["evidence.uploaded"]

    page = client.get(library_url(cast.company_a.id)).get_data(as_text=True)
    assert "seal-policy.pdf" in page and "Seal control procedure" in page
    assert row.sha256[:12] in page and "Evan Employee" in page and "Not linked" in page


def test_a_path_like_name_is_kept_only_as_a_safe_display_name(app, client, login, cast):
    login(cast.email("officer_a"))
    upload(client, library_url(cast.company_a.id), PDF, "../../etc/passwd.pdf")
    [row] = evidence_rows(app)
    assert row.original_name == "passwd.pdf"
    [path] = stored_files(app)
    assert Path(app.config["EVIDENCE_DIR"]).resolve() in path.parents


def test_the_same_file_uploaded_twice_is_stored_once(app, client, login, cast, profile_id):
    login(cast.email("officer_a"))
    assert upload(client, library_url(cast.company_a.id), PDF, "first.pdf").status_code == 302
    response = upload(client, library_url(cast.company_a.id), PDF, "renamed copy.pdf", title="Copy")
    assert response.status_code == 302
    assert "not stored again" in client.get(response.location).get_data(as_text=True)
    # Through a criterion too: the existing document is linked, not stored again.
    assert upload(client, criterion_url(profile_id, "1.1"), PDF, "third.pdf").status_code == 302

    [row] = evidence_rows(app)
    assert row.original_name == "first.pdf"
    assert len(stored_files(app)) == 1
    assert count(app, EvidenceLink, EvidenceLink.evidence_id == row.id) == 1
    assert audit_actions(app) == ["evidence.uploaded", "evidence.linked"]


def test_the_same_content_in_two_companies_is_two_documents(app, client, login, cast):
    login(cast.email("officer_a"))
    upload(client, library_url(cast.company_a.id), PDF, "a.pdf")
    client_b = other_client(app, login, cast.email("officer_b"))
    upload(client_b, library_url(cast.company_b.id), PDF, "b.pdf")
    assert {row.company_id for row in evidence_rows(app)} == {cast.company_a.id, cast.company_b.id}
    assert len(stored_files(app)) == 2


def test_one_document_is_linked_to_two_criteria(app, client, login, cast, profile_id):
    login(cast.email("consultant_a"))
    response = upload(client, criterion_url(profile_id, "1.1"), PDF, "policy.pdf", title="Security policy")
    assert response.status_code == 302
    assert response.location.endswith(f"/profiles/{profile_id}/categories/1#c-1-1")
    [row] = evidence_rows(app)

    response = client.post(criterion_url(profile_id, "2.1"), data={"evidence_id": str(row.id)})
    assert response.status_code == 302
    assert response.location.endswith(f"/profiles/{profile_id}/categories/2#c-2-1")
    # Linking the same document to the same criterion again changes nothing.
    assert client.post(criterion_url(profile_id, "2.1"), data={"evidence_id": str(row.id)}).status_code == 302

    with database(app) as session:
        links = {link.criterion_id for link in session.scalars(select(EvidenceLink))}
    assert links == {"1.1", "2.1"}
    assert len(evidence_rows(app)) == 1 and len(stored_files(app)) == 1
    assert audit_actions(app) == ["evidence.uploaded", "evidence.linked", "evidence.linked"]

    page = client.get(library_url(cast.company_a.id)).get_data(as_text=True)
    assert f"/profiles/{profile_id}/categories/1#c-1-1" in page and f"/profiles/{profile_id}/categories/2#c-2-1" in page

    category = client.get(f"/profiles/{profile_id}/categories/1").get_data(as_text=True)
    assert f"/evidence/{row.id}/download" in category and "Security policy" in category
    assert 'id="ev-1-1-file"' in category and 'id="ev-1-2-file"' in category


def test_unlinking_keeps_the_document_in_the_library(app, client, login, cast, profile_id):
    login(cast.email("officer_a"))
    upload(client, criterion_url(profile_id, "1.1"), PDF, "policy.pdf")
    with database(app) as session:
        link_id = session.scalar(select(EvidenceLink.id))
    response = client.post(f"/profiles/{profile_id}/evidence-links/{link_id}/delete")
    assert response.status_code == 302 and response.location.endswith("#c-1-1")
    assert count(app, EvidenceLink) == 0
    assert len(evidence_rows(app)) == 1 and len(stored_files(app)) == 1
    assert audit_actions(app)[-1] == "evidence.unlinked"


# --- refused uploads ---------------------------------------------------------------------------------

REFUSED = [
    pytest.param(b"<html><script>alert(1)</script></html>", "report.pdf", "named as a PDF but its content",
                 id="html-named-pdf"),
    pytest.param(_png(), "scan.pdf", "its content is a .png file", id="png-named-pdf"),
    pytest.param(b"MZ\x90\x00" + b"\x00" * 60, "setup.exe", "Files of type .exe are not accepted", id="exe"),
    pytest.param(b"", "empty.pdf", "The file is empty", id="empty"),
    pytest.param(b"text\x00binary", "notes.txt", "NUL bytes", id="nul-in-txt"),
]


@pytest.mark.parametrize(("data", "name", "message"), REFUSED)
def test_refused_library_upload_stores_nothing_and_keeps_the_form(app, client, login, cast, data, name, message):
    login(cast.email("employee_a"))
    response = upload(client, library_url(cast.company_a.id), data, name,
                      title="Kept <title>", effective_date="2024-01-31")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert 'id="file-error"' in page  # the message sits at the file field
    assert 'value="Kept &lt;title&gt;"' in page and 'value="2024-01-31"' in page
    assert evidence_rows(app) == [] and stored_files(app) == [] and audit_actions(app) == []


@pytest.mark.parametrize(("data", "name", "message"), REFUSED)
def test_refused_criterion_upload_stores_nothing_and_keeps_the_title(app, client, login, cast, profile_id,
                                                                     data, name, message):
    login(cast.email("employee_a"))
    response = upload(client, criterion_url(profile_id, "3.4"), data, name, title="Kept title")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page and 'id="ev-3-4-file-error"' in page
    assert 'id="ev-3-4-title" name="title" maxlength="200" value="Kept title"' in page
    assert evidence_rows(app) == [] and stored_files(app) == [] and count(app, EvidenceLink) == 0


def test_a_file_over_20_mb_is_refused_with_the_limit(app, client, login, cast):
    login(cast.email("officer_a"))
    response = upload(client, library_url(cast.company_a.id), b"a" * (MAX_EVIDENCE_BYTES + 1), "big.txt",
                      title="Too big")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "the limit is 20 MB" in page and 'value="Too big"' in page
    assert evidence_rows(app) == [] and stored_files(app) == []


def test_a_file_written_in_a_transaction_that_rolls_back_is_removed(app, cast):
    from portal.profiles.evidence import upload_evidence

    with database(app) as session:
        company = session.get(type(cast.company_a), cast.company_a.id)
        officer = session.get(type(cast.users["officer_a"]), cast.users["officer_a"].id)
        upload_evidence(company, PDF, "x.pdf", title=None, effective_date=None, by=officer)
        assert len(stored_files(app)) == 1
        session.rollback()
    assert stored_files(app) == [] and evidence_rows(app) == []

    with database(app) as session:
        company = session.get(type(cast.company_a), cast.company_a.id)
        officer = session.get(type(cast.users["officer_a"]), cast.users["officer_a"].id)
        upload_evidence(company, PDF, "x.pdf", title=None, effective_date=None, by=officer)
        session.commit()
    assert len(stored_files(app)) == 1 and len(evidence_rows(app)) == 1


# --- download ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["readonly_a", "reviewer", "supervisor"])
def test_download_is_an_attachment_with_the_stored_type(app, client, login, cast, who):
    owner = other_client(app, login, cast.email("officer_a"))
    upload(owner, library_url(cast.company_a.id), PDF, "Überprüfung 2024.pdf")
    [row] = evidence_rows(app)

    login(cast.email(who))
    response = client.get(f"/evidence/{row.id}/download")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%C3%9Cberpr%C3%BCfung%202024.pdf" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_text_is_served_as_utf8_text_never_as_html(app, client, login, cast):
    login(cast.email("officer_a"))
    body = "<script>alert(1)</script> — sealed".encode()
    upload(client, library_url(cast.company_a.id), body, "notes.txt")
    [row] = evidence_rows(app)
    response = client.get(f"/evidence/{row.id}/download")
    assert response.data == body
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="notes.txt"')
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # The download's own policy replaces the page policy, not added beside it.
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert response.headers.getlist("X-Frame-Options") == ["DENY"]


def test_download_by_another_company_is_404_and_anonymous_must_sign_in(app, client, login, cast):
    owner = other_client(app, login, cast.email("officer_a"))
    upload(owner, library_url(cast.company_a.id), PDF, "policy.pdf")
    [row] = evidence_rows(app)

    anonymous = client.get(f"/evidence/{row.id}/download")
    assert anonymous.status_code == 302 and "/auth/login" in anonymous.location

    login(cast.email("officer_b"))
    assert client.get(f"/evidence/{row.id}/download").status_code == 404
    assert client.get(f"/evidence/{row.id + 1000}/download").status_code == 404
    assert client.get(library_url(cast.company_a.id)).status_code == 404


# --- authorization and crafted ids ---------------------------------------------------------------------

@pytest.mark.parametrize("criterion_id", ["9.99", "3.8", "5.16", "1.1x", "1..1", "%3Cscript%3E"])
def test_a_crafted_or_inapplicable_criterion_is_404_and_stores_nothing(app, client, login, cast, profile_id,
                                                                      criterion_id):
    login(cast.email("officer_a"))
    response = upload(client, criterion_url(profile_id, criterion_id), PDF, "policy.pdf")
    assert response.status_code == 404
    assert evidence_rows(app) == [] and stored_files(app) == [] and count(app, EvidenceLink) == 0


def test_another_companys_evidence_id_in_the_link_post_is_404(app, client, login, cast, profile_id):
    client_b = other_client(app, login, cast.email("officer_b"))
    upload(client_b, library_url(cast.company_b.id), PDF, "bravo.pdf")
    [foreign] = evidence_rows(app)

    login(cast.email("officer_a"))
    response = client.post(criterion_url(profile_id, "1.1"), data={"evidence_id": str(foreign.id)})
    assert response.status_code == 404
    assert client.post(criterion_url(profile_id, "1.1"), data={"evidence_id": "999999"}).status_code == 404
    assert count(app, EvidenceLink) == 0 and audit_actions(app) == ["evidence.uploaded"]


def test_another_companys_profile_and_link_are_404(app, client, login, cast, profile_id, profile_b_id):
    client_b = other_client(app, login, cast.email("officer_b"))
    upload(client_b, criterion_url(profile_b_id, "1.1"), PDF, "bravo.pdf")
    with database(app) as session:
        foreign_link = session.scalar(select(EvidenceLink.id))

    login(cast.email("officer_a"))
    assert upload(client, criterion_url(profile_b_id, "1.1"), OTHER_PDF, "a.pdf").status_code == 404
    assert client.post(f"/profiles/{profile_b_id}/evidence-links/{foreign_link}/delete").status_code == 404
    # Our own profile id with their link id: still 404.
    assert client.post(f"/profiles/{profile_id}/evidence-links/{foreign_link}/delete").status_code == 404
    assert count(app, EvidenceLink) == 1 and len(evidence_rows(app)) == 1


def test_read_only_users_and_staff_cannot_upload(app, client, login, cast, profile_id):
    login(cast.email("readonly_a"))
    assert upload(client, library_url(cast.company_a.id), PDF, "a.pdf").status_code == 403
    assert upload(client, criterion_url(profile_id, "1.1"), PDF, "a.pdf").status_code == 403
    page = client.get(library_url(cast.company_a.id))
    assert page.status_code == 200 and 'type="file"' not in page.get_data(as_text=True)

    reviewer = other_client(app, login, cast.email("reviewer"))
    assert reviewer.get(library_url(cast.company_a.id)).status_code == 200
    assert upload(reviewer, library_url(cast.company_a.id), PDF, "a.pdf").status_code == 403
    assert upload(reviewer, criterion_url(profile_id, "1.1"), PDF, "a.pdf").status_code == 403
    assert evidence_rows(app) == [] and stored_files(app) == []


def test_a_submitted_profiles_evidence_cannot_change(app, client, login, cast, profile_id):
    login(cast.email("officer_a"))
    upload(client, criterion_url(profile_id, "1.1"), PDF, "policy.pdf")
    with database(app) as session:
        profile = session.get(SecurityProfile, profile_id)
        profile.status = ProfileStatus.SUBMITTED
        session.commit()
        link_id = session.scalar(select(EvidenceLink.id))
    assert upload(client, criterion_url(profile_id, "1.2"), OTHER_PDF, "b.pdf").status_code == 403
    assert client.post(f"/profiles/{profile_id}/evidence-links/{link_id}/delete").status_code == 403
    assert count(app, EvidenceLink) == 1 and len(evidence_rows(app)) == 1
    # The library itself stays open: it belongs to the company, not to one submission.
    assert upload(client, library_url(cast.company_a.id), OTHER_PDF, "b.pdf").status_code == 302


def test_losing_a_race_to_store_the_same_content_returns_the_winner_and_removes_the_file(app, cast, monkeypatch):
    from portal.profiles import evidence

    with database(app) as session:
        company = session.get(type(cast.company_a), cast.company_a.id)
        officer = session.get(type(cast.users["officer_a"]), cast.users["officer_a"].id)
        first, created = evidence.upload_evidence(company, PDF, "first.pdf", title=None, effective_date=None,
                                                  by=officer)
        session.commit()
        assert created
        # The other request's row is invisible at the first look, as if it committed a moment later.
        real_lookup = evidence._library_row
        lookups = iter([None])
        monkeypatch.setattr(evidence, "_library_row", lambda *args: next(lookups, None) or real_lookup(*args))
        second, created = evidence.upload_evidence(company, PDF, "second.pdf", title=None, effective_date=None,
                                                   by=officer)
        assert (second.id, created) == (first.id, False)
        session.commit()
    assert len(evidence_rows(app)) == 1 and len(stored_files(app)) == 1

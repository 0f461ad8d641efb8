"""Evidence in S3-compatible object storage (issue 9, item 5), against a real SeaweedFS server on
127.0.0.1 that checks signatures and presigned-URL expiry: round trips, missing keys, refused keys,
a wrong secret, presigned downloads that are attachments, expire and cannot be altered, and the
evidence pages working unchanged on top of it.

Skips without the ``weed`` binary, except when ``CI`` is set (tests/s3server.py)."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from botocore.exceptions import ClientError
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import select

from portal.db import dispose_engines
from portal.profiles.models import EvidenceFile, SecurityProfile
from portal.profiles.storage import LocalStorage, S3Storage, get_storage, storage_from_config
from tests import s3server
from tests.conftest import make_test_app

PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(scope="session")
def weed() -> Iterator[s3server.WeedServer]:
    yield s3server.require_weed()
    s3server.stop_weed()


@pytest.fixture
def storage(weed: s3server.WeedServer) -> S3Storage:
    return S3Storage.from_config(weed.config())


def _fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own test server)
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_round_trip_exists_and_delete(storage: S3Storage) -> None:
    data = PDF * 2000  # ~150 KB
    key = storage.put(data)
    assert storage.exists(key)
    with storage.open(key) as handle:
        assert handle.read() == data
    storage.delete(key)
    assert not storage.exists(key)
    with pytest.raises(FileNotFoundError):
        storage.open(key)
    storage.delete(key)  # deleting twice is not an error


def test_keys_are_server_chosen_and_foreign_keys_refused(storage: S3Storage) -> None:
    first, second = storage.put(b"one"), storage.put(b"two")
    assert first != second
    for bad in ("../etc/passwd", "ab/cd/../../x", "", "AB/CD/" + "0" * 32, "ab/cd/" + "0" * 31):
        with pytest.raises(ValueError):
            storage.open(bad)
        with pytest.raises(ValueError):
            storage.download_url(bad, filename="x.pdf", content_type="application/pdf")


def test_wrong_secret_is_refused_by_the_server(weed: s3server.WeedServer) -> None:
    forged = S3Storage.from_config(weed.config(S3_SECRET_KEY="not-the-secret"))
    with pytest.raises(ClientError) as caught:
        forged.put(b"should not be stored")
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = S3Storage.from_config(weed.config(S3_ACCESS_KEY="nobody"))
    with pytest.raises(ClientError) as caught:
        unknown.exists("ab/cd/" + "0" * 32)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_presigned_download_is_an_attachment_of_the_stored_type(storage: S3Storage) -> None:
    key = storage.put(PDF)
    url = storage.download_url(key, filename="Plan de seguridad é.pdf", content_type="application/pdf")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    status, headers, body = _fetch(url)
    assert status == 200
    assert body == PDF
    assert headers["Content-Disposition"].startswith('attachment; filename="Plan de seguridad e.pdf"')
    assert "filename*=UTF-8''Plan%20de%20seguridad%20%C3%A9.pdf" in headers["Content-Disposition"]
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Cache-Control"] == "no-store"


def test_expired_presigned_url_is_refused(storage: S3Storage) -> None:
    key = storage.put(PDF)
    signed_at = datetime.now(UTC) - timedelta(minutes=5)
    with freeze_time(signed_at):
        url = storage.download_url(key, filename="plan.pdf", content_type="application/pdf", expires_in=60)
    status, _headers, body = _fetch(url)
    assert status == 403
    assert b"expired" in body.lower()
    # The same object signed now is served, so the 403 is the expiry and nothing else.
    assert _fetch(storage.download_url(key, filename="plan.pdf", content_type="application/pdf"))[0] == 200


def test_presigned_url_cannot_be_altered(storage: S3Storage) -> None:
    key, other = storage.put(PDF), storage.put(b"%PDF-1.4 someone else's document")
    url = storage.download_url(key, filename="plan.pdf", content_type="application/pdf")
    parts = urlsplit(url)
    # Another object with the same signature.
    assert _fetch(urlunsplit(parts._replace(path=parts.path.replace(key, other))))[0] == 403
    # Shown inline instead of downloaded.
    query = [(name, "inline" if name == "response-content-disposition" else value)
             for name, value in parse_qsl(parts.query)]
    assert _fetch(urlunsplit(parts._replace(query=urlencode(query))))[0] == 403
    # A longer lifetime.
    query = [(name, "604800" if name == "X-Amz-Expires" else value) for name, value in parse_qsl(parts.query)]
    assert _fetch(urlunsplit(parts._replace(query=urlencode(query))))[0] == 403


def test_objects_are_private(storage: S3Storage, weed: s3server.WeedServer) -> None:
    key = storage.put(PDF)
    status, _headers, body = _fetch(f"{weed.endpoint}/{storage.bucket}/{key}")
    assert status == 403
    assert PDF not in body


def test_configuration_selects_the_storage(tmp_path: Path, weed: s3server.WeedServer) -> None:
    app = Flask(__name__)
    app.config.update(EVIDENCE_DIR=str(tmp_path / "evidence"), **weed.config())
    assert isinstance(storage_from_config(app), S3Storage)
    app.config["EVIDENCE_STORAGE"] = "local"
    assert isinstance(storage_from_config(app), LocalStorage)
    app.config["EVIDENCE_STORAGE"] = "ftp"
    with pytest.raises(RuntimeError, match="EVIDENCE_STORAGE"):
        storage_from_config(app)
    app.config.update(EVIDENCE_STORAGE="s3", S3_BUCKET="")
    with pytest.raises(RuntimeError, match="S3_BUCKET"):
        storage_from_config(app)


def test_ensure_bucket_creates_a_missing_bucket(weed: s3server.WeedServer) -> None:
    storage = S3Storage.from_config(weed.config(S3_BUCKET="ctpat-evidence-fresh"))
    storage.ensure_bucket()
    storage.ensure_bucket()  # a second time changes nothing
    key = storage.put(b"x")
    assert storage.exists(key)


def test_evidence_pages_work_on_s3(database_url: str, tmp_path: Path, weed: s3server.WeedServer) -> None:
    """Upload through the library page and download through the permission-checked view: the bytes
    live in the bucket, nothing under EVIDENCE_DIR."""
    from portal.db import db_session
    from tests import factories

    app = make_test_app(database_url, tmp_path, **weed.config())
    try:
        with app.app_context():
            cast = factories.build_cast()
            company_id = cast.company_a.id
        client = app.test_client()
        assert client.post("/auth/login", data={"email": cast.email("officer_a"),
                                                "password": factories.PASSWORD}).status_code == 302
        response = client.post(f"/companies/{company_id}/evidence",
                               data={"file": (io.BytesIO(PDF), "security-plan.pdf"), "title": "Plan"},
                               content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        with app.app_context():
            row = db_session.scalar(select(EvidenceFile).where(EvidenceFile.company_id == company_id))
            assert row is not None
            evidence_id, key = row.id, row.storage_key
            storage = get_storage(app)
            assert isinstance(storage, S3Storage)
            assert storage.exists(key)
            assert db_session.scalar(select(SecurityProfile.id)) is not None
        assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").rglob("*"))
        download = client.get(f"/evidence/{evidence_id}/download")
        assert download.status_code == 200
        assert download.data == PDF
        assert download.headers["Content-Disposition"].startswith("attachment;")
        # Another company's officer gets 404, as with local files.
        other = app.test_client()
        other.post("/auth/login", data={"email": cast.email("officer_b"), "password": factories.PASSWORD})
        assert other.get(f"/evidence/{evidence_id}/download").status_code == 404
    finally:
        dispose_engines()

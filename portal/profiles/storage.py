"""Where evidence bytes live: a minimal storage interface and its local-disk implementation.

Storage keys are chosen by the server (a random UUID), never derived from the user's file name, so
no upload can pick or guess a path. Files live under ``EVIDENCE_DIR`` (``instance/evidence``), outside
``static/``: the only way to read one is the download view, which checks permissions (DESIGN.md §9).
An object-store implementation only has to provide the same four methods.

``EVIDENCE_STORAGE=s3`` keeps the blobs in an S3-compatible bucket instead (``S3Storage``), so that
several app servers share them (docs/DEPLOY.md). Its objects are private; a download either streams
through the app like a local file, or (``download_url``) leaves through a short-lived presigned GET
that forces ``Content-Disposition: attachment``, handed out only after the view's permission check.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast
from urllib.parse import quote

from flask import Flask, current_app

# "ab/cd/abcd...": two fan-out levels keep directories small with many files.
_KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}$")


def new_key() -> str:
    """A fresh random key: ``ab/cd/abcd…`` (a UUID4 in hex, fanned out by its first two bytes)."""
    name = uuid.uuid4().hex
    return f"{name[:2]}/{name[2:4]}/{name}"


def check_key(key: str) -> str:
    """The key, if it has the shape ``new_key`` gives; anything else never reaches a file or bucket.

    :raise ValueError: not an evidence storage key.
    """
    if not _KEY_PATTERN.match(key):
        raise ValueError(f"Not an evidence storage key: {key!r}")
    return key


class EvidenceStorage(Protocol):
    """Stores opaque blobs under keys it chooses itself."""

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its new key."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable binary file object (the caller closes it).

        :raise FileNotFoundError: no such key.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        ...


class LocalStorage:
    """Blobs as files under ``root``, written atomically (temporary file, fsync, ``os.replace``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        # Keys come from our own database, but a key that is not ours must never become a path.
        return self.root / check_key(key)

    def put(self, data: bytes) -> str:
        key = new_key()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, then rename: a reader (or a crash) never sees half a file.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def attachment_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the exact name as an RFC 5987
    ``filename*`` (the same header the download view sends)."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in fallback).strip()
    return f"attachment; filename=\"{fallback or 'document'}\"; filename*=UTF-8''{quote(name, safe='')}"


class S3Storage:
    """Blobs as private objects in one S3-compatible bucket (AWS S3, SeaweedFS, Ceph, ...).

    ``client`` is a boto3 S3 client (thread-safe; one per process is enough). Keys have the same
    shape as ``LocalStorage``'s, so the database rows do not change when the storage does.
    """

    def __init__(self, client: Any, bucket: str, *, presign_ttl: int = 60) -> None:
        if not bucket:
            raise RuntimeError("EVIDENCE_STORAGE=s3 needs S3_BUCKET.")
        self.client = client
        self.bucket = bucket
        self.presign_ttl = presign_ttl

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> S3Storage:
        """Build the client from ``S3_*`` settings. Without ``S3_ACCESS_KEY`` boto3 looks for
        credentials itself (environment, instance profile), which is what AWS deployments want."""
        import boto3
        from botocore.config import Config as BotoConfig

        endpoint = config.get("S3_ENDPOINT_URL") or None
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=config.get("S3_REGION") or "us-east-1",
            aws_access_key_id=config.get("S3_ACCESS_KEY") or None,
            aws_secret_access_key=config.get("S3_SECRET_KEY") or None,
            config=BotoConfig(
                signature_version="s3v4",
                # S3-compatible servers on their own host name know no virtual-hosted buckets.
                s3={"addressing_style": "path" if endpoint else "auto"},
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=30,
                # Checksums only where S3 demands them: not every S3-compatible server knows the newer ones.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        return cls(client, config.get("S3_BUCKET") or "", presign_ttl=int(config.get("S3_PRESIGN_TTL") or 60))

    @staticmethod
    def _missing(error: Exception) -> bool:
        response = getattr(error, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in {"NoSuchKey", "404", "NotFound"} or status == 404

    def put(self, data: bytes) -> str:
        key = new_key()
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/octet-stream")
        return key

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as error:
            if self._missing(error):
                raise FileNotFoundError(key) from error
            raise
        # botocore's StreamingBody is an io.IOBase: the view streams it without holding it in memory.
        return cast(BinaryIO, response["Body"])

    def delete(self, key: str) -> None:
        # S3 answers 204 for a key that does not exist: deleting twice is not an error.
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as error:
            if self._missing(error):
                return False
            raise
        return True

    def download_url(self, key: str, *, filename: str, content_type: str, expires_in: int | None = None) -> str:
        """A presigned GET that the browser follows directly, valid for ``expires_in`` seconds
        (default ``S3_PRESIGN_TTL``). It is a bearer link: hand it out only after the permission
        check, and keep it short. The response is always an attachment of the stored type."""
        return str(self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": check_key(key),
                    "ResponseContentDisposition": attachment_disposition(filename),
                    "ResponseContentType": content_type,
                    "ResponseCacheControl": "no-store"},
            ExpiresIn=expires_in if expires_in is not None else self.presign_ttl,
        ))

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet (development, tests, first deploy)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if not self._missing(error):
                raise
            self.client.create_bucket(Bucket=self.bucket)


def storage_from_config(app: Flask) -> EvidenceStorage:
    """The storage that ``EVIDENCE_STORAGE`` names: ``local`` (default) or ``s3``.

    :raise RuntimeError: an unknown kind, a bucket-less S3 setting, or an ``EVIDENCE_DIR`` inside
        the static folder, where files would be served to anyone without a permission check.
    """
    kind = (app.config.get("EVIDENCE_STORAGE") or "local").strip().lower()
    if kind == "s3":
        return S3Storage.from_config(app.config)
    if kind != "local":
        raise RuntimeError(f"EVIDENCE_STORAGE must be 'local' or 's3', not {kind!r}.")
    root = Path(app.config["EVIDENCE_DIR"]).resolve()
    if app.static_folder and root.is_relative_to(Path(app.static_folder).resolve()):
        raise RuntimeError("EVIDENCE_DIR must not be inside the static folder.")
    return LocalStorage(root)


def get_storage(app: Flask | None = None) -> EvidenceStorage:
    """The application's evidence storage: ``app.extensions["evidence_storage"]`` when one was
    installed (a test double) or built before, else the one ``EVIDENCE_STORAGE`` configures.

    :raise RuntimeError: see ``storage_from_config``.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get("evidence_storage")
    if storage is None:
        storage = app.extensions["evidence_storage"] = storage_from_config(app)
    return storage

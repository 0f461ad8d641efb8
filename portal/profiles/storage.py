"""Where evidence bytes live: a minimal storage interface and its local-disk implementation.

Storage keys are chosen by the server (a random UUID), never derived from the user's file name, so
no upload can pick or guess a path. Files live under ``EVIDENCE_DIR`` (``instance/evidence``), outside
``static/``: the only way to read one is the download view, which checks permissions (DESIGN.md §9).
An object-store implementation only has to provide the same four methods.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app

# "ab/cd/abcd...": two fan-out levels keep directories small with many files.
_KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}$")


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
        if not _KEY_PATTERN.match(key):
            raise ValueError(f"Not an evidence storage key: {key!r}")
        return self.root / key

    def put(self, data: bytes) -> str:
        name = uuid.uuid4().hex
        key = f"{name[:2]}/{name[2:4]}/{name}"
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


def get_storage(app: Flask | None = None) -> EvidenceStorage:
    """The application's evidence storage: ``app.extensions["evidence_storage"]`` when one was
    installed (an object store, a test double), else local files under ``EVIDENCE_DIR``.

    :raise RuntimeError: ``EVIDENCE_DIR`` lies inside the static folder, where files would be
        served to anyone without a permission check.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get("evidence_storage")
    if storage is None:
        root = Path(app.config["EVIDENCE_DIR"]).resolve()
        if app.static_folder and root.is_relative_to(Path(app.static_folder).resolve()):
            raise RuntimeError("EVIDENCE_DIR must not be inside the static folder.")
        storage = app.extensions["evidence_storage"] = LocalStorage(root)
    return storage

"""Static assets: URLs carry a content hash, fingerprinted responses are cacheable for a year,
everything else only briefly (issue 9, item 7)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for

from portal.templating import STATIC_IMMUTABLE, STATIC_SHORT_MAX_AGE, static_fingerprint

SHORT = f"public, max-age={STATIC_SHORT_MAX_AGE}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _static_path(app: Flask, filename: str) -> Path:
    return Path(app.static_folder or "") / filename


def _url(app: Flask, filename: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=filename)


def test_static_url_carries_the_content_hash(app: Flask) -> None:
    expected = _digest(_static_path(app, "css/portal.css"))
    assert _url(app, "css/portal.css") == f"/static/css/portal.css?v={expected}"
    with app.test_request_context():
        external = url_for("static", filename="js/autosave.js", _external=True)
    assert external.endswith(f"/static/js/autosave.js?v={_digest(_static_path(app, 'js/autosave.js'))}")


def test_fingerprint_is_computed_once_per_file(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = hashlib.file_digest

    def counting(handle: Any, name: str) -> Any:
        calls.append(handle.name)
        return real(handle, name)

    monkeypatch.setattr(hashlib, "file_digest", counting)
    first = [_url(app, "css/portal.css") for _ in range(5)]
    _url(app, "js/autosave.js")
    _url(app, "js/autosave.js")
    assert len(set(first)) == 1
    assert len(calls) == 2


def test_fingerprinted_response_is_immutable_for_a_year(client: Any, app: Flask) -> None:
    url = _url(app, "css/portal.css")
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == _static_path(app, "css/portal.css").read_bytes()
    assert response.headers["Cache-Control"] == STATIC_IMMUTABLE
    assert "Expires" not in response.headers
    # A revalidation (after a forced reload) keeps the same lifetime.
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == STATIC_IMMUTABLE


@pytest.mark.parametrize("query", ["", "?v=0000000000000000", "?v="])
def test_unversioned_or_stale_url_is_cached_briefly(client: Any, query: str) -> None:
    # A page rendered before a deploy may ask for an old hash: it gets the new file, but not for a year.
    response = client.get(f"/static/css/portal.css{query}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == SHORT
    assert "immutable" not in response.headers["Cache-Control"]


def test_missing_static_file_is_a_plain_404(client: Any, app: Flask) -> None:
    assert _url(app, "css/no-such-file.css") == "/static/css/no-such-file.css"
    response = client.get("/static/css/no-such-file.css?v=abc")
    assert response.status_code == 404
    assert "max-age=31536000" not in response.headers.get("Cache-Control", "")


def test_names_outside_the_static_folder_get_no_fingerprint(app: Flask) -> None:
    assert static_fingerprint(app, "../config.py") is None
    assert static_fingerprint(app, "/etc/passwd") is None
    assert "v=" not in _url(app, "../config.py")


def test_rendered_pages_link_fingerprinted_assets(client: Any, app: Flask) -> None:
    html = client.get("/auth/login").get_data(as_text=True)
    assert f"css/portal.css?v={_digest(_static_path(app, 'css/portal.css'))}" in html
    links = re.findall(r'(?:href|src)="(/static/[^"#]+)', html)
    assert links
    for link in links:
        filename = link.split("?")[0].removeprefix("/static/")
        if _static_path(app, filename).is_file():
            assert "?v=" in link, link


def test_changed_file_gets_a_new_hash_in_debug_only(app: Flask, tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    asset = static / "css" / "site.css"
    asset.write_text("body { color: black; }")
    app.static_folder = str(static)
    before = _url(app, "css/site.css")
    asset.write_text("body { color: navy; } /* longer */")
    assert _url(app, "css/site.css") == before  # production: cached until the next deploy restarts
    app.debug = True
    after = _url(app, "css/site.css")
    assert after != before
    assert after.endswith(_digest(asset))

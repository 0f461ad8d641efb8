"""Browser-test fixtures: Debian's Chromium driven by Playwright against a live portal, and axe-core.

- ``browser`` (session): headless Chromium at /usr/bin/chromium. Skipped with a visible reason when
  it is missing, except when ``CI`` is set: then a missing browser fails the run (DESIGN.md §10).
- ``live_server`` (per test): the portal on a fresh database, served by Werkzeug on 127.0.0.1 with a
  free port in a background thread, with CSRF protection ON so the real forms are exercised.
- ``page`` (per test): a new browser context and page that records console messages; any message
  about the Content Security Policy fails the test.
- ``new_page()`` (per test): a factory of further such pages, each in its own context (one per user).
- ``assert_accessible(page, label)``: runs axe-core (WCAG 2.0/2.1 A and AA) and asserts 0 violations.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from portal.db import dispose_engines
from tests.conftest import make_test_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
AXE_CANDIDATES = (
    ROOT / "portal" / "static" / "vendor" / "axe-core" / "axe.min.js",  # copied by `make assets`
    ROOT / "node_modules" / "axe-core" / "axe.min.js",
)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CSP_MARKERS = ("Content Security Policy", "Refused to")


def _in_ci() -> bool:
    return bool(os.environ.get("CI", "").strip())


def _unavailable(reason: str) -> None:
    """Skip locally, fail in CI (where browser tests must run)."""
    if _in_ci():
        pytest.fail(f"{reason} (CI is set, so browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        _unavailable(f"Debian's Chromium not found at {CHROMIUM}; install it with `apt-get install chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in requirements-dev.txt
        _unavailable("the Python package playwright is not installed")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@dataclass
class LiveServer:
    url: str
    app: Any


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the access log would drown failures
        pass


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    # Port 0: the operating system picks a free port.
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-portal", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        dispose_engines()


@dataclass
class ConsoleLog:
    messages: list[str] = field(default_factory=list)

    def csp_messages(self) -> list[str]:
        return [m for m in self.messages if any(marker in m for marker in CSP_MARKERS)]


_CONSOLE: dict[int, ConsoleLog] = {}


def _check_csp(page: Any) -> None:
    log = _CONSOLE.get(id(page))
    problems = log.csp_messages() if log else []
    if problems:
        pytest.fail("Content Security Policy violations in the browser console:\n  " + "\n  ".join(problems),
                    pytrace=False)


def _open_page(browser: Any, live_server: LiveServer) -> Any:
    """A page in a new browser context (its own cookies), recording its console messages."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    log = ConsoleLog()
    _CONSOLE[id(new_page)] = log
    new_page.on("console", lambda message: log.messages.append(f"[{message.type}] {message.text}"))
    new_page.on("pageerror", lambda error: log.messages.append(f"[pageerror] {error}"))
    return new_page


def _close_page(new_page: Any) -> None:
    _CONSOLE.pop(id(new_page), None)
    new_page.context.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    new_page = _open_page(browser, live_server)
    try:
        yield new_page
        _check_csp(new_page)
    finally:
        _close_page(new_page)


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A factory of further checked pages, each in its own browser context, for a second user.

    Signing the same user in again rotates their session token, so every user needs a context of
    their own. Each page fails the test on a CSP console message, like ``page``.
    """
    opened: list[Any] = []

    def open_page() -> Any:
        opened.append(_open_page(browser, live_server))
        return opened[-1]

    try:
        yield open_page
        for each in opened:
            _check_csp(each)
    finally:
        for each in opened:
            _close_page(each)


def _axe_source() -> str:
    for candidate in AXE_CANDIDATES:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError("axe-core not found; run `make assets` (npm install) first")


def _format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact')}): {violation['help']}  {violation['helpUrl']}")
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            summary = "; ".join(line.strip() for line in node.get("failureSummary", "").splitlines() if line.strip())
            lines.append(f"    at {target}: {summary}")
            lines.append(f"       {node['html'][:200]}")
    return "\n".join(lines)


def assert_accessible(page: Any, label: str) -> None:
    """Run axe-core on the current page; fail with every violation's id, help and target nodes.

    The page's CSP forbids inline scripts, so axe is not added as a <script> element:
    ``page.evaluate`` runs it through the DevTools protocol, which the CSP does not govern.
    """
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    violations = result["violations"]
    if violations:
        raise AssertionError(
            f"axe-core found {len(violations)} accessibility violation(s) on {label} ({page.url}):\n"
            + _format_violations(violations)
        )
    _check_csp(page)


@pytest.fixture(name="assert_accessible")
def _assert_accessible_fixture() -> Any:
    """The ``assert_accessible`` helper, for tests (conftest modules are not imported by name)."""
    return assert_accessible

"""Several app servers on one database (issue 9, item 6; docs/DEPLOY.md): two gunicorn processes
share nothing but the database, the SECRET_KEY and the evidence storage, as behind a load balancer.

Shown across the two: a session made on one works on the other and a sign-out on one ends it on both;
failed sign-ins on both count towards one lockout; two saves of the same answer version, one on each
server, give one success and one 409; evidence uploaded through one downloads through the other.

Runs on a shared SQLite file (WAL, one machine) always, and on PostgreSQL when
PORTAL_TEST_DATABASE_URL is set. Evidence goes to S3-compatible storage (SeaweedFS, tests/s3server.py)
when the ``weed`` binary is there, else to a directory both servers share.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from portal.config import PROJECT_ROOT
from portal.db import Base, dispose_engines, make_engine
from portal.models import import_all_models
from tests import factories, s3server
from tests.conftest import PG_URL, make_test_app

SECRET_KEY = "multi-server-test-secret-key-0123456789abcdef"
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n% multi-server\n"
START_TIMEOUT = 60


# -- two servers -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``gunicorn -w 1 wsgi:app`` on its own port: the production entry point, configured only
    through the environment."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.log_path = log_dir / f"{name}.log"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{self.port}", "--chdir", str(PROJECT_ROOT),
                   "--log-level", "warning", "--timeout", "60", "wsgi:app"]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, env={**os.environ, **env}, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=s3server.die_with_parent)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


class Browser:
    """One browser: a cookie (the signed session) and the CSRF token of the last page it loaded."""

    def __init__(self) -> None:
        self.cookie = ""
        self.csrf = ""

    def request(self, server: Server, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={**({"Cookie": self.cookie} if self.cookie else {}),
                                                           **(headers or {})})
            response = conn.getresponse()
            data = response.read()
            found = re.search(r"ctpat_session=([^;]*)", response.getheader("Set-Cookie") or "")
            if found:
                self.cookie = f"ctpat_session={found.group(1)}" if found.group(1) else ""
            token = re.search(rb'name="csrf-token" content="([^"]+)"', data)
            if token:
                self.csrf = token.group(1).decode()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def get(self, server: Server, path: str) -> tuple[int, dict[str, str], bytes]:
        return self.request(server, "GET", path)

    def post(self, server: Server, path: str, fields: dict[str, str], *, ajax: bool = False) -> tuple[int, dict, bytes]:
        if not self.csrf:
            self.get(server, "/auth/login")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if ajax:
            headers.update({"X-CSRFToken": self.csrf, "Accept": "application/json"})
        else:
            fields = {"csrf_token": self.csrf, **fields}
        return self.request(server, "POST", path, urlencode(fields).encode(), headers)

    def upload(self, server: Server, path: str, filename: str, data: bytes) -> tuple[int, dict, bytes]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{self.csrf}\r\n'.encode(),
                 f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/pdf\r\n\r\n".encode() + data + b"\r\n",
                 f"--{boundary}--\r\n".encode()]
        return self.request(server, "POST", path, b"".join(parts),
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def sign_in(self, server: Server, email: str, password: str = factories.PASSWORD) -> int:
        self.get(server, "/auth/login")
        status, headers, _ = self.post(server, "/auth/login", {"email": email, "password": password})
        return status if status != 302 or "/auth/" not in headers.get("location", "") else 0


# -- the program both servers see ------------------------------------------------------------------


@dataclass
class Cluster:
    mode: str
    storage: str
    database_url: str
    one: Server
    two: Server
    ids: dict[str, Any]


def _sqlite_database(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'shared.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def _pg_database() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = make_url(PG_URL)
    url = url.set(database=f"{url.database}_multi{('_' + worker) if worker else ''}")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    Base.metadata.create_all(engine)
    engine.dispose()
    return rendered


def _drop_pg_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def _load_program(database_url: str, tmp: Path) -> dict[str, Any]:
    """Users, a company with an account and a draft profile with one answer, through the factories."""
    from portal.db import db_session
    from portal.profiles.models import Answer

    app = make_test_app(database_url, tmp / "inprocess")
    try:
        with app.app_context():
            cast = factories.build_cast()
            profile = factories.profile_of(cast.account_a)
            factories.answer(profile, "1.1", narrative="Our written risk assessment.")
            locked = factories.user("lockout@a.example", name="Lee Lockout")
            factories.member(cast.company_a, locked, factories.CompanyRole.EMPLOYEE)
            db_session.commit()
            version = db_session.scalar(select(Answer.version).where(Answer.profile_id == profile.id,
                                                                     Answer.criterion_id == "1.1"))
            return {"officer": cast.email("officer_a"), "employee": cast.email("employee_a"),
                    "lockout": locked.email, "company_id": cast.company_a.id, "profile_id": profile.id,
                    "criterion": "1.1", "version": version}
    finally:
        dispose_engines()


@pytest.fixture(scope="session")
def object_store() -> Iterator[s3server.WeedServer | None]:
    """SeaweedFS when its binary is there (always under CI), else None: a shared directory then."""
    if s3server.weed_binary() is None and not os.environ.get("CI"):
        yield None
        return
    yield s3server.require_weed()
    s3server.stop_weed()


def _storage_env(object_store: s3server.WeedServer | None, tmp: Path) -> tuple[str, dict[str, str]]:
    if object_store is not None:
        return "s3", object_store.config()
    # Without an object store both servers use one directory, like a shared volume.
    return "shared-dir", {"EVIDENCE_STORAGE": "local", "EVIDENCE_DIR": str(tmp / "shared-evidence")}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            object_store: s3server.WeedServer | None) -> Iterator[Cluster]:
    mode = request.param
    if mode == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL mode needs PORTAL_TEST_DATABASE_URL (the SQLite mode ran)")
    import_all_models()
    tmp = tmp_path_factory.mktemp(f"multi-{mode}")
    database_url = _pg_database() if mode == "postgresql" else _sqlite_database(tmp)
    ids = _load_program(database_url, tmp)
    storage, storage_env = _storage_env(object_store, tmp)
    if storage == "s3":
        from portal.profiles.storage import S3Storage

        S3Storage.from_config(storage_env).ensure_bucket()
    env = {"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, "PORTAL_ENV": "development",
           "MAIL_OUTBOX_DIR": str(tmp / "outbox"), "EVIDENCE_DIR": str(tmp / "unused-evidence"), **storage_env}
    one, two = Server("server-1", env, tmp), Server("server-2", env, tmp)
    try:
        one.wait_ready()
        two.wait_ready()
        yield Cluster(mode=mode, storage=storage, database_url=database_url, one=one, two=two, ids=ids)
    finally:
        one.stop()
        two.stop()
        dispose_engines()
        if mode == "postgresql":
            _drop_pg_database(database_url)


# -- the tests ---------------------------------------------------------------------------------------


def test_session_made_on_one_server_works_on_the_other(cluster: Cluster) -> None:
    browser = Browser()
    assert browser.sign_in(cluster.one, cluster.ids["officer"]) == 302
    overview = f"/profiles/{cluster.ids['profile_id']}"
    assert browser.get(cluster.one, overview)[0] == 200
    status, _, body = browser.get(cluster.two, overview)
    assert status == 200, body[:300]
    # Signing out on server 2 revokes the session token in the database: server 1 refuses the cookie too.
    cookie = browser.cookie
    assert browser.post(cluster.two, "/auth/logout", {})[0] == 302
    stale = Browser()
    stale.cookie = cookie
    status, headers, _ = stale.get(cluster.one, overview)
    assert status == 302 and "/auth/login" in headers["location"]


def test_lockout_counts_failures_on_both_servers(cluster: Cluster) -> None:
    email = cluster.ids["lockout"]
    attacker = Browser()
    for attempt in range(5):  # LOCKOUT_THRESHOLD, alternating servers
        server = cluster.one if attempt % 2 == 0 else cluster.two
        status, _, body = attacker.post(server, "/auth/login", {"email": email, "password": f"wrong-{attempt}-xyz!"})
        assert status == 200 and b"not correct" in body
    # The right password is now refused on both servers: the count lives in the shared database.
    for server in (cluster.one, cluster.two):
        assert Browser().sign_in(server, email) == 200
    assert Browser().sign_in(cluster.one, cluster.ids["employee"]) == 302  # another user is not affected


def test_optimistic_locking_across_servers(cluster: Cluster) -> None:
    """Officer on server 1 and employee on server 2 save the same answer from the same version at
    the same moment: exactly one save wins, the other gets 409 and nothing is lost silently."""
    officer, employee = Browser(), Browser()
    assert officer.sign_in(cluster.one, cluster.ids["officer"]) == 302
    assert employee.sign_in(cluster.two, cluster.ids["employee"]) == 302
    page = f"/profiles/{cluster.ids['profile_id']}/categories/1"
    assert officer.get(cluster.one, page)[0] == 200
    assert employee.get(cluster.two, page)[0] == 200
    url = f"/profiles/{cluster.ids['profile_id']}/criteria/{cluster.ids['criterion']}/autosave"
    version = str(cluster.ids["version"])
    start = threading.Barrier(2)
    results: dict[str, tuple[int, dict, bytes]] = {}

    def save(name: str, browser: Browser, server: Server) -> None:
        start.wait()
        results[name] = browser.post(server, url, {"status": "implemented", "justification": "", "version": version,
                                                   "narrative": f"Saved by the {name} on {server.name}."}, ajax=True)

    threads = [threading.Thread(target=save, args=("officer", officer, cluster.one)),
               threading.Thread(target=save, args=("employee", employee, cluster.two))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(result[0] for result in results.values())
    assert statuses == [200, 409], {k: (v[0], v[2][:300]) for k, v in results.items()}
    winner = next(name for name, result in results.items() if result[0] == 200)
    # The stored answer is the winner's, one version on.
    engine = make_engine(cluster.database_url)
    with engine.connect() as conn:
        narrative, stored_version = conn.execute(text(
            "SELECT narrative, version FROM answers WHERE profile_id = :p AND criterion_id = :c"),
            {"p": cluster.ids["profile_id"], "c": cluster.ids["criterion"]}).one()
    engine.dispose()
    assert narrative.startswith(f"Saved by the {winner}")
    assert stored_version == cluster.ids["version"] + 1


def test_evidence_uploaded_on_one_server_downloads_on_the_other(cluster: Cluster) -> None:
    officer = Browser()
    assert officer.sign_in(cluster.one, cluster.ids["officer"]) == 302
    library = f"/companies/{cluster.ids['company_id']}/evidence"
    assert officer.get(cluster.one, library)[0] == 200
    status, headers, body = officer.upload(cluster.one, library, f"plan-{cluster.mode}.pdf", PDF)
    assert status == 302, body[:500]
    engine = make_engine(cluster.database_url)
    with engine.connect() as conn:
        evidence_id = conn.execute(text("SELECT id FROM evidence_files WHERE company_id = :c ORDER BY id DESC"),
                                   {"c": cluster.ids["company_id"]}).scalar()
    engine.dispose()
    # CBP-side and partner-side readers on the other server get the same bytes, as an attachment.
    status, headers, body = officer.get(cluster.two, f"/evidence/{evidence_id}/download")
    assert status == 200
    assert body == PDF
    assert headers["content-disposition"].startswith("attachment;")
    assert headers["x-content-type-options"] == "nosniff"

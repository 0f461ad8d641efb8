"""Load: N concurrent simulated users against gunicorn on 127.0.0.1 for a bounded time (issue 8 item 5).

    .venv/bin/python -m bench.load --users 10 --seconds 20

What it does:

1. prepares a temporary SQLite database (``flask --app wsgi db upgrade`` and ``demo-data``), and adds one
   trade user per simulated user (an employee of Acme Imports, so that no two users share a session:
   signing a user in again would sign their other sessions out);
2. starts ``python -m gunicorn -w 5 -b 127.0.0.1:<free port> wsgi:app`` on it (CSRF, MFA and the real
   password hashing on, as in production, except the Secure cookie flag: this is plain HTTP);
3. signs the reviewer in once (password, then the code of the demo authenticator seed) and shares that
   session for the queue;
4. runs the users in threads until the time is up; each signs in through the login form, then repeats:
   a questionnaire category page, an autosave of its own criterion (with the CSRF header and the version
   it was given), the reviewer queue, and every fifth round the action-plan Excel export;
5. prints requests per second, latency percentiles per kind and overall, and the errors; its last line
   is ``load_rps=<x> p99_ms=<y> errors=<n>``.

An error is a status other than the one the step expects, or a failed connection. Traffic goes only to
127.0.0.1; every loop is bounded by the deadline.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REVIEWER = "reviewer@cbp.example"
LOAD_USER = "load-user-{n}@acme-imports.example"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'load.db'}", "PORTAL_ENV": "development",
            "MAIL_OUTBOX_DIR": str(workdir / "outbox"), "EVIDENCE_DIR": str(workdir / "evidence"),
            "PYTHONPATH": str(PROJECT_ROOT)}


PREPARE = """
import json, sys
from sqlalchemy import select
from portal import create_app
from portal.auth.models import Membership, User
from portal.auth.passwords import hash_password
from portal.auth.roles import CompanyRole
from portal.clock import utcnow
from portal.companies.models import Company
from portal.db import db_session
from portal.demo import DEMO_PASSWORD
from portal.profiles.services import catalog_of, profile_for_account

app = create_app()
with app.app_context():
    acme = db_session.scalar(select(Company).where(Company.legal_name.like("Acme%")))
    account = next(a for a in acme.accounts if profile_for_account(a) is not None)
    profile = profile_for_account(account)
    password_hash = hash_password(DEMO_PASSWORD)
    for n in range(int(sys.argv[1])):
        email = "{pattern}".format(n=n)
        if db_session.scalar(select(User).where(User.email == email)) is None:
            user = User(email=email, full_name=f"Load User {{n}}", password_hash=password_hash,
                        password_changed_at=utcnow())
            db_session.add(user)
            db_session.flush()
            db_session.add(Membership(user_id=user.id, company_id=acme.id, role=CompanyRole.EMPLOYEE))
    db_session.commit()
    criteria = [c.id for c in catalog_of(profile).criteria_for(account.business_type)]
    print(json.dumps({{"profile_id": profile.id, "criteria": criteria}}))
"""


def prepare(workdir: Path, users: int) -> dict[str, Any]:
    import json

    env = server_env(workdir)
    flask = [PYTHON, "-m", "flask", "--app", "wsgi"]
    for command in (["db", "upgrade"], ["demo-data"]):
        subprocess.run([*flask, *command], cwd=PROJECT_ROOT, env=env, check=True,  # noqa: S603 (our own command)
                       capture_output=True, text=True)
    done = subprocess.run([PYTHON, "-c", PREPARE.format(pattern=LOAD_USER), str(users)],  # noqa: S603
                          cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


class Server:
    """gunicorn with ``workers`` sync workers on a free port of 127.0.0.1."""

    def __init__(self, workdir: Path, workers: int) -> None:
        self.port = free_port()
        self.log = open(workdir / "gunicorn.log", "w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 (our own fixed command line)
            [PYTHON, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
             "wsgi:app"], cwd=PROJECT_ROOT, env=server_env(workdir), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {self.output()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer /healthz: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if error:
                self.errors[kind] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{kind}: {error}")


class Browser:
    """One user's cookies and CSRF token over plain http.client (no redirects followed)."""

    def __init__(self, port: int, stats: Stats, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.stats = stats
        self.cookies: dict[str, str] = dict(cookies or {})
        self.csrf = ""

    def request(self, kind: str, method: str, path: str, expect: int, body: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        all_headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        data = None
        if body is not None:
            data = urlencode(body)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            payload = response.read()
            status, response_headers = response.status, response.getheaders()
            conn.close()
        except OSError as error:
            self.stats.record(kind, time.perf_counter() - started, f"{method} {path}: {error}")
            return 0, {}, b""
        elapsed = time.perf_counter() - started
        for name, value in response_headers:
            if name.lower() == "set-cookie":
                cookie_name, _, rest = value.partition("=")
                self.cookies[cookie_name.strip()] = rest.split(";", 1)[0]
        self.stats.record(kind, elapsed, None if status == expect else f"{method} {path}: {status}, not {expect}")
        return status, {k.lower(): v for k, v in response_headers}, payload

    def remember_csrf(self, html: bytes) -> None:
        text = html.decode("utf-8", "replace")
        found = CSRF_META.search(text) or CSRF_INPUT.search(text)
        if found:
            self.csrf = next(group for group in found.groups() if group)

    def sign_in(self, email: str, password: str) -> bool:
        _, _, html = self.request("login_page", "GET", "/auth/login", 200)
        self.remember_csrf(html)
        status, headers, _ = self.request("login", "POST", "/auth/login", 302, {
            "email": email, "password": password, "csrf_token": self.csrf})
        if status != 302:
            return False
        if headers.get("location", "").split("?")[0].endswith("/auth/mfa"):
            _, _, html = self.request("login_mfa_page", "GET", "/auth/mfa", 200)
            self.remember_csrf(html)
            status, _, _ = self.request("login_mfa", "POST", "/auth/mfa", 302, {
                "code": totp_code(email), "csrf_token": self.csrf})
        return status == 302


def totp_code(email: str) -> str:
    import pyotp

    from portal.auth.mfa import demo_secret

    return pyotp.TOTP(demo_secret(email)).now()


def simulated_user(n: int, port: int, stats: Stats, setup: dict[str, Any], reviewer_cookies: dict[str, str],
                   deadline: float, password: str) -> None:
    user = Browser(port, stats)
    if not user.sign_in(LOAD_USER.format(n=n), password):
        return
    queue = Browser(port, stats, reviewer_cookies)
    profile_id = setup["profile_id"]
    criterion = setup["criteria"][n % len(setup["criteria"])]
    category = criterion.split(".")[0]
    version = ""
    rounds = 0
    while time.monotonic() < deadline:
        _, _, html = user.request("questionnaire", "GET", f"/profiles/{profile_id}/categories/{category}", 200)
        user.remember_csrf(html)
        version = _version_on_page(html, criterion) if not version else version
        status, _, body = user.request(
            "autosave", "POST", f"/profiles/{profile_id}/criteria/{criterion}/autosave", 200,
            {"status": "partially_implemented", "narrative": f"Load round {rounds} of user {n}.",
             "justification": "", "version": version},
            headers={"X-CSRFToken": user.csrf, "X-Requested-With": "fetch"})
        if status == 200:
            import json

            version = str(json.loads(body).get("version") or "")
        queue.request("queue", "GET", "/reviews", 200)
        if rounds % 5 == 4:
            user.request("export", "GET", f"/profiles/{profile_id}/action-plans.xlsx", 200)
        rounds += 1


def _version_on_page(html: bytes, criterion: str) -> str:
    key = "c_" + criterion.replace(".", "_")
    found = re.search(rf'name="{key}-version"[^>]*value="(\d*)"|value="(\d*)"[^>]*name="{key}-version"',
                      html.decode("utf-8", "replace"))
    return next((group for group in found.groups() if group), "") if found else ""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run(users: int, seconds: float, workers: int) -> tuple[float, float, int]:
    from portal.demo import DEMO_PASSWORD

    workdir = Path(tempfile.mkdtemp(prefix="ctpat-load-"))
    server = None
    try:
        started = time.monotonic()
        setup = prepare(workdir, users)
        server = Server(workdir, workers)
        print(f"Set-up: {time.monotonic() - started:.1f} s (database, demo data, {users} load users, gunicorn "
              f"-w {workers} on 127.0.0.1:{server.port})")
        stats = Stats()
        reviewer = Browser(server.port, stats)
        if not reviewer.sign_in(REVIEWER, DEMO_PASSWORD):
            raise SystemExit(f"the reviewer could not sign in: {stats.examples}")
        begin = time.monotonic()
        deadline = begin + seconds
        threads = [threading.Thread(target=simulated_user, args=(n, server.port, stats, setup, reviewer.cookies,
                                                                 deadline, DEMO_PASSWORD), daemon=True)
                   for n in range(users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        elapsed = time.monotonic() - begin
        if "ERROR" in server.output() or "Traceback" in server.output():
            stats.record("server_log", 0.0, server.output()[-500:])
        return report(stats, elapsed, users)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def report(stats: Stats, elapsed: float, users: int) -> tuple[float, float, int]:
    every = [value for values in stats.latencies.values() for value in values]
    errors = sum(stats.errors.values())
    rps = len(every) / elapsed if elapsed else 0.0
    print(f"{users} users, {elapsed:.1f} s, {len(every)} requests, {rps:.1f} req/s, {errors} error(s)")
    print(f"{'kind':<16}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'errors':>8}")
    for kind in sorted(stats.latencies):
        values = stats.latencies[kind]
        print(f"{kind:<16}{len(values):>7}{percentile(values, 50) * 1000:>9.1f}{percentile(values, 95) * 1000:>9.1f}"
              f"{percentile(values, 99) * 1000:>9.1f}{statistics.fmean(values) * 1000:>9.1f}{stats.errors[kind]:>8}")
    p50, p95, p99 = (percentile(every, q) * 1000 for q in (50, 95, 99))
    print(f"{'all':<16}{len(every):>7}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}")
    for example in stats.examples:
        print(f"error: {example}")
    print(f"load_rps={rps:.1f} p99_ms={p99:.1f} errors={errors}")
    return rps, p99, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10, help="concurrent simulated users (default 10)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the users run (default 20)")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn sync workers (default 5 = 2 x 2 cores + 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 200 or not 0 < args.seconds <= 600:
        parser.error("--users must be 1..200 and --seconds 0..600")
    _, _, errors = run(args.users, args.seconds, args.workers)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT_ROOT))
    sys.exit(main())

"""Requests per second under gunicorn, as ratios to a bare Flask app in the same run (issue 9, item 3).

    .venv/bin/python -m bench.throughput                      # 10,000 accounts on SQLite
    .venv/bin/python -m bench.throughput --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ctpat_bench
    .venv/bin/python -m bench.throughput --accounts 100 --duration 5

Both servers are gunicorn with 2 x cores + 1 sync workers on 127.0.0.1, running side by side. The
scenarios are measured in interleaved rounds (default 3 x 10 s each, after a warm-up) and the median
round counts, so that load from elsewhere on the machine hits all of them alike. The load comes from
``wrk`` (Debian package) when it is installed, else from a small Python generator (threads, one
http.client connection each); both keep ``--connections`` requests in flight (default 20) and run on
the same machine, so the figures are floors. Scenarios:

- baseline: ``GET /hello`` of bench/hello.py;
- reference page: ``GET /reference`` of bench/reference.py, a page of the kind the goal's note describes
  ("a simple 3-query templated page measures about 0.145"): 25 rows from the same database in 3
  statements, no sign-in (for information: it shows what that note's page measures on this database);
- category: the partner's category page 1 of a draft profile, signed in as its officer;
- category (no fragment cache): the same page from a second portal server started with
  ``FRAGMENT_CACHE_ENTRIES=0`` and ``PAGE_CACHE_ENTRIES=0``, so that every view renders the criteria and
  the rest of the page afresh, as the first view after a save does (for information: the goal is on
  "category");
- queue: the review queue page 1, signed in as a reviewer;
- autosave: ``POST`` of one answer with the CSRF header, each connection its own criterion and
  passing the version it got back, so every request is a real save (no conflicts).

As a browser does, the load carries the session cookie the portal sends back (the portal sends it
again once a minute, with the time of the last activity).

Goals (issue 9): category page at least 0.12 of the baseline, p99 at most 100 ms at 20
connections. The last line is ``category_ratio=<x> queue_ratio=<y> autosave_ratio=<z> p99_ms=<w>``,
where p99_ms is the worst p99 of the three portal scenarios.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import PROJECT_ROOT, cpu_count, describe, program_parser, totp_secret
from bench.generate import SEED, Subjects, ensure_generated

HOST = "127.0.0.1"
SECRET_KEY = "bench-secret-key-bench-secret-key-0123456789"


# -- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """``gunicorn --workers N --bind 127.0.0.1:<port> <app>`` until ``stop``."""

    def __init__(self, app: str, workers: int, env: dict[str, str], ready_path: str) -> None:
        self.port = free_port()
        binary = Path(sys.executable).with_name("gunicorn")
        command = [str(binary) if binary.exists() else "gunicorn", "--workers", str(workers), "--worker-class", "sync",
                   "--bind", f"{HOST}:{self.port}", "--log-level", "warning", "--chdir", str(PROJECT_ROOT), app]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(  # noqa: S603 (our own fixed command line)
            command, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn {app} exited: {self.output()}")
            try:
                status, _, _ = request(self.port, "GET", ready_path)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn {app} did not answer {ready_path}: {self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _cookie(headers: dict[str, str], current: str = "") -> str:
    found = re.search(r"ctpat_session=([^;]+)", headers.get("set-cookie", ""))
    return f"ctpat_session={found.group(1)}" if found else current


def _csrf(html: bytes) -> str:
    found = re.search(rb'name="csrf-token" content="([^"]+)"', html) or \
        re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not found:
        raise SystemExit("No CSRF token found in the page.")
    return found.group(1).decode()


def _post_form(port: int, path: str, cookie: str, fields: dict[str, str]) -> tuple[int, dict[str, str], str]:
    status, headers, html = request(port, "GET", path, headers={"Cookie": cookie} if cookie else {})
    cookie = _cookie(headers, cookie)
    form = urlencode({"csrf_token": _csrf(html), **fields}).encode()
    status, headers, _ = request(port, "POST", path, form, {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    return status, headers, _cookie(headers, cookie)


def sign_in(port: int, email: str, password: str) -> str:
    """Sign in through the real forms (password, then for CBP staff the authenticator code, which
    bench.generate's seed lets us compute) and return the session cookie."""
    import pyotp

    status, headers, cookie = _post_form(port, "/auth/login", "", {"email": email, "password": password})
    for attempt in range(2):
        if status != 302 or "/auth/mfa" not in headers.get("location", ""):
            break
        if "/auth/mfa/setup" in headers["location"]:
            raise SystemExit(f"{email} has no authenticator: regenerate the database (bench.generate).")
        totp = pyotp.TOTP(totp_secret(email))
        if attempt:  # a code is accepted once: the previous run may have used this step's
            time.sleep(totp.interval - time.time() % totp.interval + 0.5)
        status, headers, cookie = _post_form(port, "/auth/mfa", cookie, {"code": totp.now()})
        if status == 200:  # the form again: wrong or replayed code
            status, headers = 302, {"location": "/auth/mfa"}
    if status != 302 or "/auth/" in headers.get("location", ""):
        raise SystemExit(f"Sign-in of {email} failed: HTTP {status} {headers.get('location', '')}")
    return cookie


# -- load ------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    path: str
    cookie: str = ""
    # Autosave: POST to path.format(criterion=...) with the CSRF header, one criterion per connection.
    csrf: str = ""
    criteria: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    # Reads the stored versions again (a warm-up moved them on).
    refresh: Callable[[], list[str]] | None = None

    @property
    def is_post(self) -> bool:
        return bool(self.criteria)


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_list(values: list[str]) -> str:
    return "{" + ", ".join(f'"{v}"' for v in values) + "}"


WRK_SCRIPT = r"""
local threads = {}
criteria = %(criteria)s
versions = %(versions)s
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  bad = 0
  n = 0
  cookie = "%(cookie)s"
  if #criteria > 0 then
    criterion = criteria[(id - 1) %% #criteria + 1]
    version = versions[(id - 1) %% #criteria + 1]
  end
end
function request()
  if #criteria == 0 then
    return wrk.format("GET", "%(path)s", {["Cookie"] = cookie})
  end
  n = n + 1
  local body = "status=implemented&justification=&narrative=Saved+by+the+benchmark+" .. id .. "+" .. n
    .. "&version=" .. version
  return wrk.format("POST", string.gsub("%(path)s", "{criterion}", criterion), {
    ["Cookie"] = cookie, ["X-CSRFToken"] = "%(csrf)s", ["Accept"] = "application/json",
    ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
function response(status, headers, body)
  -- As a browser does: the portal sends the session cookie again when it records a new last activity
  -- (once a minute), and the requests after it carry the new one.
  local set_cookie = headers["Set-Cookie"]
  if set_cookie then
    local session = string.match(set_cookie, "ctpat_session=[^;]+")
    if session then cookie = session end
  end
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then io.write(string.format("status %%d: %%s\n", status, string.sub(body, 1, 300))) end
  elseif #criteria > 0 then
    local v = string.match(body, '"version":%%s*(%%d+)')
    if v then version = v end
  end
end
function done(summary, latency, requests)
  local errors = 0
  for _, t in ipairs(threads) do errors = errors + t:get("bad") end
  io.write(string.format("COOKIE %%s\n", threads[1]:get("cookie")))
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), errors + summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(port: int, scenario: Scenario, connections: int, seconds: float) -> Result:
    script = WRK_SCRIPT % {"criteria": _lua_list(scenario.criteria), "versions": _lua_list(scenario.versions),
                           "path": scenario.path, "cookie": scenario.cookie, "csrf": scenario.csrf}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        # One thread per connection for autosave: each Lua state then follows one connection's version.
        threads = connections if scenario.is_post else 1
        command = [shutil.which("wrk") or "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                   "--timeout", "10s", "-s", handle.name, f"http://{HOST}:{port}"]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    finally:
        os.unlink(handle.name)
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if not found:
        raise SystemExit(f"Unexpected wrk output:\n{out}")
    requests, micros, p50, p99, errors = (int(g) for g in found.groups())
    kept = re.search(r"^COOKIE (\S+)$", out, re.MULTILINE)
    if kept and scenario.cookie:
        scenario.cookie = kept.group(1)  # the next run starts from the cookie the last one ended with
    if errors:
        print(out, file=sys.stderr)
    return Result(requests, micros / 1e6, p50 / 1000, p99 / 1000, errors, "wrk")


def run_python(port: int, scenario: Scenario, connections: int, seconds: float) -> Result:
    """The fallback: one thread and one keep-alive connection (reopened when the server closes it)
    per connection."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    # Shared by the connections, as by a browser's tabs: updated when the portal sends it again.
    cookie = [scenario.cookie]
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        criterion = scenario.criteria[index % len(scenario.criteria)] if scenario.is_post else ""
        version = scenario.versions[index % len(scenario.versions)] if scenario.is_post else ""
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            if scenario.is_post:
                body = urlencode({"status": "implemented", "justification": "", "version": version,
                                  "narrative": f"Saved by the benchmark {index} {n}"}).encode()
                args: tuple[Any, ...] = ("POST", scenario.path.replace("{criterion}", criterion), body, {
                    "Cookie": cookie[0], "X-CSRFToken": scenario.csrf, "Accept": "application/json",
                    "Content-Type": "application/x-www-form-urlencoded"})
            else:
                args = ("GET", scenario.path, None, {"Cookie": cookie[0]})
            started = time.perf_counter()
            try:
                conn.request(*args)
                response = conn.getresponse()
                payload = response.read()
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                errors[index] += 1
                continue
            latencies[index].append(time.perf_counter() - started)
            cookie[0] = _cookie({"set-cookie": response.getheader("Set-Cookie", "")}, cookie[0])
            if response.status != 200:
                errors[index] += 1
            elif scenario.is_post:
                found = re.search(rb'"version":\s*(\d+)', payload)
                version = found.group(1).decode() if found else version
        conn.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    scenario.cookie = cookie[0]
    merged = sorted(t for per in latencies for t in per)
    if not merged:
        raise SystemExit(f"No request of {scenario.name} completed.")
    return Result(len(merged), elapsed, merged[len(merged) // 2] * 1000,
                  merged[min(len(merged) - 1, int(len(merged) * 0.99))] * 1000, sum(errors), "python")


def run_once(port: int, scenario: Scenario, connections: int, seconds: float, tool: str) -> Result:
    runner: Callable[..., Result] = run_wrk if tool == "wrk" else run_python
    if scenario.refresh:
        time.sleep(2)  # requests still in flight when the last run stopped finish and commit first
        scenario.versions = scenario.refresh()
    return runner(port, scenario, connections, seconds)


def _median_result(runs: list[Result]) -> Result:
    """The round with the median throughput (its latencies belong to it)."""
    ordered = sorted(runs, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


# -- the run ---------------------------------------------------------------------------------------


def autosave_targets(url: str, subjects: Subjects, count: int) -> tuple[list[str], list[str]]:
    """``count`` criteria of the draft profile and the version of each one's stored answer ('' = none)."""
    from sqlalchemy import select

    from portal.catalog.loader import get_catalog
    from portal.companies.models import TradeAccount
    from portal.db import make_engine
    from portal.profiles.models import Answer, SecurityProfile

    engine = make_engine(url)
    with engine.connect() as conn:
        catalog_id, business_type = conn.execute(
            select(SecurityProfile.catalog_id, TradeAccount.business_type)
            .join(TradeAccount, TradeAccount.id == SecurityProfile.account_id)
            .where(SecurityProfile.id == subjects.draft_profile_id)).one()
        versions = dict(conn.execute(select(Answer.criterion_id, Answer.version)
                                     .where(Answer.profile_id == subjects.draft_profile_id)).all())
    engine.dispose()
    criteria = [c.id for c in get_catalog(catalog_id).criteria_for(business_type)][:count]
    return criteria, [str(versions.get(c, "")) for c in criteria]


def main(argv: list[str] | None = None) -> int:
    parser = program_parser(__doc__, SEED)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario and round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median counts (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per scenario (default 2)")
    parser.add_argument("--workers", type=int, default=2 * cpu_count() + 1, help="gunicorn workers (2 x cores + 1)")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    tool = ("wrk" if shutil.which("wrk") else "python") if args.tool == "auto" else args.tool

    url, subjects = ensure_generated(args.accounts, args.database_url, seed=args.seed)
    print(f"Throughput on {describe(url)} ({args.accounts:,} accounts): gunicorn {args.workers} sync workers, "
          f"{args.connections} connections, median of {args.rounds} interleaved rounds of {args.duration:g} s per "
          f"scenario after {args.warmup:g} s warm-up, load from {tool} on the same machine ({cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the start)", flush=True)

    workdir = tempfile.TemporaryDirectory(prefix="ctpat-throughput-")
    env = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "PORTAL_ENV": "development",
           "EVIDENCE_DIR": f"{workdir.name}/evidence", "MAIL_OUTBOX_DIR": f"{workdir.name}/outbox"}
    servers: list[Gunicorn] = []
    rounds: dict[str, list[Result]] = {}
    try:
        hello = Gunicorn("bench.hello:app", args.workers, {}, "/hello")
        servers.append(hello)
        reference = Gunicorn("bench.reference:app", args.workers, {"DATABASE_URL": url}, "/reference")
        servers.append(reference)
        portal = Gunicorn("wsgi:app", args.workers, env, "/healthz")
        servers.append(portal)
        # The same portal without the fragment cache: every view of the category page is then a first view,
        # as after each save. Shown for information; the goal is on the scenario "category".
        uncached = Gunicorn("wsgi:app", args.workers, {**env, "FRAGMENT_CACHE_ENTRIES": "0", "PAGE_CACHE_ENTRIES": "0"},
                            "/healthz")
        servers.append(uncached)
        officer = sign_in(portal.port, subjects.officer_email, subjects.password)
        reviewer = sign_in(portal.port, subjects.reviewer_email, subjects.password)
        category = f"/profiles/{subjects.draft_profile_id}/categories/1"
        status, headers, html = request(portal.port, "GET", category, headers={"Cookie": officer})
        if status != 200:
            raise SystemExit(f"The category page answered HTTP {status}.")
        officer = _cookie(headers, officer)  # now carrying the CSRF secret the token belongs to
        criteria, versions = autosave_targets(url, subjects, args.connections)
        scenarios = [
            (hello.port, Scenario("baseline", "/hello")),
            (reference.port, Scenario("reference page (3 queries)", "/reference")),
            (portal.port, Scenario("category", category, officer)),
            # The same session on the second server (same key, same database): signing in again there would
            # rotate the officer's session token and sign the first session out.
            (uncached.port, Scenario("category (no fragment cache)", category, officer)),
            (portal.port, Scenario("queue", "/reviews?page=1", reviewer)),
            (portal.port, Scenario("autosave", f"/profiles/{subjects.draft_profile_id}/criteria/{{criterion}}/autosave",
                                   officer, csrf=_csrf(html), criteria=criteria, versions=versions,
                                   refresh=lambda: autosave_targets(url, subjects, args.connections)[1])),
        ]
        for port, scenario in scenarios:  # warm-up: every worker has loaded templates, catalog and pools
            run_once(port, scenario, args.connections, args.warmup, tool)
        # Rounds interleave the scenarios, so load from elsewhere on the machine hits them alike.
        for _ in range(args.rounds):
            for port, scenario in scenarios:
                result = run_once(port, scenario, args.connections, args.duration, tool)
                if result.errors:
                    raise SystemExit(f"{scenario.name}: {result.errors} failed or non-200 responses; "
                                     "the figures would lie.")
                rounds.setdefault(scenario.name, []).append(result)
    finally:
        for server in servers:
            server.stop()
        workdir.cleanup()

    results = {name: _median_result(runs) for name, runs in rounds.items()}
    base = results["baseline"].rps
    print(f"{'scenario':<30}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}   req/s of each round")
    for name, result in results.items():
        each = " ".join(f"{r.rps:.0f}" for r in rounds[name])
        print(f"{name:<30}{result.rps:>10.0f}{result.rps / base:>8.3f}{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}"
              f"   {each}")
    p99 = max(results[name].p99_ms for name in ("category", "queue", "autosave"))
    print(f"category_ratio={results['category'].rps / base:.3f} queue_ratio={results['queue'].rps / base:.3f} "
          f"autosave_ratio={results['autosave'].rps / base:.3f} p99_ms={p99:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

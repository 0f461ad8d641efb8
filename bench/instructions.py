"""Instructions per request under Valgrind, as ratios to a bare Flask app measured in the same run.

    .venv/bin/python -m bench.instructions                      # 10,000 accounts on SQLite
    .venv/bin/python -m bench.instructions --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ctpat_bench

On this shared machine the time of a request moves by a quarter between runs of the same code
(docs/PERFORMANCE.md §4), so a change worth 5 % cannot be seen in bench.throughput or bench.pages.
The number of instructions the application's process executes for a request does not move: this
script counts them with ``valgrind --tool=callgrind`` (Debian package ``valgrind``).

Each subject runs in a child process, twice: with the warm-up requests only, then with ``--requests``
more; the difference divided by ``--requests`` is one request, without start-up, imports or warm-up.
Requests go straight to the WSGI application (no HTTP server, no load generator), so the figures are
the application's own work; with PostgreSQL the server's work is not counted. Subjects:

- baseline: ``GET /hello`` of bench/hello.py;
- category: the partner's category page 1 of the draft profile, viewed again (criteria from the
  fragment cache), signed in as its officer, carrying the session cookie the portal sends back;
- category, first view: the same page with the fragment and page caches emptied before each request;
- queue: the review queue page 1, signed in as a reviewer (its rows, filter form, header and pagination
  from the caches, as when a reviewer works the queue);
- autosave: ``POST`` of one answer of the draft profile as its officer, each request a new text and
  the version the last one returned, so every request is a real save (the CSRF check is off in the
  child, as for the others' forms: its token is a signature, the same work on every request).

The last line is ``category_instructions=<n> baseline_instructions=<m> category_ratio=<m/n>
queue_instructions=<q> autosave_instructions=<a>``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import PROJECT_ROOT, cpu_count, describe, program_parser
from bench.generate import SEED, ensure_generated

WARMUP = 50
SUBJECTS = ("baseline", "category", "category, first view", "queue", "autosave")
# Who each portal subject is signed in as.
USERS = {"category": "officer", "category, first view": "officer", "queue": "reviewer", "autosave": "officer"}


def _child(subject: str, requests: int, accounts: int, base_url: str | None, seed: int) -> None:
    """Warm up, then make ``requests`` requests of ``subject`` (run under Valgrind by the parent)."""
    from werkzeug.test import EnvironBuilder

    form: dict[str, str] | None = None
    if subject == "baseline":
        from bench.hello import app as hello

        wsgi: Any = hello.wsgi_app
        path, cookie, before = "/hello", "", None
    else:
        from bench.pages import Site

        url, subjects = ensure_generated(accounts, base_url, seed=seed, quiet=True)
        # Signed in once by the parent: a sign-in rotates the user's session token, so two children
        # signing in would sign each other out.
        site = Site(accounts, url, subjects, users=())
        wsgi = site.app.wsgi_app
        path = "/reviews?page=1" if subject == "queue" else f"/profiles/{subjects.draft_profile_id}/categories/1"
        if subject == "autosave":
            from bench.throughput import autosave_targets

            # The last criterion of the profile: not one of the category page the other subjects measure.
            criteria, versions = autosave_targets(url, subjects, 1000)
            path = f"/profiles/{subjects.draft_profile_id}/criteria/{criteria[-1]}/autosave"
            form = {"status": "implemented", "justification": "", "version": versions[-1]}
        cookie = os.environ["BENCH_SESSION_COOKIE"]
        caches = (site.app.extensions["fragment_cache"], site.app.extensions["page_cache"])
        before = (lambda: [cache.clear() for cache in caches]) if subject == "category, first view" else None

    saves = 0

    def call() -> None:
        nonlocal cookie, saves
        seen: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], _exc: Any = None) -> None:
            seen.extend((status, headers))

        if before:
            before()
        headers = {"Cookie": cookie} if cookie else {}
        if form is None:
            environ = EnvironBuilder(path=path, headers=headers).get_environ()
        else:
            saves += 1
            environ = EnvironBuilder(path=path, method="POST", headers={**headers, "Accept": "application/json"},
                                     data={**form, "narrative": f"Saved by the benchmark {saves}"}).get_environ()
        body = b"".join(wsgi(environ, start_response))
        if not seen[0].startswith("200"):
            raise SystemExit(f"{subject}: {path} answered {seen[0]}")
        if form is not None:
            form["version"] = str(json.loads(body)["version"])
        # As a browser: the portal sends the session again when it records a new last activity.
        for name, value in seen[1]:
            if name.lower() == "set-cookie" and value.startswith("ctpat_session="):
                cookie = value.split(";", 1)[0]

    for _ in range(WARMUP):
        call()
    # As wsgi.py does in every worker: what is loaded by now stays out of the collector's generations.
    # Without it a full collection walks it every few hundred requests, and whether one falls inside the
    # measured requests moved the count per request by a few percent between runs of the same code.
    gc.collect()
    gc.freeze()
    for _ in range(requests):
        call()


def _session_cookies(accounts: int, url: str, subjects: Any) -> dict[str, str]:
    """The officer's and the reviewer's session cookies, from the real sign-in forms."""
    from bench.pages import Site

    site = Site(accounts, url, subjects, users=("officer", "reviewer"))
    try:
        return {user: "; ".join(f"{key[2]}={value.value}" for key, value in client._cookies.items())
                for user, client in site.clients.items()}
    finally:
        site.close()


def _count(subject: str, requests: int, args: argparse.Namespace, cookie: str) -> int:
    """Instructions of the child process (callgrind's "Collected" total)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
               "bench.instructions", "--child", subject, "--child-requests", str(requests),
               "--accounts", str(args.accounts), "--seed", str(args.seed)]
    if args.database_url:
        command += ["--database-url", args.database_url]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True,  # noqa: S603
                          env={**os.environ, "PYTHONHASHSEED": "0", "BENCH_SESSION_COOKIE": cookie})
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode or not found:
        raise SystemExit(f"{subject} under valgrind failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = program_parser(__doc__, SEED)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per subject (default 300)")
    parser.add_argument("--child", choices=SUBJECTS, help=argparse.SUPPRESS)
    parser.add_argument("--child-requests", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.child_requests, args.accounts, args.database_url, args.seed)
        return 0
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind).")

    # Generated before the children start, which then read it (autosave's also rewrite one answer, of a
    # category the other subjects do not show, and add its audit events).
    url, subjects = ensure_generated(args.accounts, args.database_url, seed=args.seed)
    cookies = _session_cookies(args.accounts, url, subjects)
    print(f"Instructions per request on {describe(url)} ({args.accounts:,} accounts): callgrind, "
          f"{args.requests} requests after {WARMUP} warm-up requests, in-process WSGI calls", flush=True)

    def count(run: tuple[str, int]) -> int:
        return _count(run[0], run[1], args, cookies.get(USERS.get(run[0], ""), ""))

    # Autosave's two runs save the same answer, each from the version it reads at its start: one after
    # the other, or each would meet the other's saves as conflicts.
    runs = [(subject, n) for subject in SUBJECTS if subject != "autosave" for n in (0, args.requests)]
    with ThreadPoolExecutor(max_workers=cpu_count()) as pool:
        counted = dict(zip(runs, pool.map(count, runs), strict=True))
    for run in (("autosave", 0), ("autosave", args.requests)):
        counted[run] = count(run)
    per_request = {subject: (counted[(subject, args.requests)] - counted[(subject, 0)]) / args.requests
                   for subject in SUBJECTS}
    base = per_request["baseline"]
    print(f"{'subject':<24}{'instructions':>14}{'x baseline':>12}")
    for subject, instructions in per_request.items():
        print(f"{subject:<24}{instructions:>14,.0f}{instructions / base:>12.1f}")
    print(f"category_instructions={per_request['category']:.0f} baseline_instructions={base:.0f} "
          f"category_ratio={base / per_request['category']:.4f} queue_instructions={per_request['queue']:.0f} "
          f"autosave_instructions={per_request['autosave']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

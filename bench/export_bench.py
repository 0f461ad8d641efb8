"""Benchmark of the Excel exports (issue 6, item 6).

    .venv/bin/python -m bench.export_bench              # 3 runs of each, queue of 10,000 rows
    .venv/bin/python -m bench.export_bench --runs 5 --queue-rows 20000

1. A large synthetic profile (every importer criterion with a 2,000-character narrative, 50 facilities,
   1,000 business partners, 300 action plans, 500 evidence rows) is written as the CBP visit workbook,
   and the same cell values are dumped bare with openpyxl's write-only mode (no styles, no safe-cell
   rule, no print setup), alternately in fresh child processes, in the same run; each child builds
   ``--repeats`` times and reports its fastest build in CPU time (``time.process_time``: other work on
   a shared machine barely moves it, wall time is printed too). ``export_ratio`` is the median workbook
   time over the median bare time (goal <= 1.5).
2. ``peak_rss_mb`` is the workbook child's peak resident memory (``resource.getrusage``, max over runs,
   interpreter and synthetic data included; goal <= 150 MB).
3. The review queue export of 10,000 rows runs through the real query on a temporary SQLite database in
   a child that first warms up (imports, app, connection, one queue page); ``queue_rss_growth_mb`` is
   its peak RSS after the export minus the peak before it (goal <= 50 MB: memory stays flat).

The last line is ``export_ratio=<x> peak_rss_mb=<y> queue_rss_growth_mb=<z>``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXPORTED = datetime(2026, 5, 2, 14, 3, tzinfo=UTC)


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the synthetic profile ---------------------------------------------------------------------------------


def synthetic_profile() -> Any:
    from portal.catalog import get_catalog
    from portal.companies.business_types import BusinessType
    from portal.exports import profile_workbook as pw

    catalog = get_catalog("msc-2023")
    criteria = catalog.criteria_for(BusinessType.IMPORTER)
    words = ("seal container trailer inspection partner screening audit procedure training access badge camera "
             "perimeter lighting lock key manifest shipment verification record review ").split()

    def text(seed: int, length: int) -> str:
        out, n = [], seed
        while sum(len(w) + 1 for w in out) < length:
            out.append(words[n % len(words)])
            n = n * 7 + 3
        return " ".join(out)[:length]

    evidence_per = [500 // len(criteria) + (1 if i < 500 % len(criteria) else 0) for i in range(len(criteria))]
    rows = []
    for index, criterion in enumerate(criteria):
        category = catalog.category(criterion.category)
        rows.append(pw.CriterionRow(
            id=criterion.id, focus_area=catalog.focus_area_of(category).title,
            category=f"{category.number}. {category.title}", level="Must" if criterion.is_must else "Should",
            title=criterion.title, requirement=criterion.requirement, status="Implemented",
            narrative=text(index, 2_000), justification="",
            evidence=tuple(pw.EvidenceItem(criterion.id, f"Document {index}-{n}", f"doc-{index}-{n}.pdf",
                                           10_000 + n, f"{index:032x}{n:032x}") for n in range(evidence_per[index])),
            action_plans=(f"Open, due 2026-09-01, Owner {index}: {text(index + 1, 120)}",),
            rating="Meets", rating_comment=text(index + 2, 200)))
    facilities = [pw.FacilityRow("Cargo-handling facility", f"Warehouse {n}", f"{n} Dock Road", "", "Laredo", "TX",
                                 "78040", "US", "America/Chicago", True) for n in range(50)]
    partners = [pw.PartnerRow(f"Partner {n} S.A. de C.V.", "Foreign manufacturer", "MX", f"MID MXPAR{n:05d}LAR",
                              "AEO Mexico (MRA)", date(2026, 1, 1) + timedelta(days=n % 300), "Low", text(n, 80))
                for n in range(1_000)]
    plans = [pw.ActionPlanRow(criteria[n % len(criteria)].id, text(n, 150), text(n + 5, 300), f"Owner {n}",
                              date(2026, 6, 1) + timedelta(days=n), "In progress", n % 7 == 0,
                              ("[ ] 2026-06-01 Step one", "[x] 2026-05-01 Step zero")) for n in range(300)]
    scores = tuple(pw.ScoreRow(f"{c.number}. {c.title}", catalog.focus_area_of(c).title, 95.0, "Weighted mean.")
                   for c in catalog.categories_for(BusinessType.IMPORTER))
    return pw.ProfileWorkbookData(
        profile_id=1, company="Benchmark Imports Inc.", dba="", business_type="Importer", account_number="CT00000001",
        account_status="Certified", tier=2, identifiers=(("IOR", "36-4812345"),), profile_status="Approved",
        version=4, submitted_at=EXPORTED, catalog_id=catalog.id, catalog_title=catalog.title,
        content_sha256="ab" * 32, exported_at=EXPORTED, overall_score=pw.ScoreRow("Overall", "", 95.0, "Mean."),
        scores=scores, review_status="Decided", criteria=rows, facilities=facilities, partners=partners,
        action_plans=plans)


def bare_values(data: Any) -> list[tuple[str, list[list[Any]]]]:
    """The workbook's cell values, sheet by sheet, as plain Python values (naive datetimes)."""
    from portal.exports.profile_workbook import Audience, meta_pairs, sheet_rows, summary_rows

    def plain(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo:
            return value.replace(tzinfo=None)
        return value

    sheets = [("Summary", [["Field", "Value", "Detail"]] + [[plain(v) for v in (list(row) + [None])[:3]]
                                                             for row in summary_rows(data, Audience.CBP)])]
    for title, (columns, rows) in sheet_rows(data, Audience.CBP).items():
        sheets.append((title, [[c.header for c in columns]] + [[plain(v) for v in row] for row in rows]))
    sheets.append(("_meta", [[k, v] for k, v in meta_pairs(data, Audience.CBP)]))
    return sheets


def child_profile(kind: str, repeats: int) -> dict[str, Any]:
    """Build ``repeats`` times in this process and keep the fastest CPU time (and wall time): on a shared
    machine CPU time and the minimum are the estimates least disturbed by other work."""
    from openpyxl import Workbook

    from portal.exports.profile_workbook import Audience, build_profile_workbook

    data = synthetic_profile()
    values = bare_values(data) if kind == "bare" else None
    times, walls = [], []
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out.xlsx"
        for _ in range(repeats):
            started, wall = time.process_time(), time.perf_counter()
            if kind == "bare":
                book = Workbook(write_only=True)
                for title, rows in values or []:
                    ws = book.create_sheet(title)
                    for row in rows:
                        ws.append(row)
                book.save(target)
            else:
                build_profile_workbook(data, Audience.CBP, target)
            times.append(time.process_time() - started)
            walls.append(time.perf_counter() - wall)
        size = target.stat().st_size
    cells = sum(len(r) for _, rows in bare_values(data) for r in rows)
    return {"seconds": min(times), "wall": min(walls), "peak_rss_mb": peak_rss_mb(), "bytes": size, "cells": cells}


# -- the queue -----------------------------------------------------------------------------------------------


def build_queue_database(url: str, count: int) -> None:
    """``count`` submitted profiles with their reviews, inserted with Core executemany (explicit IDs)."""
    from sqlalchemy import insert

    from portal.auth.models import User
    from portal.companies.business_types import BusinessType
    from portal.companies.identifiers import IdentifierKind
    from portal.companies.models import Address, BusinessIdentifier, Company, TradeAccount
    from portal.companies.workflow import AccountStatus, AddressKind, OwnershipType
    from portal.db import Base, make_engine
    from portal.models import import_all_models
    from portal.profiles.models import ProfileVersion, SecurityProfile
    from portal.profiles.workflow import ProfileStatus
    from portal.reviews.models import Review
    from portal.reviews.workflow import ReviewStatus

    import_all_models()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = range(1, count + 1)
    types = list(BusinessType)
    statuses = [ReviewStatus.WAITING, ReviewStatus.IN_PROGRESS, ReviewStatus.RECOMMENDED, ReviewStatus.DECIDED]
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": 1, "email": "officer@bench.example", "full_name": "Bench Officer",
                                     "password_hash": "x", "created_at": start, "password_changed_at": start}])
        conn.execute(insert(Company), [{"id": i, "legal_name": f"Bench Trading {i:05d} LLC", "phone": "+1 202 555 0100",
                                        "ownership_type": OwnershipType.LLC, "created_at": start} for i in ids])
        conn.execute(insert(Address), [{"id": i, "company_id": i, "kind": AddressKind.HEADQUARTERS,
                                        "line1": f"{i} Dock Rd", "city": "Laredo", "country": "US"} for i in ids])
        conn.execute(insert(TradeAccount), [{"id": i, "company_id": i, "business_type": types[i % len(types)],
                                             "account_number": f"CT{i:08d}", "status": AccountStatus.APPLICANT,
                                             "created_at": start} for i in ids])
        conn.execute(insert(BusinessIdentifier), [{"id": i, "account_id": i, "kind": IdentifierKind.DUNS,
                                                   "value": f"{i:09d}", "created_at": start} for i in ids])
        conn.execute(insert(SecurityProfile), [{"id": i, "account_id": i, "catalog_id": "msc-2023",
                                                "status": ProfileStatus.SUBMITTED, "current_version": 1,
                                                "submitted_at": start + timedelta(minutes=i), "created_at": start}
                                               for i in ids])
        conn.execute(insert(ProfileVersion), [{"id": i, "profile_id": i, "number": 1, "catalog_id": "msc-2023",
                                               "content": {"criteria": []}, "sha256": "0" * 64,
                                               "submitted_at": start + timedelta(minutes=i), "submitted_by_id": 1,
                                               "attested_name": "Bench Officer", "attestation_text": "Bench."}
                                              for i in ids])
        conn.execute(insert(Review), [{"id": i, "profile_id": i, "version_number": 1,
                                       "status": statuses[i % len(statuses)],
                                       "submitted_at": start + timedelta(minutes=i),
                                       "clock_started_at": start + timedelta(minutes=i)} for i in ids])
    engine.dispose()


def child_queue(url: str) -> dict[str, Any]:
    from portal import create_app
    from portal.config import TestConfig
    from portal.exports.list_exports import build_queue_export
    from portal.exports.queries import queue_rows
    from portal.reviews import queue

    class BenchConfig(TestConfig):
        DATABASE_URL = url

    app = create_app(BenchConfig)
    filters, sort = queue.QueueFilters(status=queue.STATUS_ALL), queue.QueueSort()
    with app.app_context(), tempfile.TemporaryDirectory() as folder:
        # Warm up: imports, the app, a connection and one small page, so only the export's growth counts.
        queue.queue_page(filters, sort, 1, per_page=10, user=None)
        before = peak_rss_mb()
        started = time.perf_counter()
        rows = build_queue_export(queue_rows(filters, sort, user=None), Path(folder) / "queue.xlsx",
                                  exported_at=EXPORTED, criteria=[("status", "all")])
        seconds = time.perf_counter() - started
        size = (Path(folder) / "queue.xlsx").stat().st_size
    return {"rows": rows, "seconds": seconds, "before_mb": before, "after_mb": peak_rss_mb(), "bytes": size}


# -- the parent ---------------------------------------------------------------------------------------------


def run_child(*args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    # Our own interpreter and module with arguments built here: no untrusted input reaches the command.
    result = subprocess.run([sys.executable, "-m", "bench.export_bench", "--child", *args], cwd=PROJECT_ROOT,  # noqa: S603
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"child {args} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5, help="builds per child; the fastest counts")
    parser.add_argument("--queue-rows", type=int, default=10_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind = args.child[0]
        result = child_queue(args.child[1]) if kind == "queue" else child_profile(kind, int(args.child[1]))
        print(json.dumps(result))
        return

    bare, styled = [], []
    for _ in range(args.runs):
        bare.append(run_child("bare", str(args.repeats)))
        styled.append(run_child("profile", str(args.repeats)))
    bare_s = statistics.median(r["seconds"] for r in bare)
    styled_s = statistics.median(r["seconds"] for r in styled)
    peak = max(r["peak_rss_mb"] for r in styled)
    styled_runs = ", ".join(f"{r['seconds']:.3f}" for r in styled)
    bare_runs = ", ".join(f"{r['seconds']:.3f}" for r in bare)
    print(f"profile workbook: {styled[0]['cells']:,} cells, {styled[0]['bytes'] / 1024:,.0f} KiB; "
          f"median CPU {styled_s:.3f} s (runs {styled_runs}; wall {statistics.median(r['wall'] for r in styled):.3f} s)"
          f", peak RSS {peak:.1f} MB")
    print(f"bare write-only dump: median CPU {bare_s:.3f} s (runs {bare_runs}; wall "
          f"{statistics.median(r['wall'] for r in bare):.3f} s), peak RSS {max(r['peak_rss_mb'] for r in bare):.1f} MB")

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'queue-bench.db'}"
        started = time.perf_counter()
        build_queue_database(url, args.queue_rows)
        print(f"queue database: {args.queue_rows:,} reviews in {time.perf_counter() - started:.1f} s")
        queue_result = run_child("queue", url)
    growth = max(0.0, queue_result["after_mb"] - queue_result["before_mb"])
    print(f"queue export: {queue_result['rows']:,} rows in {queue_result['seconds']:.2f} s, "
          f"{queue_result['bytes'] / 1024:,.0f} KiB; peak RSS {queue_result['before_mb']:.1f} MB before, "
          f"{queue_result['after_mb']:.1f} MB after")
    ratio = styled_s / bare_s
    goals = (ratio <= 1.5, peak <= 150, growth <= 50)
    print("goals (ratio <= 1.5, peak <= 150 MB, queue growth <= 50 MB): "
          + ", ".join("met" if ok else "MISSED" for ok in goals))
    print(f"export_ratio={ratio:.2f} peak_rss_mb={peak:.1f} queue_rss_growth_mb={growth:.1f}")


if __name__ == "__main__":
    main()

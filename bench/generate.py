"""A deterministic synthetic CTPAT program for benchmarks (issue 9, item 1).

    .venv/bin/python -m bench.generate                       # 10,000 accounts on SQLite
    .venv/bin/python -m bench.generate --accounts 100
    .venv/bin/python -m bench.generate --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ctpat_bench

Per account: an officer, a company with a headquarters and a facility, an identifier, the signed
agreement, a security profile with an answer to every applicable criterion (about 93, so 10,000
accounts make about 930,000 answers; drafts are partly answered), and by state a frozen version and a
review (waiting, in progress with some ratings, recommended with all ratings, or decided and
certified). CBP staff: one reviewer per 200 accounts, one supervisor per 2,000, an admin. Business
partners (20 per account, 200,000 at the default size) and validations (about 5,000) are added
when the models exist (portal/partners/models.py, portal/validations/models.py).

The database is rebuilt from the models (``create_all``, which tests/test_migrations.py keeps equal
to the migrations). A PostgreSQL database must have "bench" in its name, so a mistyped URL cannot
drop real data. Rows are inserted with SQLAlchemy Core ``insert`` and executemany in batches; IDs are
assigned here, so the same seed gives the same rows (dates are relative to --today, default today).

The first accounts are fixed benchmark subjects, identical at every size: account 1 is a draft
(partner overview, category page, autosave; its officer is ``officer1@partner.bench``), account 2 has
a review in progress assigned to ``reviewer1@cbp.bench`` (review page). Every user's password is
``bench-password-2026!``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import random
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, Table, Text, create_engine, inspect, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Connection, Engine, make_url

from bench.common import DEFAULT_ACCOUNTS, PASSWORD, Progress, database_url_for, describe, totp_secret

BATCH = 5_000
SEED = 9
PARTNERS_PER_ACCOUNT = 20
VALIDATIONS_PER_ACCOUNT = 0.5
ACCOUNTS_PER_REVIEWER = 200
ACCOUNTS_PER_SUPERVISOR = 2_000
FORMAT_VERSION = 5  # bump when the generated data changes shape

NARRATIVES = (
    "Written procedure reviewed annually by the security manager; training records kept.",
    "Documented in our security manual, section {n}; checked in quarterly internal audits.",
    "Seals are verified by two employees and logged; discrepancies go to the CTPAT contact.",
    "Access badges for all staff, visitor log at the gate, cameras retained for 90 days.",
    "Business partners screened before contracting and every year after, results on file.",
    "IT accounts reviewed monthly; passwords of 12+ characters and MFA for remote access.",
    "Container inspections use the seven-point checklist; photos kept with the shipment file.",
    "Threat assessment updated each year with the risk mapping of our main trade lanes.",
)
ADJECTIVES = ("Atlantic", "Pacific", "Summit", "Harbor", "Frontier", "Global", "Prairie", "Coastal", "Liberty",
              "Granite", "Northern", "Southern", "Eagle", "Pioneer", "Keystone", "Cardinal")
NOUNS = ("Imports", "Logistics", "Trading", "Freight", "Supply", "Manufacturing", "Distribution", "Cargo",
         "Brokerage", "Shipping", "Components", "Textiles")
SUFFIXES = ("Inc.", "LLC", "Corp.", "Co.", "S.A. de C.V.", "Ltd.")
CITIES = (("Washington", "DC", "20001", "US", "America/New_York"), ("Laredo", "TX", "78040", "US", "America/Chicago"),
          ("Long Beach", "CA", "90802", "US", "America/Los_Angeles"), ("Monterrey", "NL", "64000", "MX",
                                                                        "America/Monterrey"),
          ("Toronto", "ON", "M5H 2N2", "CA", "America/Toronto"), ("Miami", "FL", "33101", "US", "America/New_York"))


@dataclass(frozen=True)
class Subjects:
    """What the page and throughput benchmarks open; the same at every size."""

    accounts: int
    draft_account_id: int
    draft_profile_id: int
    officer_email: str
    review_id: int
    reviewer_email: str
    supervisor_email: str
    password: str
    partners: bool
    validations: bool


# -- helpers ---------------------------------------------------------------------------------------


def _chunks(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _placeholder(column: Any, today: date) -> Any:
    """A value for a required column this generator does not know (a colleague added it)."""
    kind = column.type
    if isinstance(kind, SAEnum) and kind.enum_class is not None:
        return next(iter(kind.enum_class))
    if isinstance(kind, SAEnum):
        return kind.enums[0]
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 0
    if isinstance(kind, Date):
        return today
    if isinstance(kind, (String, Text)):
        return ""
    python_type = getattr(kind, "python_type", None)
    if python_type is datetime:
        return datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    raise RuntimeError(f"bench.generate cannot fill {column.table.name}.{column.name} ({kind}); add it.")


class Writer:
    """Bulk inserts of one table at a time: executemany in batches, inside one transaction."""

    def __init__(self, conn: Connection, today: date, quiet: bool) -> None:
        self.conn = conn
        self.today = today
        self.quiet = quiet
        self.counts: dict[str, int] = {}

    def insert(self, table: Table, rows: Iterable[dict[str, Any]], total: int) -> int:
        progress = None if self.quiet else Progress(table.name, total)
        missing: list[Any] | None = None
        written = 0
        for batch in _chunks(rows):
            if missing is None:
                given = set(batch[0])
                missing = [c for c in table.columns if c.name not in given and not c.nullable and c.default is None
                           and c.server_default is None and not (c.primary_key and c.autoincrement)]
            if missing:
                for row in batch:
                    for column in missing:
                        row[column.name] = _placeholder(column, self.today)
            self.conn.execute(table.insert(), batch)
            written += len(batch)
            if progress:
                progress.advance(len(batch))
        if progress:
            progress.finish()
        self.counts[table.name] = self.counts.get(table.name, 0) + written
        return written


def _optional_model(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _recreate_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        from pathlib import Path

        path = Path(parsed.database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    if "bench" not in (parsed.database or ""):
        raise SystemExit(f"Refusing to recreate {parsed.database!r}: benchmark databases need 'bench' in the name.")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def read_info(engine: Engine) -> dict[str, Any] | None:
    """What a previous run stored about the database, or None (no such table, or no database)."""
    try:
        if not inspect(engine).has_table("bench_info"):
            return None
        with engine.connect() as conn:
            return json.loads(conn.execute(text("SELECT value FROM bench_info WHERE key = 'info'")).scalar_one())
    except Exception:  # noqa: BLE001 (a missing database is just "not generated")
        return None


def _schema_fingerprint() -> str:
    from portal.db import Base

    names = sorted(f"{t.name}:{sorted(c.name for c in t.columns)}:{sorted(i.name or '' for i in t.indexes)}"
                   for t in Base.metadata.sorted_tables)
    return hashlib.sha256("|".join(names).encode()).hexdigest()[:16]


# -- the program -----------------------------------------------------------------------------------


def generate(url: str, accounts: int = DEFAULT_ACCOUNTS, *, seed: int = SEED, today: date | None = None,
             partners_per_account: int = PARTNERS_PER_ACCOUNT, quiet: bool = False) -> Subjects:
    """Rebuild ``url`` with a program of ``accounts`` trade accounts and return the subjects."""
    from argon2 import PasswordHasher

    from portal.auth.roles import CompanyRole, StaffRole
    from portal.catalog.loader import CURRENT_CATALOG_ID, get_catalog
    from portal.companies.business_types import BusinessType, HighwayBorder
    from portal.companies.identifiers import IdentifierKind
    from portal.companies.workflow import AccountStatus, AddressKind, ApplicationStep, OwnershipType
    from portal.db import Base, make_engine
    from portal.models import import_all_models
    from portal.profiles.submission import ATTESTATION_TEXT, content_sha256
    from portal.profiles.workflow import ImplementationStatus, ProfileStatus
    from portal.reviews.decision_months import days_between, month_of
    from portal.reviews.scoring import Rating
    from portal.reviews.workflow import Recommendation, ReviewStatus

    if accounts < 3:
        raise SystemExit("At least 3 accounts: the first two are fixed benchmark subjects.")
    import_all_models()
    tables = Base.metadata.tables
    partner_model = _optional_model("portal.partners.models", "BusinessPartner")
    validation_model = _optional_model("portal.validations.models", "Validation")
    started = time.perf_counter()
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    catalog = get_catalog(CURRENT_CATALOG_ID)
    criteria = {bt: catalog.criteria_for(bt) for bt in BusinessType}
    business_types = [bt for bt in BusinessType if criteria[bt]]
    password_hash = PasswordHasher().hash(PASSWORD)  # the production profile; one hash for every user

    _recreate_database(url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    if not quiet:
        print(f"Generating {accounts:,} accounts into {describe(url)} (seed {seed}, today {today})", file=sys.stderr)

    # ---- staff -----------------------------------------------------------------------------------
    reviewers = max(2, accounts // ACCOUNTS_PER_REVIEWER)
    supervisors = max(1, accounts // ACCOUNTS_PER_SUPERVISOR)
    users: list[dict[str, Any]] = []

    # CBP staff have an authenticator (MFA is required for them) when the users table knows about it.
    has_mfa = {"totp_secret", "mfa_enrolled_at"} <= set(tables["users"].columns.keys())

    def user(email: str, name: str, role: StaffRole | None) -> int:
        users.append({"id": len(users) + 1, "email": email, "full_name": name, "password_hash": password_hash,
                      "staff_role": role, "is_active": True, "created_at": now - timedelta(days=1000),
                      "password_changed_at": now - timedelta(days=30), "failed_login_count": 0,
                      **({"totp_secret": totp_secret(email), "mfa_enrolled_at": now - timedelta(days=300)}
                         if has_mfa else {})})
        return len(users)

    reviewer_ids = [user(f"reviewer{n}@cbp.bench", f"Reviewer {n}", StaffRole.REVIEWER)
                    for n in range(1, reviewers + 1)]
    supervisor_ids = [user(f"supervisor{n}@cbp.bench", f"Supervisor {n}", StaffRole.SUPERVISOR)
                      for n in range(1, supervisors + 1)]
    user("admin@cbp.bench", "Bench Admin", StaffRole.ADMIN)
    staff_count = len(users)

    # ---- accounts: decide every account's state first, so each table is one bulk insert ------------
    plans: list[dict[str, Any]] = []
    for i in range(1, accounts + 1):
        bt = business_types[(i * 7) % len(business_types)]
        roll = rng.random()
        if i == 1:
            state = "draft"
        elif i == 2:
            state = "in_progress"
        elif roll < 0.15:
            state = "draft"
        elif roll < 0.35:
            state = "waiting"
        elif roll < 0.45:
            state = "in_progress"
        elif roll < 0.50:
            state = "recommended"
        else:
            state = "certified"
        # Open reviews of certified partners are annual resubmissions (version 2 after a decided version 1).
        resubmission = state in {"waiting", "in_progress", "recommended"} and rng.random() < 0.15 and i > 2
        reviewer = reviewer_ids[0] if i == 2 else reviewer_ids[rng.randrange(reviewers)]
        assigned = state in {"in_progress", "recommended"} or (state == "waiting" and rng.random() < 0.5)
        submitted_days = rng.randint(1, 150) if state != "certified" else rng.randint(120, 900)
        if i == 2:
            submitted_days = 30
        plans.append({"i": i, "bt": bt, "state": state, "resubmission": resubmission, "reviewer": reviewer,
                      "assigned": assigned, "submitted_at": now - timedelta(days=submitted_days,
                                                                            minutes=rng.randint(0, 1439)),
                      "answered": (0.6 if i == 1 else rng.uniform(0.3, 1.0)) if state == "draft" else 1.0,
                      "city": CITIES[rng.randrange(len(CITIES))],
                      "name": f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))]} {NOUNS[rng.randrange(len(NOUNS))]} "
                              f"{i} {SUFFIXES[rng.randrange(len(SUFFIXES))]}"})

    officer_id = {p["i"]: staff_count + p["i"] for p in plans}
    for p in plans:
        users.append({"id": officer_id[p["i"]], "email": f"officer{p['i']}@partner.bench",
                      "full_name": f"Officer {p['i']}", "password_hash": password_hash, "staff_role": None,
                      "is_active": True, "created_at": p["submitted_at"] - timedelta(days=60),
                      "password_changed_at": p["submitted_at"] - timedelta(days=60), "failed_login_count": 0,
                      **({"totp_secret": None, "mfa_enrolled_at": None} if has_mfa else {})})

    def account_status(p: dict[str, Any]) -> AccountStatus:
        return AccountStatus.CERTIFIED if p["state"] == "certified" or p["resubmission"] else AccountStatus.APPLICANT

    def certified_on(p: dict[str, Any]) -> date | None:
        if account_status(p) != AccountStatus.CERTIFIED:
            return None
        return (p["submitted_at"] - timedelta(days=400 if p["resubmission"] else -60)).date()

    def companies() -> Iterator[dict[str, Any]]:
        for p in plans:
            yield {"id": p["i"], "legal_name": p["name"], "dba": None, "ownership_type": OwnershipType.CORPORATION,
                   "business_start_date": date(1990 + p["i"] % 30, 1, 1), "phone": "+1 202 555 0100",
                   "created_at": p["submitted_at"] - timedelta(days=60)}

    def memberships() -> Iterator[dict[str, Any]]:
        for p in plans:
            yield {"id": p["i"], "user_id": officer_id[p["i"]], "company_id": p["i"], "role": CompanyRole.OFFICER,
                   "created_at": p["submitted_at"] - timedelta(days=60)}

    def addresses() -> Iterator[dict[str, Any]]:
        for p in plans:
            city, region, postal, country, zone = p["city"]
            for n, (kind, visitable) in enumerate(((AddressKind.HEADQUARTERS, False), (AddressKind.FACILITY, True))):
                yield {"id": 2 * p["i"] - 1 + n, "company_id": p["i"], "kind": kind, "name": None,
                       "line1": f"{100 + p['i'] % 900} {'Main' if n == 0 else 'Dock'} St", "line2": None,
                       "city": city, "region": region, "postal_code": postal, "country": country,
                       "timezone": zone, "visitable": visitable}

    def trade_accounts() -> Iterator[dict[str, Any]]:
        for p in plans:
            cert = certified_on(p)
            yield {"id": p["i"], "company_id": p["i"], "account_number": f"CT{p['i']:08d}", "business_type": p["bt"],
                   "consolidator_subtype": None,
                   "highway_border": HighwayBorder.MEXICO if p["bt"] == BusinessType.HIGHWAY_CARRIER else None,
                   "status": account_status(p), "application_step": ApplicationStep.COMPLETE,
                   "tier": 1 if cert and p["bt"] in {BusinessType.IMPORTER, BusinessType.EXPORTER} else None,
                   "created_at": p["submitted_at"] - timedelta(days=60),
                   "applied_at": p["submitted_at"] - timedelta(days=50), "certified_on": cert,
                   "anniversary_on": cert + timedelta(days=365) if cert else None,
                   "last_validated_on": None,
                   "next_validation_due": cert + timedelta(days=365) if cert else None}

    def identifiers() -> Iterator[dict[str, Any]]:
        for p in plans:
            yield {"id": p["i"], "account_id": p["i"], "kind": IdentifierKind.DUNS,
                   "value": f"{100_000_000 + p['i'] * 37 % 900_000_000:09d}", "active": True,
                   "created_at": p["submitted_at"] - timedelta(days=50)}

    def agreements() -> Iterator[dict[str, Any]]:
        for p in plans:
            yield {"id": p["i"], "account_id": p["i"], "agreement_version": "2020-01",
                   "agreement_text": "CTPAT Partner Agreement (benchmark copy).", "signer_id": officer_id[p["i"]],
                   "typed_name": f"Officer {p['i']}", "signed_at": p["submitted_at"] - timedelta(days=45),
                   "ip_address": "127.0.0.1"}

    def status_changes() -> Iterator[dict[str, Any]]:
        n = 0
        for p in plans:
            n += 1
            yield {"id": n, "account_id": p["i"], "from_status": None, "to_status": AccountStatus.APPLICANT,
                   "changed_at": p["submitted_at"] - timedelta(days=60), "changed_by_id": officer_id[p["i"]],
                   "reason": ""}
            if account_status(p) == AccountStatus.CERTIFIED:
                n += 1
                yield {"id": n, "account_id": p["i"], "from_status": AccountStatus.APPLICANT,
                       "to_status": AccountStatus.CERTIFIED,
                       "changed_at": datetime.combine(certified_on(p), datetime.min.time(), tzinfo=UTC),
                       "changed_by_id": supervisor_ids[0], "reason": "Profile approved"}

    def profile_status(p: dict[str, Any]) -> ProfileStatus:
        return {"draft": ProfileStatus.DRAFT, "waiting": ProfileStatus.SUBMITTED,
                "in_progress": ProfileStatus.IN_REVIEW, "recommended": ProfileStatus.IN_REVIEW,
                "certified": ProfileStatus.APPROVED}[p["state"]]

    def versions_of(p: dict[str, Any]) -> int:
        return 0 if p["state"] == "draft" else (2 if p["resubmission"] else 1)

    def profiles() -> Iterator[dict[str, Any]]:
        for p in plans:
            yield {"id": p["i"], "account_id": p["i"], "catalog_id": CURRENT_CATALOG_ID, "status": profile_status(p),
                   "current_version": versions_of(p), "last_category": None,
                   "created_at": p["submitted_at"] - timedelta(days=45),
                   "submitted_at": None if p["state"] == "draft" else p["submitted_at"], "lock_version": 1}

    def answer_rows(p: dict[str, Any]) -> list[dict[str, Any]]:
        applicable = criteria[p["bt"]]
        count = len(applicable) if p["answered"] >= 1 else int(len(applicable) * p["answered"])
        rows = []
        for n, criterion in enumerate(applicable[:count]):
            pick = (p["i"] * 31 + n) % 20
            status = (ImplementationStatus.NOT_APPLICABLE if pick == 0 and criterion.level.value != "must"
                      else ImplementationStatus.PARTIALLY_IMPLEMENTED if pick == 1
                      else ImplementationStatus.IMPLEMENTED)
            narrative = NARRATIVES[(p["i"] + n) % len(NARRATIVES)].format(n=n + 1)
            rows.append({"criterion_id": criterion.id, "status": status,
                         "narrative": "" if status == ImplementationStatus.NOT_APPLICABLE else narrative,
                         "justification": "Not part of our operations." if status == ImplementationStatus.NOT_APPLICABLE
                         else "", "level": criterion.level.value})
        return rows

    total_answers = sum(len(criteria[p["bt"]]) if p["answered"] >= 1 else int(len(criteria[p["bt"]]) * p["answered"])
                        for p in plans)

    def answers() -> Iterator[dict[str, Any]]:
        n = 0
        for p in plans:
            for row in answer_rows(p):
                n += 1
                yield {"id": n, "profile_id": p["i"], "criterion_id": row["criterion_id"], "status": row["status"],
                       "narrative": row["narrative"], "justification": row["justification"],
                       "updated_at": p["submitted_at"] - timedelta(days=2), "updated_by_id": officer_id[p["i"]],
                       "version": 1}

    def content(p: dict[str, Any], number: int) -> dict[str, Any]:
        return {"profile_id": p["i"], "version": number, "catalog": CURRENT_CATALOG_ID,
                "account": {"number": f"CT{p['i']:08d}", "business_type": p["bt"].value, "company": p["name"]},
                "criteria": [{"id": r["criterion_id"], "level": r["level"], "status": r["status"].value,
                              "narrative": r["narrative"], "justification": r["justification"], "evidence": [],
                              "action_plans": []} for r in answer_rows(p)],
                "attestation": {"name": f"Officer {p['i']}", "user": f"officer{p['i']}@partner.bench",
                                "text": ATTESTATION_TEXT}}

    def version_date(p: dict[str, Any], number: int) -> datetime:
        return p["submitted_at"] - timedelta(days=400) if number < versions_of(p) else p["submitted_at"]

    total_versions = sum(versions_of(p) for p in plans)

    def profile_versions() -> Iterator[dict[str, Any]]:
        n = 0
        for p in plans:
            for number in range(1, versions_of(p) + 1):
                n += 1
                body = content(p, number)
                yield {"id": n, "profile_id": p["i"], "number": number, "catalog_id": CURRENT_CATALOG_ID,
                       "content": body, "sha256": content_sha256(body), "submitted_at": version_date(p, number),
                       "submitted_by_id": officer_id[p["i"]], "attested_name": f"Officer {p['i']}",
                       "attestation_text": ATTESTATION_TEXT}

    review_status = {"waiting": ReviewStatus.WAITING, "in_progress": ReviewStatus.IN_PROGRESS,
                     "recommended": ReviewStatus.RECOMMENDED, "certified": ReviewStatus.DECIDED}
    review_ids: dict[tuple[int, int], int] = {}
    # The monthly summary of decisions, as decisions.decide keeps it (portal/reviews/decision_months.py).
    decision_months: dict[tuple[Any, Recommendation], list[float]] = {}

    def reviews() -> Iterator[dict[str, Any]]:
        n = 0
        for p in plans:
            for number in range(1, versions_of(p) + 1):
                n += 1
                review_ids[(p["i"], number)] = n
                latest = number == versions_of(p)
                status = review_status[p["state"]] if latest else ReviewStatus.DECIDED
                submitted = version_date(p, number)
                decided = status == ReviewStatus.DECIDED
                recommended = status in {ReviewStatus.RECOMMENDED, ReviewStatus.DECIDED}
                assigned = p["assigned"] or not latest or decided
                decided_at = submitted + timedelta(days=30 + (p["i"] % 60)) if decided else None
                if decided_at is not None:
                    month = decision_months.setdefault((month_of(decided_at), Recommendation.CERTIFY), [0, 0.0])
                    month[0] += 1
                    month[1] += days_between(decided_at, submitted)
                yield {"id": n, "profile_id": p["i"], "version_number": number, "status": status,
                       # Each generated version is a first submission or one made after certification:
                       # its clock starts at its own date (services.clock_start).
                       "submitted_at": submitted, "clock_started_at": submitted,
                       "reviewer_id": p["reviewer"] if assigned else None,
                       "assigned_at": submitted + timedelta(days=3) if assigned else None,
                       "started_at": submitted + timedelta(days=5) if status != ReviewStatus.WAITING else None,
                       "recommendation": Recommendation.CERTIFY if recommended else None, "summary": "",
                       "recommended_at": submitted + timedelta(days=20) if recommended else None,
                       "recommended_by_id": p["reviewer"] if recommended else None,
                       "outcome": Recommendation.CERTIFY if decided else None, "overridden": False,
                       "decision_reason": "", "decided_at": decided_at,
                       "decided_by_id": supervisor_ids[p["i"] % supervisors] if decided else None, "lock_version": 1}

    def rated(p: dict[str, Any]) -> list[Any]:
        applicable = criteria[p["bt"]]
        if p["state"] == "recommended":
            return applicable
        if p["state"] == "in_progress":
            return [c for c in applicable if c.category <= 3]
        return []

    total_ratings = sum(len(rated(p)) for p in plans)

    def ratings() -> Iterator[dict[str, Any]]:
        n = 0
        for p in plans:
            review_id = review_ids[(p["i"], versions_of(p))] if versions_of(p) else None
            for criterion in rated(p):
                n += 1
                yield {"id": n, "review_id": review_id, "criterion_id": criterion.id, "rating": Rating.MEETS,
                       "comment": "", "checklist": [], "carried_over": False,
                       "updated_at": p["submitted_at"] + timedelta(days=6), "updated_by_id": p["reviewer"],
                       "version": 1}

    writer_counts: dict[str, int] = {}
    with engine.begin() as conn:
        writer = Writer(conn, today, quiet)
        writer.insert(tables["users"], iter(users), len(users))
        writer.insert(tables["companies"], companies(), accounts)
        writer.insert(tables["memberships"], memberships(), accounts)
        writer.insert(tables["addresses"], addresses(), 2 * accounts)
        writer.insert(tables["trade_accounts"], trade_accounts(), accounts)
        writer.insert(tables["business_identifiers"], identifiers(), accounts)
        writer.insert(tables["agreement_signatures"], agreements(), accounts)
        writer.insert(tables["account_status_changes"], status_changes(),
                      sum(2 if account_status(p) == AccountStatus.CERTIFIED else 1 for p in plans))
        writer.insert(tables["security_profiles"], profiles(), accounts)
        writer.insert(tables["answers"], answers(), total_answers)
        writer.insert(tables["profile_versions"], profile_versions(), total_versions)
        writer.insert(tables["reviews"], reviews(), total_versions)
        writer.insert(tables["criterion_ratings"], ratings(), total_ratings)
        writer.insert(tables["decision_months"], iter([
            {"month": month, "outcome": outcome, "decisions": count, "days_total": days}
            for (month, outcome), (count, days) in sorted(decision_months.items())]), len(decision_months))
        notes = []
        if partner_model is not None:
            writer.insert(partner_model.__table__, _partners(plans, partners_per_account, rng, now), accounts
                          * partners_per_account)
        else:
            notes.append("business partners skipped: portal/partners/models.py has no BusinessPartner model")
        if validation_model is not None:
            # About one validation per two accounts (the 5,000 at 10,000), among certified accounts.
            certified = [p for p in plans if account_status(p) == AccountStatus.CERTIFIED]
            chosen = sorted(rng.sample(certified, min(len(certified), round(accounts * VALIDATIONS_PER_ACCOUNT))),
                            key=lambda p: p["i"])
            writer.insert(validation_model.__table__, _validations(chosen, reviewer_ids, supervisor_ids, now,
                                                                   certified_on), len(chosen))
        else:
            notes.append("validations skipped: portal/validations/models.py has no Validation model")
        writer_counts = dict(writer.counts)
    _reset_sequences(engine)

    subjects = Subjects(accounts=accounts, draft_account_id=1, draft_profile_id=1,
                        officer_email="officer1@partner.bench", review_id=review_ids[(2, versions_of(plans[1]))],
                        reviewer_email="reviewer1@cbp.bench",
                        supervisor_email="supervisor1@cbp.bench", password=PASSWORD,
                        partners=partner_model is not None, validations=validation_model is not None)
    info = {"format": FORMAT_VERSION, "schema": _schema_fingerprint(), "accounts": accounts, "seed": seed,
            "today": today.isoformat(), "partners_per_account": partners_per_account, "counts": writer_counts,
            "subjects": asdict(subjects), "notes": notes, "seconds": round(time.perf_counter() - started, 1)}
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_info (key VARCHAR(20) PRIMARY KEY, value TEXT NOT NULL)"))
        conn.execute(text("INSERT INTO bench_info (key, value) VALUES ('info', :value)"),
                     {"value": json.dumps(info)})
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            # Statistics for the planner, as a database in use gets them from PRAGMA optimize; committed,
            # or the portal's engine (which opens a transaction first) would roll them back.
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    engine.dispose()
    if not quiet:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        summary = ", ".join(f"{name} {count:,}" for name, count in writer_counts.items())
        print(f"Generated in {info['seconds']} s: {summary}", file=sys.stderr)
    return subjects


def _partners(plans: list[dict[str, Any]], per_account: int, rng: random.Random, now: datetime
              ) -> Iterator[dict[str, Any]]:
    from portal.partners.enums import CertificationKind, CtpatStatus, PartnerRole, RiskRating

    roles = list(PartnerRole)
    risks = list(RiskRating)
    n = 0
    for p in plans:
        for j in range(1, per_account + 1):
            n += 1
            ctpat = j % 4 == 0
            name = f"{ADJECTIVES[(p['i'] + j) % len(ADJECTIVES)]} Partner {j} of {p['i']}"
            yield {"id": n, "account_id": p["i"], "name": name, "name_key": " ".join(name.lower().split()),
                   "role": roles[(p["i"] + j) % len(roles)], "country": ("US", "MX", "CA", "CN", "DE")[j % 5],
                   "address": f"{j} Partner Way", "city": "Springfield", "ctpat_eligible": ctpat,
                   "certification": CertificationKind.CTPAT if ctpat else CertificationKind.NONE,
                   "ctpat_account_number": f"CT{(p['i'] * 100 + j) % 99_999_999:08d}" if ctpat else None,
                   "ctpat_status": CtpatStatus.CERTIFIED if ctpat else None,
                   "risk_rating": risks[rng.randrange(len(risks))],
                   "last_assessed_on": (now - timedelta(days=30 * (j % 14))).date(),
                   "created_at": now - timedelta(days=200), "updated_at": now - timedelta(days=30), "version": 1}


def _validations(chosen: list[dict[str, Any]], reviewer_ids: list[int], supervisor_ids: list[int], now: datetime,
                 certified_on: Any) -> Iterator[dict[str, Any]]:
    from portal.validations.workflow import ValidationKind, ValidationStatus

    statuses = [ValidationStatus.PLANNED, ValidationStatus.SCHEDULED, ValidationStatus.CLOSED]
    for n, p in enumerate(chosen, start=1):
        cert = certified_on(p)
        status = statuses[n % len(statuses)]
        yield {"id": n, "account_id": p["i"], "kind": ValidationKind.INITIAL, "status": status,
               "due_on": cert + timedelta(days=365), "lead_id": reviewer_ids[n % len(reviewer_ids)],
               "initiated_at": now - timedelta(days=n % 200), "initiated_by_id": supervisor_ids[0],
               "closed_at": now - timedelta(days=10) if status == ValidationStatus.CLOSED else None,
               "lock_version": 1}


def _reset_sequences(engine: Engine) -> None:
    """PostgreSQL: move each id sequence past the ids inserted here, so the app can insert again."""
    if engine.dialect.name != "postgresql":
        return
    from portal.db import Base

    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if "id" in table.columns and table.columns["id"].primary_key:
                # Table names come from our own metadata, never from input.
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                                  f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 0) + 1, false)"))


def ensure_generated(accounts: int, base_url: str | None = None, *, seed: int = SEED, quiet: bool = False,
                     force: bool = False) -> tuple[str, Subjects]:
    """The database of this size, generated unless an identical one (size, seed, schema) exists."""
    from portal.db import make_engine
    from portal.models import import_all_models

    import_all_models()
    url = database_url_for(accounts, base_url)
    if not force:
        engine = make_engine(url) if not url.startswith("postgresql") else create_engine(url)
        info = read_info(engine)
        engine.dispose()
        if info and info.get("format") == FORMAT_VERSION and info.get("accounts") == accounts \
                and info.get("seed") == seed and info.get("schema") == _schema_fingerprint() \
                and info.get("today") == datetime.now(UTC).date().isoformat():
            if not quiet:
                print(f"Reusing {describe(url)} ({accounts:,} accounts, generated {info['today']})", file=sys.stderr)
            return url, Subjects(**info["subjects"])
    return url, generate(url, accounts, seed=seed, quiet=quiet)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS,
                        help=f"trade accounts (default {DEFAULT_ACCOUNTS:,}, the issue's program size)")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server/database prefix (the size is appended); default SQLite "
                             "instance/bench/bench-<n>.db")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--partners-per-account", type=int, default=PARTNERS_PER_ACCOUNT)
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="anchor date (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    url = database_url_for(args.accounts, args.database_url)
    subjects = generate(url, args.accounts, seed=args.seed, today=args.today,
                        partners_per_account=args.partners_per_account)
    print(json.dumps({"database": describe(url), **asdict(subjects)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Hypothesis drives every form of the portal (issue 8 item 4, "Fuzzing"; T6 of the security reference)
with arbitrary text, unicode, control characters, markup, formulas, huge numbers, impossible dates and
missing fields. For each example:

- the response is never a 5xx (an unexpected exception, which TESTING re-raises, counts as one);
- a rejected submission leaves the database exactly as it was (row counts of every table, and the
  contents of the tables the form writes to);
- input that an independent oracle knows to be invalid (a required field blank, a text over its limit,
  a number out of range, a choice not offered) is never accepted;
- accepted input is stored as typed (stripped), within its limits.

Every test reuses one app and one set of objects for all its examples (``build_world`` of the access
matrix), signs its users in once, and resets only what an accepted example consumed. Examples per form:
``FUZZ_EXAMPLES`` if set, else 200 when ``CI`` is set and 25 otherwise (query strings of list pages get a
quarter of that); CI runs are derandomized, so a failure there reproduces.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from portal.db import Base, db_session
from tests import factories
from tests.functional.test_access_matrix import SHARED_BYTECODE, build_world

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or (200 if os.environ.get("CI") else 25))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
# Query strings of list pages and downloads (GET filters, not forms that store anything): a quarter as many.
FUZZ_QUERIES = settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))

# --- strategies -------------------------------------------------------------------------------------

NASTY = [
    "", " ", "\t\n", "\x00", "a\x00b", "\u202eevil", "\ufeff", "𝕏𝕐ℤ" * 20, "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>", "' OR 1=1 --", "=HYPERLINK(\"http://evil.example\")", "@SUM(1+1)",
    "-1", "0", "1e309", "NaN", "9" * 400, "-" + "9" * 40, "../../etc/passwd", "%00", "{{7*7}}", "${7*7}",
    "Ω≈ç√∫", "\r\nBcc: victim@example.com", "²", "٣", "1²", "9223372036854775808", "2147483648",
]
junk = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(min_size=1, max_size=400),
    st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "é", "𝕏", " ", "\n"]), st.integers(150, 12_000)),
)
numbers = st.one_of(st.integers(-10**40, 10**40).map(str), st.floats(allow_nan=True).map(str), junk)
dates = st.one_of(st.dates(min_value=date(1, 1, 1)).map(str), st.sampled_from(
    ["0000-00-00", "2026-02-30", "9999-12-31", "2026-13-01", "1899-12-31", "31/12/2026"]), junk)
times = st.one_of(st.times().map(lambda t: t.strftime("%H:%M")), st.sampled_from(["24:00", "25:61", "9"]), junk)


def choice(*values: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(values), junk) if values else junk


# --- the shared set-up ----------------------------------------------------------------------------


@dataclass
class Ctx:
    app: Any
    cast: Any
    world: Any
    clients: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "Ctx(...)"

    def client(self, actor: str) -> Any:
        if actor == "anonymous":
            return self.app.test_client()  # a fresh visitor each time (registration signs in)
        if actor not in self.clients:
            client = self.app.test_client()
            response = client.post("/auth/login", data={"email": self.cast.email(actor),
                                                        "password": factories.PASSWORD})
            assert response.status_code == 302, actor
            self.clients[actor] = client
        return self.clients[actor]

    def p(self, name: str) -> Any:
        return self.state.get(name, self.world.params.get(name))


def counts() -> dict[str, int]:
    """Row counts of every table, in one query."""
    parts = " UNION ALL ".join(f"SELECT '{t.name}', COUNT(*) FROM \"{t.name}\"" for t in Base.metadata.sorted_tables)
    result = dict(db_session.execute(text(parts)).all())
    db_session.rollback()
    return result


def contents(tables: tuple[str, ...]) -> dict[str, str]:
    digests = {}
    for name in tables:
        table = Base.metadata.tables[name]
        rows = db_session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digests[name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    db_session.rollback()
    return digests


def stripped(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def blank(data: dict[str, Any], name: str) -> bool:
    return not stripped(data.get(name))


def too_long(data: dict[str, Any], name: str, limit: int) -> bool:
    return len(stripped(data.get(name))) > limit


def present_blank(data: dict[str, Any], name: str) -> bool:
    """A field sent empty (a missing field keeps its stored value in an edit form)."""
    return data.get(name) is not None and not stripped(data.get(name))


def not_in(data: dict[str, Any], name: str, values: Any) -> bool:
    return data.get(name) not in set(values)


@dataclass
class FormSpec:
    """How to post one form, what it may write, and what is known about valid input."""

    actor: str
    url: Callable[[Ctx], str]
    fields: dict[str, st.SearchStrategy[Any]]
    watch: tuple[str, ...] = ()                        # tables whose contents a rejection must not change
    may_change: tuple[str, ...] = ()                   # tables a rejection may still write (audit, lockout)
    invalid: Callable[[dict[str, Any]], bool] = lambda data: False
    accepted: Callable[[Any, dict[str, Any]], bool] | None = None
    check_stored: Callable[[Ctx, dict[str, Any]], None] | None = None
    reset: Callable[[Ctx], None] | None = None
    setup: Callable[[Ctx], None] | None = None
    files: Callable[[Any], dict[str, Any]] | None = None   # multipart fields drawn per example
    required: tuple[str, ...] = ()                     # fields the oracle needs to call input valid


def redirect_not_login(response: Any, _data: dict[str, Any]) -> bool:
    return response.status_code in (301, 302, 303) and urlsplit(
        response.headers.get("Location", "")).path != "/auth/login"


def run_example(ctx: Ctx, spec: FormSpec, data: dict[str, Any], files: dict[str, Any] | None = None) -> None:
    app = ctx.app
    client = ctx.client(spec.actor)
    url = spec.url(ctx)
    with app.app_context():
        before_counts, before = counts(), contents(spec.watch)
    payload = {k: v for k, v in data.items() if v is not None}
    if files:
        payload.update(files)
    try:
        response = client.post(url, data=payload, content_type="multipart/form-data" if files else None)
    except Exception as error:  # noqa: BLE001 - TESTING re-raises what would be the 500 page
        pytest.fail(f"POST {url} raised {type(error).__name__}: {error}\ninput: {data!r}"[:3000])
    assert response.status_code < 500, f"POST {url} answered {response.status_code}; input: {data!r}"[:3000]
    accepted = (spec.accepted or redirect_not_login)(response, data)
    with app.app_context():
        after_counts, after = counts(), contents(spec.watch)
    # An entirely empty body makes WTForms fall back to the stored object (edit forms re-save it): no oracle.
    if spec.invalid(data) and (payload or files):
        assert not accepted, f"invalid input accepted by POST {url}: {data!r}"[:3000]
    if not accepted:
        changed = sorted(name for name in before_counts if before_counts[name] != after_counts[name]
                         and name not in spec.may_change)
        changed += sorted(name for name in before if before[name] != after[name] and name not in spec.may_change)
        assert not changed, f"rejected input (status {response.status_code}) changed {changed}: {data!r}"[:3000]
        return
    if spec.check_stored is not None and payload:
        with app.app_context():
            spec.check_stored(ctx, data)
            db_session.rollback()
    if spec.reset is not None:
        with app.app_context():
            spec.reset(ctx)
            db_session.commit()


# --- oracles --------------------------------------------------------------------------------------


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def bad_date(data: dict[str, Any], name: str, *, required: bool = False) -> bool:
    """Whether WTForms' DateField would refuse the value (empty counts only when required)."""
    from datetime import datetime

    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        return required
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return True
    return False


def bad_version(value: Any, *, strip: bool = False) -> bool:
    """A version field that is not a whole number (page forms strip their text, sub-forms do not)."""
    value = value.strip() if strip and isinstance(value, str) else value
    return bool(value) and not str(value).isdecimal()


def resolve(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """Placeholders drawn by the strategies: ``@same:<field>`` copies a field, ``@version:<criterion>`` is
    the stored answer's current version (so that valid saves happen, not only conflicts)."""
    from portal.profiles.models import Answer

    out = dict(data)
    for key, value in data.items():
        if isinstance(value, str) and value.startswith("@same:"):
            out[key] = data.get(value[6:])
        elif value == "@site":
            out[key] = str(ctx.p("site_id"))
        elif isinstance(value, str) and value.startswith("@version:"):
            with ctx.app.app_context():
                version = db_session.scalar(select(Answer.version).where(
                    Answer.profile_id == ctx.p("profile_id"), Answer.criterion_id == value[9:]))
                db_session.rollback()
            out[key] = str(version) if version is not None else ""
    return out


# --- state helpers (called inside an app context) --------------------------------------------------


def _officer(ctx: Ctx) -> Any:
    from portal.auth.models import User

    return db_session.get(User, ctx.cast.users["officer_a"].id)


def fresh_application(ctx: Ctx, step: str) -> None:
    """A new company of officer_a with an exporter application at ``step`` (eligibility or agreement)."""
    from portal.companies import applications
    from portal.companies.business_types import BusinessType

    officer = _officer(ctx)
    company = factories.company(officer)
    account = factories.account(company, officer, BusinessType.EXPORTER, complete=False)
    if step == "agreement":
        applications.save_eligibility(account, {q.key: not q.knock_out_answer for q in
                                                applications.eligibility.questions_for(BusinessType.EXPORTER)},
                                      by=officer)
        for kind, value in _exporter_identifiers():
            applications.add_identifier(account, kind, value, by=officer)
        applications.finish_identifiers(account, by=officer)
    db_session.commit()
    ctx.state["application_id"] = account.id


def _exporter_identifiers() -> list[tuple[Any, str]]:
    from portal.companies.identifiers import IdentifierKind

    return [(IdentifierKind.DUNS, "123456789")]


def recommended_review(ctx: Ctx) -> None:
    """A new company's submitted importer profile, rated on one criterion and recommended for return."""
    from portal.auth.models import User
    from portal.companies.business_types import BusinessType
    from portal.profiles.submission import submit_profile
    from portal.reviews import decisions, services
    from portal.reviews.models import Review
    from portal.reviews.scoring import Rating
    from portal.reviews.workflow import Recommendation

    officer = _officer(ctx)
    reviewer = db_session.get(User, ctx.cast.users["reviewer"].id)
    supervisor = db_session.get(User, ctx.cast.users["supervisor"].id)
    company = factories.company(officer)
    account = factories.account(company, officer, BusinessType.IMPORTER)
    profile = factories.profile_of(account)
    factories.answer_all(profile)
    submit_profile(profile, officer.full_name, by=officer)
    review = db_session.scalar(select(Review).where(Review.profile_id == profile.id))
    services.assign(review, reviewer, by=supervisor)
    services.start(review, by=reviewer)
    criterion = services.criteria_in_version(review)["1.1"]
    services.save_rating(review, criterion, services.RatingInput(Rating.PARTIALLY_MEETS, "Not posted.", (), None),
                         by=reviewer)
    decisions.recommend(review, Recommendation.RETURN, "Post the policy.", by=reviewer)
    db_session.commit()
    ctx.state["decision_review_id"] = review.id


def send_back(ctx: Ctx) -> None:
    """Undo an accepted recommendation, so the next example may recommend again."""
    from portal.auth.models import User
    from portal.reviews import decisions
    from portal.reviews.models import Review
    from portal.reviews.workflow import ReviewStatus

    review = db_session.get(Review, ctx.p("review_id"))
    if review.status == ReviewStatus.RECOMMENDED:
        decisions.send_back(review, "Again, please.", by=db_session.get(User, ctx.cast.users["supervisor"].id))


def restore_password(ctx: Ctx) -> None:
    from portal.auth.models import User
    from portal.auth.passwords import hash_password

    user = db_session.get(User, ctx.cast.users["consultant_a"].id)
    user.password_hash = hash_password(factories.PASSWORD)
    ctx.clients.pop("consultant_a", None)


# --- the forms ------------------------------------------------------------------------------------

IMPL = ("implemented", "partially_implemented", "not_implemented", "not_applicable")
RATINGS = ("exceeds", "meets", "partially_meets", "does_not_meet", "not_applicable")
CATEGORY_1 = ("1.1", "1.2", "1.3", "1.4")


def _answer_fields(criteria: tuple[str, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for cid in criteria:
        key = "c_" + cid.replace(".", "_")
        fields[f"{key}-status"] = st.one_of(st.none(), choice(*IMPL))
        fields[f"{key}-narrative"] = st.one_of(st.none(), junk)
        fields[f"{key}-justification"] = st.one_of(st.none(), junk)
        fields[f"{key}-version"] = st.one_of(st.none(), st.just(f"@version:{cid}"), junk)
    return fields


def _answers_invalid(criteria: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    from portal.profiles.workflow import JUSTIFICATION_MAX, NARRATIVE_MAX

    def invalid(data: dict[str, Any]) -> bool:
        for cid in criteria:
            key = "c_" + cid.replace(".", "_")
            status = data.get(f"{key}-status")
            if stripped(status) and status not in IMPL:   # a blank radio value means "no status"
                return True
            if too_long(data, f"{key}-narrative", NARRATIVE_MAX) or too_long(data, f"{key}-justification",
                                                                             JUSTIFICATION_MAX):
                return True
            if bad_version(data.get(f"{key}-version")):
                return True
        return False

    return invalid


def _rating_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for cid in CATEGORY_1:
        key = "c_" + cid.replace(".", "_")
        fields[f"{key}-rating"] = st.one_of(st.none(), choice(*RATINGS))
        fields[f"{key}-comment"] = st.one_of(st.none(), junk)
        fields[f"{key}-checklist"] = st.one_of(st.none(), st.lists(junk, max_size=3))
        fields[f"{key}-version"] = st.one_of(st.none(), st.just(""), junk)
    return fields


def _ratings_invalid(data: dict[str, Any]) -> bool:
    for cid in CATEGORY_1:
        key = "c_" + cid.replace(".", "_")
        rating = data.get(f"{key}-rating")
        if stripped(rating) and rating not in RATINGS:
            return True
        if too_long(data, f"{key}-comment", 4000) or bad_version(data.get(f"{key}-version")):
            return True
        if rating in {"partially_meets", "does_not_meet"} and blank(data, f"{key}-comment"):
            return True
    return False


def _check_autosave(ctx: Ctx, data: dict[str, Any]) -> None:
    from portal.profiles.models import Answer

    answer = db_session.scalar(select(Answer).where(Answer.profile_id == ctx.p("profile_id"),
                                                    Answer.criterion_id == "1.1"))
    assert answer.narrative == stripped(data.get("narrative")), data
    assert (answer.status.value if answer.status else "") == stripped(data.get("status")), data


def _check_company(ctx: Ctx, data: dict[str, Any]) -> None:
    from portal.companies.models import Company

    company = db_session.get(Company, ctx.p("company_id"))
    if data.get("legal_name") is not None:
        assert company.legal_name == stripped(data.get("legal_name")), data
    assert len(company.legal_name) <= 200 and len(company.history or "") <= 4000


def _check_registered(ctx: Ctx, data: dict[str, Any]) -> None:
    from portal.auth.models import User

    user = db_session.scalar(select(User).order_by(User.id.desc()).limit(1))
    assert user.email == stripped(data["email"]).lower() or user.email.lower() == stripped(data["email"]).lower()
    assert user.full_name == stripped(data["full_name"]) and len(user.full_name) <= 200


def _check_plan(ctx: Ctx, data: dict[str, Any]) -> None:
    from portal.action_plans.models import ActionPlan

    plan = db_session.scalar(select(ActionPlan).order_by(ActionPlan.id.desc()).limit(1))
    assert plan.gap == stripped(data["gap"]) and plan.corrective_action == stripped(data["corrective_action"])


def company_url(path: str) -> Callable[[Ctx], str]:
    return lambda ctx: f"/companies/{ctx.p('company_id')}{path}"


def profile_url(path: str) -> Callable[[Ctx], str]:
    return lambda ctx: f"/profiles/{ctx.p('profile_id')}{path}"


def json_ok(response: Any, _data: dict[str, Any]) -> bool:
    return response.status_code == 200


def redirect_or_conflict(response: Any, data: dict[str, Any]) -> bool:
    """A page of answers or ratings saves what it can: a 409 names the conflicts and keeps the rest."""
    return response.status_code == 409 or redirect_not_login(response, data)


def _eligibility_keys() -> list[str]:
    from portal.companies import eligibility
    from portal.companies.business_types import BusinessType

    return [q.key for q in eligibility.questions_for(BusinessType.EXPORTER)]


PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
file_contents = st.one_of(st.binary(min_size=1, max_size=64).map(lambda b: PDF + b), st.binary(max_size=256))
file_names = st.one_of(st.sampled_from(["policy.pdf", "../../etc/passwd", "con.pdf", "a.pdf\x00.html", "é" * 300
                                        + ".pdf", "x.exe", ".pdf", ""]), junk.map(lambda s: s + ".pdf"))


def _upload(draw: Any) -> dict[str, Any]:
    import io

    return {"file": (io.BytesIO(draw(file_contents)), draw(file_names))}


SPECS: dict[str, FormSpec] = {
    "registration": FormSpec(
        "anonymous", lambda ctx: "/auth/register",
        {"full_name": st.one_of(st.none(), st.sampled_from(["Ann Example"]), junk),
         "email": st.one_of(st.none(), st.emails(), junk),
         "password": st.one_of(st.none(), st.sampled_from(["a long enough passphrase 42"]), st.text(min_size=12,
                                                                                                   max_size=40), junk),
         "confirm_password": st.one_of(st.just("@same:password"), st.none(), junk)},
        watch=("users",),
        invalid=lambda d: blank(d, "full_name") or blank(d, "email") or too_long(d, "full_name", 200)
        or not isinstance(d.get("password"), str) or not 12 <= len(d["password"]) <= 128
        or d.get("confirm_password") != d.get("password"),
        check_stored=_check_registered),
    "login": FormSpec(
        "anonymous", lambda ctx: "/auth/login",
        {"email": st.one_of(st.none(), st.sampled_from(["reviewer2@cbp.example", " REVIEWER2@cbp.example "]), junk),
         "password": st.one_of(st.none(), st.just(factories.PASSWORD), junk)},
        may_change=("users", "audit_events"),   # a failed attempt is counted and audited
        invalid=lambda d: d.get("password") != factories.PASSWORD),
    "company": FormSpec(
        "officer_a", company_url("/edit"),
        {"legal_name": st.one_of(st.none(), st.just("Alpha Imports Inc."), junk),
         "dba": st.one_of(st.none(), junk),
         "ownership_type": st.one_of(st.none(), choice("corporation", "llc", "partnership")),
         "business_start_date": st.one_of(st.none(), dates),
         "phone": st.one_of(st.none(), st.just("+1 202 555 0100"), junk),
         "website": st.one_of(st.none(), st.just("https://alpha.example"), junk),
         "employee_count": st.one_of(st.none(), numbers),
         "history": st.one_of(st.none(), junk)},
        watch=("companies",),
        invalid=lambda d: present_blank(d, "legal_name") or too_long(d, "legal_name", 200) or too_long(d, "dba", 200)
        or present_blank(d, "phone") or d.get("ownership_type") not in {
            None, "corporation", "public_company", "llc", "partnership", "sole_proprietorship", "government"}
        or too_long(d, "history", 4000) or bad_date(d, "business_start_date")
        or (bool(stripped(d.get("employee_count"))) and not 1 <= (as_int(d.get("employee_count")) or 0) <= 5_000_000),
        check_stored=_check_company),
    "address": FormSpec(
        "officer_a", company_url("/addresses/new"),
        {"kind": st.one_of(st.none(), choice("facility", "mailing", "foreign_site")),
         "name": st.one_of(st.none(), junk), "line1": st.one_of(st.none(), st.just("2 Pier St"), junk),
         "line2": st.one_of(st.none(), junk), "city": st.one_of(st.none(), st.just("Norfolk"), junk),
         "region": st.one_of(st.none(), junk), "postal_code": st.one_of(st.none(), junk),
         "country": st.one_of(st.none(), choice("US", "MX", "CA")),
         "timezone": st.one_of(st.none(), choice("America/Chicago", "Mars/Olympus")),
         "visitable": st.one_of(st.none(), choice("y"))},
        watch=("addresses",),
        invalid=lambda d: d.get("kind") not in {"headquarters", "mailing", "facility", "foreign_site"}
        or blank(d, "line1") or blank(d, "city") or too_long(d, "line1", 200) or too_long(d, "city", 100)
        or too_long(d, "name", 200) or too_long(d, "postal_code", 20) or too_long(d, "timezone", 64)),
    "invite": FormSpec(
        "officer_a", company_url("/users"),
        {"email": st.one_of(st.none(), st.emails(), junk),
         "role": st.one_of(st.none(), choice("employee", "consultant", "read_only", "officer"))},
        watch=("invitations",), may_change=(),
        invalid=lambda d: blank(d, "email") or d.get("role") not in {"officer", "employee", "consultant",
                                                                     "read_only"}),
    "identifiers": FormSpec(
        "officer_a", lambda ctx: f"/accounts/{ctx.world.overrides['accounts.']['account_id']}/identifiers",
        {"kind": st.one_of(st.none(), choice("duns", "ein", "iec", "bond")),
         "value": st.one_of(st.none(), st.sampled_from(["123456789", "36-4812345"]), junk)},
        watch=("business_identifiers",),
        invalid=lambda d: blank(d, "value") or too_long(d, "value", 40) or blank(d, "kind")),
    "questionnaire_category": FormSpec(
        "officer_a", profile_url("/categories/1"), _answer_fields(CATEGORY_1), watch=("answers",),
        invalid=_answers_invalid(CATEGORY_1), accepted=redirect_or_conflict),
    "autosave": FormSpec(
        "officer_a", profile_url("/criteria/1.1/autosave"),
        {"status": st.one_of(st.none(), choice(*IMPL)), "narrative": st.one_of(st.none(), junk),
         "justification": st.one_of(st.none(), junk),
         "version": st.one_of(st.just("@version:1.1"), st.none(), junk)},
        watch=("answers",), accepted=json_ok,
        invalid=lambda d: bool(stripped(d.get("status"))) and stripped(d["status"]) not in IMPL
        or too_long(d, "narrative", 10_000)
        or too_long(d, "justification", 2_000) or bad_version(d.get("version"), strip=True),
        check_stored=_check_autosave),
    "action_plan": FormSpec(
        "officer_a", profile_url("/criteria/1.1/action-plans/new"),
        {"gap": st.one_of(st.none(), st.just("Not posted."), junk),
         "corrective_action": st.one_of(st.none(), st.just("Post it."), junk),
         "owner": st.one_of(st.none(), st.just("other"), junk),
         "owner_name": st.one_of(st.none(), st.just("J. Smith"), junk),
         "target_date": st.one_of(st.none(), st.just((date.today() + timedelta(days=30)).isoformat()), dates),
         "next": st.one_of(st.none(), choice("/dashboard", "//evil.example", "https://evil.example"))},
        watch=("action_plans",),
        invalid=lambda d: blank(d, "gap") or too_long(d, "gap", 4000) or blank(d, "corrective_action")
        or too_long(d, "corrective_action", 4000) or blank(d, "owner")
        or (d.get("owner") == "other" and blank(d, "owner_name")) or bad_date(d, "target_date", required=True),
        check_stored=_check_plan),
    "evidence_upload": FormSpec(
        "officer_a", company_url("/evidence"),
        {"title": st.one_of(st.none(), junk), "effective_date": st.one_of(st.none(), dates)},
        watch=("evidence_files",), files=_upload,
        invalid=lambda d: too_long(d, "title", 200) or bad_date(d, "effective_date")),
    "review_rating": FormSpec(
        "reviewer", lambda ctx: f"/reviews/{ctx.p('review_id')}/categories/1", _rating_fields(),
        watch=("criterion_ratings",), may_change=("reviews", "security_profiles", "audit_events"),  # "started"
        invalid=_ratings_invalid, accepted=redirect_or_conflict),
    "question": FormSpec(
        "reviewer", lambda ctx: f"/reviews/{ctx.p('review_id')}/criteria/1.1/question",
        {"question": st.one_of(st.none(), junk)}, watch=("info_requests",),
        accepted=lambda r, d: r.status_code == 302 and not blank(d, "question") and not too_long(d, "question", 4000),
        invalid=lambda d: blank(d, "question") or too_long(d, "question", 4000)),
    "recommendation": FormSpec(
        "reviewer", lambda ctx: f"/reviews/{ctx.p('review_id')}/recommend",
        {"recommendation": st.one_of(st.none(), choice("certify", "return", "deny")),
         "summary": st.one_of(st.none(), st.just("Summary."), junk)},
        watch=("reviews",), may_change=("security_profiles", "audit_events"),
        invalid=lambda d: d.get("recommendation") not in {"certify", "return", "deny"} or blank(d, "summary")
        or too_long(d, "summary", 4000),
        reset=send_back),
    "decision": FormSpec(
        "supervisor", lambda ctx: f"/reviews/{ctx.p('decision_review_id')}/decision",
        {"decision": st.one_of(st.none(), choice("approve", "override", "send_back")),
         "outcome": st.one_of(st.none(), choice("", "certify", "return", "deny")),
         "reason": st.one_of(st.none(), st.just("Because."), junk)},
        watch=("reviews", "trade_accounts", "security_profiles"),
        invalid=lambda d: d.get("decision") not in {"approve", "override", "send_back"} or too_long(d, "reason", 4000)
        or (d.get("decision") in {"override", "send_back"} and blank(d, "reason")),
        setup=recommended_review, reset=recommended_review),
    "change_password": FormSpec(
        "consultant_a", lambda ctx: "/auth/password",
        {"current_password": st.one_of(st.none(), st.just(factories.PASSWORD), junk),
         "new_password": st.one_of(st.none(), st.just("another fine passphrase 7"), junk),
         "confirm_password": st.one_of(st.just("@same:new_password"), st.none(), junk)},
        watch=("users",), may_change=("users", "audit_events"),   # a wrong current password counts as a failure
        accepted=lambda r, d: r.status_code == 302 and urlsplit(r.headers.get("Location", "")).path != "/auth/login"
        and d.get("current_password") == factories.PASSWORD,
        invalid=lambda d: d.get("current_password") != factories.PASSWORD
        or d.get("new_password") != d.get("confirm_password") or not isinstance(d.get("new_password"), str)
        or not 12 <= len(d["new_password"]) <= 128,
        reset=restore_password),
    "staff_user": FormSpec(
        "admin", lambda ctx: "/admin/users",
        {"full_name": st.one_of(st.none(), st.just("Sam Staff"), junk),
         "email": st.one_of(st.none(), st.emails(), junk),
         "role": st.one_of(st.none(), choice("reviewer", "supervisor", "admin")),
         "password": st.one_of(st.none(), st.just("a long enough passphrase 42"), junk)},
        watch=("users",),
        invalid=lambda d: blank(d, "full_name") or blank(d, "email") or d.get("role") not in {"reviewer", "supervisor",
                                                                                             "admin"}
        or not isinstance(d.get("password"), str) or not 12 <= len(d["password"]) <= 128),
    "partner": FormSpec(
        "officer_a", lambda ctx: f"/accounts/{ctx.p('account_id')}/partners/new",
        {"name": st.one_of(st.none(), st.just("Delta Freight"), junk),
         "role": st.one_of(st.none(), choice("manufacturer", "highway_carrier")),
         "country": st.one_of(st.none(), choice("MX", "US")), "address": st.one_of(st.none(), junk),
         "city": st.one_of(st.none(), junk), "ctpat_eligible": st.one_of(st.none(), choice("y")),
         "certification": st.one_of(st.none(), choice("none", "ctpat", "aeo")),
         "ctpat_account_number": st.one_of(st.none(), junk), "mra_program_id": st.one_of(st.none(), numbers),
         "certificate_number": st.one_of(st.none(), junk), "certificate_expires_on": st.one_of(st.none(), dates),
         "last_assessed_on": st.one_of(st.none(), dates), "risk_reason": st.one_of(st.none(), junk),
         "next_review_override": st.one_of(st.none(), dates), "notes": st.one_of(st.none(), junk),
         "evidence_ids": st.one_of(st.none(), st.lists(numbers, max_size=3))},
        watch=("business_partners",),
        invalid=lambda d: blank(d, "name") or too_long(d, "name", 200) or blank(d, "role") or blank(d, "country")
        or too_long(d, "notes", 4000) or too_long(d, "risk_reason", 2000)),
    "mra_program": FormSpec(
        "admin", lambda ctx: "/admin/mra-programs/new",
        {"code": st.one_of(st.none(), junk), "partner": st.one_of(st.none(), junk),
         "countries": st.one_of(st.none(), choice("MX", "MX, GT", "ZZ")),
         "customs_administration": st.one_of(st.none(), junk), "program_name": st.one_of(st.none(), junk),
         "notes": st.one_of(st.none(), junk)},
        watch=("mra_programs",),
        invalid=lambda d: blank(d, "code") or too_long(d, "code", 8) or blank(d, "partner")
        or too_long(d, "partner", 100) or blank(d, "program_name") or too_long(d, "program_name", 300)),
    "mra_status": FormSpec(
        "admin", lambda ctx: f"/admin/mra-programs/{ctx.p('program_id')}/status",
        {"status": st.one_of(st.none(), choice("joint_work_plan", "in_force", "suspended")),
         "effective_on": st.one_of(st.none(), dates), "precision": st.one_of(st.none(), choice("day", "month")),
         "note": st.one_of(st.none(), junk)},
        watch=("mra_status_changes",),
        invalid=lambda d: d.get("status") not in {"joint_work_plan", "in_force", "suspended"}
        or bad_date(d, "effective_on", required=True) or too_long(d, "note", 2000)),
    "blackout": FormSpec(
        "officer_a", company_url("/blackouts"),
        {"starts_on": st.one_of(st.none(), dates), "ends_on": st.one_of(st.none(), dates),
         "reason": st.one_of(st.none(), st.just("Inventory"), junk)},
        watch=("partner_blackouts",),
        invalid=lambda d: bad_date(d, "starts_on", required=True) or bad_date(d, "ends_on", required=True)
        or blank(d, "reason") or too_long(d, "reason", 200)),
    "finding": FormSpec(
        "reviewer", lambda ctx: f"/validations/{ctx.p('validation_id')}/findings/new",
        {"criterion_id": st.one_of(st.none(), choice("1.1", "99.9")),
         "kind": st.one_of(st.none(), choice("required_action", "recommendation", "best_practice")),
         "text": st.one_of(st.none(), junk), "due_on": st.one_of(st.none(), dates)},
        watch=("validation_findings",),
        invalid=lambda d: blank(d, "text") or too_long(d, "text", 10_000) or d.get("criterion_id") != "1.1"
        or bad_date(d, "due_on")),
    "visit": FormSpec(
        "reviewer", lambda ctx: f"/validations/{ctx.p('validation_id')}/visits/new",
        {"site_id": st.one_of(st.none(), st.sampled_from(["@site"]), numbers),
         "start_date": st.one_of(st.none(), dates), "start_time": st.one_of(st.none(), times),
         "end_date": st.one_of(st.none(), dates), "end_time": st.one_of(st.none(), times),
         "timezone": st.one_of(st.none(), choice("America/Chicago", "Nowhere/Atlantis")),
         "override_reason": st.one_of(st.none(), junk)},
        watch=("validation_visits",),
        invalid=lambda d: bad_date(d, "start_date", required=True) or bad_date(d, "end_date", required=True)
        or blank(d, "timezone")),
    "visit_response": FormSpec(
        "officer_a", lambda ctx: f"/visits/{ctx.p('visit_id')}/respond",
        {"decision": st.one_of(st.none(), choice("confirm", "propose")), "start_date": st.one_of(st.none(), dates),
         "start_time": st.one_of(st.none(), times), "end_date": st.one_of(st.none(), dates),
         "end_time": st.one_of(st.none(), times), "reason": st.one_of(st.none(), junk),
         "version": st.one_of(st.none(), numbers)},
        watch=("validation_visits",),
        invalid=lambda d: d.get("decision") not in {"confirm", "propose"} or too_long(d, "reason", 2000)),
    "report": FormSpec(
        "reviewer", lambda ctx: f"/validations/{ctx.p('validation_id')}/report",
        {"summary": st.one_of(st.none(), junk), "submit_report": st.one_of(st.none(), st.just("1"))},
        watch=("validations",)),
    "lifecycle": FormSpec(
        "supervisor", lambda ctx: f"/accounts/{ctx.p('account_id')}/lifecycle",
        {"action": st.one_of(st.none(), choice("suspend", "remove", "withdraw", "reinstate")),
         "reason": st.one_of(st.none(), junk), "corrective_action_plan": st.one_of(st.none(), junk),
         "due_on": st.one_of(st.none(), dates)},
        watch=("trade_accounts", "account_suspensions"),
        invalid=lambda d: blank(d, "reason") or too_long(d, "reason", 4000)),
    "submission": FormSpec(
        "officer_a", profile_url("/submit"),
        {"typed_name": st.one_of(st.none(), st.sampled_from(["Olivia Officer", " olivia  OFFICER "]), junk),
         "confirm": st.one_of(st.none(), choice("yes"))},
        watch=("profile_versions", "security_profiles"),
        invalid=lambda d: blank(d, "typed_name") or d.get("confirm") != "yes"
        or " ".join(stripped(d.get("typed_name")).lower().split()) != "olivia officer"),
    "notification_preferences": FormSpec(
        "employee_a", lambda ctx: "/account/notifications",
        {"email_notifications": st.one_of(st.none(), junk)}, watch=()),
}

SPECS["eligibility"] = FormSpec(
    "officer_a", lambda ctx: f"/accounts/{ctx.p('application_id')}/eligibility",
    {f"q_{key}": st.one_of(st.none(), choice("yes", "no")) for key in _eligibility_keys()},
    watch=("eligibility_answers", "trade_accounts"),
    accepted=lambda r, d: all(d.get(f"q_{key}") in ("yes", "no") for key in _eligibility_keys()),
    setup=lambda ctx: fresh_application(ctx, "eligibility"), reset=lambda ctx: fresh_application(ctx, "eligibility"))
SPECS["agreement"] = FormSpec(
    "officer_a", lambda ctx: f"/accounts/{ctx.p('application_id')}/agreement",
    {"typed_name": st.one_of(st.none(), st.sampled_from(["Olivia Officer", "olivia officer"]), junk),
     "accept": st.one_of(st.none(), choice("y", "false", ""))},
    watch=("agreement_signatures", "trade_accounts", "security_profiles"),
    invalid=lambda d: blank(d, "typed_name") or d.get("accept") in (None, "", "false")
    or too_long(d, "typed_name", 200),
    setup=lambda ctx: fresh_application(ctx, "agreement"), reset=lambda ctx: fresh_application(ctx, "agreement"))


# Mutual recognition in validations (issue 7 item 5). No site of company A is in a country its foreign
# certification (Zedland, MX) covers, and the world's site is not covered: both actions are always refused
# (a redirect with a message), so every example must leave the database as it was.
def _never(_response: Any, _data: dict[str, Any]) -> bool:
    return False


def _mr_reset(ctx: Ctx) -> None:
    from portal.validations.models import ValidationMrRecord

    for record in db_session.scalars(select(ValidationMrRecord).where(ValidationMrRecord.id != ctx.p("record_id"))):
        db_session.delete(record)


def _mr_stored(ctx: Ctx, data: dict[str, Any]) -> None:
    from portal.validations.models import ValidationMrRecord

    record = db_session.scalar(select(ValidationMrRecord).order_by(ValidationMrRecord.id.desc()).limit(1))
    assert record.partner_name == stripped(data.get("partner_name")) and len(record.notes) <= 2000


SPECS["cover_site"] = FormSpec(
    "reviewer", lambda ctx: f"/validations/{ctx.p('validation_id')}/coverage",
    {"address_id": st.one_of(st.none(), numbers), "note": st.one_of(st.none(), junk)},
    watch=("validation_sites", "validation_events"), accepted=_never)
SPECS["withdraw_coverage"] = FormSpec(
    "reviewer", lambda ctx: f"/validations/{ctx.p('validation_id')}/sites/{ctx.p('site_id')}/coverage/withdraw",
    {"note": st.one_of(st.none(), junk)}, watch=("validation_sites", "validation_events"), accepted=_never)
SPECS["mr_record"] = FormSpec(
    "reviewer", lambda ctx: f"/validations/{ctx.p('validation_id')}/mr-records",
    {"business_partner_id": st.one_of(st.none(), st.just(""), numbers),
     "partner_name": st.one_of(st.none(), st.just("Delta Maquila"), junk),
     "country": st.one_of(st.none(), choice("MX", "US", "")),
     "program_id": st.one_of(st.none(), st.just("1"), numbers),   # the world's only program (Zedland, MX)
     "certificate_number": st.one_of(st.none(), st.just("ZZ-7"), junk),
     "validated_on": st.one_of(st.none(), st.just((date.today() - timedelta(days=30)).isoformat()), dates),
     "notes": st.one_of(st.none(), junk)},
    watch=("validation_mr_records", "validation_events"),
    invalid=lambda d: bad_date(d, "validated_on", required=True) or too_long(d, "partner_name", 200)
    or too_long(d, "certificate_number", 60) or too_long(d, "notes", 2000)
    or bool(stripped(d.get("business_partner_id")))          # no partner of the register is offered
    or d.get("country") not in {None, "", "MX"},                # only MX is certified by the program
    check_stored=_mr_stored, reset=_mr_reset)


# --- the tests --------------------------------------------------------------------------------------


@pytest.fixture
def ctx(app: Any, cast: Any) -> Ctx:
    """One app, one set of objects and one signed-in client per user for all examples of a test."""
    app.jinja_env.bytecode_cache = SHARED_BYTECODE
    return Ctx(app, cast, build_world(app, cast))


@pytest.mark.parametrize("name", sorted(SPECS))
@FUZZ
@given(data=st.data())
def test_every_form_survives_hostile_input(ctx: Ctx, name: str, data: Any) -> None:
    spec = SPECS[name]
    if spec.setup is not None and not ctx.state.get(f"setup:{name}"):
        with ctx.app.app_context():
            spec.setup(ctx)
        ctx.state[f"setup:{name}"] = True
    values = resolve(ctx, {key: data.draw(strategy, label=key) for key, strategy in spec.fields.items()})
    files = spec.files(data.draw) if spec.files is not None else None
    run_example(ctx, spec, values, files)


# Pages whose query string is user input (filters, sorting, paging, months, version numbers).
QUERY_PAGES: dict[str, tuple[str, Callable[[Ctx], str], tuple[str, ...]]] = {
    "queue": ("supervisor", lambda ctx: "/reviews", ("status", "business_type", "assigned", "overdue", "q", "sort",
                                                     "dir", "page")),
    "queue_export": ("supervisor", lambda ctx: "/reviews/queue.xlsx", ("status", "q", "sort", "dir", "overdue")),
    "audit": ("admin", lambda ctx: "/audit", ("company", "actor", "action", "date_from", "date_to", "page")),
    "criteria": ("anonymous", lambda ctx: "/criteria", ("catalog", "business_type", "category", "q")),
    "action_plans": ("officer_a", lambda ctx: f"/profiles/{ctx.p('profile_id')}/action-plans",
                     ("status", "overdue", "category", "sort")),
    "partners": ("officer_a", lambda ctx: f"/accounts/{ctx.p('account_id')}/partners",
                 ("q", "status", "country", "role", "page")),
    "diff": ("officer_a", lambda ctx: f"/profiles/{ctx.p('profile_id')}/diff", ("from", "to", "all")),
    "calendar": ("reviewer", lambda ctx: "/calendar", ("month",)),
    "suggest": ("reviewer", lambda ctx: f"/validations/{ctx.p('validation_id')}/suggest",
                ("site_id", "from_day", "to_day", "days", "timezone")),
    "notifications": ("officer_a", lambda ctx: "/notifications", ("page",)),
    "visit_workbook": ("reviewer", lambda ctx: f"/profiles/{ctx.p('profile_id')}/visit-workbook.xlsx", ("version",)),
}


@pytest.mark.parametrize("name", sorted(QUERY_PAGES))
@FUZZ_QUERIES
@given(data=st.data())
def test_every_query_string_is_harmless(ctx: Ctx, name: str, data: Any) -> None:
    actor, url, names = QUERY_PAGES[name]
    query = {key: value for key in names if (value := data.draw(st.one_of(st.none(), numbers, dates, junk),
                                                                 label=key)) is not None}
    client = ctx.client(actor)
    with ctx.app.app_context():
        before = counts()
    try:
        response = client.get(url(ctx), query_string=query)
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"GET {url(ctx)} {query!r} raised {type(error).__name__}: {error}"[:3000])
    assert response.status_code < 500, f"GET {url(ctx)} {query!r}: {response.status_code}"
    with ctx.app.app_context():
        after = counts()
    changed = sorted(t for t in before if before[t] != after[t] and t != "audit_events")
    assert not changed, f"GET {url(ctx)} {query!r} changed {changed}"

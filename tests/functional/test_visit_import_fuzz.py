"""Hostile input for the two forms of the visit-workbook import (issue 6), driven by Hypothesis the way
``test_fuzz_forms`` drives every other form (its ``FormSpec``, ``run_example`` and strategies): the
upload (random bytes, or the real workbook with arbitrary text typed into "Verified on site" and
"Visit notes") and the confirmation of a preview (arbitrary fingerprints and overwrite choices).

Each example: never a 5xx; a rejection changes nothing; input known to be invalid (a Verified value
other than Y / N / Partial / CLEAR, notes over the limit, a wrong fingerprint, an overwrite choice not offered)
is never accepted; an upload never stores a check by itself; a confirmation stores exactly the preview.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import delete, func, select

from portal.db import db_session
from portal.validations.verification import NOTES_MAX, ValidationCheck
from tests.functional.test_access_matrix import SHARED_BYTECODE, build_world
from tests.functional.test_fuzz_forms import FUZZ, Ctx, FormSpec, choice, junk, run_example
from tests.functional.test_visit_import import fill

CODES = {"y", "n", "partial", "clear"}   # the three verifications and the clear marker, in any letter case


@pytest.fixture
def ctx(app: Any, cast: Any) -> Ctx:
    """One app, one set of objects (the access matrix's world) and one signed-in client per user."""
    app.jinja_env.bytecode_cache = SHARED_BYTECODE
    return Ctx(app, cast, build_world(app, cast))


def _workbook(ctx: Ctx) -> bytes:
    """The world's validation's visit workbook, built once per test."""
    if "workbook" not in ctx.state:
        from portal.exports import visit_services
        from portal.exports.profile_workbook import Audience, build_profile_workbook
        from portal.profiles.models import SecurityProfile
        from portal.validations.models import Validation

        with ctx.app.app_context():
            validation = db_session.get(Validation, ctx.p("validation_id"))
            data = visit_services.workbook_data(validation, db_session.get(SecurityProfile, ctx.p("profile_id")))
            out = io.BytesIO()
            build_profile_workbook(data, Audience.CBP, out)
            db_session.rollback()
        ctx.state["workbook"] = out.getvalue()
    return ctx.state["workbook"]


def _typed(value: str | None) -> str | None:
    """What a person can type into a cell (XML cannot carry most control characters)."""
    return None if value is None else ILLEGAL_CHARACTERS_RE.sub("", value)


def _cleaned(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _checks_count(ctx: Ctx, _data: dict[str, Any]) -> None:
    assert db_session.scalar(select(func.count()).select_from(ValidationCheck)) == 0


def _to_preview(response: Any, _data: dict[str, Any]) -> bool:
    accepted = response.status_code == 302 and "/verification/imports/" in response.headers.get("Location", "")
    event(f"upload {'accepted' if accepted else 'refused'}")
    return accepted


@FUZZ
@given(data=st.data())
def test_the_visit_workbook_upload_survives_hostile_input(ctx: Ctx, data: Any) -> None:
    url = f"/validations/{ctx.p('validation_id')}/verification/import"
    if data.draw(st.booleans(), label="real workbook"):
        codes = st.sampled_from(["Y", "n", " Partial ", "PARTIAL", " clear "])
        verified = _typed(data.draw(st.one_of(st.none(), codes, junk), label="verified"))
        notes = _typed(data.draw(st.one_of(st.none(), junk), label="notes"))
        content = fill(_workbook(ctx), {"1.2": {"Verified": verified, "Notes": notes}})
        name = "visit.xlsx"
        bad_verified = bool(_cleaned(verified)) and _cleaned(verified).casefold() not in CODES
        invalid = bad_verified or len(_cleaned(notes)) > NOTES_MAX
    else:
        content = data.draw(st.one_of(st.binary(max_size=512), st.binary(max_size=256).map(
            lambda b: b"PK\x03\x04" + b)), label="bytes")
        name = data.draw(st.one_of(st.sampled_from(["visit.xlsx", "visit.xlsm", "visit.xls", "../x.xlsx", ""]),
                                   junk.map(lambda s: s + ".xlsx")), label="name")
        invalid = True
    spec = FormSpec("reviewer", lambda ctx: url, {}, watch=("validation_checks", "validation_events"),
                    may_change=(), invalid=lambda _d: invalid, accepted=_to_preview, check_stored=_checks_count)
    run_example(ctx, spec, {"submit": "1"}, {"file": (io.BytesIO(content), name)})


def _pending(ctx: Ctx) -> None:
    """A fresh pending upload of ``reviewer`` verifying 1.1, and no stored check."""
    from portal.auth.models import User
    from portal.exports import visit_services
    from portal.exports.visit_import import CheckRow, ParsedVisitWorkbook
    from portal.profiles.models import SecurityProfile
    from portal.validations.models import Validation

    db_session.execute(delete(ValidationCheck))
    parsed = ParsedVisitWorkbook(rows=[CheckRow(2, "1.1", "yes", "Seen at the gate.")])
    row = visit_services.store_visit_import(
        db_session.get(Validation, ctx.p("validation_id")), db_session.get(SecurityProfile, ctx.p("profile_id")),
        parsed, "visit.xlsx", by=db_session.get(User, ctx.cast.users["reviewer"].id))
    db_session.commit()
    ctx.state["visit_import_id"] = row.id


def _fingerprint(ctx: Ctx) -> str:
    from portal.exports import visit_services
    from portal.exports.importer import plan_fingerprint
    from portal.exports.models import ExcelImport
    from portal.profiles.models import SecurityProfile
    from portal.validations.models import Validation

    with ctx.app.app_context():
        changes = visit_services.preview(db_session.get(ExcelImport, ctx.p("visit_import_id")),
                                         db_session.get(Validation, ctx.p("validation_id")),
                                         db_session.get(SecurityProfile, ctx.p("profile_id")))
        db_session.rollback()
        return plan_fingerprint(changes)


def _applied(response: Any, _data: dict[str, Any]) -> bool:
    applied = response.status_code == 302 and urlsplit(response.headers["Location"]).path.endswith("/verification")
    event(f"confirmation {'applied' if applied else 'refused'}")
    return applied


def _check_applied(ctx: Ctx, _data: dict[str, Any]) -> None:
    checks = list(db_session.scalars(select(ValidationCheck)))
    assert [(c.criterion_id, c.verified.value, c.notes) for c in checks] == [("1.1", "yes", "Seen at the gate.")]


@FUZZ
@given(data=st.data())
def test_the_import_confirmation_survives_hostile_input(ctx: Ctx, data: Any) -> None:
    if "visit_import_id" not in ctx.state:
        with ctx.app.app_context():
            _pending(ctx)
    real = _fingerprint(ctx)
    # The real fingerprint and no overwrite choice are drawn often (Hypothesis runs that exact example once).
    values = {"fingerprint": real if data.draw(st.booleans(), label="real fingerprint") else data.draw(
                  st.one_of(st.none(), junk), label="fingerprint"),
              "overwrite": None if data.draw(st.booleans(), label="no overwrite") else data.draw(
                  choice("1.1", "9.9"), label="overwrite")}
    spec = FormSpec(
        "reviewer",
        lambda ctx: f"/validations/{ctx.p('validation_id')}/verification/imports/{ctx.p('visit_import_id')}/apply",
        {}, watch=("validation_checks", "excel_imports"),
        # Nothing is in conflict, so no overwrite choice is offered: any posted one is refused.
        invalid=lambda d: d.get("fingerprint") != real or d.get("overwrite") is not None,
        accepted=_applied, check_stored=_check_applied, reset=_pending)
    run_example(ctx, spec, values)

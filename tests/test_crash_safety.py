"""Crash safety (issue 8 item 4; T3 of the security reference; ASVS 2.3.3): a process killed with SIGKILL
in the middle of a profile submission, or of an Excel import, leaves the database with all of the change
or none of it.

A child process (a small Python script) builds the app on the test's database and calls the service;
a step inside the service is replaced so that, with part of the work already flushed to the database
in the open transaction, it tells the parent and sleeps. The parent kills it with SIGKILL and checks
with its own connection: no version row without the status change, no review without its version,
no half-imported answers; on SQLite also ``PRAGMA integrity_check``. Then the same service runs to the
end in the parent, which shows the database is still usable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from portal.db import db_session
from tests import factories

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from tests.conftest import make_test_app
from portal.db import db_session

app = make_test_app({url!r}, __import__("pathlib").Path({tmp!r}))

def pause(*args, **kwargs):
    db_session.flush()                       # everything so far is in the open transaction
    print("IN-TRANSACTION", flush=True)      # the parent kills us now
    time.sleep(60)
    raise SystemExit("not killed")

with app.app_context():
{body}
    db_session.commit()
print("COMMITTED", flush=True)
"""


def run_and_kill(database_url: str, tmp_path: Path, body: str) -> None:
    """Run the child until it reports its open transaction, then SIGKILL it."""
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=str(ROOT), url=database_url, tmp=str(tmp_path),
                                   body=textwrap.indent(textwrap.dedent(body), "    ")))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=ROOT)
    try:
        line = child.stdout.readline()
        if line.strip() != "IN-TRANSACTION":
            child.kill()
            _, err = child.communicate(timeout=30)
            pytest.fail(f"the child did not reach the pause: {line!r}\n{err[-3000:]}")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL


def fresh_engine(database_url: str) -> Any:
    """A connection of our own (not the app's pool), as a restarted process would have."""
    return create_engine(database_url)


def integrity_ok(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        engine = fresh_engine(database_url)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        engine.dispose()


def test_a_submission_killed_midway_leaves_all_or_nothing(app: Any, cast: Any, database_url: str,
                                                          tmp_path: Path) -> None:
    from portal.profiles.models import ProfileVersion, SecurityProfile
    from portal.profiles.submission import submit_profile
    from portal.profiles.workflow import ProfileStatus
    from portal.reviews.models import Review

    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        db_session.commit()
        profile_id = profile.id
        audit_before = db_session.scalar(text("SELECT COUNT(*) FROM audit_events"))
        db_session.rollback()

    # Killed after the status change, the version row and the audit event were flushed, just before
    # the review is opened (the last step of ``submit_profile``).
    run_and_kill(database_url, tmp_path, f"""
        import portal.reviews.services as review_services
        from portal.auth.models import User
        from portal.profiles.models import SecurityProfile
        from portal.profiles.submission import submit_profile
        review_services.open_review = pause
        officer = db_session.get(User, {cast.users["officer_a"].id})
        submit_profile(db_session.get(SecurityProfile, {profile_id}), officer.full_name, by=officer)
    """)

    engine = fresh_engine(database_url)
    with engine.connect() as conn:
        status = conn.execute(select(SecurityProfile.status, SecurityProfile.current_version)
                              .where(SecurityProfile.id == profile_id)).one()
        versions = conn.execute(select(func.count()).select_from(ProfileVersion)
                                .where(ProfileVersion.profile_id == profile_id)).scalar()
        reviews = conn.execute(select(func.count()).select_from(Review).where(Review.profile_id == profile_id)).scalar()
        audit_after = conn.execute(text("SELECT COUNT(*) FROM audit_events")).scalar()
    engine.dispose()
    state = (ProfileStatus(status.status), status.current_version, versions, reviews)
    assert state == (ProfileStatus.DRAFT, 0, 0, 0), f"half a submission survived the crash: {state}"
    assert audit_after == audit_before
    integrity_ok(database_url)

    # The database is usable and the submission goes through in full afterwards.
    with app.app_context():
        profile = db_session.get(SecurityProfile, profile_id)
        from portal.auth.models import User

        version = submit_profile(profile, "Olivia Officer", by=db_session.get(User, cast.users["officer_a"].id))
        db_session.commit()
        assert version.number == 1
        assert db_session.scalar(select(func.count()).select_from(Review).where(Review.profile_id == profile_id)) == 1


def test_an_excel_import_killed_midway_leaves_all_or_nothing(app: Any, cast: Any, database_url: str,
                                                             tmp_path: Path) -> None:
    from portal.exports import services as export_services
    from portal.exports.importer import ParsedQuestionnaire, ParsedRow, plan_fingerprint
    from portal.exports.models import ExcelImport, ImportStatus
    from portal.profiles.models import Answer

    criteria = ["1.1", "1.2", "1.3", "1.4", "2.1"]
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        from portal.auth.models import User

        officer = db_session.get(User, cast.users["officer_a"].id)
        parsed = ParsedQuestionnaire(rows=[ParsedRow(row=n + 2, criterion_id=cid, status="implemented",
                                                     narrative=f"Imported answer for {cid}.", justification="")
                                           for n, cid in enumerate(criteria)])
        row = export_services.store_import(profile, parsed, "questionnaire.xlsx", by=officer)
        db_session.commit()
        import_id, profile_id = row.id, profile.id
        fingerprint = plan_fingerprint(export_services.preview(row, profile))
        db_session.rollback()

    # Killed after three of the five answers were saved (and flushed) in the import's transaction.
    run_and_kill(database_url, tmp_path, f"""
        import portal.exports.services as export_services
        from portal.auth.models import User
        from portal.exports.models import ExcelImport
        from portal.profiles.models import SecurityProfile
        real_save = export_services.save_answer
        calls = []
        def save_then_pause(*args, **kwargs):
            calls.append(1)
            if len(calls) == 4:
                pause()
            return real_save(*args, **kwargs)
        export_services.save_answer = save_then_pause
        officer = db_session.get(User, {cast.users["officer_a"].id})
        export_services.apply_import(db_session.get(ExcelImport, {import_id}),
                                     db_session.get(SecurityProfile, {profile_id}),
                                     fingerprint={fingerprint!r}, overwrite=set(), by=officer)
    """)

    engine = fresh_engine(database_url)
    with engine.connect() as conn:
        answers = conn.execute(select(func.count()).select_from(Answer).where(Answer.profile_id == profile_id)).scalar()
        status = conn.execute(select(ExcelImport.status).where(ExcelImport.id == import_id)).scalar()
    engine.dispose()
    assert answers == 0, f"{answers} of {len(criteria)} imported answers survived the crash"
    assert status in (ImportStatus.PENDING, ImportStatus.PENDING.value)
    integrity_ok(database_url)

    with app.app_context():
        from portal.auth.models import User
        from portal.profiles.models import SecurityProfile

        saved = export_services.apply_import(db_session.get(ExcelImport, import_id),
                                             db_session.get(SecurityProfile, profile_id), fingerprint=fingerprint,
                                             overwrite=set(), by=db_session.get(User, cast.users["officer_a"].id))
        db_session.commit()
        assert sorted(saved) == criteria

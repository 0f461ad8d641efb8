"""The CLI commands: staff user creation, demo data (idempotent), catalog check, outbox delivery."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from portal.auth.models import User
from portal.auth.roles import StaffRole
from portal.companies.models import Company, TradeAccount
from portal.companies.workflow import ApplicationStep
from portal.db import db_session
from portal.notifications.models import OutboxEmail


def test_users_create_makes_a_staff_account(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "New.Reviewer@CBP.example", "--role", "reviewer",
                                 "--password", "a-long-enough-passphrase"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db_session.scalar(select(User).where(User.email == "new.reviewer@cbp.example"))
        assert user is not None and user.staff_role == StaffRole.REVIEWER


def test_users_create_refuses_a_weak_password_and_creates_nothing(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "x@cbp.example", "--role", "admin",
                                 "--password", "short"])
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_data_is_idempotent_and_completes_the_applications(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0, first.output
    assert "officer@acme-imports.example" in first.output
    second = runner.invoke(args=["demo-data"])
    assert "already present" in second.output
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(User)) == 11
        assert db_session.scalar(select(func.count()).select_from(Company)) == 6
        steps = db_session.scalars(select(TradeAccount.application_step)).all()
        assert steps and all(step == ApplicationStep.COMPLETE for step in steps)
        # Profiles in every stage: drafting, in review, awaiting approval, certified.
        from portal.profiles.models import SecurityProfile
        from portal.reviews.models import Review

        statuses = sorted(s.value for s in db_session.scalars(select(SecurityProfile.status)))
        assert {"draft", "in_review", "approved"} <= set(statuses) and statuses.count("in_review") == 2
        assert {"decided", "in_progress", "recommended"} <= {s.value for s in db_session.scalars(select(Review.status))}
        account_statuses = [s.value for s in db_session.scalars(select(TradeAccount.status))]
        assert "certified" in account_statuses and "validated" in account_statuses


def test_demo_data_refused_in_production(app):
    app.config["ENV_NAME"] = "production"
    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code != 0 and "development only" in result.output


def test_catalog_check_reports_problems_and_passes_good_files(app, tmp_path: Path):
    from portal.catalog.loader import available_catalogs

    runner = app.test_cli_runner()
    good = available_catalogs()["msc-2023"]
    ok = runner.invoke(args=["catalog", "check", str(good)])
    assert ok.exit_code == 0 and "no problems" in ok.output
    broken = tmp_path / "broken.toml"
    broken.write_text(good.read_text().replace('id = "1.1"', 'id = "1.2"', 1), encoding="utf-8")
    bad = runner.invoke(args=["catalog", "check", str(broken)])
    assert bad.exit_code != 0
    assert "duplicate" in bad.output


def test_notify_send_writes_eml_files_once(app):
    from portal.notifications.mail import queue_email

    with app.app_context():
        queue_email("someone@example.com", "Subject\r\nBcc: evil@example.com", "Body")
        db_session.commit()
    runner = app.test_cli_runner()
    assert "Sent 1" in runner.invoke(args=["notify", "send"]).output
    assert "Sent 0" in runner.invoke(args=["notify", "send"]).output
    files = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    assert len(files) == 1
    content = files[0].read_text()
    assert "Bcc:" not in content.split("\n\n")[0].replace("Subject: Subject Bcc: evil@example.com", "")
    with app.app_context():
        assert db_session.scalar(select(OutboxEmail.sent_at)) is not None

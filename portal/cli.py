"""Thin click commands: database upgrade, user creation, demo data, catalog check, outbox delivery,
the monthly summary of decisions.

Each command parses its arguments, calls the same service the web uses, and commits once.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from portal.config import PROJECT_ROOT
from portal.db import db_session
from portal.errors import DomainError

db_cli = AppGroup("db", help="Database schema commands.")
users_cli = AppGroup("users", help="User accounts.")
notify_cli = AppGroup("notify", help="Notifications and e-mail.")
reviews_cli = AppGroup("reviews", help="Reviews and decisions.")


def alembic_config():  # noqa: ANN201 - alembic types are optional
    """The Alembic configuration pointed at this app's database."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    return config


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to date (creates it on an empty database)."""
    from alembic import command

    url = current_app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(), revision)
    click.secho(f"Database upgraded to {revision}.", fg="green")


@db_cli.command("analyze")
def db_analyze() -> None:
    """Refresh the query planner's statistics (daily from cron; PostgreSQL's autovacuum does it too).

    SQLite keeps none unless asked: without them it may count open reviews over a whole index instead
    of the partial one that holds only them (docs/PERFORMANCE.md §5.10).
    """
    from sqlalchemy import text

    if db_session.get_bind().dialect.name == "sqlite":
        # Sample at most 1,000 rows per index: seconds on a large file, enough for the planner.
        db_session.execute(text("PRAGMA analysis_limit=1000"))
    db_session.execute(text("ANALYZE"))
    db_session.commit()
    click.secho("Planner statistics refreshed.", fg="green")


@users_cli.command("create")
@click.option("--email", required=True, help="E-mail address (the sign-in name).")
@click.option("--role", required=True, type=click.Choice(["reviewer", "supervisor", "admin"]))
@click.option("--name", "full_name", default=None, help="Full name (defaults to the e-mail's local part).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Initial password (prompted when omitted).")
def users_create(email: str, role: str, full_name: str | None, password: str) -> None:
    """Create a CBP staff account."""
    from portal.auth.roles import StaffRole
    from portal.auth.services import create_staff_user

    try:
        user = create_staff_user(email, full_name or email.split("@")[0], StaffRole(role), password, by=None)
    except DomainError as error:
        db_session.rollback()
        raise click.ClickException(error.message) from None
    db_session.commit()
    click.secho(f"Created {role} {user.email}.", fg="green")


@users_cli.command("totp")
@click.argument("email")
def users_totp(email: str) -> None:
    """Print the current sign-in code of a demo account (development only; demo accounts are enrolled
    with a fixed, publicly known seed, so this works for no other account)."""
    from portal.auth.mfa import demo_code, seconds_left_in_step
    from portal.auth.services import get_user_by_email

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("Demo codes are for development only.")
    user = get_user_by_email(email)
    code = demo_code(user) if user is not None else None
    if code is None:
        raise click.ClickException(f"{email} is not a demo account enrolled with the demo seed.")
    click.echo(code)
    click.echo(f"Valid for {seconds_left_in_step()} more second(s); each code works once.", err=True)


@notify_cli.command("send")
@click.option("--limit", default=500, show_default=True)
def notify_send(limit: int) -> None:
    """Deliver queued e-mail (SMTP when configured, else .eml files under instance/outbox)."""
    from portal.notifications.mail import deliver_pending

    sent, failed = deliver_pending(limit=limit)
    click.echo(f"Sent {sent} message(s); {failed} failed and will be retried.")


@reviews_cli.command("rebuild-summary")
def reviews_rebuild_summary() -> None:
    """Recompute the monthly summary of decisions (the supervisor dashboard's chart and average) from
    the decided reviews, e.g. after reviews were imported or edited outside the portal."""
    from portal.reviews.decision_months import rebuild_decision_months

    rows = rebuild_decision_months()
    db_session.commit()
    click.secho(f"Monthly summary of decisions rebuilt: {rows} month and outcome row(s).", fg="green")


@click.command("demo-data")
@with_appcontext
def demo_data() -> None:
    """Load the demo accounts and companies (development only; running it twice changes nothing)."""
    from portal.demo import DEMO_PASSWORD, load_demo_data

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("Demo data is for development only.")
    created = load_demo_data()
    db_session.commit()
    click.secho("Demo data loaded." if created else "Demo data already present; nothing changed.", fg="green")
    click.echo(f"Demo sign-ins (password {DEMO_PASSWORD}):")
    from portal.demo import DEMO_USERS

    for email, _name, role in DEMO_USERS:
        click.echo(f"  {email:32} {role}")
    click.echo("CBP staff sign in with a second step: get the code with `flask --app wsgi users totp EMAIL`.")


def init_app(app: Flask) -> None:
    """Register the command groups on the app."""
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(notify_cli)
    app.cli.add_command(reviews_cli)
    app.cli.add_command(demo_data)
    app.cli.add_command(catalog_cli)


catalog_cli = AppGroup("catalog", help="MSC criteria catalogs.")


@catalog_cli.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def catalog_check(path: str) -> None:
    """Print every problem in a catalog TOML file; exit 1 if there is any."""
    from portal.catalog.loader import validate_catalog_file

    problems = validate_catalog_file(Path(path))
    if problems:
        for problem in problems:
            click.echo(f"- {problem}")
        raise click.ClickException(f"{len(problems)} problem(s) in {path}")
    click.secho(f"{path}: no problems.", fg="green")

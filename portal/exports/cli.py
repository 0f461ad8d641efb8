"""The ``flask --app wsgi export ...`` commands: the profile workbook and the review queue as .xlsx files.

They hang on the ``exports`` blueprint's CLI group (``cli_group="export"``), so Flask registers them with
the blueprint; ``portal.exports.routes`` imports this module at its end for that reason.
"""

from __future__ import annotations

from pathlib import Path

import click

from portal import audit
from portal.clock import utcnow
from portal.db import db_session
from portal.exports import queries
from portal.exports.list_exports import build_queue_export
from portal.exports.profile_workbook import Audience, build_profile_workbook
from portal.exports.routes import bp
from portal.profiles.services import profile_for_account
from portal.reviews import queue


@bp.cli.command("profile")
@click.argument("account_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the .xlsx file.")
@click.option("--partner", is_flag=True, help="The partner's copy (no CBP-only columns, no scores).")
@click.option("--version", "number", type=int, default=None, help="A submitted version (default: the latest).")
def export_profile_command(account_id: int, out: Path, partner: bool, number: int | None) -> None:
    """Write the profile workbook of trade account ACCOUNT_ID (the CBP validation copy by default)."""
    from portal.companies.models import TradeAccount

    account = db_session.get(TradeAccount, account_id)
    profile = profile_for_account(account) if account is not None else None
    if profile is None:
        raise click.ClickException(f"Trade account {account_id} has no security profile.")
    audience = Audience.PARTNER if partner else Audience.CBP
    data = queries.profile_workbook_data(profile, audience, number=number)
    if data is None:
        raise click.ClickException(f"The profile has no submitted version {number}.")
    build_profile_workbook(data, audience, out)
    db_session.commit()
    audit.record("export.visit_workbook" if audience == Audience.CBP else "export.profile_workbook",
                 company_id=account.company_id if account else None, obj=profile,
                 summary=f"CLI, {data.version_label}, {out.name}")
    db_session.commit()
    click.echo(f"Wrote {out} ({audience.value} copy, {data.version_label}, {len(data.criteria)} criteria).")


@bp.cli.command("queue")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the .xlsx file.")
@click.option("--status", default=None, help="open (default), all, or a review status.")
@click.option("--business-type", "business_type", default=None, help="A business type value, e.g. importer.")
@click.option("--assigned", type=click.Choice(["", "none"]), default="", help="none = only unassigned reviews.")
@click.option("--overdue", is_flag=True, help="Only reviews past the 90-day target.")
@click.option("--q", default=None, help="Search: company, account number or identifier.")
@click.option("--sort", default=None, help="submitted (default), days_left, company or status.")
@click.option("--desc", is_flag=True, help="Sort descending.")
def export_queue_command(out: Path, status: str | None, business_type: str | None, assigned: str, overdue: bool,
                         q: str | None, sort: str | None, desc: bool) -> None:
    """Write the review queue, filtered like the queue page, to an .xlsx file."""
    args = {"status": status, "business_type": business_type, "assigned": assigned, "overdue": "1" if overdue else "",
            "q": q, "sort": sort, "dir": "desc" if desc else ""}
    filters = queue.QueueFilters.from_args(args)
    order = queue.QueueSort.from_args(args)
    now = utcnow()
    # "Assigned to me" needs a person; the command has none, and the choice above excludes it.
    count = build_queue_export(queries.queue_rows(filters, order, user=None, now=now), out, exported_at=now,
                               criteria=[*filters.as_args().items(), *order.as_args().items()])
    db_session.commit()
    audit.record("export.queue", summary=f"CLI, {count} reviews; filters {filters.as_args() or 'none'}")
    db_session.commit()
    click.echo(f"Wrote {out} ({count} reviews).")

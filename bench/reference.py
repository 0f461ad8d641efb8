"""A reference page for bench.throughput: what "a simple 3-query templated page" measures on the same
database in the same run (``gunicorn bench.reference:app``, ``DATABASE_URL`` from the environment).

Issue 9's goal puts the category page at 0.12 of a bare Flask app and says such a page measures about
0.145 on this class of machine; that figure (reference/security-testing.md §3.1) was taken on SQLite.
This app is that page built the same way on the portal's own tables, so its ratio can be read beside
the category page's on SQLite and on PostgreSQL, where the database server shares the two cores with
the application and the load generator: a USWDS-like Jinja page with a 25-row table of trade
accounts, their companies and addresses, in 3 SQL statements (``selectinload``), through SQLAlchemy's
ORM with a plain engine. No sign-in, no session, no CSRF token, no permission check, no audit.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template
from jinja2 import DictLoader
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, load_only, selectinload

from portal.companies.models import Address, Company, TradeAccount
from portal.models import import_all_models

import_all_models()  # every mapped class, for the relationships
app = Flask(__name__)
engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///instance/bench/bench-10000.db"),
                       pool_size=5, max_overflow=5)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trade accounts</title>
<link rel="stylesheet" href="/static/vendor/uswds/css/uswds.min.css"></head>
<body><header class="usa-header usa-header--basic"><div class="usa-nav-container"><div class="usa-navbar">
<div class="usa-logo"><em class="usa-logo__text"><a href="/">CTPAT Portal</a></em></div></div></div></header>
<main class="grid-container" id="main-content"><h1>Trade accounts</h1>
<table class="usa-table usa-table--striped"><caption>Page 1 of the accounts</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Company</th><th scope="col">Type</th>
<th scope="col">Status</th><th scope="col">Addresses</th></tr></thead><tbody>
{% for account in accounts %}<tr><th scope="row">
<a class="usa-link" href="/accounts/{{ account.id }}">{{ account.account_number or account.id }}</a></th>
<td>{{ account.company.legal_name }}</td><td>{{ account.business_type.label }}</td><td>{{ account.status.value }}</td>
<td>{% for address in account.company.addresses %}{{ address.city }}{{ ", " if not loop.last }}{% endfor %}</td></tr>
{% endfor %}</tbody></table></main></body></html>"""


app.jinja_loader = DictLoader({"reference.html": PAGE})  # compiled once and cached, as a template file is


@app.get("/reference")
def reference() -> Any:
    with Session(engine) as session:
        # The columns the table shows: the portal's tables are wider than such a page's would be.
        accounts = session.scalars(
            select(TradeAccount).order_by(TradeAccount.id).limit(25)
            .options(load_only(TradeAccount.account_number, TradeAccount.business_type, TradeAccount.status,
                               TradeAccount.company_id),
                     selectinload(TradeAccount.company).load_only(Company.legal_name)
                     .selectinload(Company.addresses).load_only(Address.city, Address.company_id))).all()
        return render_template("reference.html", accounts=accounts)

"""Absolute links for e-mails and notifications, from a request or (CLI, cron) from BASE_URL."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for
from werkzeug.routing import IntegerConverter


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL to an endpoint, also outside a request (uses the BASE_URL setting)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: an id beyond what the database's integer columns hold (PostgreSQL
    ``integer``, 2**31 - 1) is no page, so it answers 404 instead of failing in the driver (a 500)."""

    def __init__(self, url_map: Any, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = 2**31 - 1, signed: bool = False) -> None:  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

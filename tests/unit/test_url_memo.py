"""The templates' memoized ``url_for`` (portal/templating.py) builds the same URLs as Flask's."""

from __future__ import annotations

import pytest
from flask import url_for

from portal.templating import _memoized_url_for
from tests.conftest import make_test_app

CALLS = [
    ("static", {"filename": "css/portal.css"}),
    ("static", {"filename": "js/portal.js"}),
    ("queue.index", {}),
    ("queue.index", {"page": 3, "status": "all"}),
    ("queue.index", {"status": "all", "page": 3}),
    ("queue.index", {"page": 4, "status": "all"}),
    ("profiles.category", {"profile_id": 7, "number": 2}),
    ("profiles.category", {"profile_id": 7, "number": 3}),
    ("reviews.review", {"review_id": 12}),
    ("queue.index", {"q": "Alpha & Sons", "page": 1}),
    ("queue.index", {"review_ids": [1, 2]}),  # a list: not hashable, built directly
    ("queue.index", {"_anchor": "results"}),  # an option: built directly
]


@pytest.fixture
def app(database_url, tmp_path):
    return make_test_app(database_url, tmp_path)


def test_memoized_urls_match_flask_in_any_order_and_again(app):
    memo = _memoized_url_for(app)
    with app.test_request_context("/"):
        for _ in range(2):  # the second round is served from the memo
            for endpoint, values in CALLS:
                assert memo(endpoint, **values) == url_for(endpoint, **values)


def test_the_application_root_is_part_of_the_key(app):
    memo = _memoized_url_for(app)
    with app.test_request_context("/", base_url="http://localhost/"):
        plain = memo("queue.index", page=2)
    with app.test_request_context("/", base_url="http://localhost/portal/"):
        mounted = memo("queue.index", page=2)
    assert plain == "/reviews?page=2" and mounted == "/portal/reviews?page=2"


def test_relative_endpoints_follow_the_blueprint_of_the_request(app):
    """".index" is the queue in the queue's pages and the audit trail in the audit's."""
    memo = _memoized_url_for(app)
    with app.test_request_context("/reviews"):  # matched on entry: blueprint "queue"
        queue = memo(".index")
    with app.test_request_context("/audit"):  # blueprint "audit"
        audit = memo(".index")
    assert (queue, audit) == ("/reviews", "/audit")


def test_a_page_of_the_portal_uses_it(app):
    assert app.jinja_env.globals["url_for"] is not app.url_for

"""The public Criteria library (issue 3 item 1, DESIGN.md §6): anonymous access, filters by business
type, category and catalog version, search, forgiving handling of bad filter values, escaping."""

from __future__ import annotations

import re

import pytest

from portal.catalog.loader import get_catalog
from portal.companies.business_types import BusinessType

FILTER_ERRORS = "data-filter-errors"


def shown_ids(html: str) -> list[str]:
    """The criterion IDs listed on a library page, in page order."""
    return re.findall(r'<li class="portal-criterion"[^>]*data-criterion="([^"]+)"', html)


def criterion_block(html: str, criterion_id: str) -> str:
    """The markup of one criterion's entry in the library."""
    start = rf'<li class="portal-criterion"[^>]*data-criterion="{re.escape(criterion_id)}">'
    match = re.search(start + r'(.*?)</li>\s*(?=<li class="portal-criterion"|</ul>)', html, re.S)
    assert match, f"criterion {criterion_id} is not listed"
    return match.group(1)


def level_tag(html: str, criterion_id: str) -> str:
    """The Must/Should tag shown in a criterion's heading."""
    heading = re.search(r"<h4[^>]*>(.*?)</h4>", criterion_block(html, criterion_id), re.S)
    assert heading
    tag = re.search(r'<span class="usa-tag[^"]*"[^>]*>(Must|Should)</span>', heading.group(1))
    assert tag, f"no Must/Should tag at {criterion_id}"
    return tag.group(1)


def count_text(html: str) -> str:
    match = re.search(r"<strong data-count>(.*?)</strong>", html)
    assert match
    return match.group(1)


def get_ok(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


# --- access and layout -------------------------------------------------------------------------

def test_anonymous_user_sees_the_whole_current_catalog(client):
    catalog = get_catalog()
    html = get_ok(client, "/criteria")
    assert shown_ids(html) == [c.id for c in catalog.criteria]
    musts = sum(1 for c in catalog.criteria if c.is_must)
    assert count_text(html) == f"{len(catalog.criteria)} criteria, {musts} Musts"
    assert FILTER_ERRORS not in html
    # Grouped by focus area, then category, in catalog order.
    area_headings = re.findall(r'<h2 id="focus-area-\d+"[^>]*>(.*?)</h2>', html)
    assert area_headings == [f"Focus area {a.number}: {a.title}" for a in catalog.focus_areas]
    assert re.findall(r'<h3 id="category-(\d+)"', html) == [str(c.number) for c in catalog.categories]


def test_library_page_shows_every_part_of_a_criterion(client):
    catalog = get_catalog()
    html = get_ok(client, "/criteria")
    with_checklist = next(c for c in catalog.criteria if c.checklist)
    block = criterion_block(html, with_checklist.id)
    for text in (with_checklist.title, with_checklist.requirement, with_checklist.guidance,
                 with_checklist.evidence, *with_checklist.checklist):
        assert text.replace("'", "&#39;").replace('"', "&#34;") in block
    assert "<details" in block and "<summary>" in block  # opens without JavaScript

    core = next(c for c in catalog.criteria if c.applies_to == frozenset(BusinessType))
    assert "<dd>All business types</dd>" in criterion_block(html, core.id)
    assert "<dd>Importer</dd>" in criterion_block(html, "3.9")


def test_nav_links_to_the_library_for_everyone(client, cast, login):
    html = get_ok(client, "/")
    assert 'href="/criteria"' in html and "Criteria library" in html
    login(cast.email("officer_a"))
    html = get_ok(client, "/dashboard")
    assert 'href="/criteria"' in html and "Criteria library" in html
    # Signed-in users read the same library.
    assert "3.9" in shown_ids(get_ok(client, "/criteria?business_type=importer"))


# --- filters -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("business_type", "present", "absent"),
    [
        ("importer", ["3.9"], ["3.8", "6.4"]),
        ("highway_carrier", ["3.8"], ["3.9", "6.4"]),
        ("air_carrier", ["6.4"], ["3.8", "3.9"]),
    ],
)
def test_filter_by_business_type(client, business_type, present, absent):
    html = get_ok(client, f"/criteria?business_type={business_type}")
    ids = shown_ids(html)
    for criterion_id in present:
        assert criterion_id in ids
    for criterion_id in absent:
        assert criterion_id not in ids
    expected = get_catalog().criteria_for(BusinessType(business_type))
    assert ids == [c.id for c in expected]
    assert f'<option value="{business_type}" selected>' in html


def test_filter_by_category(client):
    html = get_ok(client, "/criteria?category=6")
    ids = shown_ids(html)
    assert ids == [c.id for c in get_catalog().criteria_in(6)]
    assert all(i.startswith("6.") for i in ids)
    assert '<option value="6" selected>' in html


def test_business_type_and_category_combine(client):
    html = get_ok(client, "/criteria?business_type=air_carrier&category=6")
    assert shown_ids(html) == [c.id for c in get_catalog().criteria_in(6, BusinessType.AIR_CARRIER)]
    assert "6.4" in shown_ids(html)


def test_search_finds_a_word_in_the_requirement(client):
    html = get_ok(client, "/criteria?q=seal")
    ids = shown_ids(html)
    assert ids and "6.1" in ids
    for criterion_id in ids:
        assert "seal" in criterion_block(html, criterion_id).lower()
    assert "1.1" not in ids
    # The term is kept in the search box.
    assert re.search(r'<input[^>]*name="q"[^>]*value="seal"', html)


def test_search_is_case_insensitive_and_narrowed_by_business_type(client):
    everyone = shown_ids(get_ok(client, "/criteria?q=SEAL"))
    importer = shown_ids(get_ok(client, "/criteria?q=seal&business_type=importer"))
    assert everyone == shown_ids(get_ok(client, "/criteria?q=seal"))
    assert set(importer) < set(everyone)
    assert "6.4" in everyone and "6.4" not in importer


def test_search_by_criterion_id(client):
    html = get_ok(client, "/criteria?q=3.9")
    assert "3.9" in shown_ids(html)
    assert 'href="/criteria/msc-2023/3.9"' in html


def test_search_without_results_says_so(client):
    html = get_ok(client, "/criteria?q=zzzz-no-such-word")
    assert shown_ids(html) == []
    assert count_text(html) == "0 criteria, 0 Musts"
    assert "No criteria match" in html


def test_catalog_version_switch(client):
    current = get_ok(client, "/criteria")
    assert level_tag(current, "3.9") == "Must"
    old = get_ok(client, "/criteria?catalog=msc-2019")
    assert level_tag(old, "3.9") == "Should"
    assert '<option value="msc-2019" selected>' in old
    assert 'href="/criteria/msc-2019/3.9"' in old
    explicit = get_ok(client, "/criteria?catalog=msc-2023&q=3.9")
    assert level_tag(explicit, "3.9") == "Must"


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("business_type=space_agency", "There is no business type"),
        ("business_type=%ff%fe", "There is no business type"),
        ("category=99", "There is no category"),
        ("category=0", "There is no category"),
        ("category=-1", "There is no category"),
        ("category=abc", "There is no category"),
        ("category=" + "9" * 500, "There is no category"),
        ("catalog=msc-1999", "There is no catalog version"),
        ("catalog=../../etc/passwd", "There is no catalog version"),
    ],
)
def test_bad_filter_values_give_a_message_and_the_unfiltered_library(client, query, message):
    response = client.get(f"/criteria?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert FILTER_ERRORS in html and message in html
    assert shown_ids(html) == [c.id for c in get_catalog().criteria]


def test_a_nul_character_in_the_query_is_a_bad_request(client):
    """NUL reaches no form field legitimately (and PostgreSQL cannot store it): the 400 page says so."""
    response = client.get("/criteria?business_type=%00%ff")
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_a_bad_filter_keeps_the_good_ones(client):
    html = get_ok(client, "/criteria?business_type=nope&category=6&catalog=msc-2019")
    assert "There is no business type" in html
    assert shown_ids(html) == [c.id for c in get_catalog("msc-2019").criteria_in(6)]


def test_overlong_search_is_shortened_not_refused(client):
    html = get_ok(client, "/criteria?q=" + "seal " * 100)
    assert "shortened to 100 characters" in html


@pytest.mark.parametrize(
    "payload",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "<svg/onload=alert(1)>"],
)
def test_search_term_is_escaped_when_echoed(client, payload):
    response = client.get("/criteria", query_string={"q": payload})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert payload not in html
    assert "<script>alert" not in html and "<img src=x" not in html and "<svg/onload" not in html
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    assert f'<span data-query>{escaped}</span>' in html  # echoed in the result summary, escaped
    assert re.search(rf'<input[^>]*name="q"[^>]*value="{re.escape(escaped)}"', html)  # and in the box
    # The bad values in the filter messages are escaped too.
    bad = client.get("/criteria", query_string={"business_type": payload, "catalog": payload}).get_data(as_text=True)
    assert payload not in bad and "<script>alert" not in bad
    assert "There is no business type" in bad and "There is no catalog version" in bad


# --- the criterion page ----------------------------------------------------------------------------

def test_criterion_page(client):
    html = get_ok(client, "/criteria/msc-2023/3.9")
    criterion = get_catalog().criterion("3.9")
    assert criterion.title in html and criterion.requirement in html
    assert re.search(r"<h1>.*?>Must</span>.*?</h1>", html, re.S)
    assert 'href="/criteria/msc-2019/3.9"' in html  # the same criterion in the older version
    old = get_ok(client, "/criteria/msc-2019/3.9")
    assert re.search(r"<h1>.*?>Should</span>.*?</h1>", old, re.S)


@pytest.mark.parametrize(
    "url",
    ["/criteria/msc-2023/99.9", "/criteria/msc-2023/3.99", "/criteria/msc-1999/3.9",
     "/criteria/msc-2023/%3Cscript%3E", "/criteria/msc-2023/"],
)
def test_unknown_criterion_is_404(client, url):
    assert client.get(url).status_code == 404

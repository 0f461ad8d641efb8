"""Pagination shared by the list pages (review queue, inbox, audit trail): the page number from the
query string and the page links of the USWDS pagination component."""

from __future__ import annotations

from typing import Any


def parse_page(raw: Any) -> int:
    """A page number from the query string: anything that is not a positive integer is page 1."""
    try:
        page = int(str(raw).strip())
    except (TypeError, ValueError):
        return 1
    return page if page >= 1 else 1


def page_numbers(page: int, pages: int, around: int = 1) -> list[int | None]:
    """Page links for the pagination component: first, last and the current page's neighbours;
    ``None`` marks an ellipsis."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    result: list[int | None] = []
    for number in shown:
        if result and number - (result[-1] or 0) > 1:
            result.append(number - 1 if number - (result[-1] or 0) == 2 else None)
        result.append(number)
    return result

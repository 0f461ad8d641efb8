"""Pagination shared by the list pages (review queue, inbox, audit trail): the page number from the
query string and the page links of the USWDS pagination component."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Excerpt:
    """Part of a list computed in full: its first rows on a dashboard, or one page of it when the list
    is opened (``expanded``)."""

    rows: Sequence[Any]
    total: int
    expanded: bool
    page: int = 1
    pages: int = 1
    per_page: int = 0

    @property
    def more(self) -> int:
        """Rows left out on the dashboard (0 once the list is opened)."""
        return 0 if self.expanded else self.total - len(self.rows)

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.rows) - 1 if self.rows else 0

    @property
    def numbers(self) -> list[int | None]:
        return page_numbers(self.page, self.pages)


def excerpt(rows: Sequence[Any], *, expanded: bool, page: int = 1, shown: int = 25, per_page: int = 100) -> Excerpt:
    """The first ``shown`` rows, or page ``page`` of ``per_page`` rows (clamped to the last page)."""
    if not expanded:
        return Excerpt(rows[:shown], len(rows), False, per_page=shown)
    pages = max(1, math.ceil(len(rows) / per_page))
    page = min(max(1, page), pages)
    return Excerpt(rows[(page - 1) * per_page:page * per_page], len(rows), True, page, pages, per_page)

"""The review queue's parameters from the query string: filters, sort and page number, with their
choices and defaults, and the query-string arguments that link back to the same view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal.companies.business_types import BusinessType
from portal.reviews.workflow import ReviewStatus

PER_PAGE = 25
SEARCH_MAX = 100

STATUS_OPEN = "open"
STATUS_ALL = "all"
STATUS_CHOICES: dict[str, str] = {STATUS_OPEN: "Open (not decided)",
                                  **{status.value: status.label for status in ReviewStatus},
                                  STATUS_ALL: "All"}

ASSIGNED_CHOICES: dict[str, str] = {"": "Anyone or nobody", "me": "Assigned to me", "none": "Unassigned"}

SORT_LABELS: dict[str, str] = {"submitted": "Date submitted", "days_left": "Days left", "company": "Company",
                               "status": "Status"}
DEFAULT_SORT = "submitted"


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows. Unknown values from the query string fall back to the defaults."""

    status: str = STATUS_OPEN          # "open" (not decided), "all", or a ReviewStatus value
    business_type: BusinessType | None = None
    assigned: str = ""                 # "" (anyone), "me", "none"
    overdue: bool = False
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> QueueFilters:
        status = str(args.get("status") or STATUS_OPEN)
        if status not in STATUS_CHOICES:
            status = STATUS_OPEN
        try:
            business_type = BusinessType(args.get("business_type") or "")
        except ValueError:
            business_type = None
        assigned = str(args.get("assigned") or "")
        if assigned not in ASSIGNED_CHOICES:
            assigned = ""
        overdue = str(args.get("overdue") or "").lower() in {"1", "y", "yes", "on", "true"}
        q = " ".join(str(args.get("q") or "").split())[:SEARCH_MAX]
        return cls(status=status, business_type=business_type, assigned=assigned, overdue=overdue, q=q)

    def as_args(self) -> dict[str, str]:
        """The filters that differ from the defaults, as query-string arguments for links."""
        args: dict[str, str] = {}
        if self.status != STATUS_OPEN:
            args["status"] = self.status
        if self.business_type is not None:
            args["business_type"] = self.business_type.value
        if self.assigned:
            args["assigned"] = self.assigned
        if self.overdue:
            args["overdue"] = "1"
        if self.q:
            args["q"] = self.q
        return args

    @property
    def active(self) -> bool:
        return bool(self.as_args())


@dataclass(frozen=True)
class QueueSort:
    """The queue's order: oldest submission first unless asked otherwise."""

    key: str = DEFAULT_SORT
    descending: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> QueueSort:
        key = str(args.get("sort") or DEFAULT_SORT)
        if key not in SORT_LABELS:
            key = DEFAULT_SORT
        return cls(key=key, descending=str(args.get("dir") or "") == "desc")

    def as_args(self) -> dict[str, str]:
        args: dict[str, str] = {}
        if self.key != DEFAULT_SORT:
            args["sort"] = self.key
        if self.descending:
            args["dir"] = "desc"
        return args

    def toggled(self, key: str) -> QueueSort:
        """The sort a column header links to: the other direction on the current column."""
        if key == self.key:
            return QueueSort(key=key, descending=not self.descending)
        return QueueSort(key=key)

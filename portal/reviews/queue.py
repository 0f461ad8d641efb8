"""Reads for the review queue (the dashboards are in ``dashboards.py``, the inbox in notifications).

The queue page is one statement whatever the number of rows: the page's review ids in a subquery,
those reviews joined to profile, account, company and reviewer, with the headquarters country as a
correlated subquery and the queue's total as an uncorrelated one (``_statements``). The start of a
review's 90-day clock is stored on the review when its version is submitted (``services.clock_start``),
so the overdue filter and the order by days left are index ranges. Nothing in a row is loaded lazily
(DESIGN.md §7, issue 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
)

from portal import clock
from portal.auth.models import User
from portal.companies.business_types import BusinessType
from portal.companies.models import Address, BusinessIdentifier, Company, TradeAccount
from portal.companies.workflow import AddressKind
from portal.db import UTCDateTime, db_session
from portal.profiles.models import SecurityProfile
from portal.reviews.models import Review
from portal.reviews.queue_filters import (  # noqa: F401 - the queue's parameters, re-exported for its callers
    ASSIGNED_CHOICES,
    DEFAULT_SORT,
    PER_PAGE,
    SEARCH_MAX,
    SORT_LABELS,
    STATUS_ALL,
    STATUS_CHOICES,
    STATUS_OPEN,
    QueueFilters,
    QueueSort,
)
from portal.reviews.workflow import Recommendation, ReviewStatus

TARGET_DAYS = 90
"""Certification target: within 90 days of receiving the application (6 U.S.C. 964(c))."""

_STATUS_ORDER = {status: index for index, status in enumerate(ReviewStatus)}


# -- the queue page --------------------------------------------------------------------------------


class QueueRow(NamedTuple):
    """One review in the queue, flat: everything the table needs without touching the session.

    A named tuple, not a dataclass: a row is also its own key in the row cache (queue_routes), and a
    tuple is built, hashed and compared in C, where a frozen dataclass's ``__init__``, ``__hash__`` and
    ``__eq__`` are Python functions that cost more than the cached row's lookup itself.
    """

    review_id: int
    profile_id: int
    account_id: int
    company_id: int
    company_name: str
    dba: str | None
    business_type: BusinessType
    account_number: str | None
    country: str | None
    version: int
    submitted_at: datetime
    target_at: datetime
    days_left: int | None          # None once decided
    overdue: bool
    reviewer_id: int | None
    reviewer_name: str | None
    status: ReviewStatus
    recommendation: Recommendation | None

    @property
    def company_display(self) -> str:
        return f"{self.company_name} (DBA {self.dba})" if self.dba else self.company_name


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.per_page + len(self.rows)


def _hq_country() -> Any:
    """The company's headquarters country as a correlated subquery (no per-row query)."""
    return (select(Address.country)
            .where(Address.company_id == Company.id, Address.kind == AddressKind.HEADQUARTERS)
            .order_by(Address.id).limit(1)
            .correlate(Company).scalar_subquery())


def join_review_context(stmt: Select[Any]) -> Select[Any]:
    return (stmt.join(SecurityProfile, SecurityProfile.id == Review.profile_id)
            .join(TradeAccount, TradeAccount.id == SecurityProfile.account_id)
            .join(Company, Company.id == TradeAccount.company_id))


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(compact: bool) -> ColumnElement[bool]:
    """Legal name or DBA, account number, or any business identifier value (case-insensitive), against
    the bound ``pattern`` (and ``compact_pattern``: the search without spaces and dashes)."""
    pattern = bindparam("pattern", type_=String)
    identifier_match = BusinessIdentifier.value.ilike(pattern, escape="\\")
    if compact:
        # Identifiers keep their standard dashes (IOR 36-4812345); a search typed without them still finds it.
        identifier_match = or_(identifier_match, func.replace(BusinessIdentifier.value, "-", "")
                               .ilike(bindparam("compact_pattern", type_=String), escape="\\"))
    return or_(
        Company.legal_name.ilike(pattern, escape="\\"),
        Company.dba.ilike(pattern, escape="\\"),
        TradeAccount.account_number.ilike(pattern, escape="\\"),
        exists(select(BusinessIdentifier.id).where(BusinessIdentifier.account_id == TradeAccount.id,
                                                   identifier_match)).correlate(TradeAccount),
    )


def _compact(q: str) -> str:
    return "".join(ch for ch in q if ch not in " -")


# Open reviews, with the literal the partial index ix_reviews_open_submitted_at is defined with: a bound
# parameter would not let SQLite (or PostgreSQL's generic plans) prove that the index applies.
OPEN_REVIEW: ColumnElement[bool] = Review.status != literal_column(f"'{ReviewStatus.DECIDED.value}'")


def _conditions(filters: QueueFilters) -> list[Any]:
    """The filters as conditions on bound parameters (``user_id``, ``cutoff``, ``pattern``, ...), so that
    one built statement serves every user, day and search text (``_statements``)."""
    conditions: list[Any] = []
    if filters.status == STATUS_OPEN:
        conditions.append(OPEN_REVIEW)
    elif filters.status != STATUS_ALL:
        conditions.append(Review.status == ReviewStatus(filters.status))
    if filters.business_type is not None:
        conditions.append(TradeAccount.business_type == filters.business_type)
    if filters.assigned == "me":
        conditions.append(Review.reviewer_id == bindparam("user_id", type_=Integer))
    elif filters.assigned == "none":
        conditions.append(Review.reviewer_id.is_(None))
    if filters.overdue:
        # Open reviews only, spelled as the partial indexes are: a range of ix_reviews_open_clock_started_at
        # (or of ix_reviews_open_reviewer_clock for "mine").
        conditions.append(and_(OPEN_REVIEW, Review.clock_started_at < bindparam("cutoff", type_=UTCDateTime())))
    if filters.q:
        conditions.append(_search(bool(_compact(filters.q))))
    return conditions


def _order(sort: QueueSort) -> list[Any]:
    key = {
        "submitted": Review.submitted_at,
        "days_left": Review.clock_started_at,
        "company": func.lower(Company.legal_name),
        "status": case(_STATUS_ORDER, value=Review.status),
    }[sort.key]
    direction = (lambda column: column.desc()) if sort.descending else (lambda column: column.asc())
    order = [direction(key)]
    if sort.key != "submitted":
        order.append(Review.submitted_at.asc())
    order.append(direction(Review.id))
    return order


def days_left(target_at: datetime, now: datetime) -> int:
    """Calendar days (UTC) from today to the target date: 0 on the day itself, negative once the
    target date has passed (overdue)."""
    return (target_at.astimezone(UTC).date() - now.astimezone(UTC).date()).days


def overdue_cutoff(now: datetime) -> datetime:
    """Reviews whose clock started before this instant are past their target date: the target date
    (start date + 90 days) is before today (UTC)."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=TARGET_DAYS), time.min, tzinfo=UTC)


def _needs_context(filters: QueueFilters, sort: QueueSort) -> bool:
    """Whether a filter or the order reads the joined tables (account, company, identifiers).

    The default queue (open reviews, newest or oldest first or by days left, mine or unassigned,
    overdue or not) reads ``reviews`` alone, so its count and its page of ids need no join: at program
    scale the joins over every open review, not the page, were what made page 100 slower than page 1
    (docs/PERFORMANCE.md §5.1).
    """
    return filters.business_type is not None or bool(filters.q) or sort.key == "company"


# The largest OFFSET the page statement is sent with (a signed 32-bit integer on both databases' side).
MAX_OFFSET = 2**31 - 1


@lru_cache(maxsize=256)
def _statements(filters: QueueFilters, sort: QueueSort) -> tuple[Select[Any], Select[Any]]:
    """The page of one shape of queue, with its total, in one statement; and the COUNT alone, for a
    page with no row (an empty queue, or a page past the end). Built once per shape.

    The page statement reads the page's review ids in a subquery (LIMIT and OFFSET over ``reviews``
    alone when no filter needs the joins), then joins the rows' tables and correlated subqueries to
    those ids only (a deferred join: the subqueries run 25 times, not OFFSET + 25 times). The total is
    an uncorrelated scalar subquery, which both databases run once per statement. One statement instead
    of three saves two round trips and two passes through the ORM's session per page
    (docs/PERFORMANCE.md §5.17), and reads count and rows from one snapshot.

    Building these statements cost more than running them (a page of the queue is requested all
    day); the values that differ between requests are bound parameters. ``filters.q`` is part of
    the cache key only through whether it is empty and whether it has a compact form, never its text.
    """
    conditions = _conditions(filters)
    context = _needs_context(filters, sort)

    def scoped(stmt: Select[Any]) -> Select[Any]:
        stmt = stmt.select_from(Review)
        return (join_review_context(stmt) if context else stmt).where(*conditions)

    # Not correlated to the outer statement's ``reviews``: it counts the whole queue.
    count = scoped(select(func.count(Review.id))).correlate(None)
    # LIMIT and OFFSET are written into the statement when it runs (one text per page size and page),
    # not sent as parameters: with them unknown, PostgreSQL's generic plan of a prepared statement
    # assumes a tenth of the queue is read and skipped, costs more than a plan for page 1, and is never
    # chosen, so the statement was planned again at every execution (about 1 ms of the server's time).
    page_ids = (scoped(select(Review.id.label("id"))).order_by(*_order(sort))
                .limit(bindparam("limit", type_=Integer, literal_execute=True))
                .offset(bindparam("offset", type_=Integer, literal_execute=True))
                .subquery("page_ids"))
    rows = (
        join_review_context(select(  # the columns in the order queue_page unpacks them
            count.scalar_subquery().label("total"),
            Review.id, Review.profile_id, Review.version_number, Review.status, Review.submitted_at,
            Review.reviewer_id, Review.recommendation, SecurityProfile.account_id, TradeAccount.company_id,
            TradeAccount.business_type, TradeAccount.account_number, Company.legal_name, Company.dba,
            _hq_country().label("country"), User.full_name.label("reviewer_name"),
            Review.clock_started_at,
        ).select_from(page_ids).join(Review, Review.id == page_ids.c.id))
        .outerjoin(User, User.id == Review.reviewer_id)
        # The page's 25 rows put in the order again by the same expressions: numbering the ids in the
        # subquery instead (row_number) cost PostgreSQL 1.4 ms at page 100, over the 2,500 rows before it.
        .order_by(*_order(sort))
    )
    return rows, count


def _shape(filters: QueueFilters) -> QueueFilters:
    """The filters as a cache key of ``_statements``: the search text reduced to what changes the SQL."""
    if not filters.q:
        return filters
    return replace(filters, q="compact" if _compact(filters.q) else " ")


def queue_page(filters: QueueFilters, sort: QueueSort, page: int, per_page: int = PER_PAGE, *, user: User,
               now: datetime | None = None) -> QueuePage:
    """One page of the review queue, with the total, in one statement (``_statements``).

    ``page`` is clamped: below 1 is the first page, beyond the end is the last page. A page that reads no
    row (an empty queue, or a page past the end) asks for the total alone, and then for the last page.
    """
    now = now or clock.utcnow()
    per_page = max(1, per_page)
    page = max(1, page)
    rows_stmt, count_stmt = _statements(_shape(filters), sort)
    params: dict[str, Any] = {"user_id": getattr(user, "id", None), "cutoff": overdue_cutoff(now),
                              "limit": per_page}
    if filters.q:
        params["pattern"] = _like_pattern(filters.q)
        params["compact_pattern"] = _like_pattern(_compact(filters.q))
    # An offset no database can take (page 10**30) is past the end of any queue.
    offset = (page - 1) * per_page
    found = db_session.execute(rows_stmt, {**params, "offset": offset}).all() if offset <= MAX_OFFSET else []
    if found:
        total = found[0].total
    else:
        total = db_session.scalar(count_stmt, params) or 0
        last = max(1, math.ceil(total / per_page))
        if total and page > last:
            page = last
            found = db_session.execute(rows_stmt, {**params, "offset": (page - 1) * per_page}).all()
            total = found[0].total if found else total
        else:
            page = min(page, last)
    pages = max(1, math.ceil(total / per_page))
    rows = []
    # Unpacked by position, in the order of the statement's columns (``_statements``): a Row's attribute
    # costs ten times its index, and a page reads 17 of them per row.
    for (_total, review_id, profile_id, version, status, submitted_at, reviewer_id, recommendation, account_id,
         company_id, business_type, account_number, legal_name, dba, country, reviewer_name, clock_started_at) in found:
        target_at = clock_started_at + timedelta(days=TARGET_DAYS)
        left = None if status == ReviewStatus.DECIDED else days_left(target_at, now)
        rows.append(QueueRow(
            review_id=review_id, profile_id=profile_id, account_id=account_id, company_id=company_id,
            company_name=legal_name, dba=dba, business_type=business_type, account_number=account_number,
            country=country, version=version, submitted_at=submitted_at, target_at=target_at, days_left=left,
            overdue=left is not None and left < 0, reviewer_id=reviewer_id, reviewer_name=reviewer_name,
            status=status, recommendation=recommendation,
        ))
    return QueuePage(rows=rows, total=total, page=page, pages=pages, per_page=per_page)

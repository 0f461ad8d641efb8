"""Reads for security profiles: loaders that 404, and the per-category page data in a fixed
number of queries whatever the number of criteria."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import abort, g
from sqlalchemy import Select, String, and_, bindparam, cast, func, literal_column, null, select, text, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Load, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.action_plans.models import ActionPlan
from portal.auth.models import User
from portal.catalog.schema import Catalog, Category, Criterion
from portal.companies.models import Company, TradeAccount
from portal.db import db_session
from portal.profiles.models import Answer, EvidenceFile, EvidenceLink, ProfileVersion, SecurityProfile
from portal.profiles.services import NOT_READ, NotRead, catalog_of
from portal.security import ReadWithUser


@lru_cache(maxsize=1)
def _profile_statement() -> Any:
    """Built once: every profile page runs it."""
    return (select(SecurityProfile).where(SecurityProfile.id == bindparam("profile_id"))
            .options(joinedload(SecurityProfile.account).joinedload(TradeAccount.company)))


def _with_profile(user_statement: Select[Any], _dialect: str) -> Select[Any]:
    """The signed-in user's statement with the profile of the page, its account and company outer-joined."""
    return _joined_profile(user_statement)


def _joined_profile(statement: Select[Any], *options: Any) -> Select[Any]:
    """``statement`` with the profile of ``:profile_id``, its account and its company as three entities
    outer-joined to the user's row (NULLs when the profile does not exist). Three entities cost fewer
    instructions to load than one entity with two joined eager loads (no aliasing, no eager adapters);
    ``_attached`` then links them as the relationships would."""
    from portal.auth.models import User

    return (statement.add_columns(SecurityProfile, TradeAccount, Company)
            .join_from(User, SecurityProfile, SecurityProfile.id == bindparam("profile_id"), isouter=True)
            .join(TradeAccount, TradeAccount.id == SecurityProfile.account_id, isouter=True)
            .join(Company, Company.id == TradeAccount.company_id, isouter=True)
            .options(*options))


def _attached(profile: SecurityProfile | None, account: TradeAccount | None,
              company: Company | None) -> SecurityProfile | None:
    """``profile`` with its account and company set as loaded (no lazy load on first access)."""
    if profile is not None:
        set_committed_value(profile, "account", account)
        set_committed_value(account, "company", company)
    return profile


def _keep_profile_read(view_args: dict[str, Any], columns: Sequence[Any]) -> None:
    g.profile_read = (view_args["profile_id"], _attached(*columns[:3]))


# The profile of a page about one profile, read with the signed-in user (portal/security.py).
PROFILE_READ = ReadWithUser(
    extend=_with_profile,
    parameters=lambda args: {"profile_id": args["profile_id"]} if isinstance(args.get("profile_id"), int) else None,
    keep=_keep_profile_read,
)


def _with_profile_and_answer(user_statement: Select[Any], _dialect: str) -> Select[Any]:
    """The signed-in user's statement with the profile (account, company) and the stored answer of the
    criterion ``:criterion_id`` outer-joined (NULLs when either does not exist)."""
    return (_joined_profile(user_statement).add_columns(Answer)
            .join_from(SecurityProfile, Answer, and_(Answer.profile_id == SecurityProfile.id,
                                                     Answer.criterion_id == bindparam("criterion_id")),
                       isouter=True))


def _keep_profile_and_answer(view_args: dict[str, Any], columns: Sequence[Any]) -> None:
    g.profile_read = (view_args["profile_id"], _attached(*columns[:3]))
    g.answer_read = (view_args["profile_id"], view_args["criterion_id"], columns[3])


# Autosave's profile and the answer it saves, read with the signed-in user (portal/security.py): the
# save is then one round trip shorter on PostgreSQL.
AUTOSAVE_READ = ReadWithUser(
    extend=_with_profile_and_answer,
    parameters=lambda args: {"profile_id": args["profile_id"], "criterion_id": args["criterion_id"]}
    if isinstance(args.get("profile_id"), int) and isinstance(args.get("criterion_id"), str) else None,
    keep=_keep_profile_and_answer,
)


def get_profile_or_404(profile_id: int) -> SecurityProfile:
    """The profile with its account and company, or 404; taken from the statement that loaded the
    signed-in user when the page registered ``PROFILE_READ``."""
    kept = g.pop("profile_read", None)
    if kept is not None and kept[0] == profile_id:
        profile = kept[1]
    else:
        profile = db_session.scalar(_profile_statement(), {"profile_id": profile_id})
    if profile is None:
        abort(404)
    return profile


def get_version_or_404(profile: SecurityProfile, number: int) -> ProfileVersion:
    version = db_session.scalar(
        select(ProfileVersion).where(ProfileVersion.profile_id == profile.id, ProfileVersion.number == number)
        .options(joinedload(ProfileVersion.submitted_by))
    )
    if version is None:
        abort(404)
    return version


def get_category_or_404(catalog: Catalog, profile: SecurityProfile, number: int) -> Category:
    categories = {c.number: c for c in catalog.categories_for(profile.account.business_type)}
    if number not in categories:
        abort(404)
    return categories[number]


def stored_answer(profile: SecurityProfile, criterion_id: str) -> Answer | None | NotRead:
    """The answer to ``criterion_id`` read with the signed-in user (``AUTOSAVE_READ``), or ``NOT_READ``
    when the page did not read it (``services.save_answer`` then reads it)."""
    kept = g.pop("answer_read", None)
    if kept is not None and kept[:2] == (profile.id, criterion_id):
        return kept[2]
    return NOT_READ


def answers_of(profile: SecurityProfile) -> dict[str, Answer]:
    return {a.criterion_id: a for a in db_session.scalars(select(Answer).where(Answer.profile_id == profile.id))}


@dataclass
class CategoryPage:
    """Everything the category page shows, loaded in a constant number of queries."""

    category: Category
    criteria: tuple[Criterion, ...]
    answers: dict[str, Answer]
    links: dict[str, list[EvidenceLink]]
    plans: dict[str, list[ActionPlan]]
    library: list[EvidenceFile]


def criteria_of(profile: SecurityProfile, category: Category) -> tuple[Criterion, ...]:
    """The criteria of one category that apply to the profile's business type."""
    return tuple(catalog_of(profile).criteria_in(category, profile.account.business_type))


def category_page(profile: SecurityProfile, category: Category) -> CategoryPage:
    criteria = criteria_of(profile, category)
    ids = [c.id for c in criteria]
    answers = {a.criterion_id: a for a in db_session.scalars(
        select(Answer).where(Answer.profile_id == profile.id, Answer.criterion_id.in_(ids))
        .options(selectinload(Answer.updated_by)))}
    links: dict[str, list[EvidenceLink]] = {}
    for link in db_session.scalars(select(EvidenceLink).where(EvidenceLink.profile_id == profile.id,
                                                              EvidenceLink.criterion_id.in_(ids))
                                   .options(joinedload(EvidenceLink.evidence)).order_by(EvidenceLink.id)):
        links.setdefault(link.criterion_id, []).append(link)
    plans: dict[str, list[ActionPlan]] = {}
    for plan in db_session.scalars(select(ActionPlan).where(ActionPlan.profile_id == profile.id,
                                                            ActionPlan.criterion_id.in_(ids))
                                   .options(selectinload(ActionPlan.owner_user)).order_by(ActionPlan.id)):
        plans.setdefault(plan.criterion_id, []).append(plan)
    library = list(db_session.scalars(select(EvidenceFile).where(EvidenceFile.company_id ==
                                                                 profile.account.company_id)
                                      .order_by(EvidenceFile.original_name)))
    return CategoryPage(category=category, criteria=criteria, answers=answers, links=links, plans=plans,
                        library=library)


def _text(column: Any) -> Any:
    return cast(column, String)


def _encoded(value: Any) -> Any:
    """A text value that cannot run into its neighbours once concatenated: its length, a colon and
    the value, or "~" for NULL (the concatenation is NULL then). The rows of a fingerprint can then be
    joined without a separator and two different sets of rows never give the same string."""
    return func.coalesce(_text(func.length(value)) + _sql_text(":") + value, _sql_text("~"))


def _sql_text(value: str) -> Any:
    """A constant written into the statement rather than sent as a parameter."""
    return literal_column("'" + value.replace("'", "''") + "'", String)


@lru_cache(maxsize=4)
def _category_fingerprint(dialect: str) -> Any:
    """The fingerprint of one category of a profile, as a scalar subquery labelled "fingerprint", read in
    the profile's statement: one round trip where two cost a quarter of the page's throughput on
    PostgreSQL (docs/PERFORMANCE.md §5.12). Built once per dialect: constructing it costs more than
    running it.

    The fingerprint is every answer, evidence link, library document and action plan the category
    shows, as the values their rendering depends on: an answer's and a plan's optimistic-locking
    version (every change of their text, status or dates moves it on), the names of the users shown
    beside them, and the document fields shown in lists and choices. Rows added or removed change it
    too. The category's criteria are those whose ID starts with its number and a dot (the catalog
    loader enforces "category.number"); the rows of criteria that do not apply to the business type
    only make the key more specific.
    """
    profile_id = bindparam("profile_id")
    # The category's criterion IDs lie between "N." and "N/" ("/" follows "." in byte order): a range of
    # the (profile, criterion) indexes on SQLite, where LIKE read every row of the profile (0.3 ms). On
    # PostgreSQL the comparison is made in the "C" collation: a locale's collation may ignore
    # punctuation and put "1.5" after "1/", which would leave a row out of the key.
    first, after = bindparam("criterion_from", type_=String), bindparam("criterion_to", type_=String)

    def in_category(column: Any) -> Any:
        if dialect == "postgresql":
            column = column.collate("C")
        return and_(column >= first, column < after)

    editor = User.__table__.alias("editor")
    owner = User.__table__.alias("owner")
    blank = cast(null(), String)
    company_id = (select(TradeAccount.company_id).join(SecurityProfile, SecurityProfile.account_id == TradeAccount.id)
                  .where(SecurityProfile.id == profile_id).scalar_subquery())
    # Named columns: the union's columns are read by name below, and two unnamed NULLs would share one.
    answers = (select(_sql_text("a").label("c1"), Answer.criterion_id.label("c2"), _text(Answer.version).label("c3"),
                      editor.c.full_name.label("c4"), blank.label("c5"), blank.label("c6"))
               .outerjoin(editor, editor.c.id == Answer.updated_by_id)
               .where(Answer.profile_id == profile_id, in_category(Answer.criterion_id)))
    links = (select(_sql_text("l"), EvidenceLink.criterion_id, _text(EvidenceLink.id), _text(EvidenceLink.evidence_id),
                    blank, blank)
             .where(EvidenceLink.profile_id == profile_id, in_category(EvidenceLink.criterion_id)))
    # Linked documents belong to the company's library, so the library rows cover their fields.
    library = (select(_sql_text("f"), _text(EvidenceFile.id), EvidenceFile.original_name, EvidenceFile.title,
                      _text(EvidenceFile.size), _text(EvidenceFile.effective_date))
               .where(EvidenceFile.company_id == company_id))
    plans = (select(_sql_text("p"), ActionPlan.criterion_id, _text(ActionPlan.id), _text(ActionPlan.version),
                    owner.c.full_name, blank)
             .outerjoin(owner, owner.c.id == ActionPlan.owner_user_id)
             .where(ActionPlan.profile_id == profile_id, in_category(ActionPlan.criterion_id)))
    rows = union_all(answers, links, library, plans).subquery("fingerprint_rows")
    row = _encoded(rows.c.c1)
    for name in ("c2", "c3", "c4", "c5", "c6"):
        row = row + _encoded(rows.c[name])
    # The encoded row is written once and sorted by name: psycopg converts a statement of at most 4 KB
    # once per process and a longer one at every execution (docs/PERFORMANCE.md §5.13).
    if dialect == "postgresql":
        encoded = select(row.label("r")).select_from(rows).subquery("encoded_rows")
        fingerprint = select(func.string_agg(encoded.c.r, aggregate_order_by(_sql_text(""), encoded.c.r)))
    else:  # group_concat keeps the order of the rows it reads
        ordered = select(row.label("r")).select_from(rows).order_by(text("1")).subquery("ordered_rows")
        fingerprint = select(func.group_concat(ordered.c.r, _sql_text("")))
    return fingerprint.scalar_subquery().label("fingerprint")


# The columns the category page shows and its permissions read: the account's number, type and status,
# the company's name. The others (the company's free-text history among them) are loaded if some other use
# asks for them; fewer columns also keep the statement read with the signed-in user under psycopg's 4 KB
# conversion cache (docs/PERFORMANCE.md §5.13).
_CATEGORY_ACCOUNT_COLUMNS = (TradeAccount.company_id, TradeAccount.account_number, TradeAccount.business_type,
                             TradeAccount.status)
_CATEGORY_COMPANY_COLUMNS = (Company.legal_name,)


def _category_profile_options() -> Any:
    return (joinedload(SecurityProfile.account).load_only(*_CATEGORY_ACCOUNT_COLUMNS)
            .joinedload(TradeAccount.company).load_only(*_CATEGORY_COMPANY_COLUMNS))


@lru_cache(maxsize=4)
def _profile_statement_with_fingerprint(dialect: str) -> Select[Any]:
    """The profile (with account and company) and the fingerprint of one of its categories."""
    return (select(SecurityProfile, _category_fingerprint(dialect))
            .where(SecurityProfile.id == bindparam("profile_id"))
            .options(_category_profile_options()))


def _with_profile_and_fingerprint(user_statement: Select[Any], dialect: str) -> Select[Any]:
    """The signed-in user's statement, with the profile (account, company) and fingerprint of the category
    page outer-joined to the user's row (NULLs when the profile does not exist)."""
    return _joined_profile(
        user_statement, Load(TradeAccount).load_only(*_CATEGORY_ACCOUNT_COLUMNS),
        Load(Company).load_only(*_CATEGORY_COMPANY_COLUMNS)).add_columns(_category_fingerprint(dialect))


def _category_parameters(profile_id: int, category_number: int) -> dict[str, Any]:
    return {"profile_id": profile_id, "criterion_from": f"{int(category_number)}.",
            "criterion_to": f"{int(category_number)}/"}


def _keep_category_read(view_args: dict[str, Any], columns: Sequence[Any]) -> None:
    g.category_read = (view_args["profile_id"], view_args["number"], _attached(*columns[:3]), columns[3])


# The category page's profile and fingerprint, read with the signed-in user (portal/security.py).
CATEGORY_READ = ReadWithUser(
    extend=_with_profile_and_fingerprint,
    parameters=lambda args: _category_parameters(args["profile_id"], args["number"])
    if isinstance(args.get("profile_id"), int) and isinstance(args.get("number"), int) else None,
    keep=_keep_category_read,
)


def get_profile_with_fingerprint_or_404(profile_id: int, category_number: int) -> tuple[SecurityProfile, str]:
    """The profile and the fingerprint of its category ``category_number`` (see ``_category_fingerprint``),
    read in one statement, or taken from the statement that loaded the signed-in user (``CATEGORY_READ``);
    the fingerprint is a fragment cache key (portal/fragment_cache.py), so it must cover every value the
    category's criteria render.
    """
    kept = g.pop("category_read", None)
    if kept is not None and kept[:2] == (profile_id, category_number):
        profile, fingerprint = kept[2], kept[3]
    else:
        statement = _profile_statement_with_fingerprint(db_session.get_bind().dialect.name)
        found = db_session.execute(statement, _category_parameters(profile_id, category_number)).one_or_none()
        profile, fingerprint = found if found is not None else (None, None)
    if profile is None:
        abort(404)
    return profile, fingerprint or ""


def versions_of(profile: SecurityProfile) -> list[ProfileVersion]:
    return list(db_session.scalars(select(ProfileVersion).where(ProfileVersion.profile_id == profile.id)
                                   .options(joinedload(ProfileVersion.submitted_by))
                                   .order_by(ProfileVersion.number.desc())))

"""Security-profile verbs: create a profile for an account, save answers with optimistic locking,
link evidence, and remember where the user left off. Services flush and audit; views commit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Select, Update, bindparam, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit
from portal.audit import AuditEvent
from portal.auth.models import User
from portal.catalog import CURRENT_CATALOG_ID, get_catalog
from portal.catalog.schema import Catalog, Criterion
from portal.clock import utcnow
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.db_connections import ATOMIC_STATEMENT
from portal.errors import DomainError, StaleEdit
from portal.profiles.models import Answer, SecurityProfile
from portal.profiles.workflow import JUSTIFICATION_MAX, NARRATIVE_MAX, ImplementationStatus


@dataclass(frozen=True)
class AnswerInput:
    """What the partner typed for one criterion (any part may still be empty in a draft)."""

    status: ImplementationStatus | None
    narrative: str
    justification: str
    expected_version: int | None  # the answer's version when the form was loaded; None = new


def create_profile(account: TradeAccount, *, by: User | None) -> SecurityProfile:
    """Give an account its security profile, pinned to the current catalog version."""
    profile = SecurityProfile(account_id=account.id, catalog_id=CURRENT_CATALOG_ID)
    db_session.add(profile)
    db_session.flush()
    audit.record("profile.created", actor=by, company_id=account.company_id, obj=profile,
                 summary=f"Catalog {CURRENT_CATALOG_ID}")
    return profile


def profile_for_account(account: TradeAccount) -> SecurityProfile | None:
    return db_session.scalar(select(SecurityProfile).where(SecurityProfile.account_id == account.id))


def catalog_of(profile: SecurityProfile) -> Catalog:
    return get_catalog(profile.catalog_id)


def applicable_criterion(profile: SecurityProfile, criterion_id: str) -> Criterion | None:
    """The criterion if it exists in the profile's catalog and applies to its business type."""
    catalog = catalog_of(profile)
    if not catalog.has_criterion(criterion_id):
        return None
    criterion = catalog.criterion(criterion_id)
    return criterion if criterion.applies(profile.account.business_type) else None


def check_answer_input(data: AnswerInput) -> list[tuple[str, str]]:
    """Length limits that make an answer unsavable, as (field, message) pairs."""
    problems = []
    if len(data.narrative) > NARRATIVE_MAX:
        problems.append(("narrative", f"The narrative is {len(data.narrative):,} characters long; "
                                      f"the limit is {NARRATIVE_MAX:,}. Shorten it by "
                                      f"{len(data.narrative) - NARRATIVE_MAX:,} characters."))
    if len(data.justification) > JUSTIFICATION_MAX:
        problems.append(("justification", f"The justification is {len(data.justification):,} characters long; "
                                          f"the limit is {JUSTIFICATION_MAX:,}."))
    return problems


class NotRead(Enum):
    """The answer to save has not been read yet (``save_answer`` reads it)."""

    NOT_READ = "not read"


NOT_READ = NotRead.NOT_READ


def save_answer(profile: SecurityProfile, criterion: Criterion, data: AnswerInput, *, by: User,
                stored: Answer | None | NotRead = NOT_READ) -> Answer | None:
    """Save one answer as a draft. Incomplete answers are kept (nothing typed is lost);
    completeness is judged at submission. Returns None for an untouched, never-saved criterion.

    ``stored`` is the criterion's answer (None: none yet) when the caller read it already, in this
    transaction or before it: its version is checked by the UPDATE either way.

    :raise DomainError: when the profile is not editable or a text is over its limit.
    :raise StaleEdit: when someone saved the same answer since the form was loaded.
    """
    if not profile.status.editable:
        raise DomainError(f"The profile is {profile.status.label.lower()} and cannot be edited now.")
    problems = check_answer_input(data)
    if problems:
        raise DomainError(problems[0][1], field=problems[0][0])
    answer = db_session.scalar(
        select(Answer).where(Answer.profile_id == profile.id, Answer.criterion_id == criterion.id)
    ) if stored is NOT_READ else stored
    if answer is not None:
        if (answer.status, answer.narrative, answer.justification) == (data.status, data.narrative,
                                                                        data.justification):
            return answer  # saving what is already stored is never a conflict
        if data.expected_version is None or data.expected_version != answer.version:
            raise StaleEdit(
                f"Someone else saved criterion {criterion.id} after you opened it.",
                mine=data.narrative, theirs=answer.narrative,
            )
        return _rewrite(profile, criterion, answer, data, by)
    if data.status is None and not data.narrative and not data.justification:
        return None  # an untouched criterion on a saved page: nothing to store
    if data.expected_version not in (None, 0):
        raise StaleEdit("This answer was removed since you opened the page.", mine=data.narrative, theirs="")
    # The first answer to the criterion (its unique key makes a second, concurrent first answer fail).
    answer = Answer(profile_id=profile.id, criterion_id=criterion.id, status=data.status, narrative=data.narrative,
                    justification=data.justification, updated_at=utcnow(), updated_by_id=by.id)
    db_session.add(answer)
    db_session.flush()
    audit.record("answer.saved", actor=by, company_id=profile.account.company_id, obj=answer,
                 summary=_saved_summary(criterion, data))
    return answer


def _saved_summary(criterion: Criterion, data: AnswerInput) -> str:
    return f"{criterion.id}: {data.status.value if data.status else 'no status'}, {len(data.narrative)} characters"


# A stored answer rewritten in one statement, if its version is still the one read (the check the ORM's
# ``version_id_col`` makes); it returns the new version, and no row when someone saved in between.
# Autosave rewrites one answer per request, and through the ORM's unit of work an UPDATE and the audit
# event's INSERT cost two flushes; as statements they cost a fraction of that (docs/PERFORMANCE.md §5.19).
_ANSWERS = Answer.__table__
_EVENTS = AuditEvent.__table__
_REWRITTEN = ("status", "narrative", "justification", "updated_at", "updated_by_id")
_REWRITE: Update = (
    update(_ANSWERS)
    .where(_ANSWERS.c.id == bindparam("answer_id"), _ANSWERS.c.version == bindparam("read_version"))
    .values({**{name: bindparam(f"new_{name}", type_=_ANSWERS.c[name].type) for name in _REWRITTEN},
             "version": _ANSWERS.c.version + 1})
    .returning(_ANSWERS.c.version)
)
_EVENT_COLUMNS = tuple(column for column in _EVENTS.c if column.name != "id")
_INSERT_EVENT = insert(_EVENTS)


def _rewrite_with_event() -> Select[Any]:
    """PostgreSQL: the UPDATE and the audit event's INSERT as one statement (data-modifying common table
    expressions). The event is inserted for each row the UPDATE returns, so for none when the version
    had changed. One statement is one transaction even in autocommit, in which autosave runs on
    PostgreSQL: the save is then two round trips (the user's statement and this one), not five."""
    saved = _REWRITE.cte("saved")
    # Typed parameters: a SELECT list's give PostgreSQL no column to infer a type from, and the psycopg
    # dialect sends each with its type (``%(event_actor_id)s::INTEGER``).
    values = select(*(bindparam(f"event_{column.name}", type_=column.type) for column in _EVENT_COLUMNS)
                    ).select_from(saved)
    logged = insert(_EVENTS).from_select([column.name for column in _EVENT_COLUMNS], values).cte("logged")
    return select(saved.c.version).add_cte(logged).execution_options(**{ATOMIC_STATEMENT: True})


_REWRITE_WITH_EVENT = _rewrite_with_event()


def _rewrite(profile: SecurityProfile, criterion: Criterion, answer: Answer, data: AnswerInput, by: User) -> Answer:
    """Rewrite a stored answer with its audit event, checked by the version read.

    :raise StaleEdit: when someone saved the answer after it was read.
    """
    new = {"status": data.status, "narrative": data.narrative, "justification": data.justification,
           "updated_at": utcnow(), "updated_by_id": by.id}
    parameters = {"answer_id": answer.id, "read_version": answer.version,
                  **{f"new_{name}": value for name, value in new.items()}}
    event = audit.event_values("answer.saved", actor=by, company_id=profile.account.company_id, obj=answer,
                               summary=_saved_summary(criterion, data))
    if db_session.get_bind().dialect.name == "postgresql":
        version = db_session.scalar(_REWRITE_WITH_EVENT,
                                    {**parameters, **{f"event_{name}": value for name, value in event.items()}})
    else:
        version = db_session.scalar(_REWRITE, parameters)
        if version is not None:
            db_session.execute(_INSERT_EVENT, event)
    if version is None:
        # The object is brought up to date with the row, so that a page showing the conflict offers their
        # version and author (the category page carries on with its other criteria in this session).
        theirs = db_session.scalar(select(Answer).where(Answer.id == answer.id)
                                   .execution_options(populate_existing=True))
        raise StaleEdit(f"Someone else saved criterion {criterion.id} at the same moment.",
                        mine=data.narrative, theirs=theirs.narrative if theirs else "")
    # The object now holds what the row holds, as after a flush (nothing left for the ORM to write).
    for name, value in (*new.items(), ("version", version)):
        set_committed_value(answer, name, value)
    db_session.expire(answer, ["updated_by"])  # loaded again, if asked for, as the new author
    return answer


def remember_category(profile: SecurityProfile, category_number: int) -> None:
    """Remember the last category visited so the overview can offer to resume there."""
    if profile.last_category != category_number:
        # A plain UPDATE: the resume point is a convenience and must not bump the profile's lock version.
        db_session.execute(update(SecurityProfile).where(SecurityProfile.id == profile.id)
                           .values(last_category=category_number)
                           .execution_options(synchronize_session=False))

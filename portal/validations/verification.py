"""On-site verification of a validation, criterion by criterion (issue 6): what the team verified at the
partner's sites ("Verified on site": Y, N or Partial) and its visit notes.

The team fills the "Verified on site" and "Visit notes" columns of the visit workbook during the visit
and imports the workbook afterwards (``portal.exports.visit_import``); the stored checks pre-fill the
next download. A blank cell keeps the stored value; ``CLEAR_MARKER`` typed in a cell erases it.

A check is a row two reviewers can change, so it carries a version (DESIGN.md §4): ``save_check``
refuses a save made against a version that is no longer stored. Services flush and record the
timeline and audit events; views commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import clock
from portal.db import Base, UTCDateTime, db_session, str_enum
from portal.errors import DomainError, StaleEdit

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.validations.models import Validation

NOTES_MAX = 4_000


class Verified(StrEnum):
    """What the team found on site for one criterion."""

    YES = "yes"
    NO = "no"
    PARTIAL = "partial"

    @property
    def code(self) -> str:
        """The value typed in the visit workbook's "Verified on site" column."""
        return {"yes": "Y", "no": "N", "partial": "Partial"}[self.value]

    @property
    def label(self) -> str:
        return {"yes": "Verified", "no": "Not verified", "partial": "Partly verified"}[self.value]

    @property
    def badge(self) -> str:
        return {"yes": "success", "no": "error", "partial": "warning"}[self.value]

    @classmethod
    def from_code(cls, text: str) -> Verified | None:
        """Y, N or Partial in any letter case; None for anything else."""
        return _BY_CODE.get(text.strip().casefold())


_BY_CODE = {member.code.casefold(): member for member in Verified}
CODES: tuple[str, ...] = tuple(member.code for member in Verified)

# Typed alone in a "Verified on site" or "Visit notes" cell of the visit workbook, it erases the stored
# value. A blank cell keeps it, so a partly filled workbook never erases work; clearing must be explicit.
CLEAR_MARKER = "CLEAR"


def is_clear_marker(text: str) -> bool:
    """The cell holds the clear marker alone, in any letter case and with any outer spaces."""
    return text.strip().casefold() == CLEAR_MARKER.casefold()


def _now() -> datetime:
    return clock.utcnow()


class ValidationCheck(Base):
    """The team's on-site verification of one criterion in one validation."""

    __tablename__ = "validation_checks"
    __table_args__ = (UniqueConstraint("validation_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    validation_id: Mapped[int] = mapped_column(ForeignKey("validations.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(10))
    verified: Mapped[Verified | None] = mapped_column(str_enum(Verified, "verified_on_site"))
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    updated_by: Mapped[User | None] = relationship()


@dataclass(frozen=True)
class CheckInput:
    """A check to store: ``expected_version`` is the version the change was computed on (0: none stored)."""

    criterion_id: str
    verified: Verified | None
    notes: str
    expected_version: int = 0


def checks_of(validation: Validation) -> dict[str, ValidationCheck]:
    """The stored checks of a validation by criterion ID."""
    rows = db_session.scalars(select(ValidationCheck).where(ValidationCheck.validation_id == validation.id))
    return {row.criterion_id: row for row in rows}


def save_check(validation: Validation, data: CheckInput, *, by: User) -> ValidationCheck:
    """Store one criterion's verification (no event: callers record one for the whole batch).

    :raise DomainError: when the notes are over the limit or the validation no longer takes findings.
    :raise StaleEdit: when someone stored this criterion's check since ``expected_version``.
    """
    if not validation.status.findings_editable:
        raise DomainError(f"The validation is {validation.status.label.lower()}; its on-site verification "
                          "can no longer be changed.")
    notes = data.notes.strip()
    if len(notes) > NOTES_MAX:
        raise DomainError(f"The visit notes on {data.criterion_id} are {len(notes):,} characters long; the limit "
                          f"is {NOTES_MAX:,}.")
    check = db_session.scalar(select(ValidationCheck).where(ValidationCheck.validation_id == validation.id,
                                                            ValidationCheck.criterion_id == data.criterion_id))
    if check is None:
        if data.expected_version:
            raise StaleEdit(f"The check of criterion {data.criterion_id} was removed since the preview.",
                            mine=notes, theirs="")
        check = ValidationCheck(validation_id=validation.id, criterion_id=data.criterion_id)
        db_session.add(check)
    elif check.version != data.expected_version:
        raise StaleEdit(f"Someone else stored the check of criterion {data.criterion_id} after the preview.",
                        mine=notes, theirs=check.notes)
    check.verified = data.verified
    check.notes = notes
    check.updated_at = clock.utcnow()
    check.updated_by_id = by.id
    try:
        db_session.flush()
    except IntegrityError:  # another import inserted the same criterion in between
        raise StaleEdit(f"Someone else stored the check of criterion {data.criterion_id} at the same time.",
                        mine=notes, theirs="") from None
    return check


def save_checks(validation: Validation, entries: Sequence[CheckInput], *, by: User) -> list[str]:
    """Store several checks, all or nothing (the view rolls back on an error), with one timeline entry
    and audit event. The company sees the validation's timeline, so the entry names the criteria only,
    never a verdict or a note. Returns the criterion IDs stored.

    :raise DomainError: see ``save_check``.
    :raise StaleEdit: see ``save_check``.
    """
    from portal.validations.services import record_event

    saved = [save_check(validation, entry, by=by).criterion_id for entry in entries]
    record_event(validation, "checks_imported", by=by, note=f"{len(saved)} criteria: {', '.join(saved)}")
    return saved

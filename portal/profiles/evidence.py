"""Evidence services: upload into a company's library, link documents to criteria, unlink them,
and the reads the library and category pages need.

A document is stored once per company and content (SHA-256), whatever its name; the same document
may prove several criteria, through one link each. Services flush and write the audit event; the
view commits once (DESIGN.md §3). Nothing is left behind on failure: a file written for a row that
is never committed is deleted when the transaction ends without a commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, selectinload

from portal import audit
from portal.auth.models import User
from portal.catalog.schema import criterion_sort_key
from portal.companies.models import Company
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.models import EvidenceFile, EvidenceLink, SecurityProfile
from portal.profiles.services import applicable_criterion
from portal.profiles.sniffing import RejectedUpload, safe_display_name, sniff
from portal.profiles.storage import EvidenceStorage, get_storage

log = logging.getLogger(__name__)

TITLE_MAX = 200


class EvidenceNotFound(DomainError):
    """The evidence, link or criterion is not part of this profile's company (the view answers 404)."""


# --- files written in a transaction that never commits are removed -------------------------------

_PENDING_KEY = "evidence_uncommitted_files"


def _track_uncommitted(storage: EvidenceStorage, key: str) -> None:
    db_session.info.setdefault(_PENDING_KEY, []).append((storage, key))


def _untrack(key: str) -> None:
    pending = db_session.info.get(_PENDING_KEY, [])
    pending[:] = [(storage, k) for storage, k in pending if k != key]


@event.listens_for(Session, "after_commit")
def _files_committed(session: Session) -> None:
    # SQLAlchemy also fires after_commit when a SAVEPOINT is released; only the outermost commit
    # makes the rows durable, and only then must their files stay.
    if session.in_nested_transaction():
        return
    session.info.pop(_PENDING_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _discard_uncommitted_files(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction decides; a savepoint ending says nothing about the row's fate.
    # After a commit the list is already gone, so what remains belongs to a rollback or a close.
    if transaction.parent is not None:
        return
    for storage, key in session.info.pop(_PENDING_KEY, []):
        try:
            storage.delete(key)
        except OSError:  # cleanup must never hide the error that caused the rollback
            log.exception("Could not remove uncommitted evidence file %s", key)


# --- verbs ------------------------------------------------------------------------------------------

def upload_evidence(
    company: Company,
    file_bytes: bytes,
    filename: str,
    *,
    title: str | None,
    effective_date: date | None,
    by: User,
    storage: EvidenceStorage | None = None,
) -> tuple[EvidenceFile, bool]:
    """Add a document to the company's evidence library.

    Returns the row and whether it was created; when the company already holds the same content
    (same SHA-256) the existing row is returned with ``False`` and nothing new is stored.

    :raise DomainError: (field ``file``) the upload fails the allowlist, the sniffing or the size
        limit; (field ``title``) the title is too long. Nothing is stored then.
    """
    try:
        result = sniff(file_bytes, filename)
    except RejectedUpload as error:
        raise DomainError(error.message, field="file") from None
    title = (title or "").strip() or None
    if title is not None and len(title) > TITLE_MAX:
        raise DomainError(f"The title is {len(title)} characters long; the limit is {TITLE_MAX}.", field="title")
    digest = hashlib.sha256(file_bytes).hexdigest()
    existing = _library_row(company.id, digest)
    if existing is not None:
        return existing, False

    storage = storage or get_storage()
    key = storage.put(file_bytes)
    _track_uncommitted(storage, key)
    row = EvidenceFile(
        company_id=company.id, sha256=digest, storage_key=key, original_name=safe_display_name(filename),
        content_type=result.content_type, size=len(file_bytes), title=title, effective_date=effective_date,
        uploaded_by_id=by.id,
    )
    try:
        # A savepoint, so that losing a race with a concurrent upload of the same content
        # (unique company + sha256) costs only this insert, not the caller's transaction.
        with db_session.begin_nested():
            db_session.add(row)
            db_session.flush()
    except IntegrityError:
        storage.delete(key)
        _untrack(key)
        winner = _library_row(company.id, digest)
        if winner is None:
            raise
        return winner, False
    audit.record("evidence.uploaded", actor=by, company_id=company.id, obj=row,
                 summary=f"{row.original_name} ({row.size:,} bytes, {result.kind}, sha256 {digest[:12]})")
    return row, True


def link_evidence(profile: SecurityProfile, criterion_id: str, evidence: EvidenceFile, by: User
                  ) -> tuple[EvidenceLink, bool]:
    """Attach a library document to one criterion of the profile.

    Returns the link and whether it is new; linking the same document to the same criterion again
    changes nothing and returns the existing link with ``False``.

    :raise EvidenceNotFound: the document belongs to another company, or the criterion is unknown
        or does not apply to the profile's business type.
    :raise DomainError: the profile is not editable (submitted or in review).
    """
    company_id = profile.account.company_id
    criterion = applicable_criterion(profile, criterion_id)
    if criterion is None or evidence.company_id != company_id:
        raise EvidenceNotFound("No such document or criterion in this profile.")
    _ensure_editable(profile)
    link = _existing_link(profile.id, criterion.id, evidence.id)
    if link is not None:
        return link, False
    link = EvidenceLink(profile_id=profile.id, criterion_id=criterion.id, evidence_id=evidence.id,
                        linked_by_id=by.id)
    try:
        with db_session.begin_nested():  # a concurrent identical link is the same no-op
            db_session.add(link)
            db_session.flush()
    except IntegrityError:
        winner = _existing_link(profile.id, criterion.id, evidence.id)
        if winner is None:
            raise
        return winner, False
    audit.record("evidence.linked", actor=by, company_id=company_id, obj=link,
                 summary=f"{evidence.display_name} (evidence {evidence.id}) to criterion {criterion.id}")
    return link, True


def unlink_evidence(link: EvidenceLink, by: User) -> None:
    """Detach a document from a criterion; the document stays in the library.

    :raise DomainError: the profile is not editable (submitted or in review).
    """
    profile = db_session.get(SecurityProfile, link.profile_id)
    assert profile is not None  # the foreign key guarantees it
    _ensure_editable(profile)
    evidence = link.evidence
    audit.record("evidence.unlinked", actor=by, company_id=profile.account.company_id, obj=link,
                 summary=f"{evidence.display_name} (evidence {evidence.id}) from criterion {link.criterion_id}")
    db_session.delete(link)
    db_session.flush()


def _ensure_editable(profile: SecurityProfile) -> None:
    if not profile.status.editable:
        raise DomainError(f"The profile is {profile.status.label.lower()}; its evidence cannot be changed now.")


def _library_row(company_id: int, digest: str) -> EvidenceFile | None:
    return db_session.scalar(select(EvidenceFile).where(EvidenceFile.company_id == company_id,
                                                        EvidenceFile.sha256 == digest))


def _existing_link(profile_id: int, criterion_id: str, evidence_id: int) -> EvidenceLink | None:
    return db_session.scalar(select(EvidenceLink).where(
        EvidenceLink.profile_id == profile_id, EvidenceLink.criterion_id == criterion_id,
        EvidenceLink.evidence_id == evidence_id))


# --- reads ------------------------------------------------------------------------------------------

def company_evidence(company_id: int, evidence_id: int) -> EvidenceFile | None:
    """The document if it belongs to the company; None for another company's or a missing id."""
    evidence = db_session.get(EvidenceFile, evidence_id)
    return evidence if evidence is not None and evidence.company_id == company_id else None


def company_library(company_id: int) -> list[EvidenceFile]:
    """The company's documents, newest first, with their uploaders loaded (one extra query)."""
    return list(db_session.scalars(
        select(EvidenceFile).where(EvidenceFile.company_id == company_id)
        .options(selectinload(EvidenceFile.uploaded_by))
        .order_by(EvidenceFile.uploaded_at.desc(), EvidenceFile.id.desc())
    ))


def links_by_criterion(profile: SecurityProfile) -> dict[str, list[EvidenceLink]]:
    """The profile's evidence links keyed by criterion ID, documents loaded (two queries in all),
    so a category page renders every criterion's evidence without a query per criterion."""
    grouped: dict[str, list[EvidenceLink]] = defaultdict(list)
    for link in db_session.scalars(
        select(EvidenceLink).where(EvidenceLink.profile_id == profile.id)
        .options(selectinload(EvidenceLink.evidence)).order_by(EvidenceLink.id)
    ):
        grouped[link.criterion_id].append(link)
    return dict(grouped)


def links_by_evidence(evidence_ids: Iterable[int]) -> dict[int, list[tuple[EvidenceLink, SecurityProfile]]]:
    """For the library page: which criteria of which profiles each document is linked to."""
    ids = list(evidence_ids)
    grouped: dict[int, list[tuple[EvidenceLink, SecurityProfile]]] = defaultdict(list)
    if not ids:
        return {}
    rows: Any = db_session.execute(
        select(EvidenceLink, SecurityProfile)
        .join(SecurityProfile, SecurityProfile.id == EvidenceLink.profile_id)
        .where(EvidenceLink.evidence_id.in_(ids))
        .options(selectinload(SecurityProfile.account))
    )
    for link, profile in rows:
        grouped[link.evidence_id].append((link, profile))
    for pairs in grouped.values():
        # Numeric order, so 3.10 follows 3.9 (a string sort would put it after 3.1).
        pairs.sort(key=lambda pair: (pair[1].id, criterion_sort_key(pair[0].criterion_id)))
    return dict(grouped)

"""Reads for MRA programs and the partner register, with the loaders that answer 404.

The register is screened in Python from one query of its partners plus one of the MRA histories,
so a page costs the same number of SQL statements for 20 partners as for 2,000 (a test holds it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from math import ceil
from typing import Any

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.db import db_session
from portal.partners.enums import PartnerRole, ScreeningStatus
from portal.partners.models import (
    AccountMraCertification,
    BusinessPartner,
    MraProgram,
    MraStatusChange,
    PartnerImport,
    partner_evidence,
)
from portal.partners.screening import MraTimeline, ScreeningResult, ScreeningSummary, screen_partner, summarise
from portal.partners.services import name_key

PAGE_SIZE = 50


# --- MRA programs ----------------------------------------------------------------------------------


def programs() -> list[MraProgram]:
    """Every program with its history (two queries), in the order of the partner's name."""
    return list(db_session.scalars(select(MraProgram).options(selectinload(MraProgram.changes))
                                   .order_by(MraProgram.partner)))


def get_program_or_404(program_id: int) -> MraProgram:
    program = db_session.scalar(select(MraProgram).where(MraProgram.id == program_id)
                                .options(selectinload(MraProgram.changes)))
    if program is None:
        abort(404)
    return program


def timelines() -> dict[int, MraTimeline]:
    """Each program's dated statuses (one query), for screening."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for program_id, effective_on, status in db_session.execute(
            select(MraStatusChange.program_id, MraStatusChange.effective_on, MraStatusChange.status)
            .order_by(MraStatusChange.effective_on, MraStatusChange.id)):
        grouped[program_id].append((effective_on, status))
    return {program_id: MraTimeline.of(changes) for program_id, changes in grouped.items()}


def program_choices(on: date) -> list[tuple[int, str]]:
    """(id, "Mexico: NEEC / OEA (MRA in force)") for select fields, by partner name."""
    choices = []
    for program in programs():
        status = program.status_on(on)
        choices.append((program.id, f"{program.partner}: {program.program_name} "
                                    f"({status.label if status else 'no arrangement yet'})"))
    return choices


def program_words() -> dict[int, list[str]]:
    """The words an import may use to name each program: code, partner, program name, both together."""
    return {pid: [code, partner, name, f"{partner}: {name}"] for pid, code, partner, name in db_session.execute(
        select(MraProgram.id, MraProgram.code, MraProgram.partner, MraProgram.program_name))}


def program_codes() -> dict[int, str]:
    return {program_id: code for program_id, code in db_session.execute(select(MraProgram.id, MraProgram.code))}


def program_names() -> dict[int, MraProgram]:
    return {program.id: program for program in db_session.scalars(select(MraProgram))}


# --- the register ----------------------------------------------------------------------------------


def get_partner_or_404(account: Any, partner_id: int) -> BusinessPartner:
    partner = db_session.scalar(select(BusinessPartner).where(BusinessPartner.id == partner_id)
                                .options(selectinload(BusinessPartner.evidence)))
    if partner is None or partner.account_id != account.id:
        abort(404)
    return partner


def screened(account_id: int, on: date) -> list[tuple[BusinessPartner, ScreeningResult]]:
    """Every partner of the register with its screening result, by name (two queries in all)."""
    lines = timelines()
    partners = db_session.scalars(select(BusinessPartner).where(BusinessPartner.account_id == account_id)
                                  .order_by(BusinessPartner.name_key, BusinessPartner.country, BusinessPartner.id))
    return [(partner, screen_partner(partner, lines, on)) for partner in partners]


def summary_of(items: Iterable[tuple[BusinessPartner, ScreeningResult]]) -> ScreeningSummary:
    return summarise((partner.country, result) for partner, result in items)


def account_summary(account_id: int, on: date) -> ScreeningSummary:
    return summary_of(screened(account_id, on))


@dataclass(frozen=True)
class RegisterFilters:
    q: str = ""
    status: ScreeningStatus | None = None
    country: str = ""
    role: PartnerRole | None = None

    @property
    def active(self) -> dict[str, str]:
        values = {"q": self.q, "status": self.status.value if self.status else "", "country": self.country,
                  "role": self.role.value if self.role else ""}
        return {key: value for key, value in values.items() if value}


@dataclass
class RegisterPage:
    rows: list[tuple[BusinessPartner, ScreeningResult]]
    matching: int
    page: int
    pages: int
    summary: ScreeningSummary
    evidence_counts: dict[int, int] = field(default_factory=dict)
    countries: list[str] = field(default_factory=list)


def register_page(account_id: int, on: date, filters: RegisterFilters, page: int) -> RegisterPage:
    """One page of the register after the filters, the summary of the whole register, and the number
    of documents behind each partner on the page (four queries whatever the register's size)."""
    items = screened(account_id, on)
    summary = summary_of(items)
    countries = sorted({partner.country for partner, _result in items})
    wanted = name_key(filters.q) if filters.q else ""
    matching = [(partner, result) for partner, result in items
                if (not wanted or wanted in partner.name_key)
                and (filters.status is None or result.status == filters.status)
                and (not filters.country or partner.country == filters.country)
                and (filters.role is None or partner.role == filters.role)]
    pages = max(1, ceil(len(matching) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = matching[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    counts = evidence_counts([partner.id for partner, _result in rows])
    return RegisterPage(rows, len(matching), page, pages, summary, counts, countries)


def evidence_counts(partner_ids: list[int]) -> dict[int, int]:
    if not partner_ids:
        return {}
    return {partner_id: count for partner_id, count in db_session.execute(
        select(partner_evidence.c.partner_id, func.count())
        .where(partner_evidence.c.partner_id.in_(partner_ids)).group_by(partner_evidence.c.partner_id))}


def page_numbers(page: int, pages: int) -> list[int | None]:
    """Page links to show: the first, the last, and two either side of the current; None for a gap."""
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


# --- imports and the account's own certifications --------------------------------------------------


def get_import_or_404(account: Any, import_id: int) -> PartnerImport:
    staged = db_session.get(PartnerImport, import_id)
    if staged is None or staged.account_id != account.id:
        abort(404)
    return staged


def account_certifications(account_id: int) -> list[AccountMraCertification]:
    """The account's foreign AEO certifications with their programs and histories loaded."""
    return list(db_session.scalars(
        select(AccountMraCertification).where(AccountMraCertification.account_id == account_id)
        .options(selectinload(AccountMraCertification.program).selectinload(MraProgram.changes))
        .order_by(AccountMraCertification.id)))


def get_account_certification_or_404(account: Any, certification_id: int) -> AccountMraCertification:
    row = db_session.get(AccountMraCertification, certification_id)
    if row is None or row.account_id != account.id:
        abort(404)
    return row

"""Business-partner screening (pure): MRA recognition on a date, next review dates, the screening
status of each partner and the summary of a register.

Nothing here reads the database, the clock or the request: callers pass the date ("on") and the
MRA programs' dated histories as ``MraTimeline`` objects, so every rule is a table-driven unit test
(ctpat-domain.md §7, §8.2; issue 7 "Screening status").

The rules, in order:

1. CTPAT validated, or certified in a foreign AEO program whose MRA with the U.S. is in force on the
   date -> no assessment needed, keep monitoring the status.
2. CTPAT certified but not validated, or an AEO certification without a recognised MRA (only a joint
   work plan, a suspended MRA, or a certificate that expired before the MRA took effect)
   -> an assessment is needed.
3. Not certified -> a security questionnaire or a visit is required.
4. Whatever the above says, an expired certificate or an overdue review flags the partner.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from portal.partners.enums import CertificationKind, CtpatStatus, MraStatus, RiskRating, ScreeningStatus


def long_date(day: date) -> str:
    """A date as people read it in a sentence: "April 17, 2023"."""
    return f"{day:%B} {day.day}, {day.year}"


# --- MRA timelines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MraTimeline:
    """The dated status changes of one AEO program, oldest first; a status holds until the next one."""

    changes: tuple[tuple[date, MraStatus], ...] = ()

    @classmethod
    def of(cls, changes: Iterable[tuple[date, MraStatus]]) -> MraTimeline:
        # Same-day entries keep their recorded order (a stable sort), so the later record wins.
        return cls(tuple(sorted(changes, key=lambda change: change[0])))

    def status_on(self, day: date) -> MraStatus | None:
        """The status in effect on ``day``; None before the first recorded step."""
        index = bisect_right([when for when, _status in self.changes], day)
        return self.changes[index - 1][1] if index else None

    def since(self, day: date) -> date | None:
        """The first day of the unbroken stretch of the status in effect on ``day``."""
        index = bisect_right([when for when, _status in self.changes], day)
        if not index:
            return None
        current = self.changes[index - 1][1]
        start = self.changes[index - 1][0]
        for when, status in reversed(self.changes[:index - 1]):
            if status != current:
                break
            start = when
        return start

    def in_force_since(self, day: date) -> date | None:
        """When the MRA took effect, if it is in force on ``day`` (None otherwise)."""
        return self.since(day) if self.status_on(day) == MraStatus.IN_FORCE else None


@dataclass(frozen=True)
class Recognition:
    """Whether a foreign AEO certification counts under an MRA on a date, and why (a sentence)."""

    recognised: bool
    reason: str
    in_force_since: date | None = None


def aeo_recognition(timeline: MraTimeline | None, expires_on: date | None, on: date) -> Recognition:
    """Whether an AEO certificate is recognised on ``on``: the program's MRA must be in force that day,
    and the certificate must not have expired before the MRA took effect (it was then never valid
    while recognised). Whether the certificate is still valid on ``on`` is a separate check."""
    if timeline is None or not timeline.changes:
        return Recognition(False, "The program has no arrangement with the U.S. on record.")
    status = timeline.status_on(on)
    since = timeline.since(on)
    if status is None or since is None:
        first = timeline.changes[0]
        return Recognition(False, f"No arrangement was in place on {long_date(on)} "
                                  f"(the first step, a {first[1].label.lower()}, dates from {long_date(first[0])}).")
    if status == MraStatus.JOINT_WORK_PLAN:
        return Recognition(False, f"Only a joint work plan since {long_date(since)}: there is no MRA yet, "
                                  "so the certification is not recognised.")
    if status == MraStatus.SUSPENDED:
        return Recognition(False, f"The MRA is suspended since {long_date(since)}, so the certification is not "
                                  "recognised.")
    if expires_on is not None and expires_on < since:
        return Recognition(False, f"The certificate expired on {long_date(expires_on)}, before the MRA took effect "
                                  f"on {long_date(since)}, so it was never recognised.", since)
    return Recognition(True, f"Certified under an AEO program recognised by an MRA in force since {long_date(since)}.",
                       since)


# --- next review -----------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def derived_next_review(last_assessed_on: date | None, risk: RiskRating | None) -> date | None:
    """The next review the risk calls for: 1, 2 or 3 years (high, medium, low) after the last
    assessment; None until the partner has been both assessed and rated."""
    if last_assessed_on is None or risk is None:
        return None
    return add_years(last_assessed_on, risk.review_years)


def next_review_due(last_assessed_on: date | None, risk: RiskRating | None, override: date | None) -> date | None:
    """The date that counts: the member's override when set, else the derived date."""
    return override if override is not None else derived_next_review(last_assessed_on, risk)


# --- screening -------------------------------------------------------------------------------------


class ScreenablePartner(Protocol):
    """What screening reads from a partner (the ORM row or any object with these attributes)."""

    certification: CertificationKind
    ctpat_status: CtpatStatus | None
    mra_program_id: int | None
    certificate_expires_on: date | None
    last_assessed_on: date | None
    risk_rating: RiskRating | None
    next_review_override: date | None


@dataclass(frozen=True)
class ScreeningResult:
    """The derived status, the sentences that explain it, and the facts the summary counts."""

    status: ScreeningStatus
    reasons: tuple[str, ...]
    certified: bool
    next_review_on: date | None
    review_overdue: bool = False
    certificate_expired: bool = False


def screen_partner(partner: ScreenablePartner, timelines: Mapping[int, MraTimeline], on: date) -> ScreeningResult:
    """Derive the screening status of one partner on ``on`` (see the module docstring for the rules).

    ``timelines`` maps MRA program ids to their histories; a program missing from it counts as having
    no arrangement with the U.S.
    """
    reasons: list[str] = []
    certified = False
    expired = False
    if partner.certification == CertificationKind.CTPAT:
        certified = True
        if partner.ctpat_status == CtpatStatus.VALIDATED:
            status = ScreeningStatus.MONITOR
            reasons.append("CTPAT certified and validated: keep proof of the status and monitor it.")
        else:
            status = ScreeningStatus.ASSESSMENT_NEEDED
            reasons.append("CTPAT certified but not yet validated: assess the partner against the MSC.")
    elif partner.certification == CertificationKind.AEO:
        timeline = timelines.get(partner.mra_program_id) if partner.mra_program_id is not None else None
        recognition = aeo_recognition(timeline, partner.certificate_expires_on, on)
        certified = recognition.recognised
        status = ScreeningStatus.MONITOR if recognition.recognised else ScreeningStatus.ASSESSMENT_NEEDED
        reasons.append(recognition.reason if recognition.recognised
                       else f"{recognition.reason} Assess the partner against the MSC.")
        if partner.certificate_expires_on is not None and partner.certificate_expires_on < on:
            expired = True
            certified = False
            reasons.append(f"The AEO certificate expired on {long_date(partner.certificate_expires_on)}.")
    else:
        status = ScreeningStatus.QUESTIONNAIRE_OR_VISIT
        reasons.append("Not certified: a security questionnaire or a visit is required.")

    due = next_review_due(partner.last_assessed_on, partner.risk_rating, partner.next_review_override)
    overdue = due is not None and due < on
    if overdue and due is not None:
        reasons.append(f"The review was due on {long_date(due)}.")
    elif status != ScreeningStatus.MONITOR and partner.last_assessed_on is not None:
        # The requirement stands, but a current assessment meets it until the next review.
        until = f" and holds until the review due on {long_date(due)}" if due is not None else ""
        reasons.append(f"The last assessment was on {long_date(partner.last_assessed_on)}{until}.")
    elif status != ScreeningStatus.MONITOR:
        reasons.append("No assessment is recorded yet.")
    if expired or overdue:
        status = ScreeningStatus.FLAGGED
    return ScreeningResult(status=status, reasons=tuple(reasons), certified=certified, next_review_on=due,
                           review_overdue=overdue, certificate_expired=expired)


# --- summary ---------------------------------------------------------------------------------------


@dataclass
class CountryRow:
    """One country of the register: how many partners sit there, by screening status."""

    country: str
    total: int = 0
    certified: int = 0
    by_status: dict[ScreeningStatus, int] = field(default_factory=lambda: {s: 0 for s in ScreeningStatus})

    @property
    def not_certified(self) -> int:
        return self.total - self.certified


@dataclass
class ScreeningSummary:
    """Counts over a whole register (issue 7: counts by status, share certified, overdue, by country)."""

    total: int = 0
    certified: int = 0
    overdue: int = 0
    expired: int = 0
    by_status: dict[ScreeningStatus, int] = field(default_factory=lambda: {s: 0 for s in ScreeningStatus})
    by_country: list[CountryRow] = field(default_factory=list)

    @property
    def certified_share(self) -> float:
        """Percentage of partners certified by CTPAT or under an MRA-recognised program (0 when empty)."""
        return 100.0 * self.certified / self.total if self.total else 0.0

    @property
    def countries_with_uncertified(self) -> list[CountryRow]:
        """Countries holding partners with no recognised certification, most such partners first."""
        rows = [row for row in self.by_country if row.not_certified]
        return sorted(rows, key=lambda row: (-row.not_certified, row.country))


def summarise(results: Iterable[tuple[str, ScreeningResult]]) -> ScreeningSummary:
    """Fold (country code, result) pairs into a summary; countries sorted by partner count, then code."""
    summary = ScreeningSummary()
    countries: dict[str, CountryRow] = {}
    for country, result in results:
        summary.total += 1
        summary.by_status[result.status] += 1
        summary.certified += result.certified
        summary.overdue += result.review_overdue
        summary.expired += result.certificate_expired
        row = countries.setdefault(country, CountryRow(country))
        row.total += 1
        row.certified += result.certified
        row.by_status[result.status] += 1
    summary.by_country = sorted(countries.values(), key=lambda row: (-row.total, row.country))
    return summary

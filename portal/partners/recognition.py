"""Mutual recognition of an applicant's own foreign AEO certification (issue 7, item 5), for reviews and
validation planning.

These helpers read only the objects they are given (an account with its company's addresses and its
``mra_certifications``, each with its program and history) and take the date as an argument: no
writes, no clock, no request. Lazy relationships load on first access if the caller did not load
them; ``queries.account_certifications`` loads everything in advance.

A site is covered when the account holds a certification in a program that certifies in the site's
country, the program's MRA is in force on the date, the certificate has not expired on that date,
and it did not expire before the MRA took effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.companies.workflow import AddressKind
from portal.partners.models import AccountMraCertification, MraProgram
from portal.partners.screening import Recognition, aeo_recognition, long_date

# Addresses that can be visited: a mailing address is never a site.
SITE_KINDS = frozenset({AddressKind.HEADQUARTERS, AddressKind.FACILITY, AddressKind.FOREIGN_SITE})


@dataclass(frozen=True)
class CertificationStanding:
    """Whether one of the account's certifications counts on a date, and the sentence saying why."""

    certification: AccountMraCertification
    recognition: Recognition
    expired: bool

    @property
    def recognised(self) -> bool:
        return self.recognition.recognised and not self.expired

    @property
    def program(self) -> MraProgram:
        return self.certification.program

    @property
    def reason(self) -> str:
        if self.expired:
            return f"The certificate expired on {long_date(self.certification.expires_on)}."
        return self.recognition.reason


def certification_standing(certification: AccountMraCertification, on_date: date) -> CertificationStanding:
    """The standing of one certification on ``on_date``."""
    recognition = aeo_recognition(certification.program.timeline(), certification.expires_on, on_date)
    return CertificationStanding(certification, recognition, expired=certification.expires_on < on_date)


def covering_certification(account: Any, country: str, on_date: date) -> AccountMraCertification | None:
    """The account's certification that covers a site in ``country`` (ISO code) on ``on_date``, if any.

    For validation sites that are not company addresses (the validations package's own site rows).
    """
    code = (country or "").strip().upper()
    for certification in account.mra_certifications:
        if code in certification.program.country_codes and certification_standing(certification, on_date).recognised:
            return certification
    return None


@dataclass(frozen=True)
class MraSiteCoverage:
    """A company address covered by a foreign program's validation under an MRA: no CBP visit needed."""

    address: Any  # portal.companies.models.Address
    certification: AccountMraCertification
    program: MraProgram
    in_force_since: date


def sites_covered_by_mra(account: Any, on_date: date) -> list[MraSiteCoverage]:
    """The account company's sites (headquarters, facilities, foreign sites; never the mailing address)
    covered on ``on_date`` by a recognised foreign AEO certification of the account, in address order.
    """
    standings = [certification_standing(c, on_date) for c in account.mra_certifications]
    valid = [s for s in standings if s.recognised]
    covered: list[MraSiteCoverage] = []
    for address in account.company.addresses:
        if address.kind not in SITE_KINDS:
            continue
        standing = next((s for s in valid if address.country in s.program.country_codes), None)
        if standing is not None and standing.recognition.in_force_since is not None:
            covered.append(MraSiteCoverage(address, standing.certification, standing.program,
                                           standing.recognition.in_force_since))
    return covered

"""The standard cast builds, and the factories leave a consistent database."""

from portal.companies.workflow import AccountStatus, ApplicationStep


def test_cast_builds_two_companies_with_completed_applications(cast):
    assert cast.account_a.status == AccountStatus.APPLICANT
    assert cast.account_a.application_step == ApplicationStep.COMPLETE
    assert cast.account_b.business_type.value == "foreign_manufacturer"
    assert cast.company_a.id != cast.company_b.id

"""Imports every model module so the metadata is complete (Alembic, create_all, relationships)."""

from __future__ import annotations


def import_all_models() -> None:
    """Import model modules for their side effect of registering tables on ``Base.metadata``."""
    import portal.action_plans.models  # noqa: F401
    import portal.audit  # noqa: F401
    import portal.auth.models  # noqa: F401
    import portal.companies.models  # noqa: F401
    import portal.exports.models  # noqa: F401
    import portal.notifications.inbox  # noqa: F401
    import portal.notifications.models  # noqa: F401
    import portal.partners.models  # noqa: F401
    import portal.profiles.models  # noqa: F401
    import portal.reviews.models  # noqa: F401
    import portal.validations.models  # noqa: F401
    import portal.validations.verification  # noqa: F401

"""A parsed upload kept between the preview and the confirmation: a partner's offline questionnaire,
or a reviewer's filled visit workbook (its "Verified on site" and "Visit notes" for one validation).

The preview must survive between requests; the parsed rows (up to ~1 MB of narratives) do not belong
in the session cookie, so they wait here, server-side, until the user applies or discards them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime, str_enum


class ImportStatus(StrEnum):
    """Where an uploaded questionnaire is: waiting for confirmation, applied, or discarded."""

    PENDING = "pending"
    APPLIED = "applied"
    DISCARDED = "discarded"


class ImportKind(StrEnum):
    """What was uploaded (each kind has its own payload, preview and routes)."""

    QUESTIONNAIRE = "questionnaire"
    VISIT_WORKBOOK = "visit_workbook"


class ExcelImport(Base):
    """One uploaded workbook, parsed and checked, waiting for the user's confirmation. A visit workbook
    names the validation it is for; its ``profile_id`` is that validation's account profile."""

    __tablename__ = "excel_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("security_profiles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus, "excel_import_status"),
                                                 default=ImportStatus.PENDING)
    kind: Mapped[ImportKind] = mapped_column(str_enum(ImportKind, "excel_import_kind"),
                                             default=ImportKind.QUESTIONNAIRE,
                                             server_default=ImportKind.QUESTIONNAIRE.value)
    validation_id: Mapped[int | None] = mapped_column(ForeignKey("validations.id", ondelete="CASCADE"), index=True)

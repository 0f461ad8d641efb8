"""Action plans: the partner's own corrective actions for gaps, with owners, dates and milestones."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import today, utcnow
from portal.db import Base, UTCDateTime, str_enum
from portal.profiles.workflow import ActionPlanStatus

if TYPE_CHECKING:
    from portal.auth.models import User


class ActionPlan(Base):
    """A corrective action for one criterion of a profile."""

    __tablename__ = "action_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("security_profiles.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(10), index=True)
    gap: Mapped[str] = mapped_column(Text)
    corrective_action: Mapped[str] = mapped_column(Text)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    target_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[ActionPlanStatus] = mapped_column(str_enum(ActionPlanStatus, "action_plan_status"),
                                                     default=ActionPlanStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    owner_user: Mapped[User | None] = relationship(foreign_keys=[owner_user_id])
    milestones: Mapped[list[Milestone]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                       order_by="Milestone.due_date")

    @property
    def owner_display(self) -> str:
        if self.owner_user is not None:
            return self.owner_user.full_name
        return self.owner_name or "Unassigned"

    @property
    def is_overdue(self) -> bool:
        """Derived: past its target date and not completed."""
        return not self.status.is_closed and self.target_date < today()


class Milestone(Base):
    """A dated step of an action plan."""

    __tablename__ = "action_plan_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plans.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(500))
    due_date: Mapped[date | None] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, default=False)

    plan: Mapped[ActionPlan] = relationship(back_populates="milestones")
